"""Alembic environment for tuner's store.

The store runs migrations itself (``tuner.store._migrate``), handing over an open
connection in ``config.attributes["connection"]``. Without one (say, ``alembic`` run by
hand with ``sqlalchemy.url`` set), this opens its own connection, or writes SQL in
offline mode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic import context

from tuner.store._schema import VERSION_TABLE, metadata

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


def _run_offline() -> None:
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        from tuner.store._engine import create_database

        url = context.config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("set sqlalchemy.url, or pass a connection in config.attributes")
        database = create_database(url)
        try:
            with database.writer.connect() as own_connection:
                _run_with(own_connection)
                own_connection.commit()
        finally:
            database.dispose()
    else:
        _run_with(connection)


def _run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


# Alembic executes this file (as module ``env_py``); an ordinary import, say by pytest
# collecting doctests, must not run migrations.
if __name__ == "env_py":
    if context.is_offline_mode():
        _run_offline()
    else:
        _run_online()
