"""TPE (``tpe``, ``multivariate-tpe``): better than random, spread batches, restarts, settings."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.algorithms.loop import Objective, active_trial, best_value, completed_trial, run
from tuner.algorithms import TpeSettings, check_algorithm, make_designer
from tuner.algorithms.testing import histories, search_spaces, study_config
from tuner.config import Direction
from tuner.errors import InvalidArgumentError
from tuner.space import (
    CategoricalParameter,
    DiscreteParameter,
    DoubleParameter,
    IntParameter,
    ParameterValue,
    Scale,
    SearchSpace,
)
from tuner.trial import TrialState

TPES = [
    pytest.param("tpe", {}, id="tpe"),
    pytest.param("multivariate-tpe", {}, id="multivariate-tpe"),
    pytest.param("tpe", {"multivariate": "false"}, id="independent-tpe"),
]
SEEDS = range(6)
QUADRATIC = SearchSpace(tuple(DoubleParameter(name=f"x{i}", low=-1.0, high=1.0) for i in range(3)))
MIXED = SearchSpace(
    (
        IntParameter(name="n", low=1, high=32, scale=Scale.LOG),
        CategoricalParameter(name="c", choices=("a", "b", "c")),
        DoubleParameter(name="lr", low=1e-5, high=1.0, scale=Scale.LOG),
    )
)
# The model runs from the second trial, so generated histories exercise it.
MODEL_NOW = {"n_startup_trials": "1"}


def quadratic(p: Mapping[str, ParameterValue]) -> float:
    return sum((float(p[f"x{i}"]) - 0.3) ** 2 for i in range(3))


def mixed(p: Mapping[str, ParameterValue]) -> float:
    return (float(p["n"]) - 7) ** 2 / 10 + (p["c"] != "b") + (math.log10(float(p["lr"])) + 2) ** 2


def median_log_regret(
    algorithm: str, base: dict[str, str], space: SearchSpace, objective: Objective, n_trials: int
) -> float:
    return statistics.median(
        math.log10(
            max(
                best_value(
                    run(algorithm, space, objective, n_trials=n_trials, seed=s, settings=base)[1]
                ),
                1e-12,
            )
        )
        for s in SEEDS
    )


@pytest.mark.parametrize(("algorithm", "base"), TPES)
@pytest.mark.parametrize(("space", "objective"), [(QUADRATIC, quadratic), (MIXED, mixed)])
def test_beats_random_search(
    algorithm: str, base: dict[str, str], space: SearchSpace, objective: Objective
) -> None:
    tpe = median_log_regret(algorithm, base, space, objective, 40)
    random = median_log_regret("random", {}, space, objective, 40)
    assert tpe < random - 0.2


ORDERED = tuple(float(2 ** (i / 4)) for i in range(60))


@pytest.mark.parametrize(("algorithm", "base"), TPES)
def test_discrete_values_are_ordered(algorithm: str, base: dict[str, str]) -> None:
    """Near values share evidence (as Optuna's integer steps), so TPE closes in on a
    minimum among 60 x 60 points; as unordered choices it did not (median 15, 6.5)."""
    space = SearchSpace(
        (DiscreteParameter(name="a", values=ORDERED), DiscreteParameter(name="b", values=ORDERED))
    )

    def bowl(p: Mapping[str, ParameterValue]) -> float:
        return (ORDERED.index(float(p["a"])) - 41) ** 2 + (ORDERED.index(float(p["b"])) - 17) ** 2

    regrets = [
        best_value(run(algorithm, space, bowl, n_trials=40, seed=s, settings=base)[1])
        for s in SEEDS
    ]
    assert statistics.median(regrets) < 6


@pytest.mark.parametrize(("algorithm", "base"), TPES)
def test_maximises_when_asked(algorithm: str, base: dict[str, str]) -> None:
    def negated(p: Mapping[str, ParameterValue]) -> float:
        return -quadratic(p)

    _, trials = run(
        algorithm,
        QUADRATIC,
        negated,
        n_trials=40,
        seed=1,
        settings=base,
        direction=Direction.MAXIMIZE,
    )
    best = max(t.objective_value("objective") or -math.inf for t in trials)
    assert best > -0.05


def spread(points: list[dict[str, ParameterValue]]) -> float:
    """The mean distance between two points of a batch."""
    vectors = [[float(p[f"x{i}"]) for i in range(3)] for p in points]
    distances = [math.dist(a, b) for i, a in enumerate(vectors) for b in vectors[i + 1 :]]
    return statistics.mean(distances)


@pytest.mark.parametrize(("algorithm", "base"), TPES)
def test_a_parallel_batch_spreads_out(algorithm: str, base: dict[str, str]) -> None:
    spreads = {}
    for liar in ("true", "false"):
        batches = []
        for seed in SEEDS:
            designer, _ = run(
                algorithm,
                QUADRATIC,
                quadratic,
                n_trials=20,
                seed=seed,
                settings={**base, "constant_liar": liar},
            )
            batch = designer.suggest(8)
            assert len({tuple(p.values()) for p in batch}) == 8
            batches.append(spread(batch))
        spreads[liar] = statistics.mean(batches)
    assert spreads["true"] > 1.2 * spreads["false"]


@pytest.mark.parametrize(("algorithm", "base"), TPES)
def test_a_finite_space_is_covered_without_repeats(algorithm: str, base: dict[str, str]) -> None:
    space = SearchSpace(
        (IntParameter(name="a", low=0, high=2), CategoricalParameter(name="b", choices=("x", "y")))
    )
    _, trials = run(
        algorithm, space, lambda p: float(p["a"]), n_trials=6, seed=0, batch=2, settings=base
    )
    assert len({tuple(t.parameters.values()) for t in trials}) == 6


@pytest.mark.parametrize(("algorithm", "base"), TPES)
def test_a_rebuilt_designer_suggests_as_the_warm_one(algorithm: str, base: dict[str, str]) -> None:
    warm, trials = run(algorithm, MIXED, mixed, n_trials=30, seed=5, batch=3, settings=base)
    running = [active_trial(100 + i, p) for i, p in enumerate(warm.suggest(2))]
    warm.update([], running)
    rebuilt = make_designer(study_config(MIXED, algorithm, seed=5, settings=base))
    rebuilt.update(trials, running)
    assert rebuilt.suggest(4) == warm.suggest(4)


@pytest.mark.parametrize(("algorithm", "base"), TPES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), count=st.integers(1, 4), seed=st.integers(0, 2**32))
def test_the_model_keeps_the_contract(
    algorithm: str, base: dict[str, str], data: st.DataObject, count: int, seed: int
) -> None:
    space = data.draw(search_spaces())
    history = data.draw(histories(space))
    config = study_config(space, algorithm, seed=seed, settings={**base, **MODEL_NOW})
    warm = make_designer(config)
    for batch in history.completed_batches:
        warm.update(batch, history.active)
    warm.update([], history.active)
    points = warm.suggest(count)
    assert len(points) == count
    assert all(space.contains(p) for p in points)
    rebuilt = make_designer(config)
    rebuilt.update(history.completed, history.active)
    assert rebuilt.suggest(count) == points


@pytest.mark.parametrize(("algorithm", "base"), TPES)
def test_failures_and_nan_do_not_stop_it(algorithm: str, base: dict[str, str]) -> None:
    config = study_config(QUADRATIC, algorithm, settings={**base, **MODEL_NOW})
    designer = make_designer(config)
    points = designer.suggest(6)
    states = [TrialState.FAILED, TrialState.INFEASIBLE, TrialState.SUCCEEDED] * 2
    values: list[float | None] = [None, 1.0, math.nan, math.inf, -math.inf, 0.5]
    designer.update(
        [
            completed_trial(i, p, v, s)
            for i, (p, v, s) in enumerate(zip(points, values, states, strict=True))
        ],
        [],
    )
    assert all(QUADRATIC.contains(p) for p in designer.suggest(3))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("gamma", "0"),
        ("gamma", "1.5"),
        ("prior_weight", "-1"),
        ("n_EI_candidates", "0"),
        ("n_startup_trials", "-1"),
        ("constant_liar", "sometimes"),
        ("random_state", "-3"),
        ("n_ei_candidates", "24"),
    ],
)
def test_bad_settings_are_refused_with_their_path(name: str, value: str) -> None:
    for algorithm in ("tpe", "multivariate-tpe"):
        with pytest.raises(InvalidArgumentError) as caught:
            check_algorithm(study_config(QUADRATIC, algorithm, settings={name: value}))
        assert caught.value.field == f"algorithm.settings.{name}"


def test_katib_settings_are_taken() -> None:
    config = study_config(
        QUADRATIC,
        "tpe",
        settings={
            "gamma": "0.25",
            "prior_weight": "0.5",
            "n_EI_candidates": "8",
            "random_state": "4",
        },
    )
    check_algorithm(config)
    assert TpeSettings(gamma=0.25).gamma == 0.25
    with pytest.raises(InvalidArgumentError) as caught:
        check_algorithm(study_config(QUADRATIC, "multivariate-tpe", settings={"multivariate": "0"}))
    assert caught.value.field == "algorithm.settings.multivariate"
    first = make_designer(config).suggest(2)
    other_seed = make_designer(
        study_config(QUADRATIC, "tpe", seed=99, settings={"random_state": "4"})
    ).suggest(2)
    assert first == other_seed
