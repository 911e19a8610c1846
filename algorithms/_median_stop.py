"""The median stopping rule (Google Vizier's), computing a true median."""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING

from tuner.algorithms._stopping import EarlyStopper
from tuner.config import Direction
from tuner.trial import StopDecision, TrialState

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tuner.algorithms._stopping_settings import MedianStopSettings
    from tuner.config import StudyConfig
    from tuner.trial import Trial

__all__ = ["MedianStopper"]

_UNTRUSTED = frozenset({TrialState.REQUESTED, TrialState.FAILED, TrialState.INFEASIBLE})
"""Trials whose curves do not count: not started, crashed, or infeasible."""


def _values(trial: Trial, metric: str) -> list[tuple[int, float]]:
    """The (step, value) pairs of ``metric`` in the trial's intermediate measurements."""
    return [(m.step, m.metrics[metric]) for m in trial.measurements if metric in m.metrics]


class MedianStopper(EarlyStopper):
    """Stops a trial whose best value so far is worse than the median of the others' averages.

    Exactly what is compared, for a trial whose latest measurement of the objective metric
    is at step ``t``:

    - Nothing happens before ``t >= start_step``.
    - Another trial *reached step s* when it has a measurement of the metric at a step
      ``>= s``; it counts if it is running, stopping, or finished as succeeded or
      early-stopped (failed, infeasible and queued trials do not). Its *running average up
      to step s* is the mean of its values at steps ``<= s``.
    - The trial is judged at the comparison step ``s``: the latest step ``<= t`` (and
      ``>= start_step``) that at least ``min_trials_required`` other trials reached. So a
      trial that is ahead of every other one is judged where they can still be compared
      with it, and the decision does not depend on how often anyone asks.
    - Its *best value so far* is the best (smallest when minimising, largest when
      maximising) of all its values (up to step ``t``; when ``s < t`` its later values
      count in its favour, so a trial that has caught up is never stopped). It stops when
      that is strictly worse than the median (:func:`statistics.median`: a true median,
      not Katib's mean) of the others' running averages up to step ``s``.

    NaN values are ignored everywhere; a trial with no value but NaN is not judged, and an
    average that is NaN (``inf`` and ``-inf`` together) is left out.

    Args:
        config: The study config; the objective's metric and direction are used.
        settings: ``min_trials_required`` and ``start_step``.

    Examples:
        >>> from tuner.algorithms import MedianStopSettings
        >>> from tuner.config import Objective, StudyConfig
        >>> from tuner.space import DoubleParameter, SearchSpace
        >>> from tuner.trial import Measurement, Trial
        >>> def trial(id, losses):
        ...     return Trial(id=id, study_name="s", number=id, parameters={}, measurements=tuple(
        ...         Measurement(step=step, metrics={"loss": v}) for step, v in enumerate(losses)))
        >>> stopper = MedianStopper(
        ...     StudyConfig(space=SearchSpace((DoubleParameter(name="x", low=0, high=1),)),
        ...                 objective=Objective(metric_name="loss")),
        ...     MedianStopSettings(min_trials_required=2, start_step=2),
        ... )
        >>> others = [trial(1, [3.0, 2.0, 1.0]), trial(2, [4.0, 3.0, 2.0])]
        >>> stopper.should_stop(trial(3, [9.0, 8.0, 7.0]), others).should_stop
        True
        >>> stopper.should_stop(trial(4, [3.0, 2.0, 1.5]), others).should_stop
        False
    """

    def __init__(self, config: StudyConfig, settings: MedianStopSettings) -> None:
        self._objective = config.objective
        self._settings = settings

    def should_stop(self, trial: Trial, others: Sequence[Trial]) -> StopDecision:
        """Whether ``trial``'s best value so far is worse than the others' median (see above)."""
        metric = self._objective.metric_name
        values = _values(trial, metric)
        if not values:
            return StopDecision(should_stop=False, reason=f"no value of {metric!r} yet")
        latest = max(s for s, _ in values)
        start = self._settings.start_step
        if latest < start:
            return StopDecision(
                should_stop=False, reason=f"at step {latest}, before start_step {start}"
            )
        curves = [
            curve
            for other in others
            if other.id != trial.id and other.state not in _UNTRUSTED
            if (curve := _values(other, metric))
        ]
        reached = {max(s for s, _ in curve) for curve in curves}
        candidates = sorted({latest} | {s for s in reached if start <= s < latest}, reverse=True)
        needed = self._settings.min_trials_required
        for step in candidates:
            averages = _running_averages(curves, step)
            if len(averages) >= needed:
                break
        else:
            return StopDecision(
                should_stop=False,
                reason=f"{len(averages)} other trials reached step {step}; "
                f"min_trials_required is {needed}",
            )
        finite = [v for _, v in values if not math.isnan(v)]
        if not finite:
            return StopDecision(should_stop=False, reason=f"every value of {metric!r} is NaN")
        best = max(finite) if self._objective.direction is Direction.MAXIMIZE else min(finite)
        median = statistics.median(averages)
        compared = (
            f"best {metric} so far {best:g} at step {latest}, median {median:g} of the "
            f"running averages of {metric} up to step {step} of {len(averages)} other trials"
        )
        if self._objective.is_better(median, best):
            return StopDecision(should_stop=True, reason=f"worse than the median: {compared}")
        return StopDecision(should_stop=False, reason=f"not worse than the median: {compared}")


def _running_averages(curves: Sequence[list[tuple[int, float]]], step: int) -> list[float]:
    """The running averages up to ``step`` of the curves that reached it (NaN left out)."""
    averages = []
    for curve in curves:
        if not any(s >= step for s, _ in curve):
            continue
        so_far = [v for s, v in curve if s <= step and not math.isnan(v)]
        if not so_far:
            continue
        average = sum(so_far) / len(so_far)
        if not math.isnan(average):
            averages.append(average)
    return averages
