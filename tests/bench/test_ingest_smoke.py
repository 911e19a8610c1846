"""bench.ingest end to end, tiny: both tables get their rows (no timing is asserted)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from rich.console import Console

from bench.ingest import ingest_table, main, overhead_table, run_ingest, run_overhead


def _render(table: object) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=200).print(table)
    return buffer.getvalue()


@pytest.mark.timeout(120)
def test_ingest_and_overhead_fill_their_tables(tmp_path: Path) -> None:
    result = run_ingest("sqlite", 2, 30, tmp_path)
    assert (result.trials, result.measurements) == (2, 60)
    assert result.rate > 0
    text = _render(ingest_table([result]))
    assert "sqlite" in text and "60" in text

    overhead = run_overhead(500, 1, tmp_path)
    assert set(overhead.seconds) == {"unwrapped", "wrapped, parse only", "wrapped, reporting"}
    text = _render(overhead_table(overhead, markdown=True))
    assert "| unwrapped" in text and "1.00x" in text


@pytest.mark.timeout(120)
def test_the_command_runs_on_postgresql_too(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("psycopg")
    try:
        code = main(
            ["--trials", "1", "--measurements", "5", "--store", "postgresql", "--no-overhead"]
        )
    except Exception as error:  # no server: say so instead of failing the smoke test
        if "connect" in str(error).lower() and os.environ.get("TUNER_TEST_REQUIRE_SERVERS") != "1":
            pytest.skip(f"PostgreSQL unreachable: {error}")
        raise
    assert code == 0
    assert "postgresql" in capsys.readouterr().out
