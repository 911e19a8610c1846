"""Fixtures shared by every test folder.

``store_url`` runs a test once per database: a SQLite file, a fresh PostgreSQL schema and
a fresh MariaDB database, each made for the test and removed after it. The servers are
found at the addresses below, or at ``TUNER_TEST_POSTGRESQL_URL`` /
``TUNER_TEST_MARIADB_URL`` (an admin URL of a server and database the tests may create
schemas or databases in). A server that cannot be reached skips its tests, saying which and
why; with ``TUNER_TEST_REQUIRE_SERVERS=1`` (for CI) it fails them instead.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tuner.store import Store

BACKENDS = ("sqlite", "postgresql", "mariadb")

_POSTGRESQL_ADMIN_URL = os.environ.get(
    "TUNER_TEST_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
_MARIADB_ADMIN_URL = os.environ.get("TUNER_TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/")


@dataclasses.dataclass
class _Server:
    """A database server the tests make throwaway schemas or databases on."""

    label: str
    admin_url: str
    engine: Engine | None = None
    error: str | None = None

    def connect(self) -> Engine:
        """The admin engine; skips (or fails) the test when the server is unreachable."""
        if self.engine is None and self.error is None:
            self._try_connect()
        if self.engine is None:
            message = f"{self.label} unreachable at {self._where()}: {self.error}"
            if os.environ.get("TUNER_TEST_REQUIRE_SERVERS") == "1":
                pytest.fail(message)
            pytest.skip(message)
        return self.engine

    def _where(self) -> str:
        from sqlalchemy.engine import make_url

        url = make_url(self.admin_url)
        return f"{url.host}:{url.port}"

    def _try_connect(self) -> None:
        import sqlalchemy as sa

        from tuner.store._engine import normalise_url

        try:
            engine = sa.create_engine(
                normalise_url(self.admin_url),
                connect_args={"connect_timeout": 3},
                isolation_level="AUTOCOMMIT",
                pool_size=1,
            )
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except Exception as exc:  # any failure means: no usable server
            self.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        else:
            self.engine = engine

    def dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


@pytest.fixture(autouse=True)
def _own_spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Collectors started by a test spool undelivered measurements under its own directory.

    Otherwise they would share ``.tuner-spool`` in the working directory, and a later
    test's reporter of the same trial id would deliver an earlier test's leftovers.
    """
    monkeypatch.setenv("TUNER_SPOOL_DIR", str(tmp_path / "tuner-spool"))


@pytest.fixture(scope="session")
def _servers() -> Iterator[dict[str, _Server]]:
    servers = {
        "postgresql": _Server("PostgreSQL", _POSTGRESQL_ADMIN_URL),
        "mariadb": _Server("MariaDB", _MARIADB_ADMIN_URL),
    }
    yield servers
    for server in servers.values():
        server.dispose()


def _unique_name() -> str:
    return f"tuner_test_{uuid.uuid4().hex[:16]}"


def _postgresql_url(server: _Server) -> Iterator[str]:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    engine = server.connect()
    schema = _unique_name()
    with engine.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(server.admin_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(sa.text("SET lock_timeout = '20s'"))
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


def _mariadb_url(server: _Server) -> Iterator[str]:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    engine = server.connect()
    database = _unique_name()
    with engine.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4"))
    url = make_url(server.admin_url).set(database=database)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(sa.text("SET SESSION lock_wait_timeout = 20"))
            connection.execute(sa.text(f"DROP DATABASE `{database}`"))


@pytest.fixture(params=BACKENDS)
def store_url(
    request: pytest.FixtureRequest, tmp_path: Path, _servers: dict[str, _Server]
) -> Iterator[str]:
    """The URL of an empty database of each kind, made for this test and removed after it."""
    backend: str = request.param
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    elif backend == "postgresql":
        yield from _postgresql_url(_servers["postgresql"])
    else:
        yield from _mariadb_url(_servers["mariadb"])


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A store opened on ``store_url``, closed after the test."""
    from tuner.store import open_store

    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()
