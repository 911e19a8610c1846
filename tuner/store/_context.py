"""The suggestion context: a trial generator's view of a study inside ``suggest_trials``."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

import sqlalchemy as sa

from tuner.errors import FailedPreconditionError
from tuner.store._schema import trials
from tuner.store._trials import FINISHED_STATES, load_trials, load_trials_by_id
from tuner.trial import TrialState

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.sql.elements import ColumnElement

    from tuner.config import StudyInfo
    from tuner.trial import Trial

__all__ = ["SqlSuggestionContext", "load_trials_except"]

_ACTIVE_STATES = (TrialState.REQUESTED.value, TrialState.ACTIVE.value, TrialState.STOPPING.value)


def load_trials_except(
    connection: Connection, where: ColumnElement[bool], exclude: Collection[int]
) -> list[Trial]:
    """The trials matching ``where``, by study and number, less those whose id is in ``exclude``."""
    if not exclude:
        return load_trials(connection, where)
    # Ids are cheap to read; the excluded ones are dropped before their rows are loaded.
    skip = set(exclude)
    ids = connection.execute(sa.select(trials.c.id).where(where)).scalars()
    return load_trials_by_id(connection, [i for i in ids if i not in skip])


class SqlSuggestionContext:
    """Reads through the transaction that holds the study's suggestion lock.

    While the lock is held no other call can hand out, add or finish a trial of the study
    (``update_trial`` takes a shared lock on the study), so what this reads stays true until
    the generated trials are inserted.
    """

    def __init__(self, connection: Connection, study: StudyInfo, study_id: int) -> None:
        self._connection: Connection | None = connection
        self._study = study
        self._study_id = study_id

    def close(self) -> None:
        """End the context; any later read raises."""
        self._connection = None

    def _open_connection(self) -> Connection:
        if self._connection is None:
            raise FailedPreconditionError(
                f"the suggestion context of study {self._study.name!r} is used after its "
                "generate call returned"
            )
        return self._connection

    @property
    def study(self) -> StudyInfo:
        """The study, as of this transaction."""
        return self._study

    def active_trials(self) -> list[Trial]:
        """The study's ``REQUESTED``, ``ACTIVE`` and ``STOPPING`` trials, by number."""
        connection = self._open_connection()
        return load_trials(
            connection,
            sa.and_(trials.c.study_id == self._study_id, trials.c.state.in_(_ACTIVE_STATES)),
        )

    def finished_trials(self, exclude: Collection[int] = ()) -> list[Trial]:
        """The study's finished trials, by number, less those whose id is in ``exclude``."""
        connection = self._open_connection()
        finished = sa.and_(trials.c.study_id == self._study_id, trials.c.state.in_(FINISHED_STATES))
        return load_trials_except(connection, finished, exclude)
