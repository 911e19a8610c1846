"""The examples run as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tuner.spec import load_experiment

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_experiment_is_valid(path: Path) -> None:
    experiment = load_experiment(path)
    assert experiment.name == path.stem.replace("_", "-")


def test_quickstart_experiment_is_valid() -> None:
    experiment = load_experiment(EXAMPLES / "quickstart.yaml")
    assert experiment.name == "quickstart"
    assert experiment.budget.max_trial_count == 12
    assert experiment.study_config().space.names == ("alpha", "eta0", "learning_rate")


def test_training_script_prints_metrics_per_epoch() -> None:
    run = subprocess.run(
        [
            *(sys.executable, "train_sklearn.py", "--alpha=1e-4", "--eta0=0.05"),
            *("--learning-rate=adaptive", "--epochs=2"),
        ],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = run.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["epoch=1", "epoch=2"]
    assert all("accuracy=" in line and "loss=" in line for line in lines)


def test_study_api_script(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'example.db'}"
    run = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "study_api.py"),
            "--trials=4",
            f"--store={store}",
            "--plot=history.png",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "best accuracy 0." in run.stdout
    assert (tmp_path / "history.png").read_bytes().startswith(b"\x89PNG")
