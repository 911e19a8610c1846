"""Ours against the peers, side by side, in one run: regret, rank, time per suggestion.

Run from the repository root::

    python -m bench.compare --quick --jobs 2      # a few minutes
    python -m bench.compare --jobs 2 --markdown   # the full run (hours; see README.md)

Ours run with the service in the loop (a SQLite store behind a gRPC server on 127.0.0.1,
driven through ``tuner.client.Client``); the timing run adds ours in-process (the designer
alone) to separate the algorithm from the service. Seeds are fixed: 0 .. seeds-1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass

from bench._peers import DEFAULT_SKIPPED_ALGORITHMS, PEER_NAMES, library_versions
from bench._problems import bbob_keys, make_problem
from bench._report import (
    Report,
    ratio_table,
    score_table,
    timing_ratio_table,
    timing_table,
    versions_table,
)
from bench._run import Selection, run_regret, run_timing

__all__ = ["Plan", "main", "plan_of"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What one invocation runs."""

    problems: tuple[str, ...]
    seeds: tuple[int, ...]
    checkpoints: tuple[int, ...]
    timing_problem: str = "bbob-f1-d5"
    time_cap: float = 60.0
    window: int = 10


QUICK = Plan(
    problems=(
        *bbob_keys([1, 8, 15], [2]),
        *bbob_keys([1], [5]),
        "svc-digits@20",
        "hpolib-naval_propulsion@40",
    ),
    seeds=(0, 1, 2),
    checkpoints=(20, 50, 100),
    time_cap=30.0,
)
FULL = Plan(
    problems=(
        *bbob_keys([1, 2, 6, 8, 10, 12, 15, 17, 20, 21, 24], [2, 5, 10]),
        "svc-digits",
        "hpolib-naval_propulsion",
        "hpolib-protein_structure",
        "hpobench-credit_g",
    ),
    seeds=(0, 1, 2, 3, 4),
    checkpoints=(20, 50, 100, 500, 1000),
    time_cap=300.0,
)


def _names(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(n.strip() for n in text.split(",") if n.strip())


def _numbers(text: str) -> list[int]:
    return [int(n) for n in text.split(",") if n.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="a few problems, 3 seeds, n <= 100")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes for the regret runs")
    parser.add_argument(
        "--algorithms",
        help="ours, comma-separated (default: every registered algorithm but "
        + ", ".join(sorted(DEFAULT_SKIPPED_ALGORITHMS))
        + ")",
    )
    parser.add_argument("--peers", help="comma-separated, from: " + ", ".join(PEER_NAMES))
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="OPTIMIZER@PROBLEM",
        help="leave runs out (shell patterns, repeatable), e.g. 'skopt:gp@bbob-*-d10'",
    )
    parser.add_argument("--problems", help="problem keys, e.g. bbob-f8-d5,svc-digits@30")
    parser.add_argument("--functions", help="BBOB function indices (replaces the BBOB problems)")
    parser.add_argument("--dimensions", help="BBOB dimensions, with --functions")
    parser.add_argument("--seeds", type=int, help="number of seeds")
    parser.add_argument("--checkpoints", help="timing n values, e.g. 20,50,100,500,1000")
    parser.add_argument("--time-cap", type=float, help="seconds per optimizer in the timing run")
    parser.add_argument(
        "--results",
        metavar="FILE",
        help="keep each finished regret run in FILE (JSON lines); runs already there are "
        "not run again, so an interrupted plan resumes",
    )
    parser.add_argument("--no-regret", action="store_true", help="skip the regret runs")
    parser.add_argument("--no-timing", action="store_true", help="skip the timing run")
    parser.add_argument("--markdown", action="store_true", help="Markdown tables")
    return parser


def plan_of(args: argparse.Namespace) -> Plan:
    """The plan of the parsed arguments: quick or full, with the overrides given."""
    base = QUICK if args.quick else FULL
    problems = list(base.problems)
    if args.functions:
        dimensions = _numbers(args.dimensions) if args.dimensions else [2, 5]
        others = [p for p in problems if not p.startswith("bbob-")]
        problems = bbob_keys(_numbers(args.functions), dimensions) + others
    if args.problems:
        problems = list(_names(args.problems) or ())
    for key in problems:
        make_problem(key)  # refuse an unknown key before running anything
    return Plan(
        problems=tuple(problems),
        seeds=tuple(range(args.seeds)) if args.seeds else base.seeds,
        checkpoints=tuple(_numbers(args.checkpoints)) if args.checkpoints else base.checkpoints,
        timing_problem=base.timing_problem,
        time_cap=args.time_cap if args.time_cap is not None else base.time_cap,
        window=base.window,
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    plan = plan_of(args)
    algorithms, peers = _names(args.algorithms), _names(args.peers)
    regret_selection = Selection(algorithms=algorithms, peers=peers, skips=tuple(args.skip))
    timing_selection = Selection(algorithms=algorithms, peers=peers, in_process=True)
    names = [spec.name for spec in regret_selection.specs()]
    report = Report(markdown=args.markdown)
    report.table(versions_table(library_versions()))
    report.line(
        f"mode: {'quick' if args.quick else 'full'}; seeds {list(plan.seeds)}; "
        f"optimizers: {', '.join(names)}"
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tuner-bench-") as folder:
        if not args.no_regret:
            results = run_regret(
                regret_selection,
                plan.problems,
                plan.seeds,
                folder,
                jobs=args.jobs,
                results_file=args.results,
            )
            for result in results:
                if result.error:
                    report.line(
                        f"error: {result.optimizer} on {result.problem} "
                        f"seed {result.seed}: {result.error}"
                    )
            budgets = ", ".join(
                f"{make_problem(k).label}: {make_problem(k).budget}" for k in plan.problems
            )
            report.line(f"budgets (trials): {budgets}")
            report.table(
                score_table(results, "Final score, mean ± std over seeds (lower is better)")
            )
            report.table(
                ratio_table(
                    results,
                    "Ours / peer: geometric mean of regret ratios (< 1: ours better), "
                    "wins/ties/losses over problems x seeds",
                )
            )
        if not args.no_timing:
            timings = run_timing(
                timing_selection,
                plan.timing_problem,
                plan.checkpoints,
                folder,
                window=plan.window,
                time_cap=plan.time_cap,
            )
            label = make_problem(plan.timing_problem).label
            report.table(timing_table(timings, label, plan.window, plan.time_cap))
            report.table(timing_ratio_table(timings))
    report.line(f"total wall time: {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
