"""tuner.client.Client: lazy import, the status code table, unreachable servers, waiting."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from tuner.backend import Backend
from tuner.client import Client, error_from_rpc
from tuner.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    TunerError,
    UnauthenticatedError,
    UnavailableError,
)


def _modules_after(statement: str) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(output))


def _top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_import_tuner_loads_no_grpc() -> None:
    loaded = _top_level(_modules_after("import tuner"))
    assert not loaded & {"grpc", "grpc_health", "google"}


def test_import_client_loads_grpc_but_no_store_or_service() -> None:
    loaded = _modules_after("import tuner.client")
    assert "grpc" in loaded
    assert "sqlalchemy" not in _top_level(loaded)
    assert not {m for m in loaded if m.startswith(("tuner.store", "tuner.service"))}


class _Failed(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str, metadata: Any = ()) -> None:
        self._code, self._details, self._metadata = code, details, metadata

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Any:
        return self._metadata


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (grpc.StatusCode.NOT_FOUND, NotFoundError),
        (grpc.StatusCode.ALREADY_EXISTS, AlreadyExistsError),
        (grpc.StatusCode.FAILED_PRECONDITION, FailedPreconditionError),
        (grpc.StatusCode.UNAVAILABLE, UnavailableError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, UnavailableError),
        (grpc.StatusCode.INVALID_ARGUMENT, InvalidArgumentError),
        (grpc.StatusCode.UNAUTHENTICATED, UnauthenticatedError),
        (grpc.StatusCode.INTERNAL, TunerError),
    ],
)
def test_status_codes_map_back_to_errors(code: grpc.StatusCode, expected: type[TunerError]) -> None:
    error = error_from_rpc(_Failed(code, "what happened"))
    assert type(error) is expected
    assert "what happened" in str(error)


def test_invalid_argument_keeps_its_field() -> None:
    metadata = (("tuner-field-bin", "spec.параметр".encode()),)
    error = error_from_rpc(
        _Failed(grpc.StatusCode.INVALID_ARGUMENT, "spec.параметр: too big", metadata)
    )
    assert isinstance(error, InvalidArgumentError)
    assert (error.field, error.message) == ("spec.параметр", "too big")
    assert str(error) == "spec.параметр: too big"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_an_unreachable_server_is_unavailable() -> None:
    with (
        Client(f"127.0.0.1:{_free_port()}", timeout=0.5) as client,
        pytest.raises(UnavailableError),
    ):
        client.list_studies()
    with (
        Client(f"127.0.0.1:{_free_port()}", timeout=5, wait_for_ready=False) as client,
        pytest.raises(UnavailableError),
    ):
        client.list_studies()


@pytest.fixture
def core_factory(tmp_path: Path) -> Iterator[Any]:
    from tuner.service import ServiceCore
    from tuner.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'tuner.db'}")
    yield lambda: ServiceCore(store)
    store.close()


def test_a_call_waits_for_a_server_that_starts_later(core_factory: Any) -> None:
    from tuner.service import create_server

    port = _free_port()
    results: list[object] = []
    with Client(f"127.0.0.1:{port}", timeout=20.0) as client:
        thread = threading.Thread(target=lambda: results.append(client.list_studies()))
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive()
        server, bound = create_server(core_factory(), port=port)
        assert bound == port
        server.start()
        try:
            thread.join(timeout=20)
        finally:
            server.stop(None).wait()
    assert results == [[]]


def test_client_is_a_backend_and_a_context_manager() -> None:
    with Client("127.0.0.1:1") as client:
        backend: Backend = client
        assert repr(backend) == "Client('127.0.0.1:1')"
    with pytest.raises(ValueError):
        client.list_studies()


@pytest.mark.parametrize(("options"), [{"max_attempts": 0}, {"max_attempts": 6}, {"timeout": 0}])
def test_client_options_are_checked(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Client("127.0.0.1:1", **options)
