"""Runners launch, poll, stop and adopt trials: local processes or Kubernetes Jobs."""

from __future__ import annotations

from tuner.runners._base import Runner, RunPhase, RunStatus

__all__ = ["RunPhase", "RunStatus", "Runner"]
