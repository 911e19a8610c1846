"""The body of ``suggest_trials``, run while the study row is locked."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tuner.config import StudyState
from tuner.errors import FailedPreconditionError
from tuner.store._codec import dump_parameters
from tuner.store._context import SqlSuggestionContext
from tuner.store._schema import trials
from tuner.store._studies import study_info
from tuner.store._trials import insert_trial, load_trials, load_trials_by_id
from tuner.trial import TrialState

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row

    from tuner.store._base import TrialGenerator
    from tuner.trial import Trial

__all__ = ["hand_out"]

logger = logging.getLogger(__name__)

_RUNNING = (TrialState.ACTIVE.value, TrialState.STOPPING.value)


def hand_out(
    connection: Connection,
    study: Row[Any],
    count: int,
    client_id: str,
    generate: TrialGenerator,
) -> list[Trial]:
    """Follow the steps of :meth:`tuner.store.Store.suggest_trials` for a locked study row.

    Raises:
        FailedPreconditionError: The study is not ``ACTIVE``.
    """
    if study.state != StudyState.ACTIVE.value:
        raise FailedPreconditionError(
            f"study {study.name!r} is {study.state}; only an ACTIVE study hands out trials"
        )
    if client_id:
        held = load_trials(
            connection,
            sa.and_(
                trials.c.study_id == study.id,
                trials.c.client_id == client_id,
                trials.c.state.in_(_RUNNING),
            ),
        )
        if held:
            return held
    ids = _activate_requested(connection, study.id, count, client_id)
    missing = count - len(ids)
    if missing > 0:
        ids += _insert_generated(connection, study, missing, client_id, generate)
    return load_trials_by_id(connection, ids)


def _activate_requested(
    connection: Connection, study_id: int, count: int, client_id: str
) -> list[int]:
    # FOR UPDATE reads each row's current state, even one changed since our snapshot.
    ids = list(
        connection.execute(
            sa.select(trials.c.id)
            .where(trials.c.study_id == study_id, trials.c.state == TrialState.REQUESTED.value)
            .order_by(trials.c.number)
            .limit(count)
            .with_for_update()
        ).scalars()
    )
    if ids:
        connection.execute(
            trials.update()
            .where(trials.c.id.in_(ids), trials.c.state == TrialState.REQUESTED.value)
            .values(state=TrialState.ACTIVE.value, client_id=client_id)
        )
    return ids


def _insert_generated(
    connection: Connection,
    study: Row[Any],
    missing: int,
    client_id: str,
    generate: TrialGenerator,
) -> list[int]:
    context = SqlSuggestionContext(connection, study_info(study), study.id)
    try:
        generated = list(generate(context, missing))
    finally:
        context.close()
    if len(generated) > missing:
        logger.warning(
            "study %r: the generator returned %d trials for %d asked; keeping the first %d",
            study.name,
            len(generated),
            missing,
            missing,
        )
        del generated[missing:]
    texts = [dump_parameters(parameters) for parameters in generated]
    return [
        insert_trial(connection, study.id, text, TrialState.ACTIVE, client_id) for text in texts
    ]
