"""Pytest fixtures for Kubernetes tests: an emulated API server, a client, a local kubelet.

Import them into a ``conftest.py``::

    from tests.k8s.fixtures import api, k8s, kubelet  # noqa: F401

- ``k8s``: a :class:`~tests.k8s.emulator.ThreadedEmulator` (new per test, ~10 ms), with the
  ``tuner.dev/v1beta1`` ``experiments`` resource declared (kind ``Experiment``, namespaced,
  short name ``exp``, status subresource);
- ``api``: a ``kubernetes.client.ApiClient`` on the emulator's URL;
- ``kubelet``: a :class:`~tests.k8s.kubelet.LocalKubelet` running the Jobs of namespace
  :data:`NAMESPACE` under ``tmp_path / "kubelet"``; for another namespace, build one with
  :func:`make_kubelet`;
- ``service``: the tuner service the trials report to, in-process over a SQLite file, on a
  loopback port (:class:`Service`);
- ``token_service``: the same, refusing every call without the bearer token
  :attr:`Service.token`; :func:`token_secret` is the Secret that gives it to trial pods.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client

from tests.k8s.emulator import ThreadedEmulator
from tests.k8s.kubelet import LocalKubelet
from tuner.service import ServiceCore, create_server
from tuner.store import open_store

__all__ = [
    "EXPERIMENTS",
    "NAMESPACE",
    "Service",
    "api",
    "k8s",
    "kubelet",
    "make_kubelet",
    "service",
    "token_secret",
    "token_service",
    "wait_for",
]

NAMESPACE = "tune"
"""The namespace the ``kubelet`` fixture serves."""
EXPERIMENTS = "tuner.dev/v1beta1/experiments"

_T = TypeVar("_T")


def declare_experiments(emulator: ThreadedEmulator) -> None:
    """Declare the Experiment custom resource, as the CRD in docker/ does."""
    emulator.declare(
        EXPERIMENTS,
        kind="Experiment",
        singular="experiment",
        namespaced=True,
        shortnames={"exp"},
        subresources={"status"},
    )


@pytest.fixture
def k8s() -> Iterator[ThreadedEmulator]:
    """An emulated Kubernetes API server with the Experiment resource declared."""
    with ThreadedEmulator() as emulator:
        declare_experiments(emulator)
        yield emulator


@pytest.fixture
def api(k8s: ThreadedEmulator) -> Iterator[client.ApiClient]:
    """A client of the emulator."""
    with client.ApiClient(client.Configuration(host=k8s.url)) as api_client:
        yield api_client


def make_kubelet(
    k8s: ThreadedEmulator, api: client.ApiClient, namespace: str, workdir: Path, **kwargs: Any
) -> LocalKubelet:
    """A local kubelet for ``namespace`` (enter it as a context manager)."""
    return LocalKubelet(api, namespace, workdir, emulator=k8s, **kwargs)


@pytest.fixture
def kubelet(k8s: ThreadedEmulator, api: client.ApiClient, tmp_path: Path) -> Iterator[LocalKubelet]:
    """A local kubelet running the Jobs of :data:`NAMESPACE`."""
    with make_kubelet(k8s, api, NAMESPACE, tmp_path / "kubelet") as running:
        yield running
    assert not running.errors, f"the local kubelet failed: {running.errors!r}"


@dataclass
class Service:
    """The tuner service in-process: its core (over a SQLite file) and its gRPC endpoint."""

    core: ServiceCore
    endpoint: str
    token: str | None = None
    """The bearer token it requires of every call; None: it requires none."""


def _serve(path: Path, token: str | None) -> Iterator[Service]:
    core = ServiceCore(open_store(f"sqlite:///{path}"))
    server, port = create_server(core, host="127.0.0.1", port=0, token=token)
    server.start()
    try:
        yield Service(core=core, endpoint=f"127.0.0.1:{port}", token=token)
    finally:
        server.stop(grace=None)
        core.close()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    yield from _serve(tmp_path / "tuner.db", None)


@pytest.fixture
def token_service(tmp_path: Path) -> Iterator[Service]:
    yield from _serve(tmp_path / "tuner-token.db", "t0ken-" + secrets.token_hex(8))


def token_secret(token: str, name: str = "tuner-token", key: str = "token") -> dict[str, Any]:
    """A Secret holding ``token`` under ``key``, as docker/deploy's ``tuner-token``."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "Opaque",
        "stringData": {key: token},
    }


def wait_for(fn: Callable[[], _T], timeout: float = 10.0, interval: float = 0.05) -> _T:
    """Call ``fn`` until it returns something truthy, and return that; AssertionError at the
    deadline (naming the last value or error)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = fn()
        except AssertionError as error:
            value, last = None, error  # type: ignore[assignment]
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true within {timeout} s (last: {last!r})")
        time.sleep(interval)
