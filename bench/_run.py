"""The runner: every optimizer on every problem and seed, and the timing run.

A run asks for a point, evaluates it, tells the value, ``budget`` times. It records the
best value so far after each trial and the seconds of each round trip (``ask`` plus
``tell``; the evaluation is not timed). Regret runs may go to worker processes (``jobs``);
each worker has its own service (database file and server). The timing run is always
sequential in this process, so that no other run competes with it.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from bench._peers import OptimizerSpec, select_optimizers
from bench._problems import Problem, make_problem
from bench._service import ServiceHarness

__all__ = [
    "RunResult",
    "Selection",
    "TimingResult",
    "run_one",
    "run_regret",
    "run_timing",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """Which optimizers to build; plain data, so worker processes can build the same."""

    algorithms: tuple[str, ...] | None = None
    peers: tuple[str, ...] | None = None
    in_process: bool = False
    skips: tuple[str, ...] = ()
    """``optimizer@problem`` patterns (shell-style) of runs to leave out, e.g.
    ``skopt:gp@bbob-*-d10``; they show as ``n/a`` and are not ranked."""

    def skip_reason(self, optimizer: str, problem_key: str) -> str | None:
        """Why ``optimizer`` is left out on ``problem_key``, or None if it runs."""
        for pattern in self.skips:
            who, _, where = pattern.partition("@")
            if fnmatch.fnmatchcase(optimizer, who) and fnmatch.fnmatchcase(
                problem_key, where or "*"
            ):
                return f"left out by --skip {pattern}"
        return None

    def specs(self) -> list[OptimizerSpec]:
        return select_optimizers(
            None if self.algorithms is None else list(self.algorithms),
            None if self.peers is None else list(self.peers),
            in_process=self.in_process,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """One optimizer on one problem with one seed."""

    optimizer: str
    problem: str
    seed: int
    best: tuple[float, ...] = ()
    """The best value after each trial (inf while none is finite)."""
    seconds: tuple[float, ...] = ()
    """Seconds of each ask + tell round trip."""
    score: float = math.nan
    """The problem's score of the final best value (log10 regret or error)."""
    error: str = ""
    """Why the run could not finish; empty when it did."""
    skipped: str = ""
    """Why the optimizer cannot run this problem; empty when it can."""


def run_one(
    spec: OptimizerSpec,
    problem: Problem,
    seed: int,
    harness: ServiceHarness,
    *,
    budget: int | None = None,
    time_cap: float | None = None,
) -> RunResult:
    """Run ``spec`` on ``problem`` for ``budget`` trials (the problem's by default), or
    until its round trips add up to ``time_cap`` seconds."""
    reason = spec.unsupported(problem)
    if reason is not None:
        return RunResult(optimizer=spec.name, problem=problem.key, seed=seed, skipped=reason)
    budget = problem.budget if budget is None else budget
    best: list[float] = []
    seconds: list[float] = []
    current = math.inf
    try:
        optimizer = spec.make(problem, seed, harness)
        try:
            for _ in range(budget):
                start = time.perf_counter()
                params = optimizer.ask()
                asked = time.perf_counter()
                value = problem.objective(params)
                evaluated = time.perf_counter()
                optimizer.tell(value)
                seconds.append(asked - start + time.perf_counter() - evaluated)
                if math.isfinite(value) and value < current:
                    current = value
                best.append(current)
                if time_cap is not None and sum(seconds) > time_cap:
                    break
        finally:
            optimizer.close()
    except Exception as exc:  # a failing optimizer is reported, not fatal to the bench
        return RunResult(
            optimizer=spec.name,
            problem=problem.key,
            seed=seed,
            best=tuple(best),
            seconds=tuple(seconds),
            error=f"{type(exc).__name__}: {exc}".splitlines()[0][:200],
        )
    return RunResult(
        optimizer=spec.name,
        problem=problem.key,
        seed=seed,
        best=tuple(best),
        seconds=tuple(seconds),
        score=problem.score(current),
    )


# --- regret runs --------------------------------------------------------------------------

_worker: tuple[dict[str, OptimizerSpec], ServiceHarness] | None = None


def _init_worker(selection: Selection, folder: str, threads: int | None = None) -> None:
    global _worker
    if threads is not None:
        _limit_threads(threads)
    _worker = ({spec.name: spec for spec in selection.specs()}, ServiceHarness(folder))


def _limit_threads(threads: int) -> None:
    """Keep each worker's BLAS, OpenMP and torch to ``threads`` threads, so that ``jobs``
    workers do not oversubscribe the cores (the peers and ours alike)."""
    import importlib.util

    from threadpoolctl import threadpool_limits

    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(threads)  # for libraries loaded later
    threadpool_limits(threads)  # for those loaded already
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(threads)


def _run_task(optimizer: str, problem_key: str, seed: int) -> RunResult:
    assert _worker is not None
    specs, harness = _worker
    return run_one(specs[optimizer], make_problem(problem_key), seed, harness)


def _read_results(
    path: str | Path | None, wanted: set[tuple[str, str, int]]
) -> dict[tuple[str, str, int], RunResult]:
    """The runs of ``wanted`` that ``path`` (JSON lines of :class:`RunResult`) holds."""
    if path is None or not Path(path).exists():
        return {}
    kept: dict[tuple[str, str, int], RunResult] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        fields = json.loads(line)
        fields["best"], fields["seconds"] = tuple(fields["best"]), tuple(fields["seconds"])
        result = RunResult(**fields)
        key = (result.optimizer, result.problem, result.seed)
        if key in wanted:
            kept[key] = result
    return kept


def run_regret(
    selection: Selection,
    problem_keys: Sequence[str],
    seeds: Sequence[int],
    folder: str | Path,
    *,
    jobs: int = 1,
    progress: Callable[[str], None] | None = None,
    results_file: str | Path | None = None,
) -> list[RunResult]:
    """Every selected optimizer on every problem with every seed.

    Args:
        selection: The optimizers.
        problem_keys: The problems, as :func:`~bench._problems.make_problem` keys.
        seeds: The seeds; each optimizer gets the same ones.
        folder: Where each process keeps its service's database.
        jobs: Worker processes; 1 runs everything in this process.
        progress: Called with a line after each run.
        results_file: A JSON-lines file that keeps each finished run as it ends; runs
            already in it are not run again, so an interrupted plan resumes.

    Returns:
        The results, ordered by problem, optimizer and seed.
    """
    names = [spec.name for spec in selection.specs()]
    tasks = [(o, p, s) for p in problem_keys for o in names for s in seeds]
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    kept = _read_results(results_file, set(tasks))
    results: list[RunResult] = list(kept.values())

    skipped = [
        RunResult(optimizer=o, problem=p, seed=s, skipped=reason)
        for o, p, s in tasks
        if (reason := selection.skip_reason(o, p)) is not None
    ]
    to_run = [
        task
        for task in tasks
        if selection.skip_reason(task[0], task[1]) is None and task not in kept
    ]

    def done(result: RunResult) -> None:
        results.append(result)
        if results_file is not None and not result.error:
            with open(results_file, "a", encoding="utf-8") as file:
                file.write(json.dumps(dataclasses.asdict(result)) + "\n")
        status = result.error or result.skipped or f"score {result.score:.3f}"
        took = sum(result.seconds)
        say(
            f"[{len(results)}/{len(tasks)}] {result.optimizer} {result.problem} "
            f"seed {result.seed}: {status} ({took:.1f}s in ask/tell)"
        )

    if jobs <= 1:
        _init_worker(selection, str(folder))
        assert _worker is not None
        try:
            for task in to_run:
                done(_run_task(*task))
        finally:
            _worker[1].close()
    else:
        with ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=get_context("spawn"),
            initializer=_init_worker,
            initargs=(selection, str(folder), max(1, (os.cpu_count() or 1) // jobs)),
        ) as pool:
            futures = [pool.submit(_run_task, *task) for task in to_run]
            for future in as_completed(futures):
                done(future.result())
    results.extend(skipped)
    order = {task: i for i, task in enumerate(tasks)}
    return sorted(results, key=lambda r: order[(r.optimizer, r.problem, r.seed)])


# --- timing run ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TimingResult:
    """Seconds per ask + tell round trip of one optimizer as trials accumulate."""

    optimizer: str
    medians: dict[int, float | None]
    """At each n: the median round trip of trials n - window + 1 .. n; None if not reached."""
    reached: int
    """Trials run before the budget or the time cap ended the run."""
    capped: bool
    error: str = ""


def run_timing(
    selection: Selection,
    problem_key: str,
    checkpoints: Sequence[int],
    folder: str | Path,
    *,
    window: int = 10,
    time_cap: float = 60.0,
    progress: Callable[[str], None] | None = None,
) -> list[TimingResult]:
    """Each optimizer once (seed 0) on one problem up to the largest checkpoint, or until
    its round trips add up to ``time_cap`` seconds."""
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    problem = make_problem(problem_key)
    harness = ServiceHarness(folder)
    results: list[TimingResult] = []
    try:
        for spec in selection.specs():
            run = run_one(spec, problem, 0, harness, budget=max(checkpoints), time_cap=time_cap)
            medians: dict[int, float | None] = {}
            for n in checkpoints:
                span = run.seconds[max(0, n - window) : n]
                medians[n] = statistics.median(span) if len(run.seconds) >= n else None
            reached = len(run.seconds)
            results.append(
                TimingResult(
                    optimizer=spec.name,
                    medians=medians,
                    reached=reached,
                    capped=reached < max(checkpoints) and not run.error,
                    error=run.error or run.skipped,
                )
            )
            say(f"timing {spec.name}: {reached} trials in {sum(run.seconds):.1f}s")
    finally:
        harness.close()
    return results
