"""The StdOut collector: run a trial's command, copy its output, report its metric lines."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import BinaryIO

from tuner.collectors._parse import DEFAULT_FORMAT, MetricLineParser
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

__all__ = ["run_stdout_collector", "wrap_with_stdout_collector"]

logger = logging.getLogger(__name__)

_CHUNK_SIZE = 64 * 1024
_MAX_LINE = 1024 * 1024
"""A line longer than this is read in pieces, so a stream without line ends cannot fill memory."""
_DRAIN_TIMEOUT = 5.0
"""Seconds to keep reading after the command exits, while its descendants hold the output open."""


def wrap_with_stdout_collector(
    argv: Sequence[str],
    *,
    metric_names: Iterable[str],
    formats: Iterable[str] = (),
    json_lines: bool = False,
    exit_with_parent: bool = False,
) -> tuple[str, ...]:
    """The command line that runs ``argv`` under the StdOut collector of this interpreter.

    Args:
        argv: The trial's command and its arguments.
        metric_names: The metrics to collect.
        formats: Metric line formats (Katib's ``metricsFormat``); empty means
            :data:`~tuner.collectors.DEFAULT_FORMAT`.
        json_lines: Read each line as a JSON object instead; excludes ``formats``.
        exit_with_parent: Stop the command when the process that started the collector
            dies (a local runner's controller), so the trial does not run on unobserved.

    Returns:
        ``(sys.executable, "-m", "tuner.collectors", "stdout", ..., "--", *argv)``.

    Raises:
        InvalidArgumentError: ``argv`` or ``metric_names`` is empty, a format is not a
            regular expression with two groups, or both ``formats`` and ``json_lines``.

    Examples:
        >>> wrap_with_stdout_collector(["python", "train.py"], metric_names=["loss"])[1:]
        ('-m', 'tuner.collectors', 'stdout', '--metric=loss', '--', 'python', 'train.py')
    """
    argv = tuple(argv)
    names = tuple(metric_names)
    formats = tuple(formats)
    if not argv:
        raise InvalidArgumentError("the command is empty", field="argv")
    if formats and json_lines:
        raise InvalidArgumentError("formats and json_lines exclude each other", field="formats")
    MetricLineParser(names, formats or (DEFAULT_FORMAT,), json_lines)  # fail here, not later
    options = [f"--metric={name}" for name in names]
    options += [f"--format={regex}" for regex in formats]
    if json_lines:
        options.append("--json")
    if exit_with_parent:
        options.append("--exit-with-parent")
    return (sys.executable, "-m", "tuner.collectors", "stdout", *options, "--", *argv)


def run_stdout_collector(
    command: Sequence[str],
    *,
    metric_names: Iterable[str],
    formats: Iterable[str] = (),
    json_lines: bool = False,
    environ: Mapping[str, str] | None = None,
    flush_timeout: float = DEFAULT_FLUSH_TIMEOUT,
    exit_with_parent: bool = False,
) -> int:
    """Run ``command``, copy its output to stdout, report its metrics; the main thread only.

    The command runs in this process's group, with this environment plus
    ``PYTHONUNBUFFERED=1`` (unless set), so a Python trial's lines arrive as printed. Its
    stdout and stderr both go through this process's stdout, byte for byte. SIGTERM and
    SIGINT are forwarded to it, so it gets them where only this process is signalled (a
    container runtime signals PID 1), except a SIGINT while this process group is a
    terminal's foreground (Ctrl-C reached the command already). A signal sent to the
    whole group (``LocalRunner.stop``) reaches the command twice, directly and forwarded;
    a handler that acts once (sets a flag, or ignores further signals) sees no difference.

    Every value of ``metric_names`` is reported for the trial ``TUNER_TRIAL_ID`` to the
    service at ``TUNER_SERVICE_ENDPOINT`` (with the bearer token ``TUNER_SERVICE_TOKEN``, if
    set); without an endpoint the lines are only parsed and counted. All measurements are
    delivered (or given up on, after ``flush_timeout``) before it returns.

    Args:
        command: The command and its arguments.
        metric_names: The metrics to collect.
        formats: Metric line formats; empty means the default ``name=value`` pairs.
        json_lines: Read each line as a JSON object instead.
        environ: The environment to read and pass on; None means ``os.environ``.
        flush_timeout: Most seconds to spend delivering the last measurements once the
            command has exited, while the service is unavailable.
        exit_with_parent: Stop the command (SIGTERM, then SIGKILL) when this process's
            parent dies.

    Returns:
        The command's exit code; 128 + N when signal N killed it; 127 when it was not
        found and 126 when it could not be executed.

    Raises:
        InvalidArgumentError: A bad format, or an endpoint without a valid trial id.
    """
    command = tuple(command)
    if not command:
        raise InvalidArgumentError("the command is empty", field="command")
    env = dict(os.environ if environ is None else environ)
    parser = MetricLineParser(metric_names, tuple(formats) or (DEFAULT_FORMAT,), json_lines)
    backend, trial_id = connect(env)
    reporter = None if backend is None else MeasurementReporter(backend, trial_id)
    child_env = {**env}
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    pump = _OutputPump(parser, reporter)
    # The handlers stay through the last deliveries: a SIGTERM then must not cut them short
    # (forwarding it to the ended command does nothing; a runner's SIGKILL still ends all).
    with SignalForwarder() as forwarder:
        exit_code = None
        try:
            exit_code = _run_command(command, child_env, pump, forwarder, exit_with_parent)
        finally:
            delivered = True
            if reporter is not None:
                delivered = reporter.close(flush_timeout)
                if exit_code == 0:
                    reporter.fail_if_objective_missing(
                        where="the trial's output (stdout and stderr)",
                        expectation=_expectation(parser),
                    )
            close_backend(backend)
    if pump.is_started:
        _log_summary(parser, pump, reporter, delivered)
    return exit_code


def _run_command(
    command: tuple[str, ...],
    env: Mapping[str, str],
    pump: _OutputPump,
    forwarder: SignalForwarder,
    exit_with_parent: bool,
) -> int:
    """Run the command to its end with its output through ``pump``; its exit code."""
    process = start_command(
        command, env, forwarder, exit_with_parent=exit_with_parent, capture_output=True
    )
    if isinstance(process, int):
        return process
    assert process.stdout is not None
    reader = threading.Thread(
        target=pump.run, args=(process.stdout,), name="tuner-collector-reader", daemon=True
    )
    reader.start()
    returncode = process.wait()
    reader.join(_DRAIN_TIMEOUT)
    if reader.is_alive():
        logger.warning(
            "the command exited but its output is still open (a process it started holds "
            "it); stopped reading after %g s",
            _DRAIN_TIMEOUT,
        )
        pump.stop()
    return exit_code_of(returncode)


class _OutputPump:
    """Copies the command's output to stdout and feeds its lines to the parser."""

    def __init__(self, parser: MetricLineParser, reporter: MeasurementReporter | None) -> None:
        self._parser = parser
        self._reporter = reporter
        self._sink: BinaryIO | None = getattr(sys.stdout, "buffer", None)
        self._stopped = threading.Event()
        self.is_started = False
        self.counts: Counter[str] = Counter()

    def stop(self) -> None:
        """Stop handing lines to the parser and the reporter (the reporter is closing)."""
        self._stopped.set()

    def run(self, source: BinaryIO) -> None:
        self.is_started = True
        fd = source.fileno()
        partial = b""
        while True:
            chunk = os.read(fd, _CHUNK_SIZE)
            if not chunk:
                break
            self._copy(chunk)
            lines = (partial + chunk).splitlines(keepends=True)
            partial = b"" if lines[-1].endswith((b"\n", b"\r")) else lines.pop()
            if len(partial) > _MAX_LINE:
                lines.append(partial)
                partial = b""
            for line in lines:
                self._handle(line)
        if partial:
            self._handle(partial)
        source.close()

    def _copy(self, chunk: bytes) -> None:
        if self._sink is None:
            return
        try:
            self._sink.write(chunk)
            self._sink.flush()
        except (OSError, ValueError) as error:
            logger.warning("cannot write to stdout any more (%s); still reading metrics", error)
            self._sink = None

    def _handle(self, line: bytes) -> None:
        if self._stopped.is_set():
            return
        try:
            text = line.decode("utf-8", errors="replace")
            n_unparseable = self._parser.n_unparseable
            observations = self._parser.parse(text)
            for name, value, step, observed_at in observations:
                self.counts[name] += 1
                if self._reporter is not None:
                    self._reporter.record(name, value, step=step, time=observed_at)
            if self._reporter is not None and self._parser.n_unparseable > n_unparseable:
                self._reporter.record_unparseable(text, source="stdout")
        except Exception:
            logger.exception("cannot handle an output line: %r", line[:200])


def _expectation(parser: MetricLineParser) -> str:
    if parser.is_json_lines:
        return "JSON objects with those keys, one per line"
    return "lines matching the metrics format (by default name=value pairs)"


def _log_summary(
    parser: MetricLineParser,
    pump: _OutputPump,
    reporter: MeasurementReporter | None,
    delivered: bool,
) -> None:
    skipped = None
    if parser.n_unparseable:
        examples = ", ".join(f"{v.name}={v.text!r}" for v in parser.unparseable_examples)
        skipped = (
            f"{parser.n_unparseable} values were not numbers and were skipped, e.g. {examples}"
        )
    log_summary(
        where="the output",
        counts=pump.counts,
        metric_names=parser.metric_names,
        expectation=_expectation(parser),
        reporter=reporter,
        delivered=delivered,
        skipped=skipped,
    )
