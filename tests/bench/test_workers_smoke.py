"""bench.workers end to end, tiny: every peer gets its row and ours store W*M trials
(no timing is asserted)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from rich.console import Console

from bench.workers import OPTUNA_RDB, PEERS, main, peers_for, run_workers, workers_table

pytest.importorskip("optuna")

WORKERS, TRIALS = 2, 5


def _render(table: object) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=400).print(table)
    return buffer.getvalue()


@pytest.mark.timeout(120)
def test_every_peer_on_sqlite_fills_its_row(tmp_path: Path) -> None:
    results = [run_workers(peer, "sqlite", WORKERS, TRIALS, tmp_path) for peer in PEERS]
    ours = [r for r in results if r.peer.startswith("tuner")]
    assert [(r.stored, r.errors, r.duplicates) for r in ours] == [(WORKERS * TRIALS, 0, 0)] * 2
    assert all(r.seconds > 0 for r in results)
    lines = _render(workers_table(results, markdown=True)).splitlines()
    rows = [line for line in lines if line.startswith("| sqlite")]
    assert [row.split("|")[2].strip() for row in rows] == list(PEERS)
    assert all(f"| {WORKERS * TRIALS} " in row for row in rows[:2])
    optuna_row = rows[PEERS.index(OPTUNA_RDB)]
    assert "| 1.00x " in optuna_row or "| - " in optuna_row  # "-" only if optuna stored none


@pytest.mark.timeout(120)
def test_the_command_runs_on_postgresql_too(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("psycopg")
    argv = ["--workers", str(WORKERS), "--trials-per-worker", str(TRIALS), "--markdown"]
    try:
        code = main([*argv, "--store", "postgresql"])
    except Exception as error:  # no server: say so instead of failing the smoke test
        if "connect" in str(error).lower() and os.environ.get("TUNER_TEST_REQUIRE_SERVERS") != "1":
            pytest.skip(f"PostgreSQL unreachable: {error}")
        raise
    assert code == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| postgr")]
    assert [row.split("|")[2].strip() for row in rows] == list(peers_for("postgresql"))
    for row in rows[:2]:  # ours: every trial stored, no error, no duplicate
        cells = [cell.strip() for cell in row.split("|")]
        assert (cells[4], cells[8], cells[10]) == (str(WORKERS * TRIALS), "0", "0")
