"""The unit-cube encoding: round trips for every parameter type and scale, snapping."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuner.algorithms._axes import axis_of
from tuner.algorithms._gp_encoding import Encoder
from tuner.algorithms.testing import points, search_spaces
from tuner.space import (
    CategoricalParameter,
    DiscreteParameter,
    DoubleParameter,
    IntParameter,
    Scale,
    SearchSpace,
)

SPACE = SearchSpace(
    (
        DoubleParameter(name="lin", low=-2.0, high=6.0),
        DoubleParameter(name="log", low=1e-4, high=1.0, scale=Scale.LOG),
        DoubleParameter(name="stepped", low=0.1, high=0.7, step=0.2),
        IntParameter(name="int", low=1, high=9, step=2),
        IntParameter(name="logint", low=1, high=1024, scale=Scale.LOG),
        DiscreteParameter(name="discrete", values=(0.5, 1.0, 4.0)),
        CategoricalParameter(name="cat", choices=("a", "b", "c")),
    )
)


def test_coordinates() -> None:
    encoder = Encoder(SPACE)
    assert encoder.n_dims == 9
    u = encoder.encode(
        {
            "lin": 2.0,
            "log": 1e-2,
            "stepped": 0.5,
            "int": 5,
            "logint": 32,
            "discrete": 4.0,
            "cat": "b",
        }
    )
    assert np.allclose(u, [0.5, 0.5, 2 / 3, 0.5, 0.5, 1.0, 0.0, 1.0, 0.0])


@pytest.mark.parametrize("seed", range(5))
def test_decoded_points_are_inside_with_python_types(seed: int) -> None:
    encoder = Encoder(SPACE)
    for u in np.random.default_rng(seed).uniform(-0.2, 1.2, size=(50, encoder.n_dims)):
        point = encoder.decode(u)
        assert SPACE.contains(point), point
        assert type(point["int"]) is int and type(point["logint"]) is int
        assert type(point["lin"]) is float and type(point["stepped"]) is float


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip_of_points_on_the_grid(data: st.DataObject) -> None:
    space = data.draw(search_spaces())
    encoder = Encoder(space)
    point = data.draw(points(space))
    decoded = encoder.decode(encoder.encode(point))
    assert space.contains(decoded)
    for parameter in space:
        value, back = point[parameter.name], decoded[parameter.name]
        if isinstance(parameter, DoubleParameter) and parameter.step is None:
            assert np.isclose(back, value, rtol=1e-9, atol=1e-9 * (parameter.high - parameter.low))
        elif isinstance(parameter, DoubleParameter):
            axis = axis_of(parameter)
            assert axis is not None and axis.index(back) is not None  # snapped to the grid
            if axis.index(value) is not None:
                assert back == axis.value(axis.index(value))  # type: ignore[arg-type,unused-ignore]
            else:  # the nearest grid value, or the last one past the end of the grid
                assert parameter.step is not None and abs(back - value) <= parameter.step * 1.000001
        else:
            assert back == value


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_snap_equals_encoding_the_decoded_point(data: st.DataObject) -> None:
    space = data.draw(search_spaces())
    encoder = Encoder(space)
    rng = np.random.default_rng(data.draw(st.integers(0, 100)))
    u = rng.random((8, encoder.n_dims))
    snapped = encoder.snap(u)
    expected = np.array([encoder.encode(encoder.decode(row)) for row in u])
    assert (np.abs(snapped - expected) <= _unit_tolerance(space)).all()


def _unit_tolerance(space: SearchSpace) -> np.ndarray:
    """1e-6 per coordinate, or the float resolution of the round trip through values.

    ``expected`` goes through the parameter's value, which floats resolve only to about
    eps * |value|: for a double in [16384, 16384.000001] that is 4e-6 of the range.
    """
    tolerances: list[float] = []
    for parameter in space:
        if isinstance(parameter, CategoricalParameter):
            tolerances += [1e-6] * len(parameter.choices)
            continue
        tolerance = 1e-6
        if isinstance(parameter, DoubleParameter | IntParameter):
            low, high = float(parameter.low), float(parameter.high)
            if parameter.scale is Scale.LOG:
                low, high = math.log(low), math.log(high)
            if high > low:
                resolution = 8 * np.finfo(float).eps * max(abs(low), abs(high), 1.0)
                tolerance += resolution / (high - low)
        tolerances.append(tolerance)
    return np.array(tolerances)


def test_from_raw_covers_every_choice() -> None:
    encoder = Encoder(SearchSpace((CategoricalParameter(name="c", choices=("x", "y", "z")),)))
    raw = np.array([[0.0], [0.34], [0.99]])
    assert [encoder.decode(u)["c"] for u in encoder.from_raw(raw)] == ["x", "y", "z"]


def test_single_value_parameters_sit_in_the_middle() -> None:
    encoder = Encoder(
        SearchSpace(
            (
                DoubleParameter(name="x", low=3.0, high=3.0),
                IntParameter(name="n", low=2, high=2),
                DiscreteParameter(name="d", values=(7.0,)),
            )
        )
    )
    assert np.allclose(encoder.encode({"x": 3.0, "n": 2, "d": 7.0}), 0.5)
    assert encoder.decode(np.array([0.1, 0.9, 0.0])) == {"x": 3.0, "n": 2, "d": 7.0}
