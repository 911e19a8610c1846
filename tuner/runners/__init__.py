"""Runners launch, poll, stop and adopt trials: local processes or Kubernetes Jobs."""

from __future__ import annotations

from tuner.runners._base import Runner, RunPhase, RunStatus
from tuner.runners._local import LocalRunner, ProcessCommand

__all__ = ["LocalRunner", "ProcessCommand", "RunPhase", "RunStatus", "Runner"]
