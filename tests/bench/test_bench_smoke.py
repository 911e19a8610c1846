"""The bench machinery end to end on one tiny problem: ours through the service and optuna TPE.

No timing is asserted: only that runs finish and the tables have their rows.
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import pytest

pytest.importorskip("optuna")
pytest.importorskip("cocoex")

from rich.console import Console

from bench._peers import select_optimizers
from bench._problems import make_problem
from bench._report import average_ranks, ratio_table, score_table, timing_table
from bench._run import Selection, run_one, run_regret, run_timing
from bench._service import ServiceHarness

SELECTION = Selection(algorithms=("random",), peers=("optuna:tpe",))


def _render(table: object) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=200).print(table)
    return buffer.getvalue()


def test_regret_runs_fill_the_tables(tmp_path: Path) -> None:
    results = run_regret(SELECTION, ["bbob-f1-d2@8"], [0, 1], tmp_path, progress=lambda _: None)

    assert [(r.optimizer, r.seed) for r in results] == [
        ("tuner:random", 0),
        ("tuner:random", 1),
        ("optuna:tpe", 0),
        ("optuna:tpe", 1),
    ]
    for result in results:
        assert not result.error and not result.skipped
        assert len(result.best) == len(result.seconds) == 8
        assert list(result.best) == sorted(result.best, reverse=True)  # best so far
        assert result.score >= -8.0
    scores = score_table(results, "smoke")
    assert scores.row_count == 2
    assert "tuner:random" in _render(scores) and "optuna:tpe" in _render(scores)
    ratios = ratio_table(results, "smoke")
    assert ratios.row_count == 1
    assert "optuna:tpe" in _render(ratios)


def test_skipped_runs_are_not_run_and_the_others_are_still_ranked(tmp_path: Path) -> None:
    selection = Selection(
        algorithms=("random",), peers=("optuna:tpe",), skips=("optuna:*@bbob-*-d5*",)
    )
    problems = ["bbob-f1-d2@4", "bbob-f1-d5@4"]
    results = run_regret(selection, problems, [0], tmp_path, progress=lambda _: None)

    skipped = [(r.optimizer, r.problem) for r in results if r.skipped]
    assert skipped == [("optuna:tpe", "bbob-f1-d5@4")]
    assert all(len(r.best) == 4 for r in results if not r.skipped)
    ranks = average_ranks(results)
    assert len(ranks["tuner:random"]) == 2  # d5 is ranked among the optimizers that ran it
    assert len(ranks["optuna:tpe"]) == 1
    assert "n/a" in _render(score_table(results, "smoke"))


def test_a_results_file_keeps_finished_runs_and_resumes(tmp_path: Path) -> None:
    kept = tmp_path / "runs.jsonl"
    first = run_regret(
        SELECTION, ["bbob-f1-d2@4"], [0], tmp_path, progress=lambda _: None, results_file=kept
    )
    lines: list[str] = []
    again = run_regret(
        SELECTION, ["bbob-f1-d2@4"], [0, 1], tmp_path, progress=lines.append, results_file=kept
    )

    assert len(kept.read_text().splitlines()) == 4
    assert [line.split("] ")[1].rsplit(":", 1)[0] for line in lines] == [
        "tuner:random bbob-f1-d2@4 seed 1",
        "optuna:tpe bbob-f1-d2@4 seed 1",
    ]  # only the new seed ran
    assert [r for r in again if r.seed == 0] == first


def test_timing_run_has_a_row_per_optimizer(tmp_path: Path) -> None:
    selection = Selection(algorithms=("random",), peers=("optuna:tpe",), in_process=True)
    timings = run_timing(
        selection, "bbob-f1-d2", (4, 8), tmp_path, window=4, progress=lambda _: None
    )

    assert [t.optimizer for t in timings] == [
        "tuner:random",
        "tuner:random (in-proc)",
        "optuna:tpe",
    ]
    assert all(t.reached == 8 and not t.error for t in timings)
    assert all(t.medians[4] is not None and t.medians[8] is not None for t in timings)
    assert timing_table(timings, "f1 sphere d2", 4, 60.0).row_count == 3


def test_in_process_designer_suggests_as_the_service_does(tmp_path: Path) -> None:
    selection = Selection(algorithms=("random",), peers=(), in_process=True)
    results = run_regret(selection, ["bbob-f8-d2@6"], [3], tmp_path, progress=lambda _: None)

    assert [r.optimizer for r in results] == ["tuner:random", "tuner:random (in-proc)"]
    assert results[0].best == results[1].best


def test_optuna_gp_is_skipped_without_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "torch" else real_find_spec(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    [spec] = select_optimizers([], ["optuna:gp"])
    harness = ServiceHarness(tmp_path)
    try:
        result = run_one(spec, make_problem("bbob-f1-d2@4"), 0, harness)
    finally:
        harness.close()

    assert "torch" in result.skipped
    assert not result.best
