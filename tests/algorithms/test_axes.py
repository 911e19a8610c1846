"""Parameter grids: exact decimal steps, tolerant lookup, product numbering."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuner.algorithms._axes import GridSpace, axis_of
from tuner.algorithms.testing import grid_size, points, search_spaces
from tuner.space import (
    CategoricalParameter,
    DiscreteParameter,
    DoubleParameter,
    IntParameter,
    SearchSpace,
)


def test_int_axis() -> None:
    axis = axis_of(IntParameter(name="k", low=-3, high=8, step=4))
    assert axis is not None
    assert axis.size == 3 and [axis.value(i) for i in range(3)] == [-3, 1, 5]
    assert axis.index(5) == 2 and axis.index(5.0) == 2
    assert axis.index(3) is None and axis.index(9) is None and axis.index(5.5) is None
    assert axis.index(True) is None and axis.index("5") is None


def test_double_axis_is_exact_and_tolerant() -> None:
    axis = axis_of(DoubleParameter(name="x", low=0.0, high=1.0, step=0.1))
    assert axis is not None
    assert axis.size == 11
    assert axis.value(3) == 0.3 and axis.value(10) == 1.0
    assert axis.index(0.1 * 3) == 3  # 0.30000000000000004
    assert axis.index(0.35) is None
    assert axis.index(1.1) is None and axis.index(-0.1) is None
    assert axis.index(float("nan")) is None and axis.index(float("inf")) is None
    assert axis_of(DoubleParameter(name="x", low=0.0, high=1.0)) is None


def test_double_axis_of_extreme_bounds() -> None:
    axis = axis_of(DoubleParameter(name="x", low=-1.7e308, high=1.7e308, step=5e-324))
    assert axis is not None
    assert axis.size > 10**600
    assert float(axis.value(axis.size - 1)) <= 1.7e308
    axis.index(1e308)  # does not overflow


def test_choice_axes() -> None:
    discrete = axis_of(DiscreteParameter(name="d", values=(4, 1, 2.5)))
    assert discrete is not None
    assert [discrete.value(i) for i in range(3)] == [1, 2.5, 4]
    assert discrete.index(4.0) == 2 and discrete.index("4") is None and discrete.index(True) is None
    categorical = axis_of(CategoricalParameter(name="c", choices=("b", "a")))
    assert categorical is not None
    assert categorical.index("a") == 1 and categorical.index(1) is None


def test_grid_space_numbering_is_itertools_product() -> None:
    space = SearchSpace(
        (
            IntParameter(name="a", low=0, high=2),
            CategoricalParameter(name="b", choices=("x", "y")),
            DoubleParameter(name="c", low=0.5, high=1.0, step=0.5),
        )
    )
    grid = GridSpace.of(space)
    assert grid is not None
    expected = list(itertools.product((0, 1, 2), ("x", "y"), (0.5, 1.0)))
    assert [tuple(grid.point(i).values()) for i in range(grid.size)] == expected
    assert grid.index({"a": 2, "b": "x", "c": 1.0}) == 9
    assert grid.index({"a": 2, "b": "x"}) is None
    assert grid.index({"a": 2, "b": "x", "c": 1.0, "d": 0}) is None
    assert GridSpace.of(SearchSpace((DoubleParameter(name="x", low=0, high=1),))) is None


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_points_round_trip(data: st.DataObject) -> None:
    space = data.draw(search_spaces(finite=True, max_points=5))
    grid = GridSpace.of(space)
    assert grid is not None
    assert grid.size == grid_size(space)
    index = data.draw(st.integers(0, grid.size - 1))
    point = grid.point(index)
    assert space.contains(point)
    assert grid.index(point) == index
    other = data.draw(points(space))
    other_index = grid.index(other)
    if other_index is not None:
        for name, value in grid.point(other_index).items():
            if isinstance(value, str):
                assert value == other[name]
            else:
                assert value == pytest.approx(other[name], rel=1e-9, abs=1e-12)
