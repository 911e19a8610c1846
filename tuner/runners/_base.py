"""The runner interface: launch, poll, stop and adopt trials."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tuner.trial import Trial

__all__ = ["RunPhase", "RunStatus", "Runner"]


class RunPhase(enum.Enum):
    """Where a launched trial's process (or Job) is."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    """Exited 0 (a Job: its ``Complete`` condition)."""
    FAILED = "FAILED"
    """Exited non-zero, was killed, or vanished."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStatus:
    """What ``Runner.poll`` reports."""

    phase: RunPhase
    reason: str = ""
    """For ``FAILED``: why, in words a user can act on (exit code, signal, last output)."""
    exit_code: int | None = None


class Runner(Protocol):
    """Runs trials somewhere: local processes, Kubernetes Jobs.

    Runners never parse metrics: whatever collects them reports to the service on its own,
    and has delivered everything by the time ``poll`` reports the trial finished.
    """

    def launch(self, trial: Trial) -> None:
        """Start running ``trial``; returns once it is started."""
        ...

    def poll(self, trial_id: int) -> RunStatus:
        """The phase of a launched or adopted trial; ``NotFoundError`` for one it never had."""
        ...

    def stop(self, trial_id: int) -> None:
        """Stop a trial (no-op if it has finished); afterwards ``poll`` reports it finished."""
        ...

    def adopt(self, trial: Trial) -> bool:
        """Take over a trial launched before a restart; False if it is not running anywhere."""
        ...

    def release(self, trial_id: int) -> None:
        """Forget a finished trial and free what it held."""
        ...

    def close(self) -> None:
        """Stop every trial still running and free all resources."""
        ...
