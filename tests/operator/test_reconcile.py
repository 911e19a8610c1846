"""Operator.reconcile with no threads: the test plays the cluster (Job status) and the trials.

Each call of ``reconcile`` advances the Experiment's controller by one step, so every test
here is deterministic: the Jobs finish when the test says so.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from tests.operator.conftest import NAMESPACE, Cluster, Service, experiment_document
from tuner.operator import Operator, kubernetes_runners
from tuner.trial import Measurement, TrialState

pytestmark = pytest.mark.timeout(60)


def make_operator(api: client.ApiClient, service: Service, **kwargs: object) -> Operator:
    return Operator(
        api,
        service.core,
        runner_factory=kubernetes_runners(api, service_endpoint=service.endpoint),
        threads=False,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def operator(api: client.ApiClient, service: Service) -> Iterator[Operator]:
    op = make_operator(api, service)
    yield op
    op.stop()


def _report(service: Service, study: str, number: int, *values: float) -> None:
    """Play a trial's collector: report its accuracy per step."""
    trial = next(t for t in service.core.list_trials(study) if t.number == number)
    service.core.report_measurements(
        trial.id,
        [Measurement(step=i + 1, metrics={"accuracy": v}) for i, v in enumerate(values)],
    )


def _names(jobs: list[dict[str, object]]) -> list[str]:
    return [job["metadata"]["name"] for job in jobs]  # type: ignore[index]


def test_a_new_experiment_gets_its_study_its_jobs_and_a_running_status(
    cluster: Cluster, operator: Operator, service: Service
) -> None:
    created = cluster.create(experiment_document(max_trials=3, parallel=2))
    operator.reconcile(NAMESPACE, "demo")

    jobs = cluster.jobs()
    assert _names(jobs) == ["demo-0", "demo-1"]
    trials = service.core.list_trials("tune/demo")
    for job, trial in zip(jobs, trials, strict=True):
        assert job["metadata"]["labels"]["tuner.dev/experiment"] == "demo"
        assert job["metadata"]["labels"]["tuner.dev/trial"] == str(trial.id)
        (owner,) = job["metadata"]["ownerReferences"]
        assert owner["uid"] == created["metadata"]["uid"]
        assert owner["kind"] == "Experiment"
        assert owner["controller"] is True
        (container,) = job["spec"]["template"]["spec"]["containers"]
        env = {item["name"]: item.get("value") for item in container["env"]}
        assert env["TUNER_SERVICE_ENDPOINT"] == service.endpoint
        assert env["TUNER_TRIAL_ID"] == str(trial.id)
    status = cluster.status("demo")
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [
        ("Created", "True"),
        ("Running", "True"),
    ]
    assert status["conditions"][0]["message"] == "study tune/demo created"
    assert status["studyName"] == "tune/demo"
    assert (status["trials"], status["trialsRunning"], status["trialsSucceeded"]) == (2, 2, 0)
    assert "startTime" in status and "completionTime" not in status
    assert "currentOptimalTrial" not in status


def test_trials_settle_as_their_jobs_finish_until_the_budget_is_spent(
    cluster: Cluster, operator: Operator, service: Service
) -> None:
    cluster.create(experiment_document(max_trials=3, parallel=2))
    operator.reconcile(NAMESPACE, "demo")
    _report(service, "tune/demo", 0, 0.5, 0.7)
    cluster.finish_job("demo-0")
    operator.reconcile(NAMESPACE, "demo")

    assert _names(cluster.jobs()) == ["demo-1", "demo-2"]  # demo-0 released (not retained)
    status = cluster.status("demo")
    assert (status["trialsSucceeded"], status["trialsRunning"], status["trials"]) == (1, 2, 3)
    optimal = status["currentOptimalTrial"]
    assert optimal["trialName"] == "demo-0"
    assert optimal["observation"]["metrics"] == [
        {"name": "accuracy", "value": "0.7", "latest": "0.7", "min": "0.5", "max": "0.7"}
    ]
    (assignment,) = optimal["parameterAssignments"]
    assert assignment["name"] == "lr"
    assert 0.01 <= float(assignment["value"]) <= 0.1

    for number, name in ((1, "demo-1"), (2, "demo-2")):
        _report(service, "tune/demo", number, 0.9 - number / 10)
        cluster.finish_job(name)
    operator.reconcile(NAMESPACE, "demo")

    status = cluster.status("demo")
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [
        ("Created", "True"),
        ("Running", "False"),
        ("Succeeded", "True"),
    ]
    assert status["conditions"][-1]["reason"] == "ExperimentMaxTrialsReached"
    assert (status["trialsSucceeded"], status["trialsRunning"], status["trials"]) == (3, 0, 3)
    assert status["currentOptimalTrial"]["trialName"] == "demo-1"
    assert "completionTime" in status
    assert operator.running() == []
    assert [t.state for t in service.core.list_trials("tune/demo")] == [TrialState.SUCCEEDED] * 3

    # an ended Experiment stays ended: nothing is launched, nothing is patched
    version = cluster.get("demo")["metadata"]["resourceVersion"]
    operator.reconcile(NAMESPACE, "demo")
    assert cluster.get("demo")["metadata"]["resourceVersion"] == version
    assert cluster.jobs() == []


def test_an_unchanged_experiment_is_not_patched(cluster: Cluster, operator: Operator) -> None:
    cluster.create(experiment_document())
    operator.reconcile(NAMESPACE, "demo")
    version = cluster.get("demo")["metadata"]["resourceVersion"]
    operator.reconcile(NAMESPACE, "demo")
    operator.reconcile(NAMESPACE, "demo")
    assert cluster.get("demo")["metadata"]["resourceVersion"] == version


def test_an_invalid_experiment_fails_with_its_field_paths_and_creates_nothing(
    cluster: Cluster, operator: Operator, service: Service
) -> None:
    document = experiment_document()
    document["spec"]["maxTrialCount"] = 0
    document["spec"]["parameters"][0]["feasibleSpace"] = {"min": "0.5", "max": "0.1"}
    cluster.create(document)
    operator.reconcile(NAMESPACE, "demo")

    status = cluster.status("demo")
    (condition,) = status["conditions"]
    assert (condition["type"], condition["status"], condition["reason"]) == (
        "Failed",
        "True",
        "InvalidSpec",
    )
    assert "spec.maxTrialCount" in condition["message"]
    assert "spec.parameters[0].feasibleSpace" in condition["message"]
    assert "startTime" not in status
    assert cluster.jobs() == []
    assert service.core.list_studies() == []
    assert operator.running() == []


def test_an_invalid_experiment_runs_once_its_spec_is_fixed(
    cluster: Cluster, operator: Operator, service: Service
) -> None:
    document = experiment_document(max_trials=2, parallel=1)
    document["spec"]["maxTrialCount"] = 0
    cluster.create(document)
    operator.reconcile(NAMESPACE, "demo")
    assert cluster.phase("demo") == "Failed"
    version = cluster.get("demo")["metadata"]["resourceVersion"]
    operator.reconcile(NAMESPACE, "demo")  # still invalid: nothing new to write
    assert cluster.get("demo")["metadata"]["resourceVersion"] == version

    cluster.patch_spec("demo", {"maxTrialCount": 2})
    operator.reconcile(NAMESPACE, "demo")
    status = cluster.status("demo")
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [
        ("Failed", "False"),
        ("Created", "True"),
        ("Running", "True"),
    ]
    assert status["conditions"][1]["message"] == "study tune/demo created"
    assert "completionTime" not in status
    assert _names(cluster.jobs()) == ["demo-0"]
    assert [s.name for s in service.core.list_studies()] == ["tune/demo"]


def test_too_many_failed_jobs_fail_the_experiment(
    cluster: Cluster, operator: Operator, service: Service
) -> None:
    cluster.create(experiment_document(max_trials=5, parallel=2, max_failed=1))
    operator.reconcile(NAMESPACE, "demo")
    cluster.finish_job("demo-0", succeeded=False)
    operator.reconcile(NAMESPACE, "demo")
    assert cluster.status("demo")["trialsFailed"] == 1
    assert cluster.phase("demo") == "Running"  # one failure is allowed
    cluster.finish_job("demo-1", succeeded=False)
    operator.reconcile(NAMESPACE, "demo")

    status = cluster.status("demo")
    last = status["conditions"][-1]
    assert (last["type"], last["reason"]) == ("Failed", "ExperimentMaxFailedTrialsReached")
    assert "more than maxFailedTrialCount (1)" in last["message"]
    # the trial still running at the end is stopped (its Job deleted): failed, no value
    assert status["trialsFailed"] == 3
    assert status["trialsRunning"] == 0
    assert cluster.jobs() == []
    failed = service.core.list_trials("tune/demo", states=(TrialState.FAILED,))
    assert ["BackoffLimitExceeded" in trial.reason for trial in failed] == [True, True, False]
    assert "was deleted" in failed[2].reason


def test_a_job_deleted_from_outside_fails_its_trial_and_the_next_one_launches(
    cluster: Cluster, operator: Operator, service: Service
) -> None:
    cluster.create(experiment_document(max_trials=3, parallel=1, max_failed=3))
    operator.reconcile(NAMESPACE, "demo")
    cluster.batch.delete_namespaced_job("demo-0", NAMESPACE)
    operator.reconcile(NAMESPACE, "demo")
    (trial, *_) = service.core.list_trials("tune/demo")
    assert trial.state is TrialState.FAILED
    assert "deleted from outside" in trial.reason
    assert _names(cluster.jobs()) == ["demo-1"]
    assert cluster.status("demo")["trialsFailed"] == 1


def test_deleting_the_experiment_stops_its_trials(
    cluster: Cluster, operator: Operator, service: Service
) -> None:
    cluster.create(experiment_document(parallel=2))
    operator.reconcile(NAMESPACE, "demo")
    assert len(cluster.jobs()) == 2
    cluster.delete("demo", orphan=True)  # no garbage collection: the operator deletes them
    operator.reconcile(NAMESPACE, "demo")
    assert cluster.jobs() == []
    assert operator.running() == []
    # the study stays in the service (the store keeps every trial); they were not finished
    trials = service.core.list_trials("tune/demo")
    assert [t.state for t in trials] == [TrialState.ACTIVE] * 2


def test_a_re_created_experiment_replaces_the_old_ones_jobs(
    cluster: Cluster, operator: Operator, service: Service
) -> None:
    cluster.create(experiment_document(parallel=2))
    operator.reconcile(NAMESPACE, "demo")
    cluster.delete("demo", orphan=True)
    created = cluster.create(experiment_document(parallel=2))
    operator.reconcile(NAMESPACE, "demo")  # sees only the new one

    jobs = cluster.jobs()
    assert _names(jobs) == ["demo-0", "demo-1"]  # the same trials, relaunched
    for job in jobs:
        (owner,) = job["metadata"]["ownerReferences"]
        assert owner["uid"] == created["metadata"]["uid"]
    assert len(service.core.list_trials("tune/demo")) == 2
    assert cluster.status("demo")["conditions"][0]["message"] == "study tune/demo resumed"


def test_a_controller_that_fails_is_restarted_and_says_so_in_the_status(
    cluster: Cluster, operator: Operator, service: Service
) -> None:
    cluster.create(experiment_document(max_trials=2, parallel=1))
    operator.reconcile(NAMESPACE, "demo")
    service.core.delete_study("tune/demo")  # pulled from under the running controller
    operator.reconcile(NAMESPACE, "demo")
    running = cluster.status("demo")["conditions"][-1]
    assert running["type"] == "Running"
    assert "the controller failed (NotFoundError" in running["message"]
    assert operator.running() == []

    cluster.batch.delete_namespaced_job("demo-0", NAMESPACE)  # its trial went with the study
    operator.reconcile(NAMESPACE, "demo")  # the retry: a new study, a new controller
    assert operator.running() == [("tune", "demo")]
    assert cluster.status("demo")["conditions"][-1]["message"] == (
        "the operator runs its trials as Jobs"
    )
    assert len(service.core.list_trials("tune/demo")) == 1


def test_an_edited_budget_takes_effect(cluster: Cluster, operator: Operator) -> None:
    cluster.create(experiment_document(max_trials=2, parallel=1))
    operator.reconcile(NAMESPACE, "demo")
    assert _names(cluster.jobs()) == ["demo-0"]
    cluster.patch_spec("demo", {"parallelTrialCount": 3, "maxTrialCount": 5})
    operator.reconcile(NAMESPACE, "demo")
    assert _names(cluster.jobs()) == ["demo-0", "demo-1", "demo-2"]


def test_a_succeeded_experiment_whose_max_trial_count_grows_runs_again(
    cluster: Cluster, operator: Operator, service: Service
) -> None:
    cluster.create(experiment_document(max_trials=1, parallel=1))
    operator.reconcile(NAMESPACE, "demo")
    _report(service, "tune/demo", 0, 0.5)
    cluster.finish_job("demo-0")
    operator.reconcile(NAMESPACE, "demo")
    assert cluster.phase("demo") == "Succeeded"
    cluster.patch_spec("demo", {"maxTrialCount": 2})
    operator.reconcile(NAMESPACE, "demo")
    assert cluster.phase("demo") == "Running"
    assert _names(cluster.jobs()) == ["demo-1"]
    assert "completionTime" not in cluster.status("demo")
    _report(service, "tune/demo", 1, 0.6)
    cluster.finish_job("demo-1")
    operator.reconcile(NAMESPACE, "demo")
    status = cluster.status("demo")
    assert status["conditions"][-1]["type"] == "Succeeded"
    assert status["trialsSucceeded"] == 2


def test_a_failed_experiment_whose_max_failed_trial_count_grows_runs_again(
    cluster: Cluster, operator: Operator
) -> None:
    cluster.create(experiment_document(max_trials=3, parallel=1, max_failed=0))
    operator.reconcile(NAMESPACE, "demo")
    cluster.finish_job("demo-0", succeeded=False)
    operator.reconcile(NAMESPACE, "demo")
    assert cluster.status("demo")["conditions"][-1]["reason"] == "ExperimentMaxFailedTrialsReached"
    operator.reconcile(NAMESPACE, "demo")
    assert cluster.jobs() == []  # stays failed

    cluster.patch_spec("demo", {"maxFailedTrialCount": 2})
    operator.reconcile(NAMESPACE, "demo")
    assert cluster.phase("demo") == "Running"
    assert _names(cluster.jobs()) == ["demo-1"]


def test_the_same_name_in_two_namespaces_are_two_experiments(
    cluster: Cluster, operator: Operator, service: Service
) -> None:
    cluster.create(experiment_document(namespace="tune", max_trials=2, parallel=1))
    cluster.create(experiment_document(namespace="other", max_trials=3, parallel=2))
    operator.reconcile("tune", "demo")
    operator.reconcile("other", "demo")
    assert _names(cluster.jobs("tune")) == ["demo-0"]
    assert _names(cluster.jobs("other")) == ["demo-0", "demo-1"]
    assert {s.name for s in service.core.list_studies()} == {"tune/demo", "other/demo"}

    _report(service, "other/demo", 0, 0.8)
    cluster.finish_job("demo-0", namespace="other")
    operator.reconcile("tune", "demo")
    operator.reconcile("other", "demo")
    assert cluster.status("demo", "tune")["trialsSucceeded"] == 0
    assert cluster.status("demo", "other")["trialsSucceeded"] == 1
    assert [t.state for t in service.core.list_trials("tune/demo")] == [TrialState.ACTIVE]

    cluster.delete("demo", "other", orphan=True)
    operator.reconcile("other", "demo")
    assert cluster.jobs("other") == []
    assert _names(cluster.jobs("tune")) == ["demo-0"]
    assert operator.running() == [("tune", "demo")]


def test_a_restarted_operator_adopts_the_jobs_it_finds(
    api: client.ApiClient, cluster: Cluster, service: Service
) -> None:
    first = make_operator(api, service)
    cluster.create(experiment_document(max_trials=3, parallel=2))
    first.reconcile(NAMESPACE, "demo")
    first.stop()  # leaves the Jobs running
    jobs = cluster.jobs()
    assert _names(jobs) == ["demo-0", "demo-1"]

    second = make_operator(api, service)
    try:
        second.reconcile(NAMESPACE, "demo")
        assert cluster.jobs() == jobs  # the same Jobs, not new ones
        assert cluster.status("demo")["conditions"][0]["message"] == "study tune/demo created"
        _report(service, "tune/demo", 0, 0.5)
        cluster.finish_job("demo-0")
        second.reconcile(NAMESPACE, "demo")
        assert _names(cluster.jobs()) == ["demo-1", "demo-2"]
        assert len(service.core.list_trials("tune/demo")) == 3
    finally:
        second.stop()


def test_a_study_with_another_problem_under_that_name_is_a_conflict(
    cluster: Cluster, operator: Operator, service: Service
) -> None:
    from tuner.spec import load_experiment

    other = experiment_document()
    other["spec"]["objective"]["objectiveMetricName"] = "loss"
    service.core.create_study("tune/demo", load_experiment(other).study_config())
    cluster.create(experiment_document())
    operator.reconcile(NAMESPACE, "demo")
    last = cluster.status("demo")["conditions"][-1]
    assert (last["type"], last["reason"]) == ("Failed", "StudyConflict")
    assert cluster.jobs() == []


def test_an_experiment_that_does_not_exist_is_nothing_to_do(
    cluster: Cluster, operator: Operator, service: Service
) -> None:
    operator.reconcile(NAMESPACE, "nothing")
    assert service.core.list_studies() == []
    assert operator.running() == []
