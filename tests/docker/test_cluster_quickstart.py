"""examples/cluster/quickstart.yaml, as committed, run by `tuner operator` through the CRD.

The emulated API server (tests/k8s) gets docker/deploy/crd.yaml and the tuner-token Secret
of docker/deploy/secret.example.yaml, the operator runs as the Deployment runs it (its
arguments, ``--namespace tuner --trial-token-secret tuner-token``, and that Secret's token as
``$TUNER_TOKEN``) against a real gRPC service requiring the token, as the service Deployment
does, and the local kubelet runs each trial Job's command as a process: the
collector wrapping ``python train_sklearn.py ...``, really training on the digits. The one
change to the document: ``workingDir`` points at examples/, which in the cluster the trial
image's WORKDIR (/opt/tuner/examples) provides; and fewer trials, to stay quick.
"""

from __future__ import annotations

import argparse
import copy
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.k8s.emulator import ThreadedEmulator
from tests.k8s.fixtures import make_kubelet, wait_for
from tuner.cli import _parser
from tuner.operator import OperatorStarted, run_operator
from tuner.runners import SecretKeySelector
from tuner.service import ServiceCore, create_server
from tuner.store import open_store
from tuner.trial import TrialState

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "docker" / "deploy" / "crd.yaml"
SECRETS = ROOT / "docker" / "deploy" / "secret.example.yaml"
OPERATOR = ROOT / "docker" / "deploy" / "operator-deployment.yaml"
QUICKSTART = ROOT / "examples" / "cluster" / "quickstart.yaml"
GROUP, VERSION, PLURAL = "tuner.dev", "v1beta1", "experiments"
DEADLINE = 120.0
"""Seconds to wait for the experiment to end (a hang, not a timing check)."""


@pytest.fixture
def api() -> Iterator[client.ApiClient]:
    with (
        ThreadedEmulator() as emulator,
        client.ApiClient(client.Configuration(host=emulator.url)) as api_client,
    ):
        api_client.emulator = emulator  # type: ignore[attr-defined]
        yield api_client


def _experiment() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(QUICKSTART.read_text())
    document = copy.deepcopy(document)
    document["spec"]["maxTrialCount"] = 2
    pod = document["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    container["workingDir"] = str(ROOT / "examples")  # the trial image's WORKDIR
    return document


def _operator_args() -> argparse.Namespace:
    """The operator Deployment's arguments, through tuner's parser, in namespace tuner."""
    deployment = yaml.safe_load(OPERATOR.read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    argv = [arg.replace("$(POD_NAMESPACE)", "tuner") for arg in container["args"]]
    return _parser().parse_args(argv)


def test_the_cluster_quickstart_runs_to_its_end(api: client.ApiClient, tmp_path: Path) -> None:
    emulator = api.emulator  # type: ignore[attr-defined]
    client.ApiextensionsV1Api(api).create_custom_resource_definition(
        yaml.safe_load(CRD.read_text())
    )
    (secret,) = [
        d for d in yaml.safe_load_all(SECRETS.read_text()) if d["metadata"]["name"] == "tuner-token"
    ]
    client.CoreV1Api(api).create_namespaced_secret("tuner", secret)
    token = secret["stringData"]["token"]
    args = _operator_args()
    core = ServiceCore(open_store(f"sqlite:///{tmp_path / 'tuner.db'}"))
    server, port = create_server(core, host="127.0.0.1", port=0, token=token)
    server.start()
    stop = threading.Event()
    started: list[OperatorStarted] = []
    operator = threading.Thread(
        target=run_operator,
        kwargs={
            "namespace": args.namespace,
            "service": f"127.0.0.1:{port}",
            "token": token,
            "trial_token_secret": SecretKeySelector.parse(args.trial_token_secret),
            "api_client": api,
            "poll_interval": 0.2,
            "watch_timeout": 1,
            "stop": stop,
            "on_start": started.append,
        },
        name="operator",
        daemon=True,
    )
    custom = client.CustomObjectsApi(api)
    try:
        with make_kubelet(emulator, api, "tuner", tmp_path / "kubelet") as kubelet:
            operator.start()
            wait_for(lambda: started, timeout=30)
            custom.create_namespaced_custom_object(GROUP, VERSION, "tuner", PLURAL, _experiment())

            def ended() -> dict[str, Any] | None:
                found = custom.get_namespaced_custom_object(
                    GROUP, VERSION, "tuner", PLURAL, "quickstart"
                )
                status = found.get("status") or {}
                conditions = status.get("conditions") or []
                final = conditions and conditions[-1]["type"] in ("Succeeded", "Failed")
                return status if final else None

            status = wait_for(ended, timeout=DEADLINE)
            assert not kubelet.errors
    finally:
        stop.set()
        operator.join(30)
        server.stop(grace=None)
    try:
        assert status["conditions"][-1]["type"] == "Succeeded", status["conditions"]
        assert (status["trials"], status["trialsSucceeded"]) == (2, 2)
        trials = core.list_trials("tuner/quickstart")
        assert [t.state for t in trials] == [TrialState.SUCCEEDED] * 2
        for trial in trials:  # train_sklearn.py printed 10 epochs, each one reported
            assert [m.step for m in trial.measurements] == list(range(1, 11))
            assert set(trial.measurements[-1].metrics) == {"accuracy", "loss"}
        best = max(t.objective_value("accuracy") or 0.0 for t in trials)
        # What the printer column Best shows (.status.currentOptimalTrial...metrics[0].value).
        metric = status["currentOptimalTrial"]["observation"]["metrics"][0]
        assert (metric["name"], float(metric["value"])) == ("accuracy", best)
        (pod,) = kubelet.pod_names("quickstart-0")
        assert "epoch=10 accuracy=" in kubelet.log_path(pod, "training").read_text()
    finally:
        core.close()
