"""Every metrics collector kind through KubernetesRunner, the emulator and the local kubelet.

Each test writes the Experiment a user would write for a cluster (Katib's
``metricsCollectorSpec``; File and TensorFlowEvent paths in an ``emptyDir`` volume mounted
into the trial container), launches one trial with a real :class:`KubernetesRunner`, lets
the local kubelet run its Job (the collector wraps the trial's command in the same
container), and checks that the measurements reach a real service over gRPC with their
steps and that the trial completes with its objective. The trial is ``collector_trial.py``.
(StdOut is covered in test_kubernetes.py.)
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.k8s.fixtures import NAMESPACE, Service, wait_for
from tests.k8s.kubelet import LocalKubelet
from tuner.client import Client
from tuner.runners import KubernetesOwner, KubernetesRunner, RunPhase, RunStatus
from tuner.spec import Experiment, load_experiment

pytestmark = pytest.mark.timeout(60)

TRIAL = Path(__file__).with_name("collector_trial.py")
MOUNT = "/var/log/katib"
X = 1.0  # accuracy 0.375 at epoch 1 and 0.875 at epoch 2: exact in float32 too


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Case:
    """One collector kind: its ``metricsCollectorSpec`` and the trial's arguments."""

    name: str
    collector_spec: dict[str, Any]
    trial_args: list[str]
    objective: str = "accuracy"
    volume: bool = False


def case(name: str) -> Case:
    if name == "file-text":
        path = f"{MOUNT}/metrics.log"
        spec = {
            "collector": {"kind": "File"},
            "source": {"fileSystemPath": {"path": path, "kind": "File", "format": "TEXT"}},
        }
        return Case(name, spec, ["text", "--out", path], volume=True)
    if name == "file-json":
        path = f"{MOUNT}/metrics.json"
        spec = {
            "collector": {"kind": "File"},
            "source": {"fileSystemPath": {"path": path, "kind": "File", "format": "JSON"}},
        }
        return Case(name, spec, ["json", "--out", path], volume=True)
    if name == "tfevents":
        directory = f"{MOUNT}/tfevent"
        spec = {
            "collector": {"kind": "TensorFlowEvent"},
            "source": {"fileSystemPath": {"path": directory, "kind": "Directory"}},
        }
        return Case(
            name, spec, ["tfevents", "--out", directory], objective="train/accuracy", volume=True
        )
    if name == "prometheus":
        port = free_port()
        spec = {
            "collector": {"kind": "PrometheusMetric"},
            "source": {"httpGet": {"port": port, "path": "/metrics"}},
        }
        return Case(name, spec, ["prometheus", "--port", str(port)])
    assert name == "push"
    return Case(name, {"collector": {"kind": "Push"}}, ["push"])


def make_experiment(kind: Case, hold: Path | None = None) -> Experiment:
    args = [kind.trial_args[0], "${trialParameters.x}", *kind.trial_args[1:]]
    if hold is not None:
        args += ["--hold", str(hold)]
    container: dict[str, Any] = {
        "name": "training",
        "image": "ghcr.io/tuner-dev/tuner-trial:0.1.0",
        "command": ["python", str(TRIAL)],
        "args": args,
    }
    pod: dict[str, Any] = {"restartPolicy": "Never", "containers": [container]}
    if kind.volume:
        container["volumeMounts"] = [{"name": "metrics", "mountPath": MOUNT}]
        pod["volumes"] = [{"name": "metrics", "emptyDir": {}}]
    return load_experiment(
        {
            "apiVersion": "tuner.dev/v1beta1",
            "kind": "Experiment",
            "metadata": {"name": kind.name, "namespace": NAMESPACE},
            "spec": {
                "objective": {
                    "type": "maximize",
                    "objectiveMetricName": kind.objective,
                    "additionalMetricNames": ["loss"],
                },
                "algorithm": {"algorithmName": "random"},
                "maxTrialCount": 1,
                "parameters": [
                    {
                        "name": "x",
                        "parameterType": "double",
                        "feasibleSpace": {"min": "0", "max": "4"},
                    }
                ],
                "metricsCollectorSpec": kind.collector_spec,
                "trialTemplate": {
                    "primaryContainerName": "training",
                    "trialParameters": [{"name": "x", "reference": "x"}],
                    "trialSpec": {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "spec": {"backoffLimit": 0, "template": {"spec": pod}},
                    },
                },
            },
        }
    )


@pytest.fixture
def make_runner(api: client.ApiClient) -> Iterator[Callable[[Experiment, str], KubernetesRunner]]:
    runners: list[KubernetesRunner] = []

    def make(experiment: Experiment, endpoint: str) -> KubernetesRunner:
        owner = KubernetesOwner(
            api_version="tuner.dev/v1beta1",
            kind="Experiment",
            name=experiment.name,
            uid=f"uid-of-{experiment.name}",
        )
        runner = KubernetesRunner(
            api_client=api, experiment=experiment, service_endpoint=endpoint, owner=owner
        )
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.close()


def steps(tuner_client: Client, trial_id: int) -> list[tuple[int, dict[str, float]]]:
    return [(m.step, dict(m.metrics)) for m in tuner_client.get_trial(trial_id).measurements]


def expected(objective: str, epochs: int = 2) -> list[tuple[int, dict[str, Any]]]:
    result = []
    for epoch in range(1, epochs + 1):
        accuracy = epoch / 2 - (X - 2) ** 2 / 8
        metrics = {objective: pytest.approx(accuracy), "loss": pytest.approx(1 - accuracy)}
        result.append((epoch, metrics))
    return result


def trial_output(kubelet: LocalKubelet, job_name: str) -> str:
    return "\n".join(
        kubelet.log_path(pod, "training").read_text() for pod in kubelet.pod_names(job_name)
    )


@pytest.mark.parametrize("name", ["file-text", "file-json", "tfevents", "prometheus", "push"])
def test_the_measurements_reach_the_store_and_the_trial_completes(
    name: str,
    kubelet: LocalKubelet,
    make_runner: Callable[[Experiment, str], KubernetesRunner],
    service: Service,
) -> None:
    if name == "tfevents":
        pytest.importorskip("tensorboard", reason="needs tuner[tfevents]")
    kind = case(name)
    experiment = make_experiment(kind)
    runner = make_runner(experiment, service.endpoint)
    with Client(service.endpoint) as tuner_client:
        tuner_client.create_study(kind.name, experiment.study_config())
        trial = tuner_client.add_trial(kind.name, {"x": X})
        runner.launch(trial)

        def finished() -> RunStatus | None:
            status = runner.poll(trial.id)
            return None if status.phase is RunPhase.RUNNING else status

        status = wait_for(finished, timeout=30)
        output = trial_output(kubelet, runner.job_name(trial))
        assert status == RunStatus(phase=RunPhase.SUCCEEDED, exit_code=0), output
        assert steps(tuner_client, trial.id) == expected(kind.objective), output
        completed = tuner_client.complete_trial(trial.id)
    assert completed.objective_value(kind.objective) == pytest.approx(0.875)
    assert f"starting {kind.trial_args[0]} x={X}" in output


def test_a_measurement_reaches_the_store_while_the_trial_runs(
    tmp_path: Path,
    kubelet: LocalKubelet,
    make_runner: Callable[[Experiment, str], KubernetesRunner],
    service: Service,
) -> None:
    kind = case("file-text")
    hold = tmp_path / "go-on"  # a host path: the trial waits for it after epoch 1
    experiment = make_experiment(kind, hold=hold)
    runner = make_runner(experiment, service.endpoint)
    with Client(service.endpoint) as tuner_client:
        tuner_client.create_study(kind.name, experiment.study_config())
        trial = tuner_client.add_trial(kind.name, {"x": X})
        runner.launch(trial)
        try:
            first = wait_for(lambda: steps(tuner_client, trial.id), timeout=30)
            assert first == expected(kind.objective, epochs=1)
            assert runner.poll(trial.id).phase is RunPhase.RUNNING
        finally:
            hold.touch()
        status = wait_for(
            lambda: (s := runner.poll(trial.id)).phase is not RunPhase.RUNNING and s, timeout=30
        )
        assert status == RunStatus(phase=RunPhase.SUCCEEDED, exit_code=0)
        assert steps(tuner_client, trial.id) == expected(kind.objective)
