"""Reading and writing trials with their measurements, inside a caller's transaction."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tuner.store._codec import (
    check_name,
    check_step,
    decode_float,
    encode_float,
    load_diagnostics,
    load_parameters,
)
from tuner.store._schema import measurements, metric_values, studies, trials
from tuner.trial import Measurement, Trial, TrialState

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, CursorResult
    from sqlalchemy.sql.elements import ColumnElement

__all__ = [
    "FINISHED_STATES",
    "check_measurements",
    "insert_measurements",
    "insert_trial",
    "inserted_id",
    "known_report_ids",
    "load_trials",
    "load_trials_by_id",
    "replace_final_measurement",
]

FINISHED_STATES = tuple(s.value for s in TrialState if s.is_finished)

# Ids per IN (...) list: well under every database's limit on bound parameters.
_CHUNK = 500


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT added."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the database returned no primary key for an insert")
    value: int = key[0]
    return value


def insert_trial(
    connection: Connection,
    study_id: int,
    parameters_text: str,
    state: TrialState,
    client_id: str,
) -> int:
    """Insert a trial numbered after the study's last; the caller holds the study's lock."""
    last = connection.execute(
        sa.select(sa.func.max(trials.c.number)).where(trials.c.study_id == study_id)
    ).scalar()
    return inserted_id(
        connection.execute(
            trials.insert().values(
                study_id=study_id,
                number=0 if last is None else last + 1,
                state=state.value,
                client_id=client_id,
                parameters=parameters_text,
                reason="",
                created_at=time.time(),
            )
        )
    )


def check_measurements(items: Iterable[Measurement]) -> None:
    """Refuse measurements the schema cannot hold, before anything is written."""
    for measurement in items:
        check_step(measurement.step)
        if measurement.report_id:
            check_name(measurement.report_id, "report_id")
        for name in measurement.metrics:
            check_name(name, f"metrics.{name[:40]}")


def insert_measurements(
    connection: Connection, trial_id: int, items: Sequence[Measurement], *, is_final: bool
) -> None:
    """Append measurements to a trial, in order.

    The caller holds the trial's row lock (or SQLite's write lock): the measurements go in
    one executemany, their metric values in another.
    """
    if not items:
        return
    rows = []
    for measurement in items:
        time_value, time_kind = encode_float(measurement.time)
        rows.append(
            {
                "trial_id": trial_id,
                "is_final": is_final,
                "step": measurement.step,
                "time": time_value,
                "time_kind": time_kind,
                "report_id": None
                if is_final or not measurement.report_id
                else measurement.report_id,
            }
        )
    if len(rows) == 1:
        ids = [inserted_id(connection.execute(measurements.insert().values(**rows[0])))]
    else:
        # One executemany, then the ids: the trial's newest rows are ours, in order, since
        # every writer of a trial's measurements holds its row lock (SQLite: the database's
        # write lock) and ids grow. Cheaper than INSERT ... RETURNING, which SQLAlchemy
        # runs row by row on SQLite to keep the order.
        connection.execute(measurements.insert(), rows)
        newest = (
            sa.select(measurements.c.id)
            .where(measurements.c.trial_id == trial_id)
            .order_by(measurements.c.id.desc())
            .limit(len(rows))
        )
        ids = sorted(connection.execute(newest).scalars())
    values = []
    for measurement_id, measurement in zip(ids, items, strict=True):
        for name, metric in measurement.metrics.items():
            value, kind = encode_float(metric)
            values.append(
                {"measurement_id": measurement_id, "name": name, "value": value, "kind": kind}
            )
    if values:
        connection.execute(metric_values.insert(), values)


def known_report_ids(
    connection: Connection, trial_id: int, report_ids: Collection[str]
) -> set[str]:
    """Those of ``report_ids`` the trial's measurements already have."""
    ordered = sorted(set(report_ids))
    known: set[str] = set()
    for start in range(0, len(ordered), _CHUNK):
        known.update(
            connection.execute(
                sa.select(measurements.c.report_id).where(
                    measurements.c.trial_id == trial_id,
                    measurements.c.report_id.in_(ordered[start : start + _CHUNK]),
                )
            ).scalars()
        )
    return known


def replace_final_measurement(
    connection: Connection, trial_id: int, final: Measurement | None
) -> None:
    """Set a trial's final measurement, or remove it for None."""
    connection.execute(
        measurements.delete().where(
            measurements.c.trial_id == trial_id, measurements.c.is_final == sa.true()
        )
    )
    if final is not None:
        insert_measurements(connection, trial_id, [final], is_final=True)


def _load_measurements(
    connection: Connection, where: ColumnElement[bool]
) -> dict[int, tuple[list[Measurement], Measurement | None]]:
    query = (
        sa.select(
            measurements.c.id,
            measurements.c.trial_id,
            measurements.c.is_final,
            measurements.c.step,
            measurements.c.time,
            measurements.c.time_kind,
            measurements.c.report_id,
            metric_values.c.name,
            metric_values.c.value,
            metric_values.c.kind,
        )
        .select_from(
            measurements.join(trials, trials.c.id == measurements.c.trial_id).outerjoin(
                metric_values, metric_values.c.measurement_id == measurements.c.id
            )
        )
        .where(where)
        .order_by(measurements.c.id, metric_values.c.name)
    )
    grouped: dict[int, tuple[Any, dict[str, float]]] = {}
    for row in connection.execute(query):
        _, metrics = grouped.setdefault(row.id, (row, {}))
        if row.name is not None:
            metrics[row.name] = decode_float(row.value, row.kind)
    result: dict[int, tuple[list[Measurement], Measurement | None]] = {}
    for row, metrics in grouped.values():
        intermediate, _ = result.setdefault(row.trial_id, ([], None))
        measurement = Measurement(
            metrics=metrics,
            step=row.step,
            time=decode_float(row.time, row.time_kind),
            report_id=row.report_id or "",
        )
        if row.is_final:
            result[row.trial_id] = (intermediate, measurement)
        else:
            intermediate.append(measurement)
    return result


def load_trials(connection: Connection, where: ColumnElement[bool]) -> list[Trial]:
    """The trials matching ``where`` (a condition on the trials table), by study and number."""
    query = (
        sa.select(trials, studies.c.name.label("study_name"))
        .select_from(trials.join(studies, studies.c.id == trials.c.study_id))
        .where(where)
        .order_by(trials.c.study_id, trials.c.number)
    )
    rows = connection.execute(query).all()
    if not rows:
        return []
    loaded = _load_measurements(connection, where)
    result = []
    for row in rows:
        intermediate, final = loaded.get(row.id, ([], None))
        result.append(
            Trial(
                id=row.id,
                study_name=row.study_name,
                number=row.number,
                parameters=load_parameters(row.parameters),
                state=TrialState(row.state),
                client_id=row.client_id,
                measurements=tuple(intermediate),
                final_measurement=final,
                reason=row.reason,
                created_at=row.created_at,
                completed_at=row.completed_at,
                diagnostics=load_diagnostics(row.diagnostics),
            )
        )
    return result


def load_trials_by_id(connection: Connection, ids: Collection[int]) -> list[Trial]:
    """The trials with these ids, by study and number."""
    ordered = sorted(set(ids))
    result: list[Trial] = []
    for start in range(0, len(ordered), _CHUNK):
        result.extend(load_trials(connection, trials.c.id.in_(ordered[start : start + _CHUNK])))
    result.sort(key=lambda t: (t.study_name, t.number))
    return result
