"""Reducing intermediate measurements to a final one."""

from __future__ import annotations

import math

from tuner.config import Direction, MetricStrategy, Objective
from tuner.service import reduce_measurements
from tuner.trial import Measurement


def _history(*values: float) -> list[Measurement]:
    return [Measurement(step=i, time=float(i), metrics={"m": v}) for i, v in enumerate(values)]


def _final(strategy: MetricStrategy, *values: float) -> float:
    objective = Objective(metric_name="m", metric_strategies={"m": strategy})
    final = reduce_measurements(_history(*values), objective)
    assert final is not None
    return final.metrics["m"]


def test_no_measurements_reduce_to_none() -> None:
    assert reduce_measurements([], Objective(metric_name="m")) is None


def test_min_and_max_skip_nan_unless_all_are_nan() -> None:
    assert _final(MetricStrategy.MIN, 3.0, math.nan, 1.0, 2.0) == 1.0
    assert _final(MetricStrategy.MAX, 3.0, math.nan, 1.0, 2.0) == 3.0
    assert math.isnan(_final(MetricStrategy.MIN, math.nan, math.nan))
    assert _final(MetricStrategy.MAX, -math.inf, math.nan) == -math.inf


def test_latest_takes_the_last_value_as_it_is() -> None:
    assert _final(MetricStrategy.LATEST, 1.0, 2.0) == 2.0
    assert math.isnan(_final(MetricStrategy.LATEST, 1.0, math.nan))


def test_defaults_follow_the_direction_and_other_metrics_take_the_latest() -> None:
    objective = Objective(metric_name="acc", direction=Direction.MAXIMIZE)
    history = [
        Measurement(step=1, time=10.0, metrics={"acc": 0.9, "lr": 0.1}),
        Measurement(step=5, time=20.0, metrics={"acc": 0.7}),
    ]
    final = reduce_measurements(history, objective)
    assert final == Measurement(step=5, time=20.0, metrics={"acc": 0.9, "lr": 0.1})
