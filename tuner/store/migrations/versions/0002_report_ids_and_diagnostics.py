"""Measurement report ids (unique per trial) and trial collector diagnostics.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _report_id() -> sa.types.TypeEngine[str]:
    return sa.String(255).with_variant(mysql.VARBINARY(1020), "mysql", "mariadb")


def upgrade() -> None:
    # Plain ADD COLUMN and CREATE UNIQUE INDEX: SQLite does both in place (a batch rebuild
    # of tuner_measurements would cascade-delete its metric values).
    op.add_column("tuner_measurements", sa.Column("report_id", _report_id(), nullable=True))
    op.create_index(
        "uq_tuner_measurements_trial_id_report_id",
        "tuner_measurements",
        ["trial_id", "report_id"],
        unique=True,
    )
    op.add_column("tuner_trials", sa.Column("diagnostics", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("tuner_trials", "diagnostics")
    op.drop_index("uq_tuner_measurements_trial_id_report_id", table_name="tuner_measurements")
    op.drop_column("tuner_measurements", "report_id")
