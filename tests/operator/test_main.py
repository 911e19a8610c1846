"""run_operator and ``tuner operator``: hosting the service, connecting, refusing bad options."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.k8s.fixtures import Service, token_secret, wait_for
from tests.k8s.kubelet import LocalKubelet
from tests.operator.conftest import NAMESPACE, Cluster, experiment_document
from tuner.cli import main
from tuner.errors import FailedPreconditionError, InvalidArgumentError
from tuner.operator import OperatorStarted, run_operator
from tuner.runners import SecretKeySelector
from tuner.store import open_store
from tuner.trial import TrialState

pytestmark = pytest.mark.timeout(60)


@contextlib.contextmanager
def operator_running(api: client.ApiClient, **options: Any) -> Iterator[OperatorStarted]:
    """``run_operator(**options)`` in a thread, started; stopped (and checked) on exit."""
    stop = threading.Event()
    started: list[OperatorStarted] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_operator(
                namespace=NAMESPACE,
                api_client=api,
                poll_interval=0.1,
                watch_timeout=1,
                stop=stop,
                on_start=started.append,
                **options,
            )
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        wait_for(lambda: started or errors, timeout=20)
        assert not errors, errors
        yield started[0]
    finally:
        stop.set()
        thread.join(20)
    assert not thread.is_alive()
    assert not errors, errors


@pytest.mark.slow
def test_with_a_store_the_operator_hosts_the_service_its_trials_report_to(
    api: client.ApiClient, cluster: Cluster, kubelet: LocalKubelet, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'hosted.db'}"
    with operator_running(api, store=url, listen="127.0.0.1:0") as info:
        assert info.namespace == NAMESPACE
        assert info.trial_service_endpoint == info.service_endpoint
        assert info.service_endpoint.startswith("127.0.0.1:")
        assert not info.service_endpoint.endswith(":0")
        cluster.create(experiment_document(max_trials=2, parallel=2))
        wait_for(lambda: cluster.phase("demo") == "Succeeded", timeout=30)
    store = open_store(url)
    try:
        trials = store.list_trials("tune/demo")
    finally:
        store.close()
    assert [t.state for t in trials] == [TrialState.SUCCEEDED] * 2
    assert all(t.measurements for t in trials)  # reported by the pods to the hosted service


@pytest.mark.slow
def test_a_service_that_requires_a_token_gets_it_from_the_operator_and_the_trials(
    api: client.ApiClient,
    cluster: Cluster,
    kubelet: LocalKubelet,
    token_service: Service,
) -> None:
    assert token_service.token is not None
    client.CoreV1Api(api).create_namespaced_secret(NAMESPACE, token_secret(token_service.token))
    with operator_running(
        api,
        service=token_service.endpoint,
        token=token_service.token,  # its own calls: the study, suggestions
        trial_token_secret=SecretKeySelector(name="tuner-token"),  # the trials'
    ):
        cluster.create(experiment_document(max_trials=2, parallel=2))
        wait_for(lambda: cluster.phase("demo") == "Succeeded", timeout=30)
    for job in cluster.jobs():
        (container,) = job["spec"]["template"]["spec"]["containers"]
        (token,) = [e for e in container["env"] if e["name"] == "TUNER_SERVICE_TOKEN"]
        assert token == {
            "name": "TUNER_SERVICE_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "tuner-token", "key": "token"}},
        }
    trials = token_service.core.list_trials("tune/demo")
    assert [t.state for t in trials] == [TrialState.SUCCEEDED] * 2
    assert all(t.measurements for t in trials)  # reported by the pods, with the token


@pytest.mark.slow
def test_a_typo_in_the_image_ends_the_experiment_through_max_failed_trial_count(
    api: client.ApiClient, cluster: Cluster, kubelet: LocalKubelet, tmp_path: Path
) -> None:
    typo = "registry.invalid/tuner-trail:1"
    kubelet.unpullable_images.add(typo)
    url = f"sqlite:///{tmp_path / 'hosted.db'}"
    with operator_running(api, store=url, listen="127.0.0.1:0", pod_start_timeout=0.5):
        cluster.create(experiment_document(max_trials=500, parallel=2, max_failed=1, image=typo))
        wait_for(lambda: cluster.phase("demo") == "Failed", timeout=30)
    last = cluster.status("demo")["conditions"][-1]
    assert last["reason"] == "ExperimentMaxFailedTrialsReached", last
    store = open_store(url)
    try:
        trials = store.list_trials("tune/demo")
    finally:
        store.close()
    failed = [t for t in trials if t.state is TrialState.FAILED]
    assert len(failed) >= 2, [(t.state, t.reason) for t in trials]
    for trial in failed:
        assert f"container training (image {typo}): " in (trial.reason or ""), trial.reason
        assert "could not start for 0.5 s" in (trial.reason or ""), trial.reason
    assert kubelet.max_running == 0  # no trial ever ran
    assert cluster.jobs() == []  # the stuck Jobs were deleted


@pytest.mark.parametrize(("argv", "expected"), [([], None), (["--pod-start-timeout", "90"], 90.0)])
def test_the_command_passes_the_pod_start_timeout(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], expected: float | None
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("tuner.operator.run_operator", lambda **kwargs: calls.append(kwargs))
    assert main(["operator", "--service", "tuner.tuner.svc:6789", *argv]) == 0
    (kwargs,) = calls
    assert kwargs["pod_start_timeout"] == expected


def test_the_pod_start_timeout_reaches_the_runners(
    api: client.ApiClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tuner.operator import _runners

    given: list[float | None] = []
    real = _runners.kubernetes_runners

    def spy(*args: Any, **kwargs: Any) -> Any:
        given.append(kwargs.get("pod_start_timeout"))
        return real(*args, **kwargs)

    monkeypatch.setattr(_runners, "kubernetes_runners", spy)
    stop = threading.Event()
    stop.set()  # start, then stop at once
    run_operator(
        namespace=NAMESPACE,
        store=f"sqlite:///{tmp_path / 'tuner.db'}",
        listen="127.0.0.1:0",
        pod_start_timeout=12.5,
        api_client=api,
        watch_timeout=1,
        stop=stop,
    )
    assert given == [12.5]


def test_a_negative_pod_start_timeout_is_refused(
    api: client.ApiClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        run_operator(api_client=api, service="127.0.0.1:1", pod_start_timeout=-1)
    assert info.value.field == "pod_start_timeout"
    code = main(["operator", "--service", "x:1", "--pod-start-timeout", "-5"])
    assert code == 2
    assert "must be >= 0 seconds, got -5.0" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "environ", "token", "secret"),
    [
        ([], {}, None, None),
        (
            ["--trial-token-secret", "tuner-token"],
            {"TUNER_TOKEN": "from-env"},
            "from-env",
            SecretKeySelector(name="tuner-token", key="token"),
        ),
        (
            ["--token", "given", "--trial-token-secret", "tok:bearer"],
            {"TUNER_TOKEN": "from-env"},
            "given",
            SecretKeySelector(name="tok", key="bearer"),
        ),
    ],
)
def test_the_command_passes_the_token_and_the_trials_secret(
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    environ: dict[str, str],
    token: str | None,
    secret: SecretKeySelector | None,
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("tuner.operator.run_operator", lambda **kwargs: calls.append(kwargs))
    monkeypatch.delenv("TUNER_TOKEN", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert main(["operator", "--service", "tuner.tuner.svc:6789", *argv]) == 0
    (kwargs,) = calls
    assert (kwargs["token"], kwargs["trial_token_secret"]) == (token, secret)


@pytest.mark.parametrize("secret", [None, SecretKeySelector(name="tuner-token")])
def test_a_token_without_a_secret_for_the_trials_is_warned_about(
    api: client.ApiClient,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    secret: SecretKeySelector | None,
) -> None:
    stop = threading.Event()
    stop.set()  # start, then stop at once
    run_operator(
        namespace=NAMESPACE,
        store=f"sqlite:///{tmp_path / 'tuner.db'}",
        listen="127.0.0.1:0",
        token="s3cret",
        trial_token_secret=secret,
        api_client=api,
        watch_timeout=1,
        stop=stop,
    )
    warned = [r.getMessage() for r in caplog.records if "--trial-token-secret" in r.getMessage()]
    assert len(warned) == (1 if secret is None else 0)


def test_the_command_refuses_a_bad_trial_token_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("tuner.operator.run_operator", lambda **kwargs: None)
    code = main(["operator", "--service", "x:1", "--trial-token-secret", "Tuner_Token"])
    assert code == 2
    assert "'Tuner_Token' is not a Secret name" in capsys.readouterr().err


def test_it_needs_the_service_or_a_store_but_not_both(api: client.ApiClient) -> None:
    with pytest.raises(InvalidArgumentError, match="--service HOST:PORT"):
        run_operator(api_client=api)
    with pytest.raises(InvalidArgumentError, match="not both"):
        run_operator(api_client=api, service="127.0.0.1:1", store="sqlite://")
    with pytest.raises(InvalidArgumentError, match="HOST:PORT"):
        run_operator(api_client=api, store="sqlite://", listen="6789")


def test_the_command_refuses_a_missing_kubeconfig(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-kubeconfig"
    code = main(["operator", "--service", "127.0.0.1:1", "--kubeconfig", str(missing)])
    assert code == 2
    assert "no Kubernetes configuration" in capsys.readouterr().err


def test_the_command_needs_a_service_or_a_store() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["operator", "--namespace", "tune"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["operator", "--service", "x:1", "--store", "sqlite://"])
    with pytest.raises(SystemExit):
        main(["operator", "--service", "x:1", "--namespace", "a", "--all-namespaces"])


def test_no_kubeconfig_anywhere_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tuner.operator import kubernetes_api_client

    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    with pytest.raises(FailedPreconditionError, match="give --kubeconfig"):
        kubernetes_api_client()


def test_tuner_imports_without_the_kubernetes_client() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['kubernetes'] = None\n"  # makes `import kubernetes` fail
        "import tuner.cli, tuner.operator, tuner.runners\n"
        "from tuner.operator import Operator, run_operator\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
