"""Bring a database to the latest schema with Alembic, safely from several processes at once.

A database already at head is left alone after one read. Otherwise the upgrade runs under
a database-wide lock, so processes that open the same new database together take turns
(the second finds the work done): SQLite's write lock (``BEGIN IMMEDIATE``), PostgreSQL's
``pg_advisory_xact_lock`` per schema, MySQL's ``GET_LOCK`` per database.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tuner.errors import UnavailableError
from tuner.store._engine import translate_errors
from tuner.store._schema import VERSION_TABLE

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from tuner.store._engine import Database

__all__ = ["alembic_config", "head_revision", "upgrade"]

logger = logging.getLogger(__name__)

_SCRIPT_LOCATION = "tuner.store:migrations"
_LOCK_TIMEOUT_S = 300
# First key of PostgreSQL's two-key advisory lock: "tu" in ASCII.
_PG_LOCK_KEY = 0x7475


def alembic_config() -> Config:
    """An Alembic config for tuner's migrations, found inside the installed package."""
    config = Config()
    config.set_main_option("script_location", _SCRIPT_LOCATION)
    return config


def head_revision() -> str | None:
    """The newest revision among tuner's migrations."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None for a database without tuner's tables."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


@contextlib.contextmanager
def _migration_lock(database: Database) -> Iterator[Connection]:
    dialect = database.dialect
    if dialect == "sqlite":
        with database.write() as connection:
            yield connection
    elif dialect == "postgresql":
        with database.write() as connection:
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key, hashtext(current_schema()))"),
                {"key": _PG_LOCK_KEY},
            )
            yield connection
    else:
        # MySQL commits DDL at once, so a transaction cannot hold the lock: a session can.
        with database.lock, translate_errors(), database.writer.connect() as connection:
            name = connection.execute(
                sa.text("SELECT CONCAT('tuner.migrate.', MD5(DATABASE()))")
            ).scalar_one()
            got = connection.execute(
                sa.text("SELECT GET_LOCK(:name, :timeout)"),
                {"name": name, "timeout": _LOCK_TIMEOUT_S},
            ).scalar()
            connection.commit()
            if got != 1:
                raise UnavailableError(f"timed out waiting for the migration lock {name}")
            try:
                with connection.begin():
                    yield connection
            finally:
                connection.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name})
                connection.commit()


def upgrade(database: Database) -> None:
    """Upgrade the database to the newest schema, unless it is there already.

    Raises:
        UnavailableError: The database cannot be reached, or the lock was not granted.
    """
    config = alembic_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    with database.read() as connection:
        if current_revision(connection) == head:
            return
    with _migration_lock(database) as connection:
        if current_revision(connection) == head:
            return
        logger.info("upgrading the store's schema to %s", head)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
