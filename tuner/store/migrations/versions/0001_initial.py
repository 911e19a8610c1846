"""Initial schema: studies, trials, measurements, metric values.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _name() -> sa.types.TypeEngine[str]:
    return sa.String(255).with_variant(mysql.VARBINARY(1020), "mysql", "mariadb")


def _json_text() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "tuner_studies",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("name", _name(), nullable=False),
        sa.Column("config", _json_text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.UniqueConstraint("name", name="uq_tuner_studies_name"),
        sqlite_autoincrement=True,
        **_MYSQL,
    )
    op.create_table(
        "tuner_trials",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column(
            "study_id",
            _id(),
            sa.ForeignKey(
                "tuner_studies.id",
                ondelete="CASCADE",
                name="fk_tuner_trials_study_id_tuner_studies",
            ),
            nullable=False,
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("client_id", _name(), nullable=False),
        sa.Column("parameters", _json_text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("completed_at", sa.Double(), nullable=True),
        sa.Column("objective_value", sa.Double(), nullable=True),
        sa.Column("objective_kind", sa.SmallInteger(), nullable=True),
        sa.UniqueConstraint("study_id", "number", name="uq_tuner_trials_study_id_number"),
        sqlite_autoincrement=True,
        **_MYSQL,
    )
    op.create_index("ix_tuner_trials_study_id_state", "tuner_trials", ["study_id", "state"])
    op.create_index("ix_tuner_trials_study_id_client_id", "tuner_trials", ["study_id", "client_id"])
    op.create_table(
        "tuner_measurements",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column(
            "trial_id",
            _id(),
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
        sqlite_autoincrement=True,
        **_MYSQL,
    )
    op.create_index("ix_tuner_measurements_trial_id", "tuner_measurements", ["trial_id"])
    op.create_table(
        "tuner_metric_values",
        sa.Column(
            "measurement_id",
            _id(),
            sa.ForeignKey(
                "tuner_measurements.id",
                ondelete="CASCADE",
                name="fk_tuner_metric_values_measurement_id_tuner_measurements",
            ),
            nullable=False,
        ),
        sa.Column("name", _name(), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("measurement_id", "name", name="pk_tuner_metric_values"),
        **_MYSQL,
    )


def downgrade() -> None:
    op.drop_table("tuner_metric_values")
    op.drop_index("ix_tuner_measurements_trial_id", table_name="tuner_measurements")
    op.drop_table("tuner_measurements")
    op.drop_index("ix_tuner_trials_study_id_client_id", table_name="tuner_trials")
    op.drop_index("ix_tuner_trials_study_id_state", table_name="tuner_trials")
    op.drop_table("tuner_trials")
    op.drop_table("tuner_studies")
