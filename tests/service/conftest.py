"""Fixtures of the service tests: a core over a real SQLite file, a server and a client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tuner.client import Client
from tuner.config import AlgorithmSpec, Objective, StudyConfig
from tuner.service import ServiceCore, create_server
from tuner.space import CategoricalParameter, DoubleParameter, IntParameter, SearchSpace
from tuner.store import Store, open_store

CONFIG = StudyConfig(
    space=SearchSpace(
        (
            DoubleParameter(name="x", low=-1.0, high=1.0),
            IntParameter(name="n", low=1, high=8),
            CategoricalParameter(name="kind", choices=("a", "b")),
        )
    ),
    objective=Objective(metric_name="loss"),
    algorithm=AlgorithmSpec(name="random"),
    seed=7,
)
"""A small study config with a random designer."""

GRID_CONFIG = StudyConfig(
    space=SearchSpace(
        (
            IntParameter(name="n", low=0, high=9),
            CategoricalParameter(name="kind", choices=("a", "b", "c")),
        )
    ),
    objective=Objective(metric_name="loss"),
    algorithm=AlgorithmSpec(name="grid"),
    seed=0,
)
"""A finite space of 30 points walked by grid search."""


@pytest.fixture
def config() -> StudyConfig:
    """A small study config with a random designer (seed 7)."""
    return CONFIG


@pytest.fixture
def grid_config() -> StudyConfig:
    """A finite space of 30 points walked by grid search."""
    return GRID_CONFIG


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file in the test's folder."""
    return f"sqlite:///{tmp_path / 'tuner.db'}"


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    """A store on a SQLite file."""
    store = open_store(sqlite_url)
    yield store
    store.close()


@pytest.fixture
def core(sqlite_store: Store) -> ServiceCore:
    """A service core on a SQLite file."""
    return ServiceCore(sqlite_store)


@pytest.fixture
def endpoint(core: ServiceCore) -> Iterator[str]:
    """A running server on 127.0.0.1 with a free port."""
    server, port = create_server(core)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None).wait()


@pytest.fixture
def client(endpoint: str) -> Iterator[Client]:
    """A client of the running server."""
    with Client(endpoint, timeout=10.0) as client:
        yield client
