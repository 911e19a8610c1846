"""Opening stores by URL: drivers, refused URLs, the in-memory store, lazy imports."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tuner.config import Objective, StudyConfig
from tuner.errors import InvalidArgumentError
from tuner.space import IntParameter, SearchSpace
from tuner.store import SuggestionContext, open_store
from tuner.store._engine import normalise_url
from tuner.trial import TrialState

CONFIG = StudyConfig(
    space=SearchSpace((IntParameter(name="x", low=0, high=1000),)),
    objective=Objective(metric_name="loss"),
)


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///tuner.db", "sqlite+pysqlite"),
        ("sqlite://", "sqlite+pysqlite"),
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("mysql://u@h/db", "mysql+pymysql"),
        ("mariadb://u@h/db", "mysql+pymysql"),
        ("mysql+pymysql://u@h/db", "mysql+pymysql"),
    ],
)
def test_each_database_gets_tuners_driver(url: str, driver: str) -> None:
    assert normalise_url(url).drivername == driver


def test_mysql_talks_utf8mb4_unless_told_otherwise() -> None:
    assert normalise_url("mysql://u@h/db").query["charset"] == "utf8mb4"
    assert normalise_url("mysql://u@h/db?charset=utf8").query["charset"] == "utf8"


def test_normalising_keeps_the_rest_of_the_url() -> None:
    url = normalise_url("postgresql://u:secret@h:6543/db?options=-csearch_path%3Dx")
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "u",
        "secret",
        "h",
        6543,
        "db",
    )
    assert url.query["options"] == "-csearch_path=x"


@pytest.mark.parametrize(
    "url",
    ["oracle://u@h/db", "postgresql+psycopg2://u@h/db", "mysql+mysqldb://u@h/db", "not a url", ""],
)
def test_an_unsupported_url_is_refused_naming_the_store_field(url: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        open_store(url)
    assert caught.value.field == "store"
    assert url in str(caught.value) or "unsupported" in str(caught.value)


def test_a_sqlite_file_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    import sqlalchemy as sa

    path = tmp_path / "tuner.db"
    open_store(f"sqlite:///{path}").close()
    from tuner.store._engine import create_database

    database = create_database(f"sqlite:///{path}")
    try:
        with database.read() as connection:
            assert connection.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(sa.text("PRAGMA busy_timeout")).scalar() == 30000
    finally:
        database.dispose()


def test_the_in_memory_store_serves_several_threads() -> None:
    store = open_store("sqlite://")
    try:
        store.create_study("s", CONFIG)
        barrier = threading.Barrier(4)

        def generate(context: SuggestionContext, count: int) -> list[dict[str, int | float | str]]:
            seen = len(context.active_trials()) + len(context.finished_trials())
            return [{"x": seen + i} for i in range(count)]

        def work(_: int) -> list[int]:
            barrier.wait()
            return [
                trial.id for _ in range(5) for trial in store.suggest_trials("s", 1, "", generate)
            ]

        with ThreadPoolExecutor(4) as pool:
            ids = [i for batch in pool.map(work, range(4)) for i in batch]
        trials = store.list_trials("s", [TrialState.ACTIVE])
        assert len(set(ids)) == len(ids) == 20
        assert sorted(t.parameters["x"] for t in trials) == list(range(20))
    finally:
        store.close()


def test_importing_the_store_package_loads_no_sqlalchemy() -> None:
    code = (
        "import sys, tuner.store; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
