"""NaN and infinite objectives through the service: stored as such, NaN made INFEASIBLE, and
every registered designer keeps suggesting over such a history (the warm designer path)."""

from __future__ import annotations

import math

import pytest

from tuner.algorithms import registered_algorithms
from tuner.algorithms.testing import METRIC_NAME, required_settings, study_config
from tuner.service import ServiceCore
from tuner.space import DoubleParameter, IntParameter, SearchSpace
from tuner.store import open_store
from tuner.trial import Measurement, TrialState

SPACE = SearchSpace(
    (
        DoubleParameter(name="x", low=0.1, high=1.0, step=0.05),
        IntParameter(name="n", low=1, high=8),
    )
)
VALUES = [0.5, math.nan, math.inf, 0.25, -math.inf, math.nan, 0.75, 1.5, math.inf, 0.125]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("algorithm", registered_algorithms())
def test_every_designer_takes_nan_and_infinite_objectives(algorithm: str) -> None:
    settings = required_settings(algorithm, SPACE)
    assert settings is not None
    core = ServiceCore(open_store("sqlite://"))
    try:
        core.create_study("s", study_config(SPACE, algorithm, seed=1, settings=settings))
        finished = []
        for round_ in range(3):
            suggestions = core.suggest_trials("s", 4)
            for trial in suggestions.trials:
                value = VALUES[len(finished) % len(VALUES)]
                core.report_measurements(
                    trial.id, [Measurement(step=1, metrics={METRIC_NAME: value})]
                )
                finished.append((core.complete_trial(trial.id), value))
            if suggestions.is_exhausted or not suggestions.trials:
                break
            assert round_ < 2 or suggestions.trials
        for trial, value in finished:
            reported = trial.measurements[0].metrics[METRIC_NAME]
            if math.isnan(value):
                assert trial.state is TrialState.INFEASIBLE
                assert trial.reason == f"objective metric {METRIC_NAME!r} is NaN"
                assert math.isnan(reported)
            else:
                assert trial.state is TrialState.SUCCEEDED
                assert reported == value
        core.suggest_trials("s", 2)  # once more, with the whole history seen
    finally:
        core.close()
