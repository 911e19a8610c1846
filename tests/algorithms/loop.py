"""Run a designer against a test function, as a service would: suggest, evaluate, complete."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from tuner.algorithms import Designer, make_designer
from tuner.algorithms.testing import METRIC_NAME, study_config
from tuner.config import Direction
from tuner.space import ParameterValue, SearchSpace
from tuner.trial import Measurement, Trial, TrialState

Objective = Callable[[Mapping[str, ParameterValue]], float]


def completed_trial(
    number: int,
    parameters: Mapping[str, ParameterValue],
    value: float | None,
    state: TrialState = TrialState.SUCCEEDED,
) -> Trial:
    """A finished trial; ``value`` None leaves it without a final measurement."""
    final = None if value is None else Measurement(metrics={METRIC_NAME: value})
    return Trial(
        id=number,
        study_name="study",
        number=number,
        parameters=dict(parameters),
        state=state,
        final_measurement=final,
    )


def active_trial(number: int, parameters: Mapping[str, ParameterValue]) -> Trial:
    """An active trial."""
    return Trial(id=number, study_name="study", number=number, parameters=dict(parameters))


def run(
    algorithm: str,
    space: SearchSpace,
    objective: Objective,
    *,
    n_trials: int,
    seed: int,
    batch: int = 1,
    settings: Mapping[str, str] | None = None,
    direction: Direction = Direction.MINIMIZE,
) -> tuple[Designer, list[Trial]]:
    """Optimise ``objective`` with ``batch`` suggestions per round; the designer and trials."""
    config = study_config(space, algorithm, seed=seed, settings=settings, direction=direction)
    designer = make_designer(config)
    trials: list[Trial] = []
    while len(trials) < n_trials:
        points = designer.suggest(min(batch, n_trials - len(trials)))
        assert points
        designer.update([], [active_trial(len(trials) + i, p) for i, p in enumerate(points)])
        new = [completed_trial(len(trials) + i, p, objective(p)) for i, p in enumerate(points)]
        trials.extend(new)
        designer.update(new, [])
    return designer, trials


def best_value(trials: list[Trial]) -> float:
    """The smallest objective value among the trials."""
    values = [t.objective_value(METRIC_NAME) for t in trials]
    return min(v for v in values if v is not None and not math.isnan(v))
