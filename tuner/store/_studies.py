"""Reading and locking study rows, inside a caller's transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tuner.config import StudyInfo, StudyState
from tuner.errors import NotFoundError
from tuner.store._codec import load_config
from tuner.store._schema import studies

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row

__all__ = ["find_study", "lock_study", "require_study", "study_info", "study_not_found"]


def study_info(row: Row[Any]) -> StudyInfo:
    """The model of a study row."""
    return StudyInfo(
        name=row.name,
        config=load_config(row.config),
        state=StudyState(row.state),
        reason=row.reason,
        created_at=row.created_at,
    )


def study_not_found(name: str) -> NotFoundError:
    """The error for a study that does not exist."""
    return NotFoundError(f"study {name!r} not found")


def find_study(connection: Connection, name: str) -> Row[Any] | None:
    """The study row of that name, or None."""
    return connection.execute(sa.select(studies).where(studies.c.name == name)).first()


def require_study(connection: Connection, name: str) -> Row[Any]:
    """The study row of that name; NotFoundError if there is none."""
    row = find_study(connection, name)
    if row is None:
        raise study_not_found(name)
    return row


def lock_study(connection: Connection, name: str, *, shared: bool = False) -> Row[Any]:
    """The study row of that name, locked until the transaction ends; NotFoundError if none.

    On SQLite the write transaction already holds the database's write lock.
    """
    row = connection.execute(
        sa.select(studies).where(studies.c.name == name).with_for_update(read=shared)
    ).first()
    if row is None:
        raise study_not_found(name)
    return row
