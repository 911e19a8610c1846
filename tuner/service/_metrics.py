"""Reduce a trial's intermediate measurements to its final measurement."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tuner.config import MetricStrategy
from tuner.trial import Measurement

if TYPE_CHECKING:
    from tuner.config import Objective

__all__ = ["reduce_measurements"]


def _reduce(values: Sequence[float], strategy: MetricStrategy) -> float:
    if strategy is MetricStrategy.LATEST:
        return values[-1]
    numbers = [v for v in values if not math.isnan(v)]
    if not numbers:
        return math.nan
    return min(numbers) if strategy is MetricStrategy.MIN else max(numbers)


def reduce_measurements(
    measurements: Sequence[Measurement], objective: Objective
) -> Measurement | None:
    """The final measurement of a trial that reported only intermediate ones.

    Each metric named by the objective reduces by its strategy (``min``/``max`` skip NaN
    unless every value is NaN; ``latest`` takes the last value as it is); any other metric
    takes its latest value. Step and time are those of the last measurement.

    Args:
        measurements: The intermediate measurements, in the order reported.
        objective: Gives the strategy of each metric.

    Returns:
        The final measurement, or None when there are no measurements.

    Examples:
        >>> from tuner.config import Objective
        >>> history = [Measurement(step=1, metrics={"loss": 0.5}),
        ...            Measurement(step=2, metrics={"loss": 0.7})]
        >>> reduce_measurements(history, Objective(metric_name="loss")).metrics
        {'loss': 0.5}
    """
    if not measurements:
        return None
    values: dict[str, list[float]] = {}
    for measurement in measurements:
        for name, value in measurement.metrics.items():
            values.setdefault(name, []).append(value)
    strategies = objective.metric_strategies
    metrics = {
        name: _reduce(series, strategies.get(name, MetricStrategy.LATEST))
        for name, series in values.items()
    }
    last = measurements[-1]
    return Measurement(metrics=metrics, step=last.step, time=last.time)
