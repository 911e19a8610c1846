"""Run trials as local processes."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tuner.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from tuner.runners._base import RunPhase, RunStatus

if TYPE_CHECKING:
    from tuner.trial import Trial

__all__ = ["LocalRunner", "ProcessCommand"]

logger = logging.getLogger(__name__)

_PYTHON_NAMES = frozenset({"python", "python3"})
_TAIL_LINES = 5
_TAIL_BYTES = 8 * 1024
_MAX_TAIL_LINE = 300
_ANSI_RE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_UNSAFE_FILE_CHARS = re.compile(r"[^\w.-]")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessCommand:
    """How to start one trial's process.

    Examples:
        >>> ProcessCommand(argv=("python", "train.py"), env={"LR": "0.1"}).env["LR"]
        '0.1'
    """

    argv: tuple[str, ...]
    """The program and its arguments; a bare program name is looked up on ``PATH``."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Variables added to the runner's environment (the container's ``env``)."""
    cwd: str | None = None
    """The working directory; None means the runner's."""

    def __post_init__(self) -> None:
        argv = tuple(self.argv)
        if not argv or not all(isinstance(arg, str) for arg in argv) or not argv[0]:
            raise InvalidArgumentError(
                f"argv must be a non-empty sequence of strings, got {self.argv!r}", field="argv"
            )
        env = dict(self.env)
        for name, value in env.items():
            if not isinstance(name, str) or not name or "=" in name or not isinstance(value, str):
                raise InvalidArgumentError(
                    f"environment variable {name!r}={value!r} is not a name and a string",
                    field="env",
                )
        object.__setattr__(self, "argv", argv)
        object.__setattr__(self, "env", env)


class _Launched:
    """A trial the runner started, or failed to start."""

    __slots__ = ("log_path", "process", "status")

    def __init__(
        self,
        log_path: Path,
        process: subprocess.Popen[bytes] | None,
        status: RunStatus | None = None,
    ) -> None:
        self.log_path = log_path
        self.process = process
        self.status = status
        """The final status, once known."""


class LocalRunner:
    """Runs each trial as a process on this machine.

    Each trial runs ``command_for(trial)`` in a session of its own, so a Ctrl-C in the
    terminal reaches only the controller, which then stops the trials. The environment is
    this process's, plus the command's ``env``, plus ``TUNER_TRIAL_ID``,
    ``TUNER_STUDY_NAME`` and ``TUNER_SERVICE_ENDPOINT``. Its stdout and stderr go to
    ``log_dir/<study>/trial-<number>-<id>.log``, appended to when a trial is launched again.

    Trials use this interpreter: a leading ``python`` or ``python3`` in ``argv`` becomes
    :data:`sys.executable`, and when this interpreter runs in a virtual environment, its
    ``bin`` directory comes first on the trial's ``PATH`` (as ``activate`` does, unless
    the command sets ``PATH`` itself), so ``python`` in a wrapped command or a script finds
    it too.

    ``stop`` sends SIGTERM to the trial's process group, and SIGKILL after
    ``grace_period`` seconds. A command that cannot be started (a missing program, a bad
    working directory) is a trial that failed at once, with the error as its reason.
    Processes cannot outlive a controller and be taken over: :meth:`adopt` returns False
    and the controller launches such trials again.

    Args:
        command_for: Builds the command of a trial (from its parameters).
        log_dir: Where the trials' logs go; created when needed.
        service_endpoint: ``host:port`` of the service, for ``TUNER_SERVICE_ENDPOINT``.
        grace_period: Seconds between SIGTERM and SIGKILL when stopping a trial.
    """

    def __init__(
        self,
        *,
        command_for: Callable[[Trial], ProcessCommand],
        log_dir: Path,
        service_endpoint: str,
        grace_period: float = 10.0,
    ) -> None:
        if grace_period < 0:
            raise InvalidArgumentError(f"must be >= 0, got {grace_period}", field="grace_period")
        self._command_for = command_for
        self._log_dir = Path(log_dir)
        self._service_endpoint = service_endpoint
        self._grace_period = grace_period
        self._trials: dict[int, _Launched] = {}
        self._lock = threading.Lock()

    def log_path(self, trial: Trial) -> Path:
        """Where the output of ``trial`` goes."""
        study = _UNSAFE_FILE_CHARS.sub("_", trial.study_name).lstrip(".") or "_"
        return self._log_dir / study / f"trial-{trial.number}-{trial.id}.log"

    def launch(self, trial: Trial) -> None:
        """Start ``trial``'s process; a command that cannot start makes it FAILED at once.

        Raises:
            FailedPreconditionError: The trial is launched already and not released.
            Exception: Whatever ``command_for`` raises; nothing is started then.
        """
        with self._lock:
            if trial.id in self._trials:
                raise FailedPreconditionError(f"trial {trial.id} is launched already")
        command = self._command_for(trial)
        argv = list(command.argv)
        if argv[0] in _PYTHON_NAMES:
            argv[0] = sys.executable
        env = self._environment(trial, command)
        log_path = self.log_path(trial)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            try:
                process = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=command.cwd,
                    start_new_session=True,
                )
            except OSError as error:
                reason = f"cannot start {argv[0]!r}: {error.strerror or error}"
                if command.cwd is not None and not os.path.isdir(command.cwd):
                    reason = f"cannot start {argv[0]!r} in {command.cwd!r}: {error.strerror}"
                log.write(f"tuner: {reason}\n".encode())
                logger.warning("study %s: trial %d: %s", trial.study_name, trial.id, reason)
                launched = _Launched(
                    log_path, None, RunStatus(phase=RunPhase.FAILED, reason=reason)
                )
            else:
                logger.debug(
                    "study %s: trial %d started as pid %d: %s",
                    trial.study_name,
                    trial.id,
                    process.pid,
                    argv,
                )
                launched = _Launched(log_path, process)
        with self._lock:
            self._trials[trial.id] = launched

    def poll(self, trial_id: int) -> RunStatus:
        """The phase of a launched trial.

        Raises:
            NotFoundError: The trial was never launched, or was released.
        """
        launched = self._get(trial_id)
        if launched.status is not None:
            return launched.status
        assert launched.process is not None
        returncode = launched.process.poll()
        if returncode is None:
            return RunStatus(phase=RunPhase.RUNNING)
        launched.status = _final_status(returncode, launched.log_path)
        return launched.status

    def stop(self, trial_id: int) -> None:
        """SIGTERM the trial's process group, SIGKILL it after the grace period; blocks.

        Raises:
            NotFoundError: The trial was never launched, or was released.
        """
        self._stop_all([self._get(trial_id)])

    def adopt(self, trial: Trial) -> bool:
        """Always False: a local process cannot outlive its controller and be taken over."""
        return False

    def release(self, trial_id: int) -> None:
        """Forget a trial (stopping it first if it still runs); unknown ids are ignored."""
        with self._lock:
            launched = self._trials.get(trial_id)
        if launched is None:
            return
        if launched.process is not None and launched.process.poll() is None:
            logger.warning("trial %d released while running; stopping it", trial_id)
            self._stop_all([launched])
        with self._lock:
            self._trials.pop(trial_id, None)

    def close(self) -> None:
        """Stop every trial still running, within one grace period, and forget them all."""
        with self._lock:
            launched = list(self._trials.values())
        self._stop_all(launched)
        with self._lock:
            self._trials.clear()

    # -- helpers ---------------------------------------------------------------------------

    def _get(self, trial_id: int) -> _Launched:
        with self._lock:
            launched = self._trials.get(trial_id)
        if launched is None:
            raise NotFoundError(f"trial {trial_id} was not launched by this runner")
        return launched

    def _environment(self, trial: Trial, command: ProcessCommand) -> dict[str, str]:
        env = dict(os.environ)
        if "PATH" not in command.env and sys.prefix != sys.base_prefix:
            bin_dir = os.path.dirname(sys.executable)
            path = env.get("PATH", "")
            if path.split(os.pathsep)[0] != bin_dir:
                env["PATH"] = os.pathsep.join(p for p in (bin_dir, path) if p)
        env.update(command.env)
        env["TUNER_TRIAL_ID"] = str(trial.id)
        env["TUNER_STUDY_NAME"] = trial.study_name
        env["TUNER_SERVICE_ENDPOINT"] = self._service_endpoint
        return env

    def _stop_all(self, launched: list[_Launched]) -> None:
        """SIGTERM every running process group, wait one grace period, SIGKILL the rest."""
        running = [
            x.process for x in launched if x.process is not None and x.process.poll() is None
        ]
        for process in running:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + self._grace_period
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning(
                    "pid %d did not exit %.1f s after SIGTERM; sending SIGKILL",
                    process.pid,
                    self._grace_period,
                )
                _signal_group(process, signal.SIGKILL)
                process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    """Signal the process group the trial's process leads, while the process is unreaped."""
    if process.poll() is not None:
        return  # reaped: its group id may belong to someone else by now
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def _final_status(returncode: int, log_path: Path) -> RunStatus:
    if returncode == 0:
        return RunStatus(phase=RunPhase.SUCCEEDED, exit_code=0)
    if returncode < 0:
        reason = f"killed by signal {_signal_name(-returncode)}"
        exit_code = 128 - returncode
    else:
        reason = f"exit code {returncode}"
        if 128 < returncode < 128 + signal.NSIG:
            reason += f" (128 + {_signal_name(returncode - 128)}: likely killed by that signal)"
        exit_code = returncode
    tail = _tail(log_path)
    if tail:
        reason += f"; last output:\n{tail}"
    return RunStatus(phase=RunPhase.FAILED, reason=reason, exit_code=exit_code)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _tail(log_path: Path) -> str:
    """The last few non-blank lines of a log, indented, without ANSI escape sequences."""
    try:
        with open(log_path, "rb") as log:
            log.seek(0, os.SEEK_END)
            size = log.tell()
            log.seek(max(0, size - _TAIL_BYTES))
            data = log.read()
    except OSError:
        return ""
    text = _ANSI_RE.sub("", data.decode("utf-8", errors="replace"))
    lines = [line.rstrip() for line in re.split(r"[\r\n]", text) if line.strip()]
    if size > _TAIL_BYTES and lines:
        lines = lines[1:]  # the first one is likely cut
    return "\n".join(
        "  " + (line if len(line) <= _MAX_TAIL_LINE else line[:_MAX_TAIL_LINE] + "...")
        for line in lines[-_TAIL_LINES:]
    )
