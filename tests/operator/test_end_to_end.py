"""The operator end to end: Experiments applied to the emulated cluster run to their end.

The operator runs its loop (watch, queue, a controller thread per Experiment) against the
emulated API server, talking to a real gRPC service (SQLite store) through the client, as
the Deployment does; the local kubelet runs each Job's command (the metrics collector
wrapping ``python trial_script.py``) as a local process, whose metrics reach the store.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from tests.k8s.emulator import ThreadedEmulator
from tests.k8s.fixtures import make_kubelet, wait_for
from tests.k8s.kubelet import LocalKubelet
from tests.operator.conftest import NAMESPACE, Cluster, Service, experiment_document
from tuner.client import Client
from tuner.operator import Operator, kubernetes_runners
from tuner.spec import load_experiment
from tuner.trial import TrialState

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

DEADLINE = 30.0
"""Seconds a test waits for something before it gives up (a hang, not a timing check)."""
_MAIN = "import sys; from tuner.cli import main; sys.exit(main(sys.argv[1:]))"
"""``tuner`` as the console script runs it."""


def start_operator(api: client.ApiClient, service: Service) -> tuple[Operator, Client]:
    backend = Client(service.endpoint)
    operator = Operator(
        api,
        backend,
        runner_factory=kubernetes_runners(api, service_endpoint=service.endpoint),
        poll_interval=0.1,
        watch_timeout=1,
        retry_delay=0.5,
    )
    operator.start()
    return operator, backend


@pytest.fixture
def operator(api: client.ApiClient, service: Service) -> Iterator[Operator]:
    running, backend = start_operator(api, service)
    yield running
    running.stop()
    backend.close()


def _phase_is(cluster: Cluster, phase: str, name: str = "demo", ns: str = NAMESPACE) -> bool:
    return cluster.phase(name, ns) == phase


def _pods_per_job(kubelet: LocalKubelet) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pod in kubelet.pod_names():
        job = pod.rsplit("-", 1)[0]
        counts[job] = counts.get(job, 0) + 1
    return counts


def test_an_experiment_runs_to_its_end_with_its_metrics_in_the_store(
    cluster: Cluster, kubelet: LocalKubelet, service: Service, operator: Operator
) -> None:
    cluster.create(experiment_document(max_trials=4, parallel=2, script_args=("--steps=3",)))
    wait_for(lambda: _phase_is(cluster, "Succeeded"), timeout=DEADLINE)

    status = cluster.status("demo")
    assert status["conditions"][-1]["reason"] == "ExperimentMaxTrialsReached"
    assert (status["trials"], status["trialsSucceeded"], status["trialsRunning"]) == (4, 4, 0)
    trials = service.core.list_trials("tune/demo")
    assert [t.state for t in trials] == [TrialState.SUCCEEDED] * 4
    for trial in trials:  # the collector in each pod reported every step
        assert [m.step for m in trial.measurements] == [1, 2, 3]
        lr = float(trial.parameters["lr"])
        assert trial.objective_value("accuracy") == pytest.approx(
            1.0 - (lr - 0.05) ** 2 * 100 - 1.0 / 4
        )
    best = max(trials, key=lambda t: t.objective_value("accuracy") or 0.0)
    optimal = status["currentOptimalTrial"]
    assert (optimal["trialId"], optimal["trialName"]) == (best.id, f"demo-{best.number}")
    (metric,) = optimal["observation"]["metrics"]
    assert float(metric["value"]) == best.objective_value("accuracy")
    assert "completionTime" in status
    assert _pods_per_job(kubelet) == {f"demo-{n}": 1 for n in range(4)}
    assert 1 <= kubelet.max_running <= 2


def test_the_operator_killed_and_restarted_adopts_its_jobs(
    k8s: ThreadedEmulator,
    api: client.ApiClient,
    cluster: Cluster,
    kubelet: LocalKubelet,
    service: Service,
    tmp_path: Path,
) -> None:
    release = tmp_path / "release"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "emulator",
                "clusters": [{"name": "emulator", "cluster": {"server": k8s.url}}],
                "users": [{"name": "emulator", "user": {"token": "dummy"}}],
                "contexts": [
                    {"name": "emulator", "context": {"cluster": "emulator", "user": "emulator"}}
                ],
            }
        )
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _MAIN,
            "operator",
            "--service",
            service.endpoint,
            "--kubeconfig",
            str(kubeconfig),
            "--namespace",
            NAMESPACE,
            "--poll-interval",
            "0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        cluster.create(
            experiment_document(max_trials=5, parallel=2, script_args=(f"--wait-for={release}",))
        )
        wait_for(lambda: kubelet.running == 2, timeout=DEADLINE)
        assert cluster.status("demo")["trialsRunning"] == 2
    finally:
        process.send_signal(signal.SIGKILL)  # no cleanup at all
        output, _ = process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL, output.decode()
    assert [job["metadata"]["name"] for job in cluster.jobs()] == ["demo-0", "demo-1"]

    second, backend = start_operator(api, service)
    try:
        release.touch()
        wait_for(lambda: _phase_is(cluster, "Succeeded"), timeout=DEADLINE)
    finally:
        second.stop()
        backend.close()
    trials = service.core.list_trials("tune/demo")
    assert [t.state for t in trials] == [TrialState.SUCCEEDED] * 5  # none lost, none extra
    assert _pods_per_job(kubelet) == {f"demo-{n}": 1 for n in range(5)}  # no duplicate Job
    assert cluster.status("demo")["trialsSucceeded"] == 5
    assert kubelet.max_running <= 2


def test_failing_jobs_count_toward_max_failed_trial_count(
    cluster: Cluster, kubelet: LocalKubelet, service: Service, operator: Operator
) -> None:
    cluster.create(
        experiment_document(max_trials=6, parallel=1, max_failed=1, script_args=("--exit-code=3",))
    )
    wait_for(lambda: _phase_is(cluster, "Failed"), timeout=DEADLINE)
    status = cluster.status("demo")
    last = status["conditions"][-1]
    assert last["reason"] == "ExperimentMaxFailedTrialsReached"
    assert "2 trials failed, more than maxFailedTrialCount (1)" in last["message"]
    assert (status["trialsFailed"], status["trials"]) == (2, 2)
    trials = service.core.list_trials("tune/demo")
    assert [t.state for t in trials] == [TrialState.FAILED] * 2
    assert all("exit code 3" in t.reason for t in trials), [t.reason for t in trials]


def test_a_job_deleted_from_outside_fails_its_trial(
    cluster: Cluster, kubelet: LocalKubelet, service: Service, operator: Operator, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    cluster.create(
        experiment_document(
            max_trials=2, parallel=1, max_failed=1, script_args=(f"--wait-for={release}",)
        )
    )
    wait_for(lambda: kubelet.running == 1, timeout=DEADLINE)
    cluster.batch.delete_namespaced_job(
        "demo-0", NAMESPACE, body={"propagationPolicy": "Background"}
    )
    wait_for(lambda: [j["metadata"]["name"] for j in cluster.jobs()] == ["demo-1"], DEADLINE)
    release.touch()
    wait_for(lambda: _phase_is(cluster, "Succeeded"), timeout=DEADLINE)
    first, second = service.core.list_trials("tune/demo")
    assert first.state is TrialState.FAILED
    assert "deleted from outside" in first.reason
    assert second.state is TrialState.SUCCEEDED
    status = cluster.status("demo")
    assert (status["trialsFailed"], status["trialsSucceeded"]) == (1, 1)


def test_early_stopping_deletes_the_job_of_a_bad_trial(
    cluster: Cluster, kubelet: LocalKubelet, service: Service, operator: Operator
) -> None:
    document = experiment_document(max_trials=3, parallel=1, max_failed=0)
    spec = document["spec"]
    spec["parameters"][0]["feasibleSpace"] = {"min": "0.01", "max": "0.2"}
    spec["parameters"].append(
        {"name": "steps", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "1000"}}
    )
    spec["earlyStopping"] = {
        "algorithmName": "medianstop",
        "algorithmSettings": [
            {"name": "min_trials_required", "value": "2"},
            {"name": "start_step", "value": "2"},
        ],
    }
    template = spec["trialTemplate"]
    template["retain"] = True  # finished Jobs stay: only the stopped one is deleted
    template["trialParameters"].append({"name": "steps", "reference": "steps"})
    container = template["trialSpec"]["spec"]["template"]["spec"]["containers"][0]
    container["command"] += ["--steps=${trialParameters.steps}", "--step-sleep=0.05"]
    # the study exists with three queued trials, handed out in order: two good, one bad
    study = service.core.create_study("tune/demo", load_experiment(document).study_config())
    for lr, steps in ((0.05, 4), (0.06, 4), (0.2, 1000)):
        service.core.add_trial(study.name, {"lr": lr, "steps": steps})
    cluster.create(document)

    wait_for(lambda: _phase_is(cluster, "Succeeded"), timeout=DEADLINE)
    good, also_good, bad = service.core.list_trials("tune/demo")
    assert (good.state, also_good.state) == (TrialState.SUCCEEDED, TrialState.SUCCEEDED)
    assert bad.state is TrialState.EARLY_STOPPED, bad.reason
    assert len(bad.measurements) < 1000
    status = cluster.status("demo")
    assert (status["trialsSucceeded"], status["trialsEarlyStopped"]) == (2, 1)
    assert [j["metadata"]["name"] for j in cluster.jobs()] == ["demo-0", "demo-1"]
    assert status["conditions"][0]["message"] == "study tune/demo resumed"


def test_deleting_the_experiment_stops_its_trials(
    cluster: Cluster, kubelet: LocalKubelet, operator: Operator, tmp_path: Path
) -> None:
    cluster.create(
        experiment_document(parallel=2, script_args=(f"--wait-for={tmp_path / 'never'}",))
    )
    wait_for(lambda: kubelet.running == 2, timeout=DEADLINE)
    cluster.delete("demo", orphan=True)  # the emulator's garbage collector leaves the Jobs
    wait_for(lambda: cluster.jobs() == [] and kubelet.running == 0, timeout=DEADLINE)
    wait_for(lambda: operator.running() == [], timeout=DEADLINE)


def test_the_same_name_in_two_namespaces_never_mixes(
    k8s: ThreadedEmulator,
    api: client.ApiClient,
    cluster: Cluster,
    kubelet: LocalKubelet,
    service: Service,
    operator: Operator,
    tmp_path: Path,
) -> None:
    with make_kubelet(k8s, api, "other", tmp_path / "other-kubelet") as other:
        cluster.create(experiment_document(namespace=NAMESPACE, max_trials=2, parallel=1))
        cluster.create(experiment_document(namespace="other", max_trials=3, parallel=2))
        wait_for(lambda: _phase_is(cluster, "Succeeded", ns=NAMESPACE), timeout=DEADLINE)
        wait_for(lambda: _phase_is(cluster, "Succeeded", ns="other"), timeout=DEADLINE)
    assert not other.errors
    for namespace, count in ((NAMESPACE, 2), ("other", 3)):
        trials = service.core.list_trials(f"{namespace}/demo")
        assert [t.state for t in trials] == [TrialState.SUCCEEDED] * count
        assert cluster.status("demo", namespace)["trialsSucceeded"] == count
        optimal = cluster.status("demo", namespace)["currentOptimalTrial"]
        assert optimal["trialId"] in {t.id for t in trials}
    assert _pods_per_job(kubelet) == {"demo-0": 1, "demo-1": 1}
    assert _pods_per_job(other) == {"demo-0": 1, "demo-1": 1, "demo-2": 1}


def test_an_edited_budget_takes_effect_while_running(
    cluster: Cluster, kubelet: LocalKubelet, service: Service, operator: Operator, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    cluster.create(
        experiment_document(max_trials=2, parallel=1, script_args=(f"--wait-for={release}",))
    )
    wait_for(lambda: kubelet.running == 1, timeout=DEADLINE)
    cluster.patch_spec("demo", {"maxTrialCount": 5, "parallelTrialCount": 3})
    wait_for(lambda: kubelet.running == 3, timeout=DEADLINE)
    release.touch()
    wait_for(lambda: _phase_is(cluster, "Succeeded"), timeout=DEADLINE)
    status = cluster.status("demo")
    assert (status["trials"], status["trialsSucceeded"]) == (5, 5)
    assert len(service.core.list_trials("tune/demo")) == 5
    assert kubelet.max_running == 3


def test_an_invalid_experiment_fails_and_creates_nothing(
    cluster: Cluster, kubelet: LocalKubelet, service: Service, operator: Operator
) -> None:
    document = experiment_document()
    document["spec"]["parameters"][0]["parameterType"] = "float"
    cluster.create(document)
    wait_for(lambda: _phase_is(cluster, "Failed"), timeout=DEADLINE)
    last = cluster.status("demo")["conditions"][-1]
    assert last["reason"] == "InvalidSpec"
    assert "spec.parameters[0].parameterType" in last["message"]
    assert cluster.jobs() == []
    assert service.core.list_studies() == []
    assert kubelet.pod_names() == []


def test_an_operator_of_one_namespace_leaves_the_others_alone(
    api: client.ApiClient, cluster: Cluster, kubelet: LocalKubelet, service: Service
) -> None:
    backend = Client(service.endpoint)
    operator = Operator(
        api,
        backend,
        runner_factory=kubernetes_runners(api, service_endpoint=service.endpoint),
        namespace=NAMESPACE,
        poll_interval=0.1,
        watch_timeout=1,
    )
    with operator:
        cluster.create(experiment_document(name="elsewhere", namespace="other"))
        cluster.create(experiment_document(max_trials=1, parallel=1))
        wait_for(lambda: _phase_is(cluster, "Succeeded"), timeout=DEADLINE)
    backend.close()
    assert cluster.status("elsewhere", "other") == {}
    assert cluster.jobs("other") == []
    assert [s.name for s in service.core.list_studies()] == ["tune/demo"]
