"""The tables: final scores per problem with ranks, ratios of ours to each peer, timings.

Scores are lower-is-better: log10(regret + 1e-8) where the optimum is known (BBOB, the
tabular sets), the cross-validated error otherwise. Per problem and seed the optimizers are
ranked by score (ties share the mean rank); the average rank is over problems and seeds.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table

from bench._problems import REGRET_FLOOR, make_problem

if TYPE_CHECKING:
    from bench._run import RunResult, TimingResult

__all__ = [
    "Report",
    "average_ranks",
    "ratio_table",
    "score_table",
    "timing_table",
    "versions_table",
]


def _spread(values: Sequence[float], scale: float = 1.0) -> str:
    if not values:
        return "n/a"
    mean = statistics.fmean(values) * scale
    std = (statistics.pstdev(values) if len(values) > 1 else 0.0) * scale
    return f"{mean:.2f} ± {std:.2f}"


def _times(ratio: float) -> str:
    """A ratio as ``0.42x``, ``3.1x`` or ``250x``."""
    if ratio >= 100:
        return f"{ratio:.0f}x"
    if ratio >= 0.1:
        return f"{ratio:.2g}x"
    return f"{ratio:.1g}x"


def _ranks(scores: dict[str, float]) -> dict[str, float]:
    """Rank 1 for the lowest score; ties share the mean of their ranks."""
    ordered = sorted(scores.items(), key=lambda item: item[1])
    ranks: dict[str, float] = {}
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1][1] == ordered[i][1]:
            j += 1
        for name, _ in ordered[i : j + 1]:
            ranks[name] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _finished(results: Sequence[RunResult]) -> list[RunResult]:
    return [r for r in results if not r.error and not r.skipped]


def average_ranks(results: Sequence[RunResult]) -> dict[str, list[float]]:
    """Each optimizer's ranks over the (problem, seed) pairs that every optimizer not
    skipped on the problem finished."""
    by_pair: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    for r in _finished(results):
        by_pair[(r.problem, r.seed)][r.optimizer] = r.score
    runs_on: dict[str, set[str]] = defaultdict(set)
    for r in results:
        if not r.skipped:
            runs_on[r.problem].add(r.optimizer)
    ranks: dict[str, list[float]] = defaultdict(list)
    for (problem, _), scores in by_pair.items():
        if set(scores) != runs_on[problem]:
            continue  # a pair some optimizer failed on is not ranked
        for name, rank in _ranks(scores).items():
            ranks[name].append(rank)
    return ranks


def score_table(results: Sequence[RunResult], title: str) -> Table:
    """Rows: optimizers; columns: problems (mean ± std over seeds), then the average rank."""
    problems = list(dict.fromkeys(r.problem for r in results))
    optimizers = list(dict.fromkeys(r.optimizer for r in results))
    ranks = average_ranks(results)
    units = {make_problem(key).group: make_problem(key).score_unit for key in problems}
    caption = "scores: " + "; ".join(f"{group}: {unit}" for group, unit in units.items())
    table = Table(title=title, caption=caption + "; avg rank over problems x seeds")
    table.add_column("optimizer")
    for key in problems:
        table.add_column(make_problem(key).label, justify="right")
    table.add_column("avg rank", justify="right")
    cells: dict[tuple[str, str], list[RunResult]] = defaultdict(list)
    for r in results:
        cells[(r.optimizer, r.problem)].append(r)
    for name in optimizers:
        row = [name]
        for key in problems:
            runs = cells[(name, key)]
            if any(r.skipped for r in runs):
                row.append("n/a")
            elif any(r.error for r in runs):
                row.append("error")
            else:
                # errors (no known optimum) in percent, log10 regrets as they are
                scale = 100.0 if make_problem(key).optimum is None else 1.0
                row.append(_spread([r.score for r in runs], scale))
        row.append(_spread(ranks.get(name, [])))
        table.add_row(*row)
    return table


def _regret(problem_key: str, score: float) -> float:
    """A positive quantity to take ratios of: the regret, or the error itself."""
    if make_problem(problem_key).optimum is None:
        return max(score, 1e-12)
    return 10.0**score if math.isfinite(score) else math.inf


def ratio_table(results: Sequence[RunResult], title: str) -> Table:
    """Rows: ours through the service; columns: peers. Each cell is the geometric mean over
    problems and seeds of regret(ours) / regret(peer) (below 1: ours is better), then
    wins/ties/losses of ours."""
    finished = {(r.optimizer, r.problem, r.seed): r.score for r in _finished(results)}
    ours = list(dict.fromkeys(r.optimizer for r in results if r.optimizer.startswith("tuner:")))
    ours = [name for name in ours if "(in-proc)" not in name]
    peers = list(
        dict.fromkeys(r.optimizer for r in results if not r.optimizer.startswith("tuner:"))
    )
    pairs = sorted({(r.problem, r.seed) for r in results})
    table = Table(title=title)
    table.add_column("ours \\ peer")
    for peer in peers:
        table.add_column(peer, justify="right")
    for name in ours:
        row = [name]
        for peer in peers:
            logs: list[float] = []
            wins = ties = losses = 0
            for problem, seed in pairs:
                a = finished.get((name, problem, seed))
                b = finished.get((peer, problem, seed))
                if a is None or b is None:
                    continue
                ra, rb = _regret(problem, a), _regret(problem, b)
                floor = REGRET_FLOOR if make_problem(problem).optimum is not None else 1e-12
                logs.append(math.log(max(ra, floor) / max(rb, floor)))
                if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
                    ties += 1
                elif a < b:
                    wins += 1
                else:
                    losses += 1
            if not logs:
                row.append("n/a")
            else:
                ratio = math.exp(statistics.fmean(logs))
                row.append(f"{_times(ratio)}  {wins}/{ties}/{losses}")
        table.add_row(*row)
    return table


def timing_table(
    results: Sequence[TimingResult], problem_label: str, window: int, time_cap: float
) -> Table:
    """Rows: optimizers; columns: n; cells: median milliseconds per ask + tell round trip."""
    checkpoints = sorted({n for r in results for n in r.medians})
    table = Table(
        title=f"Milliseconds per suggestion (ask + tell round trip) on {problem_label}: "
        f"median of trials n-{window - 1}..n; '-' = not reached within {time_cap:.0f}s"
    )
    table.add_column("optimizer")
    for n in checkpoints:
        table.add_column(f"n={n}", justify="right")
    table.add_column("trials run", justify="right")
    for r in results:
        if r.error:
            table.add_row(r.optimizer, *["n/a"] * len(checkpoints), r.error[:40])
            continue
        cells = [
            "-" if r.medians[n] is None else f"{1000 * (r.medians[n] or 0.0):.2f}"
            for n in checkpoints
        ]
        table.add_row(r.optimizer, *cells, f"{r.reached}" + (" (capped)" if r.capped else ""))
    return table


def timing_ratio_table(results: Sequence[TimingResult]) -> Table:
    """Rows: ours; columns: peers; cell: time(ours) / time(peer) at the largest n both reached."""
    ours = [r for r in results if r.optimizer.startswith("tuner:") and not r.error]
    peers = [r for r in results if not r.optimizer.startswith("tuner:") and not r.error]
    table = Table(title="Time per suggestion, ours / peer at the largest n both reached")
    table.add_column("ours \\ peer")
    for peer in peers:
        table.add_column(peer.optimizer, justify="right")
    for mine in ours:
        row = [mine.optimizer]
        for peer in peers:
            common = [
                n
                for n in mine.medians
                if mine.medians[n] is not None and peer.medians.get(n) is not None
            ]
            if not common:
                row.append("n/a")
                continue
            n = max(common)
            a, b = mine.medians[n], peer.medians[n]
            assert a is not None and b is not None
            row.append(f"{_times(a / b)} @{n}")
        table.add_row(*row)
    return table


def versions_table(versions: dict[str, str]) -> Table:
    """One row of library versions."""
    table = Table(title="Versions")
    for name in versions:
        table.add_column(name)
    table.add_row(*versions.values())
    return table


class Report:
    """Prints tables to stdout, as rich boxes or as Markdown (for bench/README.md)."""

    def __init__(self, *, markdown: bool = False, width: int = 240) -> None:
        # Markdown tables are never cut to a terminal's width: a full plan has ~40 columns.
        self._console = Console(width=100_000 if markdown else width, highlight=False)
        self._box = box.MARKDOWN if markdown else box.SIMPLE_HEAD
        self._markdown = markdown

    def line(self, text: str) -> None:
        self._console.print(text, markup=False)

    def table(self, table: Table) -> None:
        table.box = self._box
        caption = table.caption
        if self._markdown:
            if table.title:
                self._console.print(f"\n**{table.title}**\n", markup=False)
            table.title = table.caption = None
        self._console.print(table)
        if self._markdown and caption:
            self._console.print(f"\n{caption}", markup=False)
