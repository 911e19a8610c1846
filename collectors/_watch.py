"""Run a trial's command while a source reads its metrics elsewhere: a file, a directory, a URL."""

from __future__ import annotations

import logging
import os
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from tuner.collectors._reporter import MeasurementReporter
from tuner.collectors._supervise import (
    DEFAULT_FLUSH_TIMEOUT,
    SignalForwarder,
    close_backend,
    connect,
    exit_code_of,
    log_summary,
    start_command,
)
from tuner.errors import InvalidArgumentError

__all__ = ["MetricSink", "MetricSource", "run_watching_collector"]

logger = logging.getLogger(__name__)


class MetricSink:
    """Where a source puts what it reads: the reporter, if there is one, and counts.

    Args:
        reporter: Where observations go; None counts them only (no service to report to).
    """

    def __init__(self, reporter: MeasurementReporter | None) -> None:
        self._reporter = reporter
        self.counts: Counter[str] = Counter()
        """Observations recorded, per metric."""
        self.n_unparseable = 0
        """Lines or records that could not be read."""
        self.unparseable_examples: list[str] = []
        """The first few of those, each with its source."""

    def record(
        self, name: str, value: float, *, step: int | None = None, time: float | None = None
    ) -> None:
        """Record one observation (see :meth:`MeasurementReporter.record`)."""
        self.counts[name] += 1
        if self._reporter is not None:
            self._reporter.record(name, value, step=step, time=time)

    def record_unparseable(self, line: str, *, source: str) -> None:
        """Count a line or record of ``source`` that held a metric but could not be read."""
        self.n_unparseable += 1
        if len(self.unparseable_examples) < 5:
            self.unparseable_examples.append(f"{source}: {line.strip()[:200]!r}")
        if self._reporter is not None:
            self._reporter.record_unparseable(line, source=source)


class MetricSource(Protocol):
    """Reads a trial's metrics from somewhere other than its output, a bit at a time."""

    @property
    def description(self) -> str:
        """What is read, for messages: ``the file /logs/metrics.log``."""
        ...

    @property
    def expectation(self) -> str:
        """What the source expected to find, for the warning about metrics never seen."""
        ...

    def poll(self, sink: MetricSink) -> None:
        """Read what is new since the last call and record it; called while the trial runs."""
        ...

    def drain(self, sink: MetricSink) -> None:
        """Read everything left, once the trial has exited."""
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...


def run_watching_collector(
    command: Sequence[str],
    source: MetricSource,
    *,
    metric_names: Iterable[str],
    interval: float,
    environ: Mapping[str, str] | None = None,
    flush_timeout: float = DEFAULT_FLUSH_TIMEOUT,
    exit_with_parent: bool = False,
) -> int:
    """Run ``command`` while ``source`` is polled every ``interval`` seconds; the main thread only.

    The command keeps this process's stdout and stderr (its output goes where this
    process's goes), working directory and environment (plus ``PYTHONUNBUFFERED=1``
    unless set). Signals, reporting and the exit code are as for
    :func:`~tuner.collectors.run_stdout_collector`: values go to the trial
    ``TUNER_TRIAL_ID`` at ``TUNER_SERVICE_ENDPOINT``. After the command exits, the source
    is drained once more, so what the trial wrote last is not lost.

    Args:
        command: The command and its arguments.
        source: Where the metrics are read.
        metric_names: The metrics collected, for the summary of what was found.
        interval: Seconds between two polls of ``source``.
        environ: The environment to read and pass on; None means ``os.environ``.
        flush_timeout: Most seconds to spend delivering the last measurements.
        exit_with_parent: Stop the command when this process's parent dies.

    Returns:
        The command's exit code; 128 + N when signal N killed it; 127 when it was not
        found and 126 when it could not be executed.

    Raises:
        InvalidArgumentError: An empty command, an interval <= 0, or an endpoint
            without a valid trial id.
    """
    command = tuple(command)
    names = frozenset(metric_names)
    if not command:
        raise InvalidArgumentError("the command is empty", field="command")
    if not interval > 0:
        raise InvalidArgumentError(f"must be > 0, got {interval}", field="interval")
    env = dict(os.environ if environ is None else environ)
    backend, trial_id = connect(env)
    reporter = None if backend is None else MeasurementReporter(backend, trial_id)
    sink = MetricSink(reporter)
    child_env = {**env}
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    started = False
    delivered = True
    exit_code: int | None = None
    try:
        with SignalForwarder() as forwarder:
            try:
                exit_code, started = _run(
                    command, child_env, source, sink, forwarder, interval, exit_with_parent
                )
                return exit_code
            finally:
                source.close()
                if reporter is not None:
                    delivered = reporter.close(flush_timeout)
                    if started and exit_code == 0:
                        reporter.fail_if_objective_missing(
                            where=source.description, expectation=source.expectation
                        )
                close_backend(backend)
    finally:
        if started:
            _log_summary(names, source, sink, reporter, delivered)


def _run(
    command: tuple[str, ...],
    env: Mapping[str, str],
    source: MetricSource,
    sink: MetricSink,
    forwarder: SignalForwarder,
    interval: float,
    exit_with_parent: bool,
) -> tuple[int, bool]:
    """Run the command to its end while polling ``source``: its exit code, whether it ran."""
    process = start_command(command, env, forwarder, exit_with_parent=exit_with_parent)
    if isinstance(process, int):
        return process, False
    returncode = _watch(process, source, sink, interval)
    return exit_code_of(returncode), True


def _watch(
    process: subprocess.Popen[bytes], source: MetricSource, sink: MetricSink, interval: float
) -> int:
    """Poll ``source`` until the process exits, then drain it; the process's return code."""
    exited = threading.Event()
    problems: set[str] = set()

    def poll_until_exit() -> None:
        while not exited.is_set():
            _guarded(source.poll, sink, problems)
            exited.wait(interval)

    poller = threading.Thread(target=poll_until_exit, name="tuner-collector-poller", daemon=True)
    poller.start()
    try:
        returncode = process.wait()
    finally:
        exited.set()
        poller.join()
    _guarded(source.drain, sink, problems)
    return returncode


def _guarded(read: Callable[[MetricSink], None], sink: MetricSink, problems: set[str]) -> None:
    """Call ``read(sink)``; log an error the first time it happens, never raise it."""
    try:
        read(sink)
    except Exception as error:
        message = f"{type(error).__name__}: {error}"
        if message not in problems:
            problems.add(message)
            logger.warning("cannot read the metrics: %s", message, exc_info=True)


def _log_summary(
    names: frozenset[str],
    source: MetricSource,
    sink: MetricSink,
    reporter: MeasurementReporter | None,
    delivered: bool,
) -> None:
    skipped = None
    if sink.n_unparseable:
        examples = "; ".join(sink.unparseable_examples)
        skipped = (
            f"{sink.n_unparseable} lines or records could not be read and were skipped, "
            f"e.g. {examples}"
        )
    log_summary(
        where=source.description,
        counts=sink.counts,
        metric_names=names,
        expectation=source.expectation,
        reporter=reporter,
        delivered=delivered,
        skipped=skipped,
    )
