"""The controller: runs an experiment's trials to the end of its budget."""

from __future__ import annotations

from tuner.controller._controller import Controller
from tuner.controller._progress import (
    ExperimentEnd,
    ExperimentOutcome,
    ExperimentResult,
    Progress,
)

__all__ = ["Controller", "ExperimentEnd", "ExperimentOutcome", "ExperimentResult", "Progress"]
