"""The database schema, as SQLAlchemy Core tables.

Every table name starts with ``tuner_`` so the store can share a database with other
applications. A float given by a caller is stored as two columns, ``<name>`` (a DOUBLE,
NULL unless the value is finite) and ``<name>_kind`` (a :class:`tuner.store._codec.FloatKind`),
because MySQL and MariaDB cannot hold NaN or infinities and MySQL and SQLite drop the sign
of ``-0.0``. Names that are compared (study names, client ids, metric names) are byte-exact
on every database: MySQL and MariaDB store them as ``VARBINARY``, since their default
collations ignore case and trailing spaces.

``migrations/versions`` must produce exactly these tables; ``tests/store`` checks it with
Alembic's ``compare_metadata`` on every backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from tuner.trial import MAX_REPORT_ID_LENGTH

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect
    from sqlalchemy.types import TypeEngine

__all__ = [
    "MAX_NAME_LENGTH",
    "VERSION_TABLE",
    "measurements",
    "metadata",
    "metric_values",
    "studies",
    "trials",
]

VERSION_TABLE = "tuner_alembic_version"
"""Alembic's version table, named apart from any ``alembic_version`` of another application."""

MAX_NAME_LENGTH = 255
"""The longest study name, client id or metric name, in characters."""

_MYSQL_OPTIONS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


class ExactString(sa.types.TypeDecorator[str]):
    """A short string compared byte for byte: ``VARBINARY`` on MySQL, ``VARCHAR`` elsewhere."""

    impl = sa.String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            # utf8mb4 takes up to 4 bytes a character.
            return dialect.type_descriptor(mysql.VARBINARY(4 * self.length))
        return dialect.type_descriptor(sa.String(self.length))

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        if value is not None and dialect.name in ("mysql", "mariadb"):
            return value.encode("utf-8")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value).decode("utf-8")
        return value  # type: ignore[no-any-return]


def _id_type() -> TypeEngine[int]:
    # SQLite only autoincrements an INTEGER PRIMARY KEY (an alias of the rowid).
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json_text() -> TypeEngine[str]:
    # MySQL's TEXT stops at 64 KiB; a large search space can pass that.
    return sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


metadata = sa.MetaData()

studies = sa.Table(
    "tuner_studies",
    metadata,
    sa.Column("id", _id_type(), primary_key=True, autoincrement=True),
    sa.Column("name", ExactString(MAX_NAME_LENGTH), nullable=False),
    sa.Column("config", _json_text(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.UniqueConstraint("name", name="uq_tuner_studies_name"),
    sqlite_autoincrement=True,
    **_MYSQL_OPTIONS,
)

trials = sa.Table(
    "tuner_trials",
    metadata,
    sa.Column("id", _id_type(), primary_key=True, autoincrement=True),
    sa.Column(
        "study_id",
        _id_type(),
        sa.ForeignKey(
            "tuner_studies.id", ondelete="CASCADE", name="fk_tuner_trials_study_id_tuner_studies"
        ),
        nullable=False,
    ),
    sa.Column("number", sa.Integer(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("client_id", ExactString(MAX_NAME_LENGTH), nullable=False),
    sa.Column("parameters", _json_text(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.Column("completed_at", sa.Double(), nullable=True),
    sa.Column("objective_value", sa.Double(), nullable=True),
    sa.Column("objective_kind", sa.SmallInteger(), nullable=True),
    # JSON text of the collector's diagnostics; NULL when there are none.
    sa.Column("diagnostics", sa.Text(), nullable=True),
    # Also the index of trials by (study, number), and the one MySQL needs for the key.
    sa.UniqueConstraint("study_id", "number", name="uq_tuner_trials_study_id_number"),
    sa.Index("ix_tuner_trials_study_id_state", "study_id", "state"),
    sa.Index("ix_tuner_trials_study_id_client_id", "study_id", "client_id"),
    sqlite_autoincrement=True,
    **_MYSQL_OPTIONS,
)

measurements = sa.Table(
    "tuner_measurements",
    metadata,
    sa.Column("id", _id_type(), primary_key=True, autoincrement=True),
    sa.Column(
        "trial_id",
        _id_type(),
        sa.ForeignKey(
            "tuner_trials.id",
            ondelete="CASCADE",
            name="fk_tuner_measurements_trial_id_tuner_trials",
        ),
        nullable=False,
    ),
    sa.Column("is_final", sa.Boolean(), nullable=False),
    sa.Column("step", sa.BigInteger(), nullable=False),
    sa.Column("time", sa.Double(), nullable=True),
    sa.Column("time_kind", sa.SmallInteger(), nullable=False),
    # The reporter's id (Measurement.report_id); NULL for none and for final measurements.
    # NULLs never collide in a unique constraint, on every database.
    sa.Column("report_id", ExactString(MAX_REPORT_ID_LENGTH), nullable=True),
    sa.Index("ix_tuner_measurements_trial_id", "trial_id"),
    # A unique index rather than a constraint: SQLite adds one without rebuilding the table.
    sa.Index("uq_tuner_measurements_trial_id_report_id", "trial_id", "report_id", unique=True),
    sqlite_autoincrement=True,
    **_MYSQL_OPTIONS,
)

metric_values = sa.Table(
    "tuner_metric_values",
    metadata,
    sa.Column(
        "measurement_id",
        _id_type(),
        sa.ForeignKey(
            "tuner_measurements.id",
            ondelete="CASCADE",
            name="fk_tuner_metric_values_measurement_id_tuner_measurements",
        ),
        nullable=False,
    ),
    sa.Column("name", ExactString(MAX_NAME_LENGTH), nullable=False),
    sa.Column("value", sa.Double(), nullable=True),
    sa.Column("kind", sa.SmallInteger(), nullable=False),
    sa.PrimaryKeyConstraint("measurement_id", "name", name="pk_tuner_metric_values"),
    **_MYSQL_OPTIONS,
)
