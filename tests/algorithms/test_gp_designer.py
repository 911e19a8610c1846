"""Gaussian-process Bayesian optimisation: it optimises, spreads batches, survives restarts."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Mapping

import numpy as np
import pytest

from tuner.algorithms import check_algorithm, make_designer
from tuner.algorithms._gp_designer import GPDesigner
from tuner.algorithms._gp_targets import warp_targets
from tuner.algorithms.testing import study_config
from tuner.config import Direction
from tuner.errors import InvalidArgumentError
from tuner.space import (
    CategoricalParameter,
    DoubleParameter,
    IntParameter,
    ParameterValue,
    Scale,
    SearchSpace,
)
from tuner.trial import Measurement, Trial, TrialState

Objective = Callable[[Mapping[str, ParameterValue]], float]
PLANE = SearchSpace(
    (DoubleParameter(name="x", low=-5.0, high=10.0), DoubleParameter(name="y", low=0.0, high=15.0))
)


def branin(p: Mapping[str, ParameterValue]) -> float:
    x, y = float(p["x"]), float(p["y"])
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10


BRANIN_MIN = 0.397887


def quadratic(p: Mapping[str, ParameterValue]) -> float:
    return (float(p["x"]) - 2.0) ** 2 + (float(p["y"]) - 9.0) ** 2


def trial(number: int, point: Mapping[str, ParameterValue], value: float | None) -> Trial:
    return Trial(
        id=100 + number,
        study_name="s",
        number=number,
        parameters=dict(point),
        state=TrialState.SUCCEEDED if value is not None else TrialState.FAILED,
        final_measurement=None if value is None else Measurement(metrics={"objective": value}),
    )


def run(algorithm: str, objective: Objective, n_trials: int, seed: int) -> float:
    designer = make_designer(study_config(PLANE, algorithm, seed=seed))
    best = math.inf
    for number in range(n_trials):
        [point] = designer.suggest(1)
        value = objective(point)
        best = min(best, value)
        designer.update([trial(number, point, value)], [])
    return best


@pytest.mark.parametrize(("objective", "minimum"), [(quadratic, 0.0), (branin, BRANIN_MIN)])
def test_finds_the_optimum_far_better_than_random(objective: Objective, minimum: float) -> None:
    gp = [run("bayesianoptimization", objective, 30, seed) - minimum for seed in range(3)]
    random = [run("random", objective, 30, seed) - minimum for seed in range(3)]
    assert np.mean(np.log10(np.maximum(gp, 1e-9))) < np.mean(np.log10(random)) - 1.0
    assert max(gp) < 0.1


def test_maximisation_is_minimisation_of_the_negation() -> None:
    config = study_config(PLANE, "bayesianoptimization", direction=Direction.MAXIMIZE)
    designer = make_designer(config)
    best = -math.inf
    for number in range(25):
        [point] = designer.suggest(1)
        value = -quadratic(point)
        best = max(best, value)
        designer.update([trial(number, point, value)], [])
    assert best > -0.1


def history(n: int, seed: int = 0) -> list[Trial]:
    rng = np.random.default_rng(seed)
    trials = []
    for number in range(n):
        point = {"x": float(rng.uniform(-5, 10)), "y": float(rng.uniform(0, 15))}
        trials.append(trial(number, point, branin(point)))
    return trials


def unit(point: Mapping[str, ParameterValue]) -> np.ndarray:
    return np.array([(float(point["x"]) + 5) / 15, float(point["y"]) / 15])


def test_a_parallel_batch_is_distinct_and_spread() -> None:
    designer = make_designer(study_config(PLANE, "bayesianoptimization", seed=1))
    designer.update(history(15), [])
    batch = designer.suggest(8)
    coordinates = [unit(p) for p in batch]
    distances = [np.linalg.norm(a - b) for a, b in itertools.combinations(coordinates, 2)]
    assert min(distances) > 0.02


def test_suggestions_keep_away_from_active_trials() -> None:
    designer = make_designer(study_config(PLANE, "bayesianoptimization", seed=2))
    designer.update(history(15), [])
    first = designer.suggest(4)
    active = [
        Trial(id=900 + i, study_name="s", number=15 + i, parameters=p) for i, p in enumerate(first)
    ]
    designer.update([], active)
    [later] = designer.suggest(1)
    assert min(np.linalg.norm(unit(later) - unit(p)) for p in first) > 0.02


def test_a_rebuilt_designer_suggests_what_the_warm_one_does() -> None:
    # 40 trials: past 24, fits start from earlier fits, which must not depend on the order
    # the warm designer saw the trials in (here completed out of order).
    trials = history(40, seed=3)
    trials[4] = trial(4, trials[4].parameters, None)  # failed
    trials[7] = trial(7, trials[7].parameters, math.nan)
    order = np.random.default_rng(0).permutation(40)
    warm = make_designer(study_config(PLANE, "bayesianoptimization", seed=5))
    for start in range(0, 40, 7):
        warm.update([trials[i] for i in order[start : start + 7]], [])
        warm.suggest(2)  # suggestions in between must not change what comes later
    active = [Trial(id=999, study_name="s", number=40, parameters=trials[0].parameters)]
    warm.update([], active)
    rebuilt = make_designer(study_config(PLANE, "bayesianoptimization", seed=5))
    rebuilt.update(list(reversed(trials)), active)
    assert warm.suggest(3) == rebuilt.suggest(3)


def test_the_initial_design_is_sobol_by_position() -> None:
    config = study_config(PLANE, "bayesianoptimization", seed=4)
    first = make_designer(config).suggest(4)
    later = make_designer(config)
    later.update([trial(0, first[0], 1.0), trial(1, first[1], 2.0)], [])
    assert later.suggest(2) == first[2:]
    coordinates = [unit(p) for p in first]
    # Four Sobol points fall in four different quadrants of the square.
    assert len({tuple((c > 0.5).tolist()) for c in coordinates}) == 4


def test_non_finite_and_failed_trials_are_imputed_or_left_out() -> None:
    designer = GPDesigner(study_config(PLANE, "bayesianoptimization"))
    trials = history(8)
    values = [None, math.nan, math.inf, -math.inf]
    states = [TrialState.FAILED, TrialState.SUCCEEDED, TrialState.SUCCEEDED, TrialState.SUCCEEDED]
    for i, (value, state) in enumerate(zip(values, states, strict=True)):
        measurement = None if value is None else Measurement(metrics={"objective": value})
        trials[i] = Trial(
            id=trials[i].id,
            study_name="s",
            number=i,
            parameters=trials[i].parameters,
            state=state,
            final_measurement=measurement,
        )
    infeasible = Trial(
        id=50,
        study_name="s",
        number=8,
        parameters=trials[0].parameters,
        state=TrialState.INFEASIBLE,
    )
    no_metric = Trial(
        id=51, study_name="s", number=9, parameters=trials[0].parameters, state=TrialState.SUCCEEDED
    )
    designer.update([*trials, infeasible, no_metric], [])
    observations, targets = designer._training(designer._ordered())
    # -inf (not believable) and the trial without the metric are left out; the failed,
    # NaN, +inf and infeasible trials get the worst target.
    assert len(observations) == 8
    worst = targets.max()
    imputed = [t for o, t in zip(observations, targets, strict=True) if math.isnan(o.value)]
    assert len(imputed) == 4 and all(t == worst for t in imputed)
    for point in designer.suggest(3):
        assert PLANE.contains(point)


def test_all_trials_failed_falls_back_to_the_sobol_sequence() -> None:
    designer = make_designer(study_config(PLANE, "bayesianoptimization"))
    failed = [trial(i, p, None) for i, p in enumerate(designer.suggest(12))]
    designer.update(failed, [])
    assert all(PLANE.contains(p) for p in designer.suggest(2))


def test_mixed_space_with_categories_and_integers() -> None:
    space = SearchSpace(
        (
            DoubleParameter(name="lr", low=1e-4, high=1.0, scale=Scale.LOG),
            IntParameter(name="layers", low=1, high=200),
            CategoricalParameter(name="kind", choices=("a", "b", "c")),
        )
    )

    def objective(p: Mapping[str, ParameterValue]) -> float:
        penalty = {"a": 1.0, "b": 0.0, "c": 2.0}[str(p["kind"])]
        return (math.log10(float(p["lr"])) + 2) ** 2 + ((int(p["layers"]) - 50) / 50) ** 2 + penalty

    designer = make_designer(study_config(space, "bayesianoptimization", seed=0))
    best = math.inf
    for number in range(30):
        [point] = designer.suggest(1)
        assert type(point["layers"]) is int and space.contains(point)
        value = objective(point)
        best = min(best, value)
        designer.update([trial(number, point, value)], [])
    assert best < 0.2


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("base_estimator", "RF"),
        ("acq_func", "PI"),
        ("acq_optimizer", "newton"),
        ("n_initial_points", "0"),
        ("random_state", "-1"),
    ],
)
def test_bad_settings_are_refused_at_their_field(name: str, value: str) -> None:
    config = study_config(PLANE, "bayesianoptimization", settings={name: value})
    with pytest.raises(InvalidArgumentError) as error:
        check_algorithm(config)
    assert error.value.field == f"algorithm.settings.{name}"


@pytest.mark.parametrize(
    "settings",
    [
        {"acq_func": "gp_hedge", "base_estimator": "GP"},
        {"acq_func": "LCB", "acq_optimizer": "sampling", "n_initial_points": "3"},
        {"acq_optimizer": "lbfgs", "random_state": "7"},
    ],
)
def test_katib_settings_run(settings: dict[str, str]) -> None:
    designer = make_designer(study_config(PLANE, "bayesianoptimization", settings=settings))
    designer.update(history(6), [])
    assert all(PLANE.contains(p) for p in designer.suggest(2))


def test_targets_near_the_float_limit_standardise_without_overflow() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        targets = warp_targets(np.array([1e300, -1e300, 0.0, np.nan]))
    assert np.isfinite(targets).all()
    assert targets.std() == pytest.approx(1.0)
