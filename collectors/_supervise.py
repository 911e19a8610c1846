"""What every wrapping collector does around the trial's command, whatever it reads.

Connecting to the service named in the environment, forwarding signals to the command,
starting it (with the shell's exit codes when it cannot start) and, at the end, logging
what was read and delivered. The StdOut collector (``_wrapper``) and the collectors that
watch a file, a directory or a URL (``_watch``) differ only in where the metrics come from.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tuner.collectors._environment import ENDPOINT_ENV, trial_and_client
from tuner.collectors._orphan import stop_when_orphaned

if TYPE_CHECKING:
    from types import FrameType

    from tuner.backend import Backend
    from tuner.collectors._reporter import MeasurementReporter

__all__ = [
    "DEFAULT_FLUSH_TIMEOUT",
    "EXIT_NOT_EXECUTABLE",
    "EXIT_NOT_FOUND",
    "SignalForwarder",
    "close_backend",
    "connect",
    "exit_code_of",
    "log_summary",
    "start_command",
]

logger = logging.getLogger(__name__)

DEFAULT_FLUSH_TIMEOUT = 60.0
"""Most seconds to spend delivering the last measurements after the command exits."""
EXIT_NOT_EXECUTABLE = 126
"""The exit code for a command that exists but cannot be executed, as shells use it."""
EXIT_NOT_FOUND = 127
"""The exit code for a command that does not exist, as shells use it."""

_Handler = Callable[[int, "FrameType | None"], Any] | int | signal.Handlers | None
_FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def connect(env: Mapping[str, str]) -> tuple[Backend | None, int]:
    """The client of the service and the trial id named in ``env``; ``(None, 0)`` without one."""
    found = trial_and_client(env)
    if found is None:
        logger.warning("%s is not set: metrics are parsed but reported nowhere", ENDPOINT_ENV)
        return None, 0
    trial_id, client = found
    logger.info("reporting metrics of trial %d to %s", trial_id, env[ENDPOINT_ENV].strip())
    return client, trial_id


def close_backend(backend: object) -> None:
    """Close the client ``connect`` made, if it has anything to close; never raise."""
    close = getattr(backend, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            logger.debug("closing the client failed", exc_info=True)


class SignalForwarder:
    """Forwards SIGTERM and SIGINT to the command; holds those that come before it starts.

    A context manager: the handlers are installed on entry and the previous ones restored
    on exit, so it must be entered in the main thread.
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        """Every signal received, in order."""
        self._held: list[int] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._previous: dict[int, _Handler] = {}

    def __enter__(self) -> SignalForwarder:
        for signum in _FORWARDED_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def attach(self, process: subprocess.Popen[bytes]) -> None:
        """Forward to ``process`` from now on, starting with the signals held so far."""
        self._process = process  # from here on, the handler forwards by itself
        while self._held:
            self._forward(self._held.pop(0))

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if self._process is None:
            self._held.append(signum)
        else:
            self._forward(signum)

    def _forward(self, signum: int) -> None:
        assert self._process is not None
        if signum == signal.SIGINT and _is_terminal_foreground():
            return  # the terminal sent it to the whole process group, the child included
        self._process.send_signal(signum)


def start_command(
    command: Sequence[str],
    env: Mapping[str, str],
    forwarder: SignalForwarder,
    *,
    exit_with_parent: bool,
    capture_output: bool = False,
) -> subprocess.Popen[bytes] | int:
    """Start ``command`` with signals forwarded to it; an exit code where it did not start.

    It does not start when a signal came first (128 + that signal), when it is not found
    (127) or when it cannot be executed (126), each logged.

    Args:
        command: The command and its arguments.
        env: Its whole environment.
        forwarder: Where the signals come from; it forwards them to the command.
        exit_with_parent: Stop the command when this process's parent dies.
        capture_output: Its stdout and stderr into one pipe (``process.stdout``) instead of
            this process's.
    """
    if forwarder.received:
        logger.warning("signalled before the command started; not starting it")
        return 128 + forwarder.received[0]
    output = subprocess.PIPE if capture_output else None
    errors = subprocess.STDOUT if capture_output else None
    try:
        process = subprocess.Popen(command, stdout=output, stderr=errors, env=env)
    except OSError as error:
        logger.error("cannot run %r: %s", command[0], error.strerror or error)
        return EXIT_NOT_FOUND if isinstance(error, FileNotFoundError) else EXIT_NOT_EXECUTABLE
    forwarder.attach(process)
    if exit_with_parent:
        stop_when_orphaned(process)
    return process


def exit_code_of(returncode: int) -> int:
    """A process's exit code as a shell gives it: 128 + N for death by signal N."""
    return returncode if returncode >= 0 else 128 - returncode


def log_summary(
    *,
    where: str,
    counts: Mapping[str, int],
    metric_names: Iterable[str],
    expectation: str,
    reporter: MeasurementReporter | None,
    delivered: bool,
    skipped: str | None,
) -> None:
    """Log what was read from ``where`` and delivered, and warn of metrics never seen.

    Args:
        where: What was read, for the messages: ``the output``, ``the file /logs/m.log``.
        counts: Values read, per metric.
        metric_names: The metrics collected.
        expectation: What was expected in ``where``, for the warning about missing metrics.
        reporter: What delivered the values; None when they were reported nowhere.
        delivered: Whether everything was delivered before the reporter closed.
        skipped: A sentence about what could not be read and was skipped, or None.
    """
    found = ", ".join(f"{name}: {counts[name]}" for name in sorted(counts)) or "none"
    if reporter is None:
        logger.info("metric values read from %s: %s (reported nowhere)", where, found)
    else:
        logger.info(
            "metric values read from %s: %s; %d measurements delivered%s",
            where,
            found,
            reporter.n_delivered,
            "" if delivered else f", {reporter.n_lost} lost, {reporter.n_spooled} spooled",
        )
    missing = sorted(set(metric_names) - set(counts))
    if missing:
        logger.warning("no value of %s in %s; expected %s", ", ".join(missing), where, expectation)
    if skipped:
        logger.warning("%s", skipped)


def _is_terminal_foreground() -> bool:
    """Whether this process group is the foreground of a terminal on stdin/stdout/stderr."""
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
    return False
