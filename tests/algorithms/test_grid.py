"""Grid search: the full product, once each, in order, lazily, then exhaustion."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuner.algorithms import make_designer
from tuner.algorithms._algorithm_settings import GridSettings
from tuner.algorithms._grid import GridDesigner
from tuner.algorithms.testing import (
    grid_size,
    histories,
    is_on_grid,
    point_key,
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
from tuner.trial import Trial, TrialState

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FINAL_STATES = [state for state in TrialState if state.is_finished]


def grid(
    *parameters: DoubleParameter | IntParameter | DiscreteParameter | CategoricalParameter,
) -> GridDesigner:
    designer = make_designer(study_config(SearchSpace(parameters), "grid"))
    assert isinstance(designer, GridDesigner)
    return designer


def trial(number: int, parameters: dict[str, ParameterValue], state: TrialState) -> Trial:
    return Trial(id=number, study_name="s", number=number, parameters=parameters, state=state)


def values(designer: GridDesigner, count: int, name: str = "x") -> list[ParameterValue]:
    return [point[name] for point in designer.suggest(count)]


@PROPERTY
@given(data=st.data(), batch=st.integers(1, 5))
def test_enumerates_exactly_the_product_then_reports_exhaustion(
    data: st.DataObject, batch: int
) -> None:
    space = data.draw(search_spaces(finite=True, max_points=4))
    designer = make_designer(study_config(space, "grid"))
    states = itertools.cycle(FINAL_STATES)
    seen: list[tuple[object, ...]] = []
    number = 0
    while True:
        points = designer.suggest(batch)
        active = []
        for point in points:
            assert space.contains(point)
            seen.append(point_key(space, point))
            active.append(trial(number, point, next(states)))
            number += 1
        designer.update(
            [],
            [
                Trial(id=t.id, study_name="s", number=t.number, parameters=t.parameters)
                for t in active
            ],
        )
        designer.update(active, [])
        if len(points) < batch:
            break
    assert len(seen) == len(set(seen)) == grid_size(space)
    assert designer.suggest(batch) == []
    for index, parameter in enumerate(space):
        axis_values = {key[index] for key in seen}
        if isinstance(parameter, IntParameter):
            assert axis_values == set(range(parameter.low, parameter.high + 1, parameter.step))
        elif isinstance(parameter, DiscreteParameter):
            assert axis_values == set(parameter.values)
        elif isinstance(parameter, CategoricalParameter):
            assert axis_values == set(parameter.choices)


@PROPERTY
@given(data=st.data(), batch=st.integers(1, 5))
def test_never_suggests_a_completed_or_active_point(data: st.DataObject, batch: int) -> None:
    space = data.draw(search_spaces(finite=True, max_points=4))
    history = data.draw(histories(space))
    designer = make_designer(study_config(space, "grid"))
    designer.update(history.completed, history.active)
    taken = {point_key(space, t.parameters) for t in (*history.completed, *history.active)}
    suggested: list[tuple[object, ...]] = []
    number = 10_000
    while points := designer.suggest(batch):
        keys = [point_key(space, point) for point in points]
        assert not set(keys) & taken
        suggested.extend(keys)
        designer.update(
            [trial(number + i, p, TrialState.SUCCEEDED) for i, p in enumerate(points)],
            history.active,
        )
        number += len(points)
    size = grid_size(space)
    assert size is not None
    assert len(suggested) == len(set(suggested))
    assert len(suggested) == size - sum(1 for key in taken if is_on_grid(key))


def test_order_is_itertools_product_order() -> None:
    designer = grid(
        IntParameter(name="a", low=1, high=2),
        CategoricalParameter(name="b", choices=("x", "y")),
        DiscreteParameter(name="c", values=(0.5, 0.25)),
    )
    expected = [
        {"a": a, "b": b, "c": c} for a, b, c in itertools.product((1, 2), ("x", "y"), (0.25, 0.5))
    ]
    assert designer.suggest(100) == expected


@pytest.mark.parametrize(
    ("low", "high", "step", "expected"),
    [
        (0.1, 0.3, 0.1, [0.1, 0.2, 0.3]),
        (0.0, 1.0, 0.1, [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]),
        (0.1, 0.7, 0.2, [0.1, 0.3, 0.5, 0.7]),
        (0.0, 1.0, 0.3, [0.0, 0.3, 0.6, 0.9]),
        (0.7, 0.9, 0.1, [0.7, 0.8, 0.9]),
        (1e-3, 1e-3, 5.0, [1e-3]),
        (-0.3, 0.0, 0.1, [-0.3, -0.2, -0.1, 0.0]),
    ],
)
def test_double_steps_are_free_of_float_error(
    low: float, high: float, step: float, expected: list[float]
) -> None:
    designer = grid(DoubleParameter(name="x", low=low, high=high, step=step))
    assert values(designer, 100) == expected


def test_log_scale_does_not_change_the_grid() -> None:
    designer = grid(IntParameter(name="x", low=1, high=7, step=3, scale=Scale.LOG))
    assert values(designer, 10) == [1, 4, 7]


def test_refuses_a_double_without_step() -> None:
    space = SearchSpace(
        (IntParameter(name="n", low=0, high=1), DoubleParameter(name="lr", low=0.0, high=1.0))
    )
    with pytest.raises(InvalidArgumentError) as error:
        GridDesigner(study_config(space, "grid"))
    assert error.value.field == "space.parameters[1].step"
    assert "add a step" in error.value.message
    assert "another algorithm" in error.value.message


def test_huge_grids_are_never_materialised() -> None:
    big = [IntParameter(name=name, low=0, high=10**12) for name in "abc"]
    designer = grid(*big)
    first = designer.suggest(3)
    assert first == [{"a": 0, "b": 0, "c": c} for c in range(3)]
    done = [trial(i, point, TrialState.SUCCEEDED) for i, point in enumerate(first)]
    designer.update(done, [])
    assert designer.suggest(1) == [{"a": 0, "b": 0, "c": 3}]


def test_every_final_state_counts_as_tried() -> None:
    designer = grid(IntParameter(name="x", low=0, high=5))
    designer.update([trial(i, {"x": i}, state) for i, state in enumerate(FINAL_STATES)], [])
    assert values(designer, 10) == [4, 5]


def test_a_point_that_leaves_the_active_set_unfinished_is_suggested_again() -> None:
    designer = grid(IntParameter(name="x", low=0, high=3))
    designer.update(
        [], [trial(0, {"x": 0}, TrialState.ACTIVE), trial(1, {"x": 1}, TrialState.ACTIVE)]
    )
    assert values(designer, 1) == [2]
    designer.update([], [trial(1, {"x": 1}, TrialState.ACTIVE)])
    assert values(designer, 2) == [0, 2]


def test_points_out_of_order_and_off_the_grid_are_handled() -> None:
    designer = grid(DoubleParameter(name="x", low=0.0, high=0.5, step=0.1))
    designer.update(
        [
            trial(0, {"x": 0.30000000000000004}, TrialState.SUCCEEDED),  # 0.3, give or take
            trial(1, {"x": 0.25}, TrialState.SUCCEEDED),  # not on the grid
            trial(2, {"x": 0.5}, TrialState.FAILED),
        ],
        [trial(3, {"x": 0.1}, TrialState.ACTIVE)],
    )
    assert values(designer, 10) == [0.0, 0.2, 0.4]


def test_suggestions_wait_until_reported() -> None:
    """Suggestions not turned into trials (a refused call) are suggested again."""
    designer = grid(IntParameter(name="x", low=0, high=9))
    assert values(designer, 2) == [0, 1]
    assert values(designer, 2) == [0, 1]
    designer.update(
        [], [trial(0, {"x": 0}, TrialState.ACTIVE), trial(1, {"x": 1}, TrialState.ACTIVE)]
    )
    assert values(designer, 2) == [2, 3]


def test_seed_and_random_state_do_not_change_the_order() -> None:
    space = SearchSpace((IntParameter(name="x", low=0, high=9),))
    a = make_designer(study_config(space, "grid", seed=1))
    b = make_designer(study_config(space, "grid", seed=2, settings={"random_state": "7"}))
    assert a.suggest(10) == b.suggest(10)
    assert GridDesigner(study_config(space, "grid"), GridSettings(random_state=3)).suggest(1) == [
        {"x": 0}
    ]
