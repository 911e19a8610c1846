"""Trials, their states and their measurements."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass

from tuner.errors import InvalidArgumentError
from tuner.space import ParameterValue

__all__ = ["Measurement", "StopDecision", "Trial", "TrialState"]


class TrialState(enum.Enum):
    """Where a trial is in its life.

    ``REQUESTED`` trials were queued by a user and wait to be handed out; a suggestion
    makes a trial ``ACTIVE``; ``STOPPING`` asks whoever runs it to stop early. The other
    four are final.
    """

    REQUESTED = "REQUESTED"
    ACTIVE = "ACTIVE"
    STOPPING = "STOPPING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    INFEASIBLE = "INFEASIBLE"
    EARLY_STOPPED = "EARLY_STOPPED"

    @property
    def is_finished(self) -> bool:
        """Whether the state is final: the trial will not change again."""
        return self in _FINISHED

    @property
    def is_active(self) -> bool:
        """Whether the trial is handed out and not finished (``ACTIVE`` or ``STOPPING``)."""
        return self in (TrialState.ACTIVE, TrialState.STOPPING)


_FINISHED = frozenset(
    {TrialState.SUCCEEDED, TrialState.FAILED, TrialState.INFEASIBLE, TrialState.EARLY_STOPPED}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """Metric values observed at one step of a trial.

    Values may be NaN or infinite: they are kept as reported.

    Examples:
        >>> Measurement(step=3, metrics={"loss": 0.25}).metrics["loss"]
        0.25
    """

    metrics: Mapping[str, float]
    step: int = 0
    time: float = 0.0
    """Seconds since the epoch when the values were observed; 0 when unknown."""

    def __post_init__(self) -> None:
        if not isinstance(self.step, int) or isinstance(self.step, bool) or self.step < 0:
            raise InvalidArgumentError(
                f"step must be an integer >= 0, got {self.step!r}", field="step"
            )
        metrics = dict(self.metrics)
        for name, value in metrics.items():
            if not name:
                raise InvalidArgumentError("metric names must not be empty", field="metrics")
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise InvalidArgumentError(
                    f"metric value must be a number, got {value!r}", field=f"metrics.{name}"
                )
            metrics[name] = float(value)
        object.__setattr__(self, "metrics", metrics)


@dataclass(frozen=True, slots=True, kw_only=True)
class Trial:
    """One evaluation of one parameter assignment, as the store holds it."""

    id: int
    """Unique across the store; what ``TUNER_TRIAL_ID`` carries."""
    study_name: str
    number: int
    """0, 1, 2, ... in the order the study created its trials."""
    parameters: Mapping[str, ParameterValue]
    state: TrialState = TrialState.ACTIVE
    client_id: str = ""
    measurements: tuple[Measurement, ...] = ()
    """Intermediate measurements, in the order they were reported."""
    final_measurement: Measurement | None = None
    reason: str = ""
    """Why the trial failed, was infeasible or was stopped; empty otherwise."""
    created_at: float = 0.0
    completed_at: float | None = None

    def objective_value(self, metric_name: str) -> float | None:
        """The final value of ``metric_name``, or None when there is no final measurement."""
        if self.final_measurement is None:
            return None
        return self.final_measurement.metrics.get(metric_name)

    def has_finite_objective(self, metric_name: str) -> bool:
        """Whether the final value of ``metric_name`` exists and is finite."""
        value = self.objective_value(metric_name)
        return value is not None and math.isfinite(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class StopDecision:
    """Whether a running trial should stop early, and why.

    Examples:
        >>> StopDecision(should_stop=False, reason="the study has no early stopping")
        StopDecision(should_stop=False, reason='the study has no early stopping')
    """

    should_stop: bool
    reason: str = ""
    """What was compared (for a stop) or why no decision was made; for users to read."""
