"""Random search: distributions, seeding, continuation after a rebuild, avoiding repeats."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuner.algorithms import make_designer
from tuner.algorithms._algorithm_settings import RandomSettings
from tuner.algorithms._random import RandomDesigner
from tuner.algorithms.testing import histories, point_key, search_spaces, study_config
from tuner.config import Objective, StudyConfig
from tuner.space import (
    CategoricalParameter,
    DiscreteParameter,
    DoubleParameter,
    IntParameter,
    Parameter,
    ParameterValue,
    Scale,
    SearchSpace,
)
from tuner.trial import Trial, TrialState

PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONTINUOUS = DoubleParameter(name="continuous", low=0.0, high=1.0)


def with_continuous(space: SearchSpace) -> SearchSpace:
    return SearchSpace((*space.parameters, CONTINUOUS))


def designer(*parameters: Parameter, seed: int = 0) -> RandomDesigner:
    built = make_designer(study_config(SearchSpace(parameters), "random", seed=seed))
    assert isinstance(built, RandomDesigner)
    return built


def trials(
    points: Sequence[Mapping[str, ParameterValue]], state: TrialState, first: int = 0
) -> list[Trial]:
    return [
        Trial(id=first + i, study_name="s", number=first + i, parameters=point, state=state)
        for i, point in enumerate(points)
    ]


@PROPERTY
@given(data=st.data(), seeds=st.lists(st.integers(0, 2**63), min_size=2, max_size=2, unique=True))
def test_different_seeds_give_different_suggestions(data: st.DataObject, seeds: list[int]) -> None:
    space = with_continuous(data.draw(search_spaces()))
    first, second = (make_designer(study_config(space, "random", seed=seed)) for seed in seeds)
    assert first.suggest(2) != second.suggest(2)


@PROPERTY
@given(data=st.data(), count=st.integers(1, 4), seed=st.integers(0, 2**32))
def test_a_rebuilt_designer_continues_instead_of_repeating(
    data: st.DataObject, count: int, seed: int
) -> None:
    space = with_continuous(data.draw(search_spaces()))
    history = data.draw(histories(space))
    config = study_config(space, "random", seed=seed)
    warm = make_designer(config)
    warm.update(history.completed, history.active)
    first = warm.suggest(count)
    new = trials(first, TrialState.ACTIVE, first=len(history.trials))
    rebuilt = make_designer(config)
    rebuilt.update(history.completed, [*history.active, *new])
    after_restart = rebuilt.suggest(count)
    assert not {p["continuous"] for p in after_restart} & {p["continuous"] for p in first}
    warm.update([], [*history.active, *new])
    assert warm.suggest(count) == after_restart


def test_fresh_designers_after_a_restart_do_not_replay_the_first_points() -> None:
    space = SearchSpace((CONTINUOUS,))
    config = study_config(space, "random", seed=3)
    first = make_designer(config).suggest(2)
    rebuilt = make_designer(config)
    rebuilt.update(trials(first, TrialState.SUCCEEDED), [])
    assert not {p["continuous"] for p in rebuilt.suggest(2)} & {p["continuous"] for p in first}


def test_random_state_overrides_the_study_seed_and_none_means_zero() -> None:
    space = SearchSpace((CONTINUOUS,))

    def first_point(seed: int | None, **settings: str) -> dict[str, ParameterValue]:
        return make_designer(study_config(space, "random", seed=seed, settings=settings)).suggest(
            1
        )[0]

    assert first_point(1, random_state="5") == first_point(2, random_state="5") == first_point(5)
    assert first_point(1, random_state="5") != first_point(1)
    assert first_point(None) == first_point(0)
    direct = RandomDesigner(study_config(space, "random"), RandomSettings(random_state=5), seed=9)
    assert direct.suggest(1)[0] == first_point(5)


def test_negative_seeds_work() -> None:
    point = designer(CONTINUOUS, seed=-1).suggest(1)[0]
    assert 0.0 <= point["continuous"] <= 1.0  # type: ignore[operator]


def test_log_scale_is_log_uniform() -> None:
    points = designer(
        DoubleParameter(name="lr", low=1e-6, high=1.0, scale=Scale.LOG),
        IntParameter(name="n", low=1, high=10_000, scale=Scale.LOG),
        seed=1,
    ).suggest(4000)
    lr = [float(p["lr"]) for p in points]
    n = [int(p["n"]) for p in points]
    # Half the mass below the geometric midpoint, a sixth per decade.
    assert 0.45 < sum(v < 1e-3 for v in lr) / len(lr) < 0.55
    assert 0.13 < sum(v < 1e-5 for v in lr) / len(lr) < 0.20
    assert 0.45 < sum(v < 100 for v in n) / len(n) < 0.55
    assert all(1e-6 <= v <= 1.0 for v in lr)


def test_linear_scale_is_uniform() -> None:
    points = designer(
        DoubleParameter(name="x", low=-1.0, high=3.0), IntParameter(name="k", low=0, high=9), seed=2
    ).suggest(4000)
    assert abs(statistics.fmean(float(p["x"]) for p in points) - 1.0) < 0.1
    counts = [sum(p["k"] == k for p in points) for k in range(10)]
    assert min(counts) > 320 and max(counts) < 480


def test_steps_snap_to_the_grid() -> None:
    points = designer(
        DoubleParameter(name="x", low=0.1, high=1.0, step=0.2),
        DoubleParameter(name="y", low=1e-3, high=1.0, step=1e-3, scale=Scale.LOG),
        IntParameter(name="k", low=3, high=20, step=4),
        IntParameter(name="m", low=2, high=1000, step=7, scale=Scale.LOG),
        seed=4,
    ).suggest(300)
    assert {p["x"] for p in points} == {0.1, 0.3, 0.5, 0.7, 0.9}
    assert {p["k"] for p in points} == {3, 7, 11, 15, 19}
    for p in points:
        assert (int(p["m"]) - 2) % 7 == 0 and 2 <= int(p["m"]) <= 1000
        y = float(p["y"])
        assert math.isclose(y, round(y * 1000) / 1000) and 1e-3 <= y <= 1.0


def test_discrete_and_categorical_values_keep_their_types() -> None:
    points = designer(
        DiscreteParameter(name="d", values=(1, 2.5, 4)),
        CategoricalParameter(name="c", choices=("a", "b")),
        seed=5,
    ).suggest(50)
    assert {p["d"] for p in points} == {1, 2.5, 4}
    assert {type(p["d"]) for p in points} == {int, float}
    assert {p["c"] for p in points} == {"a", "b"}


def test_enormous_ranges_stay_inside() -> None:
    points = designer(
        IntParameter(name="k", low=-(10**30), high=10**30, step=3),
        DoubleParameter(name="x", low=-1.7e308, high=1.7e308),
        DoubleParameter(name="y", low=-1e300, high=1e300, step=1e-300),
        seed=6,
    ).suggest(20)
    for p in points:
        assert type(p["k"]) is int and (int(p["k"]) + 10**30) % 3 == 0
        assert abs(float(p["x"])) <= 1.7e308 and abs(float(p["y"])) <= 1e300
    assert len({p["k"] for p in points}) == 20


def test_a_finite_space_is_covered_before_anything_repeats() -> None:
    space = (
        IntParameter(name="a", low=0, high=3),
        CategoricalParameter(name="b", choices=("x", "y")),
    )
    random = designer(*space, seed=7)
    batch = random.suggest(8)
    assert len({point_key(SearchSpace(space), p) for p in batch}) == 8


def test_untried_points_come_first_then_points_not_active() -> None:
    random = designer(IntParameter(name="x", low=0, high=3), seed=8)
    random.update(
        trials([{"x": 0}, {"x": 1}], TrialState.SUCCEEDED), trials([{"x": 2}], TrialState.ACTIVE, 2)
    )
    assert random.suggest(1) == [{"x": 3}]
    assert random.suggest(2)[0] == {"x": 3}
    random.update([], trials([{"x": 2}, {"x": 3}], TrialState.ACTIVE, 2))
    assert {p["x"] for p in random.suggest(2)} == {0, 1}
    batch = random.suggest(5)
    assert len(batch) == 5  # random search never runs out
    assert {p["x"] for p in batch[:2]} == {0, 1}


def test_a_large_finite_space_avoids_tried_points_by_redrawing() -> None:
    space = SearchSpace((IntParameter(name="x", low=0, high=99_999),))
    random = RandomDesigner(study_config(space, "random"), seed=9)
    tried = [{"x": x} for x in range(0, 100_000, 2)]
    random.update(trials(tried, TrialState.SUCCEEDED), [])
    assert all(int(p["x"]) % 2 == 1 for p in random.suggest(50))


def test_points_do_not_depend_on_how_trials_were_batched() -> None:
    config = StudyConfig(
        space=SearchSpace((DoubleParameter(name="x", low=0.0, high=1.0),)),
        objective=Objective(metric_name="loss"),
        seed=11,
    )
    one_call = RandomDesigner(config, seed=11).suggest(4)
    one_by_one = RandomDesigner(config, seed=11)
    points: list[dict[str, ParameterValue]] = []
    for number in range(4):
        points += one_by_one.suggest(1)
        active = [
            Trial(id=i + 1, study_name="s", number=i, parameters=p) for i, p in enumerate(points)
        ]
        one_by_one.update([], active)
        assert len(active) == number + 1
    assert points == one_call
