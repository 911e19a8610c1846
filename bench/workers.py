"""Parallel workers on one shared study: tuner against Optuna, on SQLite and PostgreSQL.

    python -m bench.workers [--workers 4] [--trials-per-worker 100]
                            [--store sqlite,postgresql] [--repeats 1] [--markdown]

W worker processes (``spawn``) each open ONE shared study, wait at a barrier, then run M
ask/tell cycles with a random sampler on ``x**2 + y + index(c)`` over two doubles and a
categorical. The objective costs nothing, so what is measured is coordination: handing
out trials and storing their results. The clock runs from the barrier's release until
the last worker is done. Peers, each on a fresh SQLite file or PostgreSQL schema of its
own (made and dropped here; ``$TUNER_BENCH_POSTGRESQL_URL``):

- ``tuner (in-process)``: each worker ``tuner.Study.load(name, store=URL)``, as several
  service replicas on one database;
- ``tuner (server)``: one ``ServiceCore`` behind ``create_server`` in this process, each
  worker ``tuner.Study.load(name, server="127.0.0.1:PORT")``;
- ``optuna (RDBStorage)``: ``optuna.load_study(storage=URL)`` with its defaults, then
  ``study.ask(distributions)`` / ``study.tell``;
- ``optuna (JournalStorage)``, SQLite column only: Optuna's multi-process file storage.

A failing cycle is counted and the worker goes on. Afterwards the study is read back:
``stored`` counts completed trials (W*M when nothing failed); ``duplicates`` counts
trials handed out with an id or number an earlier one had; the ratio is trials/s over
Optuna's RDBStorage on the same store.
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table

from bench._stores import fresh_store_url
from bench._workers_peers import (
    OPTUNA_JOURNAL,
    OPTUNA_RDB,
    PEERS,
    TUNER_SERVER,
    count_stored,
    create_study,
    open_cycle,
)

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

    from bench._workers_peers import Cycle

__all__ = [
    "OPTUNA_RDB",
    "PEERS",
    "WorkersResult",
    "main",
    "peers_for",
    "run_workers",
    "workers_table",
]

SETUP_S = 120.0
"""How long the workers may take to open the study before the run is called off."""
WAIT_S = 1800.0


@dataclass(frozen=True, slots=True)
class _Job:
    peer: str
    target: str  # store URL, server address or journal file
    trials: int
    seed: int


@dataclass(slots=True)
class _Outcome:
    handed: list[tuple[int, int]] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None

    def record(self, error: BaseException) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = f"{type(error).__name__}: {error}"[:160]


@dataclass(frozen=True, slots=True)
class WorkersResult:
    """One configuration's run."""

    store: str
    peer: str
    workers: int
    trials_per_worker: int
    stored: int
    """Completed trials read back from the store afterwards."""
    seconds: float
    errors: int
    first_error: str | None
    duplicates: int

    @property
    def rate(self) -> float:
        """Completed trials per second."""
        return self.stored / self.seconds


def _work(job: _Job, barrier: Barrier, results: Queue[_Outcome]) -> None:
    """A worker process: open the study, wait for the others, run the cycles."""
    outcome = _Outcome()
    cycle: Cycle | None = None
    try:
        cycle = open_cycle(job.peer, job.target, job.seed)
    except Exception as error:
        outcome.record(error)
    barrier.wait()
    for _ in range(job.trials):
        if cycle is None:
            break
        try:
            outcome.handed.append(cycle())
        except Exception as error:
            outcome.record(error)
    results.put(outcome)


def _collect(processes: Sequence[BaseProcess], results: Queue[_Outcome]) -> list[_Outcome]:
    """Every worker's outcome; fails rather than waits when a worker died without one."""
    outcomes: list[_Outcome] = []
    deadline = time.monotonic() + WAIT_S
    while len(outcomes) < len(processes):
        try:
            outcomes.append(results.get(timeout=1.0))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in processes):
                raise RuntimeError("a worker process died; see its traceback above") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers still running after {WAIT_S:.0f} s") from None
    return outcomes


@contextmanager
def _target(peer: str, store: str, folder: Path) -> Iterator[tuple[str, str]]:
    """(what the workers open, the store URL to read back from): fresh for each run."""
    if peer == OPTUNA_JOURNAL:
        path = str(folder / f"journal-{uuid.uuid4().hex[:8]}.log")
        yield path, path
        return
    with fresh_store_url(store, folder) as url:
        if peer != TUNER_SERVER:
            yield url, url
            return
        from tuner.service import ServiceCore, create_server
        from tuner.store import open_store

        core = ServiceCore(open_store(url))
        server, port = create_server(core, host="127.0.0.1", port=0, max_workers=32)
        server.start()
        try:
            yield f"127.0.0.1:{port}", url
        finally:
            server.stop(None).wait()
            core.close()


def run_workers(
    peer: str, store: str, workers: int, trials_per_worker: int, folder: Path
) -> WorkersResult:
    """W spawned workers doing M ask/tell cycles each on one study of ``peer`` on ``store``."""
    context = multiprocessing.get_context("spawn")
    with _target(peer, store, folder) as (target, url):
        create_study(peer, target)
        barrier = context.Barrier(workers + 1)
        results: Queue[_Outcome] = context.Queue()
        processes = [
            context.Process(
                target=_work,
                args=(_Job(peer, target, trials_per_worker, seed=1 + i), barrier, results),
                daemon=True,
            )
            for i in range(workers)
        ]
        for process in processes:
            process.start()
        try:
            barrier.wait(timeout=SETUP_S)
            started = time.perf_counter()
            outcomes = _collect(processes, results)
            seconds = time.perf_counter() - started
        finally:
            for process in processes:
                process.join(timeout=10)
                if process.is_alive():
                    process.kill()
        stored = count_stored(peer, url)
    seen_ids: set[int] = set()
    seen_numbers: set[int] = set()
    duplicates = 0
    for trial_id, number in (handed for o in outcomes for handed in o.handed):
        duplicates += trial_id in seen_ids or number in seen_numbers
        seen_ids.add(trial_id)
        seen_numbers.add(number)
    first_error = next((o.first_error for o in outcomes if o.first_error), None)
    return WorkersResult(
        store=store,
        peer=peer,
        workers=workers,
        trials_per_worker=trials_per_worker,
        stored=stored,
        seconds=seconds,
        errors=sum(o.errors for o in outcomes),
        first_error=first_error,
        duplicates=duplicates,
    )


def peers_for(store: str) -> tuple[str, ...]:
    """The peers measured on a store: the journal file only in the SQLite column."""
    return PEERS if store == "sqlite" else PEERS[:3]


def workers_table(results: Sequence[WorkersResult], *, markdown: bool = False) -> Table:
    """Rows: store, peer, W x M, stored, seconds, trials/s, vs Optuna RDB, errors, duplicates."""
    table = Table(
        "store",
        "peer",
        "workers x trials",
        "stored",
        "seconds",
        "trials/s",
        "vs optuna RDB",
        "errors",
        "first error",
        "duplicates",
        title="Parallel workers on one study: ask/tell, random sampler, trivial objective",
        title_justify="left",
        box=box.MARKDOWN if markdown else box.HEAVY_HEAD,
    )
    for result in results:
        optuna_rdb = next(
            (r for r in results if r.store == result.store and r.peer == OPTUNA_RDB), None
        )
        if optuna_rdb is None:
            ratio = "-"
        elif optuna_rdb.stored == 0:
            ratio = "inf" if result.stored else "-"
        else:
            ratio = f"{result.rate / optuna_rdb.rate:.2f}x"
        table.add_row(
            result.store,
            result.peer,
            f"{result.workers} x {result.trials_per_worker}",
            str(result.stored),
            f"{result.seconds:.2f}",
            f"{result.rate:,.0f}",
            ratio,
            str(result.errors),
            result.first_error or "",
            str(result.duplicates),
        )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.workers``: print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.workers", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--workers", type=int, default=4, help="worker processes (default 4)")
    parser.add_argument(
        "--trials-per-worker", type=int, default=100, help="ask/tell cycles each (default 100)"
    )
    parser.add_argument(
        "--store", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument("--repeats", type=int, default=1, help="runs per row (median seconds)")
    parser.add_argument("--markdown", action="store_true", help="Markdown table")
    args = parser.parse_args(argv)
    stores = [store.strip() for store in args.store.split(",") if store.strip()]
    progress = Console(stderr=True)
    runs: dict[tuple[str, str], list[WorkersResult]] = {}
    with tempfile.TemporaryDirectory(prefix="tuner-bench-workers-") as temporary:
        for repeat in range(args.repeats):
            for store in stores:
                for peer in peers_for(store):
                    result = run_workers(
                        peer, store, args.workers, args.trials_per_worker, Path(temporary)
                    )
                    runs.setdefault((store, peer), []).append(result)
                    progress.print(
                        f"[{repeat + 1}/{args.repeats}] {store} {peer}: {result.stored} stored, "
                        f"{result.seconds:.2f} s, {result.errors} errors",
                        highlight=False,
                    )
    results = []
    for group in runs.values():
        median = statistics.median_low(r.seconds for r in group)
        results.append(next(r for r in group if r.seconds == median))
    # Markdown is never cut to a terminal's width (see bench/_report.py).
    console = Console(width=100_000 if args.markdown else None, highlight=False)
    console.print(workers_table(results, markdown=args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
