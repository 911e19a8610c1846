"""CMA-ES (``cmaes``): better than random, generations, failures, restarts, settings."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping

import pytest

from tests.algorithms.loop import active_trial, best_value, completed_trial, run
from tuner.algorithms import check_algorithm, make_designer
from tuner.algorithms._cmaes import CmaEsDesigner
from tuner.algorithms.testing import study_config
from tuner.errors import InvalidArgumentError
from tuner.space import (
    CategoricalParameter,
    DoubleParameter,
    IntParameter,
    ParameterValue,
    Scale,
    SearchSpace,
)
from tuner.trial import TrialState

SPACE = SearchSpace(
    (
        DoubleParameter(name="x0", low=-1.0, high=1.0),
        DoubleParameter(name="x1", low=-1.0, high=1.0),
        DoubleParameter(name="x2", low=1e-3, high=10.0, scale=Scale.LOG),
        IntParameter(name="n", low=0, high=20),
    )
)


def objective(p: Mapping[str, ParameterValue]) -> float:
    return (
        (float(p["x0"]) - 0.3) ** 2
        + (float(p["x1"]) + 0.2) ** 2
        + math.log10(float(p["x2"])) ** 2
        + (float(p["n"]) - 13) ** 2 / 100
    )


def designer(seed: int = 0, **settings: str) -> CmaEsDesigner:
    built = make_designer(study_config(SPACE, "cmaes", seed=seed, settings=settings))
    assert isinstance(built, CmaEsDesigner)
    return built


def test_beats_random_search() -> None:
    def regret(algorithm: str) -> float:
        return statistics.median(
            math.log10(best_value(run(algorithm, SPACE, objective, n_trials=80, seed=s)[1]))
            for s in range(6)
        )

    assert regret("cmaes") < regret("random") - 0.3


def test_a_generation_is_told_when_all_its_trials_finished_failures_included() -> None:
    cma = designer()
    size = cma.population_size
    points = cma.suggest(2 * size)
    cma.update([], [active_trial(i, p) for i, p in enumerate(points)])
    # The second generation finishes first: nothing is told before the first one.
    second = [completed_trial(i, points[i], 1.0) for i in range(size, 2 * size)]
    cma.update(second, [active_trial(i, points[i]) for i in range(size)])
    assert cma.n_generations == 0
    first = [completed_trial(i, points[i], float(i)) for i in range(size - 1)]
    cma.update(first, [active_trial(size - 1, points[size - 1])])
    assert cma.n_generations == 0
    failed = completed_trial(size - 1, points[size - 1], None, TrialState.FAILED)
    cma.update([failed], [])
    assert cma.n_generations == 2


def test_nan_and_infinite_values_count_as_worst_and_best() -> None:
    cma = designer()
    size = cma.population_size
    points = cma.suggest(size)
    values = [math.nan, math.inf, -math.inf, *[1.0] * (size - 3)]
    cma.update(
        [completed_trial(i, p, v) for i, (p, v) in enumerate(zip(points, values, strict=True))], []
    )
    assert cma.n_generations == 1
    assert all(SPACE.contains(p) for p in cma.suggest(3))


def test_a_rebuilt_designer_replays_the_generations() -> None:
    warm, trials = run("cmaes", SPACE, objective, n_trials=45, seed=3, batch=4)
    running = [active_trial(100 + i, p) for i, p in enumerate(warm.suggest(3))]
    warm.update([], running)
    rebuilt = designer(seed=3)
    rebuilt.update(trials, running)
    assert isinstance(warm, CmaEsDesigner)
    assert rebuilt.n_generations == warm.n_generations > 0
    assert rebuilt.suggest(5) == warm.suggest(5)


def test_ipop_restarts_with_a_larger_population() -> None:
    space = SearchSpace(tuple(DoubleParameter(name=n, low=0.0, high=1.0) for n in "ab"))
    small = {"population_size": "4"}

    def flat(p: Mapping[str, ParameterValue]) -> float:
        return 1.0  # no progress in 25 generations: CMA-ES stops, and restarts

    warm, trials = run("cmaes", space, flat, n_trials=120, seed=0, settings=small)
    assert isinstance(warm, CmaEsDesigner)
    assert warm.n_restarts == 1
    assert warm.population_size == 8
    rebuilt = make_designer(study_config(space, "cmaes", seed=0, settings=small))
    rebuilt.update(trials, [])
    assert rebuilt.suggest(4) == warm.suggest(4)
    fixed, _ = run(
        "cmaes", space, flat, n_trials=120, seed=0, settings={**small, "restart_strategy": "none"}
    )
    assert isinstance(fixed, CmaEsDesigner)
    assert fixed.n_restarts == 0


def test_categorical_parameters_are_searched_by_position() -> None:
    space = SearchSpace(
        (
            CategoricalParameter(name="c", choices=("a", "b", "c", "d")),
            DoubleParameter(name="x", low=0.0, high=1.0),
        )
    )
    _, trials = run("cmaes", space, lambda p: (p["c"] != "c") + float(p["x"]), n_trials=60, seed=1)
    assert best_value(trials) < 0.1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sigma0", "0"),
        ("sigma0", "2"),
        ("population_size", "1"),
        ("restart_strategy", "bipop"),
        ("random_state", "x"),
    ],
)
def test_bad_settings_are_refused_with_their_path(name: str, value: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        check_algorithm(study_config(SPACE, "cmaes", settings={name: value}))
    assert caught.value.field == f"algorithm.settings.{name}"


def test_settings_are_taken() -> None:
    cma = designer(population_size="10", sigma0="0.3", restart_strategy="none")
    assert cma.population_size == 10
