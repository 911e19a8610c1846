"""Helpers of the collector tests."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tuner.collectors._watch import MetricSink

DEADLINE = 30.0


class RecordingSink(MetricSink):
    """A sink that keeps what it is given, in order."""

    def __init__(self) -> None:
        super().__init__(None)
        self.observations: list[tuple[str, float, int | None, float | None]] = []
        self.unparseable: list[tuple[str, str]] = []

    def record(
        self, name: str, value: float, *, step: int | None = None, time: float | None = None
    ) -> None:
        super().record(name, value, step=step, time=time)
        self.observations.append((name, value, step, time))

    def record_unparseable(self, line: str, *, source: str) -> None:
        super().record_unparseable(line, source=source)
        self.unparseable.append((source, line))

    def values(self) -> list[tuple[str, float, int | None]]:
        return [(name, value, step) for name, value, step, _ in self.observations]


def wait_for(condition: Callable[[], bool], deadline: float = DEADLINE) -> None:
    """Poll ``condition`` until it holds; fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.02)


def stdout_collector_argv(
    script: str, *options: str, metrics: Sequence[str] = ("accuracy", "loss")
) -> list[str]:
    """``python -m tuner.collectors stdout --metric ... OPTIONS -- python -c script``."""
    return [
        sys.executable,
        "-m",
        "tuner.collectors",
        "stdout",
        *(f"--metric={name}" for name in metrics),
        *options,
        "--",
        sys.executable,
        "-c",
        textwrap.dedent(script),
    ]


def run_collector(
    kind: str,
    *options: str,
    script: str,
    env: Mapping[str, str],
    cwd: Path,
    args: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """``python -m tuner.collectors KIND OPTIONS -- python -c SCRIPT ARGS``, to its end."""
    argv = [sys.executable, "-m", "tuner.collectors", kind, *options, "--"]
    argv += [sys.executable, "-c", script, *args]
    return subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=DEADLINE, check=False
    )
