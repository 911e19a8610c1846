"""A real server on 127.0.0.1 and tuner.client.Client: every RPC, every status code, auth, TLS."""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tuner.backend import Backend
from tuner.client import Client
from tuner.config import StudyConfig, StudyState
from tuner.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    TunerError,
    UnauthenticatedError,
    UnavailableError,
)
from tuner.service import SERVICE_NAME, ServiceCore, create_server, serve, status_of
from tuner.trial import CollectorDiagnostics, Measurement, TrialState, UnparseableLine


def _snapshot(client: Client) -> list[object]:
    studies = client.list_studies()
    return [studies, *[client.list_trials(s.name) for s in studies]]


@pytest.fixture
def serve_backend() -> Iterator[Callable[..., str]]:
    """Start a server for any backend; stops them all at the end."""
    servers: list[grpc.Server] = []

    def start(backend: Any, **options: Any) -> str:
        server, port = create_server(cast(Backend, backend), **options)
        server.start()
        servers.append(server)
        return f"127.0.0.1:{port}"

    yield start
    for server in servers:
        server.stop(None).wait()


# --- every RPC -----------------------------------------------------------------------------


def test_every_rpc_round_trips(client: Client, config: StudyConfig) -> None:
    backend: Backend = client
    study = backend.create_study("s", dataclasses.replace(config, seed=None))
    assert study.config.seed is not None
    assert dataclasses.replace(study.config, seed=None) == dataclasses.replace(config, seed=None)
    assert backend.get_study("s") == study
    assert backend.list_studies() == [study]

    queued = backend.add_trial("s", {"x": 0.25, "n": 2, "kind": "a"})
    assert queued.state is TrialState.REQUESTED
    suggestions = backend.suggest_trials("s", 3, "worker")
    assert not suggestions.is_exhausted
    first, second, third = suggestions.trials
    assert first.id == queued.id
    assert first.parameters == {"x": 0.25, "n": 2, "kind": "a"}
    assert {t.client_id for t in suggestions.trials} == {"worker"}
    assert backend.get_trial(second.id) == second

    backend.report_measurements(
        first.id,
        [
            Measurement(step=1, time=100.0, metrics={"loss": math.nan}),
            Measurement(step=2, time=101.0, metrics={"loss": 0.5}),
        ],
    )
    done = backend.complete_trial(first.id)
    assert done.state is TrialState.SUCCEEDED
    assert done.final_measurement == Measurement(step=2, time=101.0, metrics={"loss": 0.5})
    assert math.isnan(done.measurements[0].metrics["loss"])

    stopping = backend.stop_trial(second.id)
    assert stopping.state is TrialState.STOPPING
    stopped = backend.complete_trial(second.id, Measurement(metrics={"loss": 0.5}))
    assert stopped.state is TrialState.EARLY_STOPPED
    failed = backend.fail_trial(third.id, "out of memory")
    assert (failed.state, failed.reason) == (TrialState.FAILED, "out of memory")

    assert [t.id for t in backend.list_trials("s")] == [first.id, second.id, third.id]
    assert [t.id for t in backend.list_trials("s", [TrialState.FAILED])] == [third.id]
    assert backend.list_trials("s", []) == []
    optimal = backend.list_optimal_trials("s")
    assert {t.id for t in optimal} <= {first.id, second.id}
    assert first.id in {t.id for t in optimal}

    completed = backend.set_study_state("s", StudyState.COMPLETED, "done")
    assert (completed.state, completed.reason) == (StudyState.COMPLETED, "done")
    backend.delete_study("s")
    assert backend.list_studies() == []


def test_infeasible_and_infinite_values_travel(client: Client, config: StudyConfig) -> None:
    client.create_study("s", config)
    first, second = client.suggest_trials("s", 2).trials
    told = client.complete_trial(first.id, infeasible_reason="diverged")
    assert (told.state, told.reason) == (TrialState.INFEASIBLE, "diverged")
    done = client.complete_trial(second.id, Measurement(metrics={"loss": -math.inf, "a": math.inf}))
    assert done.final_measurement is not None
    assert done.final_measurement.metrics == {"loss": -math.inf, "a": math.inf}


def test_report_ids_and_diagnostics_travel(client: Client, config: StudyConfig) -> None:
    client.create_study("s", config)
    [trial] = client.suggest_trials("s", 1).trials
    batch = [Measurement(step=i, metrics={"loss": 1.0 / i}, report_id=f"r:{i}") for i in (1, 2)]
    example = UnparseableLine(source="stdout", line="loss=high")
    diagnostics = CollectorDiagnostics(n_unparseable=4, unparseable_examples=(example,))
    client.report_measurements(trial.id, batch, diagnostics=diagnostics)
    client.report_measurements(trial.id, batch, diagnostics=diagnostics)  # a retry
    stored = client.get_trial(trial.id)
    assert stored.measurements == tuple(batch)
    assert stored.diagnostics == diagnostics
    assert client.list_trials("s")[0].diagnostics == diagnostics
    with pytest.raises(InvalidArgumentError) as caught:
        CollectorDiagnostics(n_unparseable=-1)
    assert caught.value.field == "n_unparseable"


def test_grid_exhaustion_travels(client: Client, grid_config: StudyConfig) -> None:
    client.create_study("g", grid_config)
    suggestions = client.suggest_trials("g", 31)
    assert len(suggestions.trials) == 30
    assert suggestions.is_exhausted


def test_count_trials_travels_with_every_state(
    client: Client, core: ServiceCore, config: StudyConfig
) -> None:
    client.create_study("s", config)
    assert client.count_trials("s") == dict.fromkeys(TrialState, 0)
    first, second, third = client.suggest_trials("s", 3).trials
    client.add_trial("s", {"x": 0.5, "n": 3, "kind": "b"})
    client.complete_trial(first.id, Measurement(metrics={"loss": 0.1}))
    client.fail_trial(second.id, "crash")
    client.stop_trial(third.id)

    counts = client.count_trials("s")
    assert counts == core.count_trials("s")
    assert list(counts) == list(TrialState)
    assert {state: n for state, n in counts.items() if n} == {
        TrialState.REQUESTED: 1,
        TrialState.STOPPING: 1,
        TrialState.SUCCEEDED: 1,
        TrialState.FAILED: 1,
    }


def test_count_trials_of_a_missing_study_is_not_found(client: Client, endpoint: str) -> None:
    from tuner._proto import service_pb2, service_pb2_grpc

    with pytest.raises(NotFoundError, match="study 'nope' not found"):
        client.count_trials("nope")
    with grpc.insecure_channel(endpoint) as channel:
        stub = service_pb2_grpc.TunerServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.CountTrials(service_pb2.CountTrialsRequest(study_name="nope"))
    assert cast(grpc.Call, raised.value).code() is grpc.StatusCode.NOT_FOUND


# --- errors --------------------------------------------------------------------------------


def test_refusals_map_to_tuner_errors_and_change_nothing(
    client: Client, config: StudyConfig
) -> None:
    client.create_study("s", config)
    [trial] = client.suggest_trials("s", 1, "w").trials
    client.report_measurements(trial.id, [Measurement(metrics={"other": 1.0})])
    before = _snapshot(client)

    with pytest.raises(AlreadyExistsError):
        client.create_study("s", config)
    with pytest.raises(NotFoundError):
        client.get_study("nope")
    with pytest.raises(NotFoundError):
        client.get_trial(10**9)
    with pytest.raises(InvalidArgumentError) as raised:
        client.suggest_trials("s", 0)
    assert raised.value.field == "count"
    assert raised.value.message.startswith("count must be")
    with pytest.raises(InvalidArgumentError) as raised:
        client.complete_trial(trial.id)
    assert raised.value.field == "final_measurement"
    assert "'loss'" in str(raised.value)
    with pytest.raises(InvalidArgumentError) as raised:
        client.add_trial("s", {"x": 3.0, "n": 1, "kind": "a"})
    assert raised.value.field == "parameters.x"
    with pytest.raises(InvalidArgumentError, match="unknown algorithm"):
        client.create_study(
            "t",
            dataclasses.replace(
                config, algorithm=dataclasses.replace(config.algorithm, name="nope")
            ),
        )
    with pytest.raises(FailedPreconditionError):
        client.stop_trial(client.add_trial("s", {"x": 0.0, "n": 1, "kind": "a"}).id)
    before = _snapshot(client)
    client.set_study_state("s", StudyState.FAILED)
    with pytest.raises(FailedPreconditionError):
        client.suggest_trials("s", 1, "other")
    client.set_study_state("s", StudyState.ACTIVE)
    assert _snapshot(client) == before


def test_a_malformed_request_is_invalid_argument(endpoint: str) -> None:
    from tuner._proto import service_pb2, service_pb2_grpc

    with grpc.insecure_channel(endpoint) as channel:
        stub = service_pb2_grpc.TunerServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.CreateStudy(service_pb2.CreateStudyRequest(name="s"))
        call = cast(grpc.Call, raised.value)
        assert call.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert call.details() == "config: a study needs a config"
        assert ("tuner-field-bin", b"config") in tuple(call.trailing_metadata() or ())


class _Raising:
    """A backend whose every call raises ``error``, counting the calls."""

    def __init__(self, error: BaseException, times: int = 10**9) -> None:
        self.error = error
        self.times = times
        self.calls = 0

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def method(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls <= self.times:
                raise self.error
            return []

        return method


@pytest.mark.parametrize(
    ("error", "expected", "code"),
    [
        (InvalidArgumentError("bad", field="a.b"), InvalidArgumentError, "INVALID_ARGUMENT"),
        (NotFoundError("no study 's'"), NotFoundError, "NOT_FOUND"),
        (AlreadyExistsError("taken"), AlreadyExistsError, "ALREADY_EXISTS"),
        (FailedPreconditionError("finished"), FailedPreconditionError, "FAILED_PRECONDITION"),
        (UnavailableError("database down"), UnavailableError, "UNAVAILABLE"),
        (KeyError("secret detail"), TunerError, "INTERNAL"),
    ],
)
def test_every_error_class_has_its_status_code(
    serve_backend: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
    error: BaseException,
    expected: type[TunerError],
    code: str,
) -> None:
    assert status_of(error)[0].name == code
    endpoint = serve_backend(_Raising(error))
    with (
        Client(endpoint, timeout=10.0, max_attempts=1) as client,
        caplog.at_level(logging.ERROR),
        pytest.raises(expected) as raised,
    ):
        client.list_studies()
    assert type(raised.value) is expected
    if isinstance(error, InvalidArgumentError):
        assert isinstance(raised.value, InvalidArgumentError)
        assert (raised.value.field, raised.value.message) == ("a.b", "bad")
    if code == "INTERNAL":
        assert str(raised.value).startswith("INTERNAL: internal error (KeyError)")
        assert "secret detail" not in str(raised.value)
        assert any(r.exc_info and "ListStudies" in r.getMessage() for r in caplog.records)


def test_unavailable_is_retried_with_backoff(serve_backend: Callable[..., str]) -> None:
    backend = _Raising(UnavailableError("database restarting"), times=2)
    endpoint = serve_backend(backend)
    with Client(endpoint, timeout=10.0) as client:
        assert client.list_studies() == []
    assert backend.calls == 3
    backend = _Raising(UnavailableError("database down"))
    endpoint = serve_backend(backend)
    with (
        Client(endpoint, timeout=10.0, max_attempts=3) as client,
        pytest.raises(UnavailableError, match="database down"),
    ):
        client.list_studies()
    assert backend.calls == 3


def test_other_errors_are_not_retried(serve_backend: Callable[..., str]) -> None:
    backend = _Raising(FailedPreconditionError("no"))
    with (
        Client(serve_backend(backend), timeout=10.0) as client,
        pytest.raises(FailedPreconditionError),
    ):
        client.list_studies()
    assert backend.calls == 1


# --- health, token, TLS --------------------------------------------------------------------


def _health(endpoint: str, service: str = "", credentials: Any = None) -> int:
    channel = (
        grpc.secure_channel(endpoint, credentials)
        if credentials is not None
        else grpc.insecure_channel(endpoint)
    )
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        return int(response.status)


def test_health_is_serving(endpoint: str) -> None:
    assert _health(endpoint) == health_pb2.HealthCheckResponse.SERVING
    assert _health(endpoint, SERVICE_NAME) == health_pb2.HealthCheckResponse.SERVING


def test_token_is_required_when_set(
    serve_backend: Callable[..., str], core: ServiceCore, config: StudyConfig
) -> None:
    endpoint = serve_backend(core, token="s3cret")
    for token in (None, "wrong"):
        with (
            Client(endpoint, token=token, timeout=10.0) as client,
            pytest.raises(UnauthenticatedError, match="bearer token"),
        ):
            client.create_study("s", config)
    assert core.list_studies() == []
    with Client(endpoint, token="s3cret", timeout=10.0) as client:
        client.create_study("s", config)
        assert [s.name for s in client.list_studies()] == ["s"]
    assert _health(endpoint) == health_pb2.HealthCheckResponse.SERVING


def test_server_options_are_checked(core: ServiceCore) -> None:
    with pytest.raises(ValueError, match="TLS"):
        create_server(core, tls_cert=b"x")
    with pytest.raises(ValueError, match="token"):
        create_server(core, token="")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """A self-signed certificate for localhost and its key, made by openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: cannot make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
            "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return (folder / "cert.pem").read_bytes(), (folder / "key.pem").read_bytes()


def test_tls(
    serve_backend: Callable[..., str], core: ServiceCore, certificate: tuple[bytes, bytes]
) -> None:
    cert, key = certificate
    endpoint = serve_backend(core, tls_cert=cert, tls_key=key, token="t")
    localhost = endpoint.replace("127.0.0.1", "localhost")
    with Client(localhost, token="t", root_certificates=cert, timeout=10.0) as client:
        assert client.list_studies() == []
    with (
        Client(endpoint, token="t", timeout=2.0, max_attempts=1) as plaintext,
        pytest.raises(UnavailableError),
    ):
        plaintext.list_studies()
    credentials = grpc.ssl_channel_credentials(root_certificates=cert)
    assert _health(localhost, credentials=credentials) == health_pb2.HealthCheckResponse.SERVING


# --- serve ---------------------------------------------------------------------------------


def test_serve_until_stopped(sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    stop = threading.Event()
    with caplog.at_level(logging.INFO, logger="tuner.service"):
        thread = threading.Thread(
            target=serve, args=(sqlite_url,), kwargs={"port": 0, "stop": stop}
        )
        thread.start()
        try:
            port = None
            for _ in range(200):
                found = [re.search(r"listening on 127\.0\.0\.1:(\d+)", r.getMessage())
                         for r in caplog.records]  # fmt: skip
                port = next((int(m.group(1)) for m in found if m), None)
                if port is not None:
                    break
                stop.wait(0.05)
            assert port is not None
            with Client(f"127.0.0.1:{port}", timeout=10.0) as client:
                assert client.list_studies() == []
        finally:
            stop.set()
            thread.join(timeout=30)
    assert not thread.is_alive()
    assert any("stopped" in r.getMessage() for r in caplog.records)


def test_serve_stops_on_sigterm(sqlite_url: str, tmp_path: Path) -> None:
    script = (
        "import logging, sys\n"
        "from tuner.service import serve\n"
        "logging.basicConfig(level=logging.INFO, stream=sys.stderr)\n"
        f"serve({sqlite_url!r}, port=0, grace=1.0)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert process.stderr is not None
        port = None
        lines = []
        for line in process.stderr:
            lines.append(line)
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if match:
                port = int(match.group(1))
                break
        assert port is not None, "".join(lines)
        assert _health(f"127.0.0.1:{port}") == health_pb2.HealthCheckResponse.SERVING
        process.terminate()
        assert process.wait(timeout=30) == 0
        rest = process.stderr.read()
        assert "SIGTERM" in rest
        assert "stopped" in rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
