"""What the controller tells its watchers: progress while running, a result at the end."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tuner.trial import Trial

__all__ = ["ExperimentEnd", "ExperimentOutcome", "ExperimentResult", "Progress"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    """A snapshot of an experiment's trial counts and its best trial so far."""

    study_name: str
    succeeded: int = 0
    failed: int = 0
    infeasible: int = 0
    early_stopped: int = 0
    running: int = 0
    best_trial: Trial | None = None

    @property
    def finished(self) -> int:
        """Trials in any final state; what ``maxTrialCount`` counts."""
        return self.succeeded + self.failed + self.infeasible + self.early_stopped


class ExperimentOutcome(enum.Enum):
    """How a controller run ended."""

    SUCCEEDED = "Succeeded"
    """The budget is spent, the goal is reached or the algorithm has nothing left."""
    FAILED = "Failed"
    """More trials failed than ``maxFailedTrialCount`` allows."""
    INTERRUPTED = "Interrupted"
    """Stopped from outside (Ctrl-C); running it again resumes where it stopped."""


class ExperimentEnd(enum.Enum):
    """Which rule ended a controller run (the outcome says whether that is good)."""

    GOAL_REACHED = "GoalReached"
    MAX_TRIALS_REACHED = "MaxTrialsReached"
    SUGGESTION_END_REACHED = "SuggestionEndReached"
    """The algorithm has nothing left to suggest (a finished grid)."""
    MAX_FAILED_TRIALS_REACHED = "MaxFailedTrialsReached"
    INTERRUPTED = "Interrupted"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExperimentResult:
    """The end of a controller run: outcome, why, and the final counts."""

    outcome: ExperimentOutcome
    reason: str
    progress: Progress
    end: ExperimentEnd = ExperimentEnd.INTERRUPTED
    """The rule that ended it, for code (``reason`` says the same for people)."""
