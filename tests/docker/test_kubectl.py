"""kubectl with the committed CRD and the cluster quickstart, against the emulated API server.

The emulator (tests/k8s) registers a CRD applied through the API, so this checks what the
offline schema tests cannot: kubectl finds the resource by its names (``exp``,
``experiments.tuner.dev``), the Experiment round-trips, and kubectl's own JSONPath (the
library the API server uses for printer columns) reads the columns out of the status the
operator writes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s.emulator import ThreadedEmulator
from tuner.config import Direction, Objective
from tuner.operator import Phase, Reason, TrialCounts, build_status, optimal_trial
from tuner.trial import Measurement, Trial, TrialState

ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "docker" / "deploy" / "crd.yaml"
QUICKSTART = ROOT / "examples" / "cluster" / "quickstart.yaml"

Kubectl = Callable[..., str]


@pytest.fixture
def kubectl(tmp_path: Path) -> Iterator[Kubectl]:
    """Run kubectl against a fresh emulator, with a config of its own (never the user's)."""
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.skip("kubectl is not on PATH")
    env = {"HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "config"), "PATH": ""}
    with ThreadedEmulator() as emulator:

        def run(*args: str) -> str:
            done = subprocess.run(
                [binary, "--server", emulator.url, *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
            return done.stdout

        yield run


def _status() -> dict[str, Any]:
    objective = Objective(
        metric_name="accuracy", direction=Direction.MAXIMIZE, additional_metric_names=("loss",)
    )
    final = Measurement(metrics={"accuracy": 0.9611, "loss": 0.14}, step=10)
    best = Trial(
        id=4,
        study_name="tuner/quickstart",
        number=2,
        parameters={"alpha": 0.0003, "eta0": 0.02, "learning_rate": "adaptive"},
        state=TrialState.SUCCEEDED,
        measurements=(final,),
        final_measurement=final,
    )
    status: dict[str, Any] = dict(
        build_status(
            None,
            phase=Phase.RUNNING,
            reason=Reason.RUNNING,
            message="3 trials running",
            now=datetime(2026, 11, 28, 13, 0, tzinfo=UTC),
            study_name="tuner/quickstart",
            counts=TrialCounts(succeeded=4, running=3, failed=1),
            optimal=optimal_trial(best, objective=objective, trial_name="quickstart-2"),
        )
    )
    return status


@pytest.mark.timeout(120)
def test_kubectl_applies_the_crd_and_runs_the_quickstart_through_it(kubectl: Kubectl) -> None:
    assert "created" in kubectl("apply", "--validate=false", "-f", str(CRD))
    assert "experiment.tuner.dev/quickstart created" in kubectl(
        "apply", "--validate=false", "-f", str(QUICKSTART)
    )
    assert kubectl("get", "exp", "-n", "tuner", "-o", "name") == (
        "experiment.tuner.dev/quickstart\n"
    )
    stored = json.loads(
        kubectl("get", "experiments.tuner.dev/quickstart", "-n", "tuner", "-o", "json")
    )
    assert stored["spec"] == yaml.safe_load(QUICKSTART.read_text())["spec"]

    kubectl(
        "patch",
        "experiments.tuner.dev/quickstart",
        "-n",
        "tuner",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": _status()}),
    )
    (version,) = yaml.safe_load(CRD.read_text())["spec"]["versions"]
    columns = ",".join(f"{c['name']}:{c['jsonPath']}" for c in version["additionalPrinterColumns"])
    table = kubectl("get", "exp", "quickstart", "-n", "tuner", "-o", f"custom-columns={columns}")
    header, row = table.splitlines()
    assert header.split() == ["Status", "Succeeded", "Running", "Failed", "Best", "Age"]
    cells = row.split()
    assert cells[:5] == ["Running", "4", "3", "1", "0.9611"]
    assert cells[5] == stored["metadata"]["creationTimestamp"]
