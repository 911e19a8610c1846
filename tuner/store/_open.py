"""Opening a store by URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuner.store._base import Store

__all__ = ["open_store"]


def open_store(url: str) -> Store:
    """Open the store at ``url``, creating or upgrading its schema first.

    Safe to call from several processes at once on the same new database: the schema is
    created once, under a database lock.

    Args:
        url: ``sqlite:///path.db`` (the file is created if missing; ``sqlite://`` is an
            in-memory store for one process), ``postgresql://user@host:5432/db`` (psycopg 3;
            ``?options=-csearch_path%3Dschema`` picks a schema) or
            ``mysql://user:password@host:3306/db`` (``mariadb://`` too; PyMySQL).

    Returns:
        The store. Call ``close()`` when done.

    Raises:
        InvalidArgumentError: The URL is malformed or not a supported database (field
            ``store``).
        UnavailableError: The database cannot be reached.
        ImportError: The database's driver is not installed.

    Examples:
        >>> store = open_store("sqlite://")
        >>> store.list_studies()
        []
        >>> store.close()
    """
    # SQLAlchemy and Alembic load here, not when tuner.store is imported.
    from tuner.store._engine import create_database
    from tuner.store._migrate import upgrade
    from tuner.store._sql import SqlStore

    database = create_database(url)
    try:
        upgrade(database)
    except BaseException:
        database.dispose()
        raise
    return SqlStore(database)
