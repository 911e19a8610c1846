"""Measurement ingest through the service, and what the StdOut collector costs a trial.

    python -m bench.ingest [--trials 4] [--measurements 2000] [--store sqlite,postgresql]
                           [--lines 200000] [--repeats 3] [--markdown]

**Ingest**: N trial processes at once, each a real ``python -m tuner.collectors stdout``
wrapping a Python script that prints M metric lines (``step=i loss=x accuracy=y``) as
fast as it can; the collectors report to a service (``ServiceCore`` behind
``create_server`` on 127.0.0.1, in this process) over a SQLite file or a PostgreSQL
schema of its own (made and dropped here). The clock runs from the launch of the
processes until the last one exits, which it does only after delivering everything; the
table gives measurements stored per second, and checks every one is stored once.

**Overhead**: one trial printing L lines (one in ten a metric line), its output going to
``/dev/null``: unwrapped, wrapped with no service (parse only), and wrapped reporting to
the service. The median of ``--repeats`` runs each, and the ratio to unwrapped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from bench._stores import fresh_store_url
from tuner.config import AlgorithmSpec, Objective, StudyConfig
from tuner.space import DoubleParameter, SearchSpace

__all__ = ["IngestResult", "OverheadResult", "main", "run_ingest", "run_overhead"]

CONFIG = StudyConfig(
    space=SearchSpace((DoubleParameter(name="x", low=0.0, high=1.0),)),
    objective=Objective(metric_name="loss", additional_metric_names=("accuracy",)),
    algorithm=AlgorithmSpec(name="random"),
    seed=0,
)

INGEST_TRIAL = """
import sys
for step in range(1, int(sys.argv[1]) + 1):
    print(f"step={step} loss={1 / step:.6g} accuracy={1 - 1 / step:.6g}")
"""

CHATTY_TRIAL = """
import sys
out = sys.stdout
for i in range(int(sys.argv[1])):
    if i % 10 == 0:
        out.write(f"epoch={i // 10} loss={1 / (i + 1):.6g}\\n")
    else:
        out.write(f"iteration {i}: batch of 64 images, lr 0.001, 12.5 ms, mem 1.2 GiB\\n")
"""


@dataclass(frozen=True, slots=True)
class IngestResult:
    """One ingest run."""

    store: str
    trials: int
    measurements: int
    """Stored, in total (checked against what the trials printed)."""
    seconds: float

    @property
    def rate(self) -> float:
        """Measurements stored per second."""
        return self.measurements / self.seconds


@dataclass(frozen=True, slots=True)
class OverheadResult:
    """Wall times of one chatty trial, per way of running it."""

    lines: int
    seconds: dict[str, float]


@contextmanager
def _service(store_url: str) -> Iterator[tuple[object, str]]:
    """A service core behind a server on 127.0.0.1, with one study ``ingest``."""
    from tuner.service import ServiceCore, create_server
    from tuner.store import open_store

    core = ServiceCore(open_store(store_url))
    server, port = create_server(core, host="127.0.0.1", port=0, max_workers=32)
    server.start()
    try:
        core.create_study("ingest", CONFIG)
        yield core, f"127.0.0.1:{port}"
    finally:
        server.stop(None).wait()
        core.close()


def _collector(script: str, count: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tuner.collectors",
        "stdout",
        "--metric=loss",
        "--metric=accuracy",
        "--",
        sys.executable,
        "-c",
        textwrap.dedent(script),
        str(count),
    ]


def _environment(endpoint: str | None, trial_id: int | None, spool: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    env["TUNER_SPOOL_DIR"] = str(spool)
    if endpoint is not None:
        env["TUNER_SERVICE_ENDPOINT"] = endpoint
        env["TUNER_TRIAL_ID"] = str(trial_id)
    return env


def run_ingest(store: str, trials: int, measurements: int, folder: Path) -> IngestResult:
    """N collector processes reporting M measurements each; the rate at which they land."""
    with fresh_store_url(store, folder) as url, _service(url) as (core, endpoint):
        handed = core.suggest_trials("ingest", trials).trials  # type: ignore[attr-defined]
        started = time.perf_counter()
        processes = [
            subprocess.Popen(
                _collector(INGEST_TRIAL, measurements),
                env=_environment(endpoint, trial.id, folder / "spool"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for trial in handed
        ]
        for process in processes:
            _, stderr = process.communicate()
            if process.returncode != 0:
                raise RuntimeError(f"a trial failed: {stderr.decode()[-2000:]}")
        seconds = time.perf_counter() - started
        stored = 0
        for trial in handed:
            steps = [m.step for m in core.get_trial(trial.id).measurements]  # type: ignore[attr-defined]
            if steps != list(range(1, measurements + 1)):
                raise RuntimeError(
                    f"trial {trial.id}: {len(steps)} measurements, not 1..{measurements}"
                )
            stored += len(steps)
    return IngestResult(store=store, trials=trials, measurements=stored, seconds=seconds)


def _timed(argv: Sequence[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def run_overhead(lines: int, repeats: int, folder: Path) -> OverheadResult:
    """Median wall time of one chatty trial: unwrapped, wrapped (parse only), reporting."""
    script = textwrap.dedent(CHATTY_TRIAL)
    plain = [sys.executable, "-c", script, str(lines)]
    wrapped = _collector(CHATTY_TRIAL, lines)
    spool = folder / "spool"
    times: dict[str, list[float]] = {
        "unwrapped": [],
        "wrapped, parse only": [],
        "wrapped, reporting": [],
    }
    with fresh_store_url("sqlite", folder) as url, _service(url) as (core, endpoint):
        for _ in range(repeats):
            [trial] = core.suggest_trials("ingest", 1).trials  # type: ignore[attr-defined]
            times["unwrapped"].append(_timed(plain, _environment(None, None, spool)))
            times["wrapped, parse only"].append(_timed(wrapped, _environment(None, None, spool)))
            times["wrapped, reporting"].append(
                _timed(wrapped, _environment(endpoint, trial.id, spool))
            )
    return OverheadResult(
        lines=lines, seconds={name: statistics.median(values) for name, values in times.items()}
    )


def ingest_table(results: Sequence[IngestResult], *, markdown: bool = False) -> Table:
    """Rows: store, trials, measurements, seconds, measurements per second."""
    table = Table(
        "store",
        "trial processes",
        "measurements",
        "seconds",
        "measurements/s",
        title="Ingest: StdOut collectors -> service -> store",
        title_justify="left",
        box=box.MARKDOWN if markdown else box.HEAVY_HEAD,
    )
    for result in results:
        table.add_row(
            result.store,
            str(result.trials),
            str(result.measurements),
            f"{result.seconds:.2f}",
            f"{result.rate:,.0f}",
        )
    return table


def overhead_table(result: OverheadResult, *, markdown: bool = False) -> Table:
    """Rows: way of running, median seconds, ratio to unwrapped, lines per second."""
    table = Table(
        "trial",
        "seconds (median)",
        "vs unwrapped",
        "lines/s",
        title=(
            f"StdOut collector overhead: one trial printing {result.lines:,} lines "
            "(1 in 10 a metric line)"
        ),
        title_justify="left",
        box=box.MARKDOWN if markdown else box.HEAVY_HEAD,
    )
    base = result.seconds["unwrapped"]
    for name, seconds in result.seconds.items():
        table.add_row(
            name, f"{seconds:.2f}", f"{seconds / base:.2f}x", f"{result.lines / seconds:,.0f}"
        )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.ingest``: print the two tables."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--trials", type=int, default=4, help="concurrent trial processes (default 4)"
    )
    parser.add_argument("--measurements", type=int, default=2000, help="per trial (default 2000)")
    parser.add_argument(
        "--store", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument("--lines", type=int, default=200_000, help="lines the chatty trial prints")
    parser.add_argument("--repeats", type=int, default=3, help="runs per overhead row (median)")
    parser.add_argument("--no-ingest", action="store_true", help="skip the ingest table")
    parser.add_argument("--no-overhead", action="store_true", help="skip the overhead table")
    parser.add_argument("--markdown", action="store_true", help="Markdown tables")
    args = parser.parse_args(argv)
    console = Console()
    with tempfile.TemporaryDirectory(prefix="tuner-bench-ingest-") as temporary:
        folder = Path(temporary)
        if not args.no_ingest:
            results = [
                run_ingest(store.strip(), args.trials, args.measurements, folder)
                for store in args.store.split(",")
                if store.strip()
            ]
            console.print(ingest_table(results, markdown=args.markdown))
        if not args.no_overhead:
            result = run_overhead(args.lines, args.repeats, folder)
            console.print(overhead_table(result, markdown=args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
