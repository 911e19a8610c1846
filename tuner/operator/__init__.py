"""The Kubernetes operator: runs each ``Experiment`` custom resource's trials as Jobs."""

from __future__ import annotations

from tuner.operator._status import (
    Condition,
    ExperimentStatus,
    OptimalTrial,
    Phase,
    Reason,
    TrialCounts,
    build_status,
    current_phase,
    optimal_trial,
)

__all__ = [
    "Condition",
    "ExperimentStatus",
    "OptimalTrial",
    "Phase",
    "Reason",
    "TrialCounts",
    "build_status",
    "current_phase",
    "optimal_trial",
]
