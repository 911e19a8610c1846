"""Sobol search (``sobol``): stratified, continued across calls and restarts, better than random."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping

import pytest

from tests.algorithms.loop import active_trial, best_value, completed_trial, run
from tuner.algorithms import check_algorithm, make_designer
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

UNIT = SearchSpace(tuple(DoubleParameter(name=f"x{i}", low=0.0, high=1.0) for i in range(3)))
BRANIN = SearchSpace(
    (DoubleParameter(name="x", low=-5.0, high=10.0), DoubleParameter(name="y", low=0.0, high=15.0))
)


def branin(p: Mapping[str, ParameterValue]) -> float:
    x, y = float(p["x"]), float(p["y"])
    value = (y - 5.1 / (4 * math.pi**2) * x**2 + 5 / math.pi * x - 6) ** 2
    return value + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10 - 0.397887357729738


@pytest.mark.parametrize("scramble", ["true", "false"])
def test_the_first_power_of_two_points_are_stratified(scramble: str) -> None:
    designer = make_designer(study_config(UNIT, "sobol", settings={"scramble": scramble}))
    points = designer.suggest(16)
    for i in range(3):
        slices = sorted(math.floor(float(p[f"x{i}"]) * 16) for p in points)
        assert slices == list(range(16))
    # Pairs of dimensions are stratified too: each of 4 x 4 cells holds one point.
    cells = {(math.floor(float(p["x0"]) * 4), math.floor(float(p["x1"]) * 4)) for p in points}
    assert len(cells) == 16


def test_parameters_are_mapped_by_type_and_scale() -> None:
    space = SearchSpace(
        (
            IntParameter(name="n", low=0, high=7),
            DoubleParameter(name="lr", low=1e-4, high=1.0, scale=Scale.LOG),
            CategoricalParameter(name="c", choices=("a", "b", "c", "d")),
        )
    )
    points = make_designer(study_config(space, "sobol", seed=3)).suggest(8)
    assert sorted(p["n"] for p in points) == list(range(8))
    assert sum(float(p["lr"]) < 1e-2 for p in points) == 4  # half below the log midpoint
    assert sorted(str(p["c"]) for p in points) == ["a", "a", "b", "b", "c", "c", "d", "d"]


def test_the_sequence_continues_across_calls_and_restarts() -> None:
    whole = make_designer(study_config(UNIT, "sobol", seed=7)).suggest(8)
    designer = make_designer(study_config(UNIT, "sobol", seed=7))
    first = designer.suggest(3)
    designer.update([], [active_trial(i, p) for i, p in enumerate(first)])
    done = [completed_trial(i, p, 1.0) for i, p in enumerate(first)]
    designer.update(done, [])
    assert first + designer.suggest(5) == whole
    rebuilt = make_designer(study_config(UNIT, "sobol", seed=7))
    rebuilt.update(done, [])
    assert rebuilt.suggest(5) == whole[3:]


def test_seeds_scramble_differently() -> None:
    first = make_designer(study_config(UNIT, "sobol", seed=1)).suggest(4)
    assert first != make_designer(study_config(UNIT, "sobol", seed=2)).suggest(4)


def test_beats_random_search_on_branin() -> None:
    def regret(algorithm: str) -> float:
        return statistics.mean(
            math.log10(best_value(run(algorithm, BRANIN, branin, n_trials=32, seed=s)[1]))
            for s in range(10)
        )

    assert regret("sobol") < regret("random") - 0.3


@pytest.mark.parametrize(("name", "value"), [("scramble", "maybe"), ("random_state", "-1")])
def test_bad_settings_are_refused_with_their_path(name: str, value: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        check_algorithm(study_config(UNIT, "sobol", settings={name: value}))
    assert caught.value.field == f"algorithm.settings.{name}"
