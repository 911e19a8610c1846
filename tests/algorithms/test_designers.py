"""The contract every registered designer keeps, checked with generated spaces and histories."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuner.algorithms import Designer, check_algorithm, make_designer, registered_algorithms
from tuner.algorithms.testing import (
    History,
    grid_size,
    histories,
    is_on_grid,
    point_key,
    required_settings,
    search_spaces,
    study_config,
)
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
from tuner.trial import Measurement, Trial, TrialState

ALGORITHMS = registered_algorithms()
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
counts = st.integers(0, 6)
seeds = st.integers(0, 2**32)


def build(algorithm: str, space: SearchSpace, seed: int = 0) -> Designer | None:
    """The designer, or None when it refuses the space (checked to name a parameter) or
    needs settings that no choice fits (see :func:`required_settings`)."""
    settings = required_settings(algorithm, space)
    if settings is None:
        return None
    config = study_config(space, algorithm, seed=seed, settings=settings)
    try:
        check_algorithm(config)
    except InvalidArgumentError as error:
        assert error.field.startswith("space.parameters[")
        with pytest.raises(InvalidArgumentError):
            make_designer(config)
        return None
    return make_designer(config)


def feed(designer: Designer, history: History) -> None:
    """Report the history as a service would: completed trials in batches, active each time."""
    for batch in history.completed_batches:
        designer.update(batch, history.active)
    designer.update([], history.active)


def as_trials(points: Sequence[dict[str, ParameterValue]], first_number: int) -> list[Trial]:
    return [
        Trial(id=5000 + first_number + i, study_name="study", number=first_number + i, parameters=p)
        for i, p in enumerate(points)
    ]


def assert_inside(space: SearchSpace, point: dict[str, ParameterValue]) -> None:
    assert space.contains(point), point
    for parameter in space:
        value = point[parameter.name]
        if isinstance(parameter, IntParameter):
            assert type(value) is int
        elif isinstance(parameter, DoubleParameter):
            assert type(value) is float
            assert math.isfinite(value)
        elif isinstance(parameter, CategoricalParameter):
            assert type(value) is str
        else:
            assert type(value) in (int, float)
        if isinstance(parameter, IntParameter | DoubleParameter) and parameter.scale is Scale.LOG:
            assert isinstance(value, int | float) and value > 0


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@PROPERTY
@given(data=st.data(), count=counts, seed=seeds)
def test_suggestions_are_inside_the_space(
    algorithm: str, data: st.DataObject, count: int, seed: int
) -> None:
    space = data.draw(search_spaces())
    history = data.draw(histories(space))
    designer = build(algorithm, space, seed)
    if designer is None:
        return
    feed(designer, history)
    suggestions = designer.suggest(count)
    assert len(suggestions) <= count
    for point in suggestions:
        assert_inside(space, point)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@PROPERTY
@given(data=st.data(), count=counts, seed=seeds)
def test_same_seed_and_calls_give_same_suggestions(
    algorithm: str, data: st.DataObject, count: int, seed: int
) -> None:
    space = data.draw(search_spaces())
    history = data.draw(histories(space))
    first, second = build(algorithm, space, seed), build(algorithm, space, seed)
    if first is None or second is None:
        return
    feed(first, history)
    feed(second, history)
    assert first.suggest(count) == second.suggest(count)
    assert first.suggest(count) == second.suggest(count)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@PROPERTY
@given(data=st.data(), count=st.integers(1, 4), seed=seeds)
def test_a_rebuilt_designer_continues_as_the_warm_one(
    algorithm: str, data: st.DataObject, count: int, seed: int
) -> None:
    space = data.draw(search_spaces())
    history = data.draw(histories(space))
    warm = build(algorithm, space, seed)
    if warm is None:
        return
    feed(warm, history)
    new = as_trials(warm.suggest(count), first_number=len(history.trials))
    active = [*history.active, *new]
    warm.update([], active)
    after_warm = warm.suggest(count)

    rebuilt = build(algorithm, space, seed)
    assert rebuilt is not None
    rebuilt.update(history.completed, active)
    assert rebuilt.suggest(count) == after_warm

    # Some of the new trials finish, in whatever state: both designers still agree.
    finished = [
        Trial(
            id=t.id,
            study_name=t.study_name,
            number=t.number,
            parameters=t.parameters,
            state=TrialState.FAILED,
        )
        for t in new[:1]
    ]
    still_active = [*history.active, *new[1:]]
    warm.update(finished, still_active)
    again = build(algorithm, space, seed)
    assert again is not None
    again.update([*history.completed, *finished], still_active)
    assert again.suggest(count) == warm.suggest(count)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@PROPERTY
@given(data=st.data(), count=counts, seed=seeds)
def test_no_repeats_in_a_finite_space_while_untried_points_remain(
    algorithm: str, data: st.DataObject, count: int, seed: int
) -> None:
    space = data.draw(search_spaces(finite=True, max_points=4))
    history = data.draw(histories(space))
    designer = build(algorithm, space, seed)
    if designer is None:
        assert required_settings(algorithm, space) is None
        return
    feed(designer, history)
    suggestions = designer.suggest(count)
    size = grid_size(space)
    assert size is not None
    active_keys = {point_key(space, trial.parameters) for trial in history.active}
    n_free = size - sum(1 for key in active_keys if is_on_grid(key))
    keys = [point_key(space, point) for point in suggestions]
    assert all(is_on_grid(key) for key in keys)
    if len(keys) <= n_free:
        assert len(set(keys)) == len(keys)
        assert not set(keys) & active_keys


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_nothing_asked_nothing_suggested(algorithm: str) -> None:
    space = SearchSpace((IntParameter(name="x", low=1, high=4),))
    designer = build(algorithm, space)
    assert designer is not None
    assert designer.suggest(0) == []


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_histories_of_non_finite_metrics_and_failures_are_taken(algorithm: str) -> None:
    space = SearchSpace(
        (
            IntParameter(name="n", low=1, high=64, scale=Scale.LOG),
            DoubleParameter(name="lr", low=1e-4, high=1.0, scale=Scale.LOG, step=1e-4),
            DiscreteParameter(name="d", values=(0.5, 1.0)),
            CategoricalParameter(name="c", choices=("a", "b")),
        )
    )
    designer = build(algorithm, space)
    assert designer is not None
    points = designer.suggest(4)
    states = itertools.cycle(
        [TrialState.SUCCEEDED, TrialState.FAILED, TrialState.INFEASIBLE, TrialState.EARLY_STOPPED]
    )
    values = itertools.cycle([math.nan, math.inf, -math.inf, 1.0])
    completed = []
    for i, point in enumerate(points):
        completed.append(
            Trial(
                id=i,
                study_name="s",
                number=i,
                parameters=point,
                state=next(states),
                final_measurement=Measurement(metrics={"objective": next(values)}),
            )
        )
    designer.update(completed, [])
    for point in designer.suggest(3):
        assert_inside(space, point)
