"""Throwaway study stores for the benchmarks: a SQLite file, or a PostgreSQL schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["POSTGRESQL_URL", "fresh_store_url"]

POSTGRESQL_URL = os.environ.get(
    "TUNER_BENCH_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
"""The PostgreSQL server and database the benchmarks make their schemas in."""


@contextmanager
def fresh_store_url(kind: str, folder: Path) -> Iterator[str]:
    """A fresh store's URL: a new SQLite file in ``folder``, or a PostgreSQL schema.

    The schema is made in :data:`POSTGRESQL_URL` and dropped on exit.

    Args:
        kind: ``sqlite`` or ``postgresql``.
        folder: Where a SQLite file goes.
    """
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        return
    if kind != "postgresql":
        raise ValueError(f"unknown store {kind!r}: sqlite or postgresql")
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from tuner.store._engine import normalise_url

    schema = f"tuner_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalise_url(POSTGRESQL_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(POSTGRESQL_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
