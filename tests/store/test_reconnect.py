"""Servers that drop connections or cannot be reached."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tuner.config import Objective, StudyConfig
from tuner.errors import UnavailableError
from tuner.space import IntParameter, SearchSpace
from tuner.store import open_store
from tuner.store._engine import normalise_url

CONFIG = StudyConfig(
    space=SearchSpace((IntParameter(name="x", low=0, high=10),)),
    objective=Objective(metric_name="loss"),
)


def _kill_store_connections(store_url: str, application_name: str) -> int:
    """Drop the server side of every connection the store holds; returns how many."""
    engine = sa.create_engine(normalise_url(store_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                return len(
                    connection.execute(
                        sa.text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE application_name = :name"
                        ),
                        {"name": application_name},
                    ).all()
                )
            ids = connection.execute(
                sa.text(
                    "SELECT id FROM information_schema.processlist "
                    "WHERE db = DATABASE() AND id <> CONNECTION_ID()"
                )
            ).scalars()
            killed = 0
            for connection_id in ids:
                connection.execute(sa.text(f"KILL CONNECTION {int(connection_id)}"))
                killed += 1
            return killed
    finally:
        engine.dispose()


@pytest.mark.parametrize("store_url", ["postgresql", "mariadb"], indirect=True)
def test_the_store_reconnects_after_the_server_drops_its_connections(store_url: str) -> None:
    application_name = f"tuner-test-{uuid.uuid4().hex[:8]}"
    url = store_url
    if make_url(store_url).get_backend_name() == "postgresql":
        named = make_url(store_url).update_query_dict({"application_name": application_name})
        url = named.render_as_string(hide_password=False)
    store = open_store(url)
    try:
        store.create_study("before", CONFIG)
        assert _kill_store_connections(store_url, application_name) >= 1
        store.create_study("after", CONFIG)
        assert [s.name for s in store.list_studies()] == ["before", "after"]
    finally:
        store.close()


@pytest.mark.parametrize(
    "url", ["postgresql://postgres@127.0.0.1:1/test", "mysql://root@127.0.0.1:1/test"]
)
def test_an_unreachable_server_raises_unavailable(url: str) -> None:
    with pytest.raises(UnavailableError, match="unavailable"):
        open_store(url)
