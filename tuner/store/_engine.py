"""Engines per database, and the read and write transactions the store runs in.

SQLite follows SQLAlchemy's pysqlite recipe: the driver's own transaction handling is
turned off and the ``begin`` event emits ``BEGIN IMMEDIATE`` for writes (taking the write
lock up front, so two writers never deadlock on a lock upgrade) and a deferred ``BEGIN``
for reads. With WAL and a busy timeout, several processes share one file.

PostgreSQL and MySQL write in ``READ COMMITTED`` with row locks (``SELECT ... FOR
UPDATE``), and read in ``REPEATABLE READ`` so that one read sees one snapshot.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import sqlalchemy.exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from tuner.errors import InvalidArgumentError, UnavailableError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

__all__ = ["Database", "create_database", "normalise_url"]

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30.0
_WRITE_OPTION = "tuner_write"

# Driver names accepted in a URL, and what each becomes.
_DRIVERS = {
    "sqlite": "sqlite+pysqlite",
    "sqlite+pysqlite": "sqlite+pysqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mysql+pymysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "mariadb+pymysql": "mysql+pymysql",
}
_EXTRAS = {"postgresql": ("psycopg", "postgresql"), "mysql": ("pymysql", "mysql")}


def normalise_url(url: str) -> URL:
    """Parse a store URL and pick the driver tuner uses for its database.

    Args:
        url: ``sqlite:///path.db``, ``postgresql://user@host/db`` or
            ``mysql://user@host/db`` (``mariadb://`` too).

    Returns:
        The URL with its driver: pysqlite, psycopg 3 or PyMySQL.

    Raises:
        InvalidArgumentError: The URL is malformed or names another database or driver
            (field ``store``).

    Examples:
        >>> normalise_url("postgresql://postgres@localhost/test").drivername
        'postgresql+psycopg'
        >>> normalise_url("mariadb://root@localhost/test").drivername
        'mysql+pymysql'
    """
    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError, TypeError) as exc:
        raise InvalidArgumentError(f"cannot parse store URL {url!r}: {exc}", field="store") from exc
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise InvalidArgumentError(
            f"unsupported store URL scheme {parsed.drivername!r}; use sqlite:///path.db, "
            "postgresql://... or mysql:// (mariadb://)...",
            field="store",
        )
    parsed = parsed.set(drivername=driver)
    if driver == "mysql+pymysql" and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def _check_driver(url: URL) -> None:
    backend = url.get_backend_name()
    if backend not in _EXTRAS:
        return
    module, extra = _EXTRAS[backend]
    try:
        __import__(module)
    except ImportError as exc:
        raise ImportError(
            f"a {backend} store needs {module}: pip install 'tuner[{extra}]'"
        ) from exc


def _install_sqlite_events(engine: Engine, *, is_memory: bool) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transactions to the "begin" event below instead of the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if not is_memory:
                cursor.execute("PRAGMA journal_mode = WAL")
                # In WAL mode, NORMAL still keeps every committed transaction through a
                # crash of any process; only a power loss or OS crash can drop the last
                # few. It saves an fsync per commit, most of a suggest/complete round trip.
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        is_write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if is_write else "BEGIN")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Database:
    """An engine with the two kinds of transaction the store runs."""

    engine: Engine
    reader: Engine
    writer: Engine
    lock: contextlib.AbstractContextManager[Any]
    """Held around each transaction; a real lock only for an in-memory SQLite database."""

    @property
    def dialect(self) -> str:
        """``sqlite``, ``postgresql`` or ``mysql``."""
        return self.engine.dialect.name

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction that reads one snapshot and writes nothing."""
        with self.lock, translate_errors(), self.reader.begin() as connection:
            yield connection

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (on SQLite, holding the database's write lock throughout)."""
        with self.lock, translate_errors(), self.writer.begin() as connection:
            yield connection

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Raise UnavailableError for a database that is unreachable or busy past its timeout."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError) as exc:
        logger.warning("database unavailable: %s", exc)
        raise UnavailableError(f"the store's database is unavailable: {exc}") from exc


def create_database(url: str) -> Database:
    """Create the engine for a store URL.

    Args:
        url: A store URL, as :func:`normalise_url` accepts.

    Raises:
        InvalidArgumentError: The URL is not supported.
        ImportError: The database's driver is not installed.
    """
    parsed = normalise_url(url)
    _check_driver(parsed)
    backend = parsed.get_backend_name()
    lock: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if backend == "sqlite":
        is_memory = _is_memory(parsed)
        options: dict[str, Any] = {
            "connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
        }
        if is_memory:
            # One connection holds the whole database; a lock takes turns on it.
            options["poolclass"] = StaticPool
            lock = threading.RLock()
        engine = sa.create_engine(parsed, pool_pre_ping=True, **options)
        _install_sqlite_events(engine, is_memory=is_memory)
        reader = engine
    elif backend == "postgresql":
        engine = sa.create_engine(parsed, pool_pre_ping=True, isolation_level="READ COMMITTED")
        reader = engine.execution_options(isolation_level="REPEATABLE READ")
    else:
        engine = sa.create_engine(
            parsed, pool_pre_ping=True, pool_recycle=3600, isolation_level="READ COMMITTED"
        )
        reader = engine.execution_options(isolation_level="REPEATABLE READ")
    writer = engine.execution_options(**{_WRITE_OPTION: True})
    logger.debug("store engine for %s", parsed.render_as_string(hide_password=True))
    return Database(engine=engine, reader=reader, writer=writer, lock=lock)
