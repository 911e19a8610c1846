"""The SQL store: :class:`tuner.store.Store` over SQLAlchemy Core.

Locks are always taken in one order, the study row before its trial rows, so that writers
on PostgreSQL and MySQL wait for each other but never deadlock:

- ``suggest_trials`` and ``add_trial`` lock the study row exclusively (``FOR UPDATE``);
- ``update_trial`` locks it shared (``FOR SHARE``), then the trial row exclusively, so a
  trial cannot finish while a suggestion for its study is being made;
- ``add_measurements`` locks only the trial row.

On SQLite every write transaction holds the database's write lock (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
import sqlalchemy.exc

from tuner.config import Direction, StudyConfig, StudyInfo, StudyState
from tuner.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from tuner.store._base import Store, TrialGenerator
from tuner.store._codec import (
    check_name,
    dump_config,
    dump_diagnostics,
    dump_parameters,
    encode_float,
    load_config,
    load_diagnostics,
)
from tuner.store._context import load_trials_except
from tuner.store._schema import studies, trials
from tuner.store._studies import (
    find_study,
    lock_study,
    require_study,
    study_info,
    study_not_found,
)
from tuner.store._suggest import hand_out
from tuner.store._trials import (
    check_measurements,
    insert_measurements,
    insert_trial,
    known_report_ids,
    load_trials,
    load_trials_by_id,
    replace_final_measurement,
)
from tuner.trial import CollectorDiagnostics, Measurement, Trial, TrialState

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from tuner.space import ParameterValue
    from tuner.store._engine import Database

__all__ = ["SqlStore"]

logger = logging.getLogger(__name__)


def _trial_not_found(trial_id: int) -> NotFoundError:
    return NotFoundError(f"trial {trial_id} not found")


def _new_measurements(
    connection: Connection, trial_id: int, items: Sequence[Measurement]
) -> list[Measurement]:
    """``items`` less those whose report id the trial has, or an earlier item has."""
    ids = [m.report_id for m in items if m.report_id]
    if not ids:
        return list(items)
    seen = known_report_ids(connection, trial_id, ids)
    fresh = []
    for measurement in items:
        if measurement.report_id:
            if measurement.report_id in seen:
                continue
            seen.add(measurement.report_id)
        fresh.append(measurement)
    return fresh


class SqlStore(Store):
    """A store in a SQLite, PostgreSQL or MySQL/MariaDB database.

    Build one with :func:`tuner.store.open_store`, which also brings the schema up to date.

    Args:
        database: The engine and transactions to use.
    """

    def __init__(self, database: Database) -> None:
        self._database = database

    def close(self) -> None:
        """Close every pooled connection. The store must not be used afterwards."""
        self._database.dispose()

    # Studies

    def create_study(self, name: str, config: StudyConfig) -> StudyInfo:
        """Insert a study in state ``ACTIVE``.

        Raises:
            InvalidArgumentError: The name is empty or longer than 255 characters.
            AlreadyExistsError: A study of that name exists.
        """
        check_name(name, "name")
        info = StudyInfo(name=name, config=config, created_at=time.time())
        config_text = dump_config(config)
        try:
            with self._database.write() as connection:
                if find_study(connection, name) is not None:
                    raise AlreadyExistsError(f"study {name!r} already exists")
                connection.execute(
                    studies.insert().values(
                        name=name,
                        config=config_text,
                        state=info.state.value,
                        reason=info.reason,
                        created_at=info.created_at,
                    )
                )
        except sa.exc.IntegrityError as exc:
            # Another process inserted the same name between our check and our insert.
            raise AlreadyExistsError(f"study {name!r} already exists") from exc
        logger.info("created study %r", name)
        return info

    def get_study(self, name: str) -> StudyInfo:
        """The study of that name; ``NotFoundError`` if there is none."""
        with self._database.read() as connection:
            row = require_study(connection, name)
        return study_info(row)

    def list_studies(self) -> list[StudyInfo]:
        """All studies, oldest first."""
        with self._database.read() as connection:
            rows = connection.execute(sa.select(studies).order_by(studies.c.id)).all()
        return [study_info(row) for row in rows]

    def delete_study(self, name: str) -> None:
        """Delete a study with its trials and measurements; ``NotFoundError`` if there is none."""
        with self._database.write() as connection:
            deleted = connection.execute(studies.delete().where(studies.c.name == name)).rowcount
        if deleted == 0:
            raise study_not_found(name)
        logger.info("deleted study %r", name)

    def set_study_state(self, name: str, state: StudyState, reason: str = "") -> StudyInfo:
        """Change a study's state and reason; ``NotFoundError`` if there is none."""
        with self._database.write() as connection:
            row = lock_study(connection, name)
            connection.execute(
                studies.update()
                .where(studies.c.id == row.id)
                .values(state=state.value, reason=reason)
            )
            info = study_info(row)
        logger.info("study %r is now %s", name, state.value)
        return StudyInfo(
            name=info.name,
            config=info.config,
            state=state,
            reason=reason,
            created_at=info.created_at,
        )

    # Trials

    def suggest_trials(
        self, study_name: str, count: int, client_id: str, generate: TrialGenerator
    ) -> list[Trial]:
        """Hand out up to ``count`` trials under the study's suggestion lock.

        See :meth:`tuner.store.Store.suggest_trials` for the order of the steps. The
        generator runs inside the transaction that holds the lock; what it returns is
        stored as given (checking it against the search space is the caller's job).

        Raises:
            InvalidArgumentError: ``count`` is below 1 or ``client_id`` is too long.
            NotFoundError: There is no such study.
            FailedPreconditionError: The study is not ``ACTIVE``.
        """
        if count < 1:
            raise InvalidArgumentError(f"count must be >= 1, got {count}", field="count")
        check_name(client_id, "client_id", allow_empty=True)
        with self._database.write() as connection:
            result = hand_out(
                connection, lock_study(connection, study_name), count, client_id, generate
            )
        logger.debug("study %r handed out trials %s", study_name, [t.id for t in result])
        return result

    def add_trial(self, study_name: str, parameters: Mapping[str, ParameterValue]) -> Trial:
        """Insert a ``REQUESTED`` trial, numbered after the study's last.

        Raises:
            NotFoundError: There is no such study.
            InvalidArgumentError: The parameters are not an assignment of the study's
                search space (field ``parameters.<name>``).
        """
        parameters_text = dump_parameters(parameters)
        with self._database.write() as connection:
            row = lock_study(connection, study_name)
            try:
                load_config(row.config).space.check(parameters)
            except InvalidArgumentError as exc:
                raise InvalidArgumentError(exc.message, field=f"parameters.{exc.field}") from exc
            trial_id = insert_trial(connection, row.id, parameters_text, TrialState.REQUESTED, "")
            (trial,) = load_trials_by_id(connection, [trial_id])
        return trial

    def get_trial(self, trial_id: int) -> Trial:
        """The trial, with its measurements; ``NotFoundError`` if there is none."""
        with self._database.read() as connection:
            found = load_trials(connection, trials.c.id == trial_id)
        if not found:
            raise _trial_not_found(trial_id)
        return found[0]

    def list_trials(
        self,
        study_name: str,
        states: Collection[TrialState] | None = None,
        *,
        exclude_ids: Collection[int] = (),
    ) -> list[Trial]:
        """The study's trials by number, optionally only those in ``states``.

        With ``exclude_ids`` the ids are read first and only the other trials are loaded,
        so a caller that keeps the finished trials it has read pays only for the rest.

        Raises:
            NotFoundError: There is no such study.
        """
        with self._database.read() as connection:
            row = require_study(connection, study_name)
            where = trials.c.study_id == row.id
            if states is not None:
                where = sa.and_(where, trials.c.state.in_([s.value for s in states]))
            return load_trials_except(connection, where, exclude_ids)

    def count_trials(self, study_name: str) -> dict[TrialState, int]:
        """How many of the study's trials are in each state; every state is a key.

        One ``GROUP BY`` over the ``(study_id, state)`` index: no trial or measurement
        is loaded.

        Raises:
            NotFoundError: There is no such study.
        """
        with self._database.read() as connection:
            row = require_study(connection, study_name)
            rows = connection.execute(
                sa.select(trials.c.state, sa.func.count())
                .where(trials.c.study_id == row.id)
                .group_by(trials.c.state)
            ).all()
        counts = dict.fromkeys(TrialState, 0)
        for state, count in rows:
            counts[TrialState(state)] = count
        return counts

    def add_measurements(
        self,
        trial_id: int,
        measurements: Sequence[Measurement],
        *,
        diagnostics: CollectorDiagnostics | None = None,
    ) -> None:
        """Append measurements to an unfinished trial, skipping report ids it already has.

        Raises:
            NotFoundError: There is no such trial.
            FailedPreconditionError: The trial is finished and the call holds a new
                measurement or new diagnostics.
            InvalidArgumentError: A metric name or report id is longer than 255 characters.
        """
        check_measurements(measurements)
        with self._database.write() as connection:
            row = connection.execute(
                sa.select(trials.c.state, trials.c.diagnostics)
                .where(trials.c.id == trial_id)
                .with_for_update()
            ).first()
            if row is None:
                raise _trial_not_found(trial_id)
            fresh = _new_measurements(connection, trial_id, measurements)
            old = load_diagnostics(row.diagnostics)
            merged = old if diagnostics is None else old.merge(diagnostics)
            if not fresh and merged == old:
                return  # a repeat: nothing to do, whatever the state
            if TrialState(row.state).is_finished:
                raise FailedPreconditionError(
                    f"trial {trial_id} is {row.state}; measurements go only to an unfinished trial"
                )
            insert_measurements(connection, trial_id, fresh, is_final=False)
            if merged != old:
                connection.execute(
                    trials.update()
                    .where(trials.c.id == trial_id)
                    .values(diagnostics=dump_diagnostics(merged))
                )

    def update_trial(
        self,
        trial_id: int,
        state: TrialState,
        *,
        allowed_from: Collection[TrialState],
        final_measurement: Measurement | None = None,
        objective_value: float | None = None,
        reason: str = "",
    ) -> Trial:
        """Move a trial to ``state`` if its current state is in ``allowed_from``.

        Writes the final measurement, the objective value and the reason as given (None
        clears them), and the completion time when ``state`` is finished. A finished trial
        is refused whatever ``allowed_from`` says.

        Raises:
            NotFoundError: There is no such trial.
            FailedPreconditionError: The trial's state is finished or not in ``allowed_from``.
        """
        if final_measurement is not None:
            check_measurements([final_measurement])
        with self._database.write() as connection:
            study_id = connection.execute(
                sa.select(trials.c.study_id).where(trials.c.id == trial_id)
            ).scalar()
            if study_id is None:
                raise _trial_not_found(trial_id)
            connection.execute(
                sa.select(studies.c.id).where(studies.c.id == study_id).with_for_update(read=True)
            )
            current = TrialState(
                connection.execute(
                    sa.select(trials.c.state).where(trials.c.id == trial_id).with_for_update()
                ).scalar_one()
            )
            if current.is_finished or current not in allowed_from:
                allowed = ", ".join(sorted(s.value for s in allowed_from)) or "no state"
                raise FailedPreconditionError(
                    f"trial {trial_id} is {current.value}; it can move to {state.value} "
                    f"only from {allowed}"
                    + (", and a finished trial never changes" if current.is_finished else "")
                )
            value, kind = (None, None) if objective_value is None else encode_float(objective_value)
            connection.execute(
                trials.update()
                .where(trials.c.id == trial_id)
                .values(
                    state=state.value,
                    reason=reason,
                    objective_value=value,
                    objective_kind=kind,
                    completed_at=time.time() if state.is_finished else None,
                )
            )
            replace_final_measurement(connection, trial_id, final_measurement)
            (trial,) = load_trials_by_id(connection, [trial_id])
        logger.debug("trial %d: %s -> %s", trial_id, current.value, state.value)
        return trial

    def list_optimal_trials(self, study_name: str) -> list[Trial]:
        """Succeeded trials with the best finite objective value, ties included.

        NaN and infinite values are never optimal; neither is a trial without a value.
        """
        with self._database.read() as connection:
            row = require_study(connection, study_name)
            objective = load_config(row.config).objective
            ranked = sa.and_(
                trials.c.study_id == row.id,
                trials.c.state == TrialState.SUCCEEDED.value,
                # Only finite values (negative zero included) have a non-NULL column.
                trials.c.objective_value.is_not(None),
            )
            best_of = sa.func.min if objective.direction is Direction.MINIMIZE else sa.func.max
            best = connection.execute(
                sa.select(best_of(trials.c.objective_value)).where(ranked)
            ).scalar()
            if best is None:
                return []
            return load_trials(connection, sa.and_(ranked, trials.c.objective_value == best))
