"""KubernetesRunner against the emulated API server, with the local kubelet running the Jobs.

The trials really run (as local processes under the kubelet), report their metrics through
the StdOut collector in their Job to a real service over gRPC, and the runner sees them end
through the Jobs' conditions, as it would on a cluster.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.k8s.emulator import ThreadedEmulator
from tests.k8s.fixtures import NAMESPACE, Service, make_kubelet, token_secret, wait_for
from tests.k8s.kubelet import LocalKubelet
from tuner.client import Client
from tuner.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    UnavailableError,
)
from tuner.runners import (
    EXPERIMENT_LABEL,
    TRIAL_LABEL,
    KubernetesOwner,
    KubernetesRunner,
    Runner,
    RunPhase,
    RunStatus,
    SecretKeySelector,
    trial_job_name,
)
from tuner.spec import CollectorKind, Experiment, MetricsCollector, load_experiment
from tuner.trial import Trial

pytestmark = pytest.mark.timeout(60)

ENDPOINT = "127.0.0.1:4242"
OWNER = KubernetesOwner(
    api_version="tuner.dev/v1beta1", kind="Experiment", name="mnist", uid="uid-of-mnist"
)
SCRIPT = textwrap.dedent(
    """
    import pathlib, sys, time
    x, code, sleep, marker = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    print(f"starting x={x}", flush=True)
    if marker != "-":
        pathlib.Path(marker).write_text("started")
    time.sleep(sleep)
    print(f"loss={(x - 0.3) ** 2}", flush=True)
    sys.exit(code)
    """
)


IMAGE = "example.org/train:1"


def make_experiment(
    name: str = "mnist",
    namespace: str = NAMESPACE,
    *,
    exit_code: int = 0,
    sleep: float = 0.0,
    marker: str = "-",
    collector: dict[str, Any] | None = None,
    retain: bool | None = None,
    image: str = IMAGE,
) -> Experiment:
    template: dict[str, Any] = {
        "trialParameters": [{"name": "x", "reference": "x"}],
        "trialSpec": {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [
                            {
                                "name": "train",
                                "image": image,
                                "command": ["python", "-c", SCRIPT],
                                "args": [
                                    "${trialParameters.x}",
                                    str(exit_code),
                                    str(sleep),
                                    marker,
                                ],
                                "env": [
                                    {"name": "TUNER_TRIAL_ID", "value": "overridden"},
                                    {"name": "KEPT", "value": "yes"},
                                ],
                            }
                        ],
                    }
                },
            },
        },
    }
    if retain is not None:
        template["retain"] = retain
    return load_experiment(
        {
            "apiVersion": "tuner.dev/v1beta1",
            "kind": "Experiment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "objective": {"type": "minimize", "objectiveMetricName": "loss"},
                "algorithm": {"algorithmName": "random"},
                "maxTrialCount": 3,
                "parameters": [
                    {
                        "name": "x",
                        "parameterType": "double",
                        "feasibleSpace": {"min": "-1", "max": "1"},
                    }
                ],
                # None by default: a StdOut collector would wait for a service to report to
                "metricsCollectorSpec": {"collector": collector or {"kind": "None"}},
                "trialTemplate": template,
            },
        }
    )


def make_trial(trial_id: int = 11, number: int = 2, x: float = 0.5) -> Trial:
    return Trial(id=trial_id, study_name="mnist", number=number, parameters={"x": x})


@pytest.fixture
def batch(api: client.ApiClient) -> client.BatchV1Api:
    return client.BatchV1Api(api)


@pytest.fixture
def core_api(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def make_runner(api: client.ApiClient) -> Iterator[Callable[..., KubernetesRunner]]:
    runners: list[KubernetesRunner] = []

    def make(experiment: Experiment | None = None, **kwargs: Any) -> KubernetesRunner:
        kwargs.setdefault("service_endpoint", ENDPOINT)
        kwargs.setdefault("owner", OWNER)
        runner = KubernetesRunner(
            api_client=api, experiment=experiment or make_experiment(), **kwargs
        )
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.close()


def wait_until_finished(runner: KubernetesRunner, trial_id: int) -> RunStatus:
    def finished() -> RunStatus | None:
        status = runner.poll(trial_id)
        return None if status.phase is RunPhase.RUNNING else status

    return wait_for(finished, timeout=20)


def read_job(batch: client.BatchV1Api, name: str, namespace: str = NAMESPACE) -> dict[str, Any]:
    job = batch.read_namespaced_job(name, namespace)
    return dict(client.ApiClient().sanitize_for_serialization(job))


def job_names(batch: client.BatchV1Api, namespace: str = NAMESPACE) -> list[str]:
    return [j.metadata.name for j in batch.list_namespaced_job(namespace).items]


# -- the Job ---------------------------------------------------------------------------------


def test_it_is_a_runner(make_runner: Callable[..., KubernetesRunner]) -> None:
    runner: Runner = make_runner()
    assert runner.adopt(make_trial()) is False


def test_launch_creates_the_trial_job(
    make_runner: Callable[..., KubernetesRunner], batch: client.BatchV1Api
) -> None:
    runner = make_runner(make_experiment(collector={"kind": "StdOut"}))
    trial = make_trial()
    runner.launch(trial)
    assert runner.job_name(trial) == "mnist-2"
    job = read_job(batch, "mnist-2")
    labels = {EXPERIMENT_LABEL: "mnist", TRIAL_LABEL: "11"}
    assert labels.items() <= job["metadata"]["labels"].items()
    assert labels.items() <= job["spec"]["template"]["metadata"]["labels"].items()
    (owner,) = job["metadata"]["ownerReferences"]
    assert owner == {
        "apiVersion": "tuner.dev/v1beta1",
        "kind": "Experiment",
        "name": "mnist",
        "uid": "uid-of-mnist",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    (container,) = job["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env == {
        "KEPT": "yes",
        "TUNER_TRIAL_ID": "11",
        "TUNER_STUDY_NAME": "mnist",
        "TUNER_SERVICE_ENDPOINT": ENDPOINT,
    }
    command = container["command"]
    assert command[:5] == ["python", "-m", "tuner.collectors", "stdout", "--metric=loss"]
    assert command[command.index("--") + 1 :] == ["python", "-c", SCRIPT, "0.5", "0", "0.0", "-"]
    assert "args" not in container


@pytest.mark.parametrize(
    ("collector", "wrapper"),
    [
        ({"kind": "None"}, None),
        ({"kind": "Push"}, None),
        (
            {
                "kind": "File",
                "source": {"fileSystemPath": {"path": "/var/log/m.log", "kind": "File"}},
            },
            "file",
        ),
    ],
)
def test_the_collector_kind_decides_the_wrapping(
    make_runner: Callable[..., KubernetesRunner],
    batch: client.BatchV1Api,
    collector: dict[str, Any],
    wrapper: str | None,
) -> None:
    spec: dict[str, Any] = {"collector": {"kind": collector["kind"]}}
    if "source" in collector:
        spec["source"] = collector["source"]
        spec = {"collector": {"kind": "File"}, "source": collector["source"]}
    experiment = make_experiment(collector=spec["collector"])
    if "source" in collector:
        document = json.loads(json.dumps(experiment.document))
        document["spec"]["metricsCollectorSpec"] = spec
        experiment = load_experiment(document)
    make_runner(experiment).launch(make_trial())
    (container,) = read_job(batch, "mnist-2")["spec"]["template"]["spec"]["containers"]
    if wrapper is None:
        assert container["command"] == ["python", "-c", SCRIPT]
        assert container["args"] == ["0.5", "0", "0.0", "-"]
    else:
        assert container["command"][:4] == ["python", "-m", "tuner.collectors", wrapper]


def test_a_collector_that_cannot_wrap_is_refused_at_construction(
    make_runner: Callable[..., KubernetesRunner], batch: client.BatchV1Api
) -> None:
    # the spec refuses a Custom collector already; a runner built from elsewhere must too
    custom = MetricsCollector(kind=CollectorKind.CUSTOM)
    experiment = dataclasses.replace(make_experiment(), metrics_collector=custom)
    with pytest.raises(InvalidArgumentError) as info:
        make_runner(experiment)
    assert info.value.field == "spec.metricsCollectorSpec.collector.kind"
    file = MetricsCollector(kind=CollectorKind.FILE)  # no path
    experiment = dataclasses.replace(make_experiment(), metrics_collector=file)
    with pytest.raises(InvalidArgumentError) as info:
        make_runner(experiment)
    assert info.value.field == "spec.metricsCollectorSpec.collector.file_path"
    assert job_names(batch) == []


def test_a_long_experiment_name_gives_a_valid_job_name(
    make_runner: Callable[..., KubernetesRunner], batch: client.BatchV1Api
) -> None:
    name = "a-long-experiment-name-" + "x" * 40  # 63 characters: the most the spec allows
    assert len(name) == 63
    runner = make_runner(make_experiment(name))
    trial = make_trial(number=123)
    runner.launch(trial)  # the emulator refuses Job names over 63 characters, as a server does
    job = read_job(batch, runner.job_name(trial))
    assert len(job["metadata"]["name"]) == 63 and job["metadata"]["name"].endswith("-123")
    assert len(job["metadata"]["labels"][EXPERIMENT_LABEL]) <= 63
    assert trial_job_name(name, 123) == runner.job_name(trial)
    assert trial_job_name(name[:-1] + "y", 123) != trial_job_name(name, 123)


def test_launch_is_idempotent_for_the_same_trial(
    make_runner: Callable[..., KubernetesRunner], batch: client.BatchV1Api
) -> None:
    make_runner().launch(make_trial())
    again = make_runner()
    again.launch(make_trial())  # a restarted operator launching it once more
    assert again.poll(11).phase is RunPhase.RUNNING  # no kubelet here: it never starts
    assert job_names(batch) == ["mnist-2"]
    with pytest.raises(FailedPreconditionError, match="launched already"):
        again.launch(make_trial())
    with pytest.raises(FailedPreconditionError, match="belongs to trial 11"):
        make_runner().launch(make_trial(trial_id=99))  # same number, another trial


def test_unknown_trials(make_runner: Callable[..., KubernetesRunner]) -> None:
    runner = make_runner()
    with pytest.raises(NotFoundError):
        runner.poll(5)
    with pytest.raises(NotFoundError):
        runner.stop(5)
    runner.release(5)  # ignored


# -- running under the local kubelet ---------------------------------------------------------


def test_a_trial_runs_and_its_metrics_reach_the_service(
    kubelet: LocalKubelet,
    make_runner: Callable[..., KubernetesRunner],
    service: Service,
    core_api: client.CoreV1Api,
) -> None:
    experiment = make_experiment(collector={"kind": "StdOut"})
    with Client(service.endpoint) as tuner_client:
        tuner_client.create_study("mnist", experiment.study_config())
        (trial,) = tuner_client.suggest_trials("mnist", 1).trials
        runner = make_runner(experiment, service_endpoint=service.endpoint)
        runner.launch(trial)
        assert wait_until_finished(runner, trial.id) == RunStatus(
            phase=RunPhase.SUCCEEDED, exit_code=0
        )
        reported = tuner_client.get_trial(trial.id)
    x = trial.parameters["x"]
    assert isinstance(x, float)
    assert [m.metrics["loss"] for m in reported.measurements] == [pytest.approx((x - 0.3) ** 2)]
    (pod,) = core_api.list_namespaced_pod(
        NAMESPACE, label_selector=f"{TRIAL_LABEL}={trial.id}"
    ).items
    log = core_api.read_namespaced_pod_log(pod.metadata.name, NAMESPACE)
    assert f"starting x={x}" in log and "loss=" in log  # the collector copies the output through


def test_a_failing_trial_reports_the_job_reason_exit_code_and_output(
    kubelet: LocalKubelet, make_runner: Callable[..., KubernetesRunner]
) -> None:
    runner = make_runner(make_experiment(exit_code=3))
    runner.launch(make_trial())
    status = wait_until_finished(runner, 11)
    assert status.phase is RunPhase.FAILED and status.exit_code == 3
    assert status.reason.startswith(
        f"Job {NAMESPACE}/mnist-2 failed: BackoffLimitExceeded "
        "(Job has reached the specified backoff limit); exit code 3; last output:\n"
    )
    assert status.reason.splitlines()[-2:] == ["  starting x=0.5", "  loss=0.04000000000000001"]
    assert runner.poll(11) == status  # settled


def test_stop_deletes_the_job_and_kills_the_trial(
    kubelet: LocalKubelet,
    make_runner: Callable[..., KubernetesRunner],
    batch: client.BatchV1Api,
    core_api: client.CoreV1Api,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "started"
    runner = make_runner(make_experiment(sleep=60, marker=str(marker)))
    runner.launch(make_trial())
    wait_for(marker.exists)
    assert kubelet.running == 1
    runner.stop(11)
    status = runner.poll(11)
    assert status.phase is RunPhase.FAILED and status.reason.startswith("stopped")
    assert job_names(batch) == []
    wait_for(lambda: kubelet.running == 0)  # the pod went with the Job, and its process
    assert core_api.list_namespaced_pod(NAMESPACE).items == []
    runner.stop(11)  # finished now: a no-op


def test_stop_after_the_end_keeps_the_outcome(
    kubelet: LocalKubelet, make_runner: Callable[..., KubernetesRunner], batch: client.BatchV1Api
) -> None:
    runner = make_runner()
    runner.launch(make_trial())
    assert wait_until_finished(runner, 11).phase is RunPhase.SUCCEEDED
    runner.stop(11)
    assert runner.poll(11).phase is RunPhase.SUCCEEDED
    assert job_names(batch) == ["mnist-2"]


def test_a_job_deleted_from_outside_fails_the_trial(
    make_runner: Callable[..., KubernetesRunner], batch: client.BatchV1Api
) -> None:
    runner = make_runner()
    runner.launch(make_trial())
    batch.delete_namespaced_job("mnist-2", NAMESPACE, propagation_policy="Background")
    status = runner.poll(11)
    assert status.phase is RunPhase.FAILED
    assert status.reason == (
        f"its Job {NAMESPACE}/mnist-2 was deleted from outside the runner before it finished"
    )


def test_adopt_after_a_restart_finds_the_job_by_its_labels(
    kubelet: LocalKubelet,
    make_runner: Callable[..., KubernetesRunner],
    tmp_path: Path,
) -> None:
    marker = tmp_path / "started"
    experiment = make_experiment(sleep=0.5, marker=str(marker))
    first = make_runner(experiment)
    first.launch(make_trial())
    wait_for(marker.exists)
    first.close()  # an operator shutting down: the Job runs on
    assert kubelet.running == 1

    second = make_runner(experiment)
    assert second.adopt(make_trial()) is True
    assert second.adopt(make_trial(trial_id=12, number=3)) is False
    assert wait_until_finished(second, 11).phase is RunPhase.SUCCEEDED
    # a finished Job is adopted too, so that the controller can settle its trial
    third = make_runner(experiment)
    assert third.adopt(make_trial()) is True
    assert third.poll(11).phase is RunPhase.SUCCEEDED


def test_release_deletes_finished_jobs_unless_retained(
    kubelet: LocalKubelet, make_runner: Callable[..., KubernetesRunner], batch: client.BatchV1Api
) -> None:
    default = make_runner()
    retaining = make_runner(make_experiment(retain=True))
    assert make_experiment(retain=True).trial_template.retain is True
    default.launch(make_trial(trial_id=1, number=1))
    retaining.launch(make_trial(trial_id=2, number=2))
    for runner, trial_id in ((default, 1), (retaining, 2)):
        assert wait_until_finished(runner, trial_id).phase is RunPhase.SUCCEEDED
        runner.release(trial_id)
        with pytest.raises(NotFoundError):
            runner.poll(trial_id)
    assert job_names(batch) == ["mnist-2"]


def test_release_of_a_running_trial_leaves_its_job_running(
    make_runner: Callable[..., KubernetesRunner], batch: client.BatchV1Api
) -> None:
    runner = make_runner(retain=False)
    runner.launch(make_trial())
    runner.release(11)  # a controller detaching from its trials
    assert job_names(batch) == ["mnist-2"]


def test_two_experiments_of_one_name_in_two_namespaces_do_not_mix(
    k8s: ThreadedEmulator,
    api: client.ApiClient,
    make_runner: Callable[..., KubernetesRunner],
    batch: client.BatchV1Api,
    tmp_path: Path,
) -> None:
    in_a = make_runner(make_experiment(namespace="team-a"))
    in_b = make_runner(make_experiment(namespace="team-b", exit_code=4))
    assert (in_a.namespace, in_b.namespace) == ("team-a", "team-b")
    with (
        make_kubelet(k8s, api, "team-a", tmp_path / "a"),
        make_kubelet(k8s, api, "team-b", tmp_path / "b"),
    ):
        in_a.launch(make_trial(trial_id=1, number=0))
        in_b.launch(make_trial(trial_id=2, number=0))
        assert wait_until_finished(in_a, 1).phase is RunPhase.SUCCEEDED
        assert wait_until_finished(in_b, 2).exit_code == 4
    assert job_names(batch, "team-a") == job_names(batch, "team-b") == ["mnist-0"]
    assert make_runner(make_experiment(namespace="team-a")).adopt(make_trial(2, 0)) is False
    assert make_runner(make_experiment(namespace="team-b")).adopt(make_trial(2, 0)) is True


# -- the service's token ---------------------------------------------------------------------

TOKEN_SECRET = SecretKeySelector(name="tuner-token")


def test_the_token_reaches_the_job_as_a_secret_reference_never_a_value(
    make_runner: Callable[..., KubernetesRunner], batch: client.BatchV1Api
) -> None:
    experiment = make_experiment(collector={"kind": "StdOut"})
    document = json.loads(json.dumps(experiment.document))
    (container,) = document["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"][
        "containers"
    ]
    container["env"].append({"name": "TUNER_SERVICE_TOKEN", "value": "from-the-template"})
    runner = make_runner(
        load_experiment(document), token_secret=SecretKeySelector(name="tok", key="bearer")
    )
    runner.launch(make_trial())
    (container,) = read_job(batch, "mnist-2")["spec"]["template"]["spec"]["containers"]
    (token,) = [item for item in container["env"] if item["name"] == "TUNER_SERVICE_TOKEN"]
    assert token == {
        "name": "TUNER_SERVICE_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "tok", "key": "bearer"}},
    }
    assert "from-the-template" not in json.dumps(read_job(batch, "mnist-2"))
    # the collector wraps the command in the same container, so it inherits the variable
    assert container["command"][:4] == ["python", "-m", "tuner.collectors", "stdout"]
    # without a Secret, a template's own variable is the user's and stays
    make_runner(load_experiment(document)).launch(make_trial(trial_id=12, number=3))
    (container,) = read_job(batch, "mnist-3")["spec"]["template"]["spec"]["containers"]
    (token,) = [item for item in container["env"] if item["name"] == "TUNER_SERVICE_TOKEN"]
    assert token == {"name": "TUNER_SERVICE_TOKEN", "value": "from-the-template"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tuner-token", SecretKeySelector(name="tuner-token", key="token")),
        ("a.b:my_key-1.x", SecretKeySelector(name="a.b", key="my_key-1.x")),
    ],
)
def test_a_secret_key_selector_parses_name_and_key(text: str, expected: SecretKeySelector) -> None:
    assert SecretKeySelector.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "field"), [("", "name"), ("Tuner_Token", "name"), ("x:", "key"), ("x:a/b", "key")]
)
def test_a_secret_key_selector_refuses_what_kubernetes_would(text: str, field: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        SecretKeySelector.parse(text)
    assert info.value.field == field


def run_one_trial(
    service: Service,
    make_runner: Callable[..., KubernetesRunner],
    *,
    image: str = IMAGE,
    **kwargs: Any,
) -> tuple[KubernetesRunner, Trial, Client]:
    """Create the study on ``service`` and launch one StdOut trial of it."""
    experiment = make_experiment(collector={"kind": "StdOut"}, image=image)
    tuner_client = Client(service.endpoint, token=service.token)
    tuner_client.create_study("mnist", experiment.study_config())
    (trial,) = tuner_client.suggest_trials("mnist", 1).trials
    runner = make_runner(experiment, service_endpoint=service.endpoint, **kwargs)
    runner.launch(trial)
    return runner, trial, tuner_client


def test_with_the_token_secret_a_trial_reports_to_a_service_that_requires_it(
    kubelet: LocalKubelet,
    make_runner: Callable[..., KubernetesRunner],
    token_service: Service,
    core_api: client.CoreV1Api,
) -> None:
    assert token_service.token is not None
    core_api.create_namespaced_secret(NAMESPACE, token_secret(token_service.token))
    runner, trial, tuner_client = run_one_trial(
        token_service, make_runner, token_secret=TOKEN_SECRET
    )
    with tuner_client:
        assert wait_until_finished(runner, trial.id).phase is RunPhase.SUCCEEDED
        reported = tuner_client.get_trial(trial.id)
    assert [set(m.metrics) for m in reported.measurements] == [{"loss"}]


def test_without_the_token_the_service_refuses_the_trials_measurements(
    kubelet: LocalKubelet,
    make_runner: Callable[..., KubernetesRunner],
    token_service: Service,
    core_api: client.CoreV1Api,
) -> None:
    # the point of the Secret: without it the trial's pod has no token, and the service
    # refuses its measurements (the collector keeps them and retries: an outage to it)
    runner, trial, tuner_client = run_one_trial(token_service, make_runner)

    def log() -> str:
        pods = core_api.list_namespaced_pod(
            NAMESPACE, label_selector=f"{TRIAL_LABEL}={trial.id}"
        ).items
        return pods and core_api.read_namespaced_pod_log(pods[0].metadata.name, NAMESPACE)

    with tuner_client:
        refused = "the service refused this trial's token"
        assert refused in wait_for(lambda: refused in log() and log())
        assert tuner_client.get_trial(trial.id).measurements == ()
    runner.stop(trial.id)


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (None, 'secret "tuner-token" not found'),
        ({"other": "x"}, f"couldn't find key token in Secret {NAMESPACE}/tuner-token"),
    ],
    ids=["no-secret", "no-key"],
)
def test_a_pod_stuck_on_a_missing_secret_fails_its_trial_after_the_grace_period(
    kubelet: LocalKubelet,
    make_runner: Callable[..., KubernetesRunner],
    token_service: Service,
    core_api: client.CoreV1Api,
    batch: client.BatchV1Api,
    secret: dict[str, str] | None,
    message: str,
) -> None:
    if secret is not None:
        body = token_secret("unused")
        body["stringData"] = secret
        core_api.create_namespaced_secret(NAMESPACE, body)
    runner, trial, tuner_client = run_one_trial(
        token_service, make_runner, token_secret=TOKEN_SECRET, pod_start_timeout=0.5
    )
    with tuner_client:
        status = wait_until_finished(runner, trial.id)
    assert status.phase is RunPhase.FAILED
    assert status.reason.startswith(f"its pod {NAMESPACE}/mnist-")
    assert (
        f"could not start for 0.5 s: container train: CreateContainerConfigError: {message} "
        f"(the service token's Secret tuner-token, key token, must exist in namespace "
        f"{NAMESPACE}, where the trials run); its Job {NAMESPACE}/{runner.job_name(trial)} "
        "was deleted"
    ) in status.reason
    assert job_names(batch) == []  # deleted, so it cannot start later, unaccounted for
    wait_for(lambda: not core_api.list_namespaced_pod(NAMESPACE).items)
    assert kubelet.max_running == 0


def test_a_secret_created_within_the_grace_period_is_in_time(
    kubelet: LocalKubelet,
    make_runner: Callable[..., KubernetesRunner],
    token_service: Service,
    core_api: client.CoreV1Api,
) -> None:
    assert token_service.token is not None
    runner, trial, tuner_client = run_one_trial(
        token_service, make_runner, token_secret=TOKEN_SECRET, pod_start_timeout=30
    )

    def stuck() -> bool:
        pods = core_api.list_namespaced_pod(NAMESPACE).items
        statuses = (pods and pods[0].status.container_statuses) or []
        waiting = statuses and statuses[0].state.waiting
        return bool(waiting and waiting.reason == "CreateContainerConfigError")

    with tuner_client:
        wait_for(stuck)
        assert runner.poll(trial.id).phase is RunPhase.RUNNING
        core_api.create_namespaced_secret(NAMESPACE, token_secret(token_service.token))
        assert wait_until_finished(runner, trial.id).phase is RunPhase.SUCCEEDED
        assert len(tuner_client.get_trial(trial.id).measurements) == 1


@pytest.mark.parametrize("timeout", [-1.0, float("nan")])
def test_a_negative_pod_start_timeout_is_refused(
    make_runner: Callable[..., KubernetesRunner], timeout: float
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        make_runner(pod_start_timeout=timeout)
    assert info.value.field == "pod_start_timeout"


# -- images that cannot be had -----------------------------------------------------------------

UNPULLABLE = "registry.invalid/trian:1"  # a typo of the image, in a registry that lacks it


def waiting_reason(core_api: client.CoreV1Api) -> str | None:
    """The waiting reason of the (one) trial pod's container, once it has one."""
    pods = core_api.list_namespaced_pod(NAMESPACE).items
    statuses = (pods and pods[0].status.container_statuses) or []
    waiting = statuses and statuses[0].state.waiting
    return waiting.reason if waiting else None


PULL_ERRORS = {  # what the kubelet says, alternately
    "ErrImagePull": "rpc error: code = NotFound desc = failed to pull and unpack image "
    f'"{UNPULLABLE}": failed to resolve reference "{UNPULLABLE}": {UNPULLABLE}: not found',
    "ImagePullBackOff": f'Back-off pulling image "{UNPULLABLE}"',
}


@pytest.mark.parametrize(
    ("image", "messages"),
    [
        (UNPULLABLE, PULL_ERRORS),
        (
            "Example.org/Train:1",
            {
                "InvalidImageName": 'Failed to apply default image tag "Example.org/Train:1": '
                'couldn\'t parse image name "Example.org/Train:1": invalid reference format: '
                "repository name must be lowercase"
            },
        ),
    ],
    ids=["unpullable", "invalid-name"],
)
def test_a_pod_whose_image_cannot_be_had_fails_its_trial_after_the_timeout(
    kubelet: LocalKubelet,
    make_runner: Callable[..., KubernetesRunner],
    service: Service,
    core_api: client.CoreV1Api,
    batch: client.BatchV1Api,
    image: str,
    messages: dict[str, str],
) -> None:
    kubelet.unpullable_images.add(UNPULLABLE)
    # a failing pull alternates ErrImagePull and ImagePullBackOff every 0.2 s here: the clock
    # must keep running through the changes, else this trial would never fail
    runner, trial, tuner_client = run_one_trial(
        service, make_runner, image=image, pod_start_timeout=0.5
    )
    with tuner_client:
        status = wait_until_finished(runner, trial.id)
    assert status.phase is RunPhase.FAILED
    start = f"its pod {NAMESPACE}/mnist-"
    assert status.reason.startswith(start)
    suffix, what = status.reason[len(start) :].split(" could not start for 0.5 s: ", 1)
    assert kubelet.pod_names() == [f"mnist-{suffix}"]
    assert what in [
        f"container train (image {image}): {reason}: {message} (check the image in the "
        "experiment's trialTemplate and, for a private registry, the pod's imagePullSecrets); "
        f"its Job {NAMESPACE}/{runner.job_name(trial)} was deleted"
        for reason, message in messages.items()
    ]
    assert job_names(batch) == []
    wait_for(lambda: not core_api.list_namespaced_pod(NAMESPACE).items)
    assert kubelet.max_running == 0


def test_an_image_pulled_within_the_timeout_is_in_time(
    kubelet: LocalKubelet,
    make_runner: Callable[..., KubernetesRunner],
    service: Service,
    core_api: client.CoreV1Api,
) -> None:
    kubelet.unpullable_images.add(UNPULLABLE)
    runner, trial, tuner_client = run_one_trial(
        service, make_runner, image=UNPULLABLE, pod_start_timeout=30
    )
    with tuner_client:
        seen: set[str | None] = set()

        def both() -> bool:
            seen.add(waiting_reason(core_api))
            assert runner.poll(trial.id).phase is RunPhase.RUNNING
            return {"ErrImagePull", "ImagePullBackOff"} <= seen

        wait_for(both)
        kubelet.unpullable_images.discard(UNPULLABLE)  # the registry hiccup is over
        assert wait_until_finished(runner, trial.id).phase is RunPhase.SUCCEEDED
        assert len(tuner_client.get_trial(trial.id).measurements) == 1


@pytest.mark.parametrize(
    ("image", "timeout", "reason", "limit"),
    [
        (UNPULLABLE, None, "ErrImagePull|ImagePullBackOff", "300"),
        (IMAGE, None, "CreateContainerConfigError", "60"),
        (UNPULLABLE, 7.5, "ErrImagePull|ImagePullBackOff", "7.5"),
        (IMAGE, 7.5, "CreateContainerConfigError", "7.5"),
    ],
)
def test_image_pulls_get_longer_by_default_and_the_timeout_replaces_every_default(
    kubelet: LocalKubelet,
    make_runner: Callable[..., KubernetesRunner],
    token_service: Service,
    core_api: client.CoreV1Api,
    caplog: pytest.LogCaptureFixture,
    image: str,
    timeout: float | None,
    reason: str,
    limit: str,
) -> None:
    kubelet.unpullable_images.add(UNPULLABLE)
    # no Secret: with a pullable image the pod waits in CreateContainerConfigError
    runner, trial, tuner_client = run_one_trial(
        token_service,
        make_runner,
        image=image,
        token_secret=TOKEN_SECRET,
        pod_start_timeout=timeout,
    )
    with tuner_client, caplog.at_level("WARNING", logger="tuner.runners"):
        wait_for(lambda: (waiting_reason(core_api) or "") in reason.split("|"))
        assert runner.poll(trial.id).phase is RunPhase.RUNNING
        runner.stop(trial.id)
    (warning,) = [r.getMessage() for r in caplog.records if "cannot start" in r.getMessage()]
    assert re.search(
        rf"\(({reason}): .*\); the trial fails unless that is fixed within {re.escape(limit)} s$",
        warning,
    ), warning


# -- API errors ------------------------------------------------------------------------------


def test_transient_api_errors_are_retried(
    k8s: ThreadedEmulator, make_runner: Callable[..., KubernetesRunner], batch: client.BatchV1Api
) -> None:
    k8s.fail("POST", "batch/v1/jobs", code=503, times=2)
    k8s.fail("GET", "batch/v1/jobs", code=429, times=1)
    runner = make_runner()
    runner.launch(make_trial())
    assert runner.poll(11).phase is RunPhase.RUNNING
    assert job_names(batch) == ["mnist-2"]


def test_an_api_server_that_keeps_failing_is_unavailable(
    k8s: ThreadedEmulator, make_runner: Callable[..., KubernetesRunner], batch: client.BatchV1Api
) -> None:
    k8s.fail("POST", "batch/v1/jobs", code=500, times=100)
    runner = make_runner(retry_timeout=0.3)
    with pytest.raises(UnavailableError, match="keeps failing"):
        runner.launch(make_trial())
    with pytest.raises(NotFoundError):
        runner.poll(11)  # nothing launched


def test_a_refused_job_names_the_reason(
    k8s: ThreadedEmulator, make_runner: Callable[..., KubernetesRunner]
) -> None:
    k8s.fail("POST", "batch/v1/jobs", code=403)
    with pytest.raises(FailedPreconditionError, match="RBAC"):
        make_runner().launch(make_trial())
    k8s.fail("POST", "batch/v1/jobs", code=422)
    with pytest.raises(InvalidArgumentError, match="injected failure 422"):
        make_runner().launch(make_trial())


def test_importing_the_runners_does_not_need_kubernetes() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["kubernetes"] = None  # as if it were not installed
        import tuner.runners
        from tuner.runners import KubernetesOwner, trial_job_name
        assert trial_job_name("mnist", 1) == "mnist-1"
        try:
            tuner.runners.KubernetesRunner(
                api_client=None, experiment=None, service_endpoint="x"
            )
        except ImportError as error:
            print(error)
        """
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "pip install tuner[kubernetes]" in result.stdout, (result, started)
