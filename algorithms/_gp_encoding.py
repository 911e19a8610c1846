"""Search-space points to and from the unit cube, as the Gaussian process sees them.

Each numeric parameter takes one coordinate in ``[0, 1]``: linear ranges are scaled, log
ranges are logged then scaled, discrete values are placed by their position. A categorical
parameter takes one coordinate per choice (one-hot). Parameters with finitely many values
snap to the nearest of them on the way out (``snap``), so the model always scores points
that can really be suggested.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tuner.algorithms._axes import Axis, axis_of
from tuner.space import CategoricalParameter, DiscreteParameter, Scale

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from tuner.space import Parameter, ParameterValue, SearchSpace

__all__ = ["Encoder"]


@dataclass(frozen=True, slots=True)
class _Column:
    """How one parameter maps to its coordinates ``[start, start + width)``."""

    parameter: Parameter
    axis: Axis | None
    start: int
    width: int
    is_log: bool
    low: float
    """Low end of the range, logged on a log scale."""
    high: float
    span: float
    """``high - low`` (discrete: number of values - 1); 0 for a single value, inf past 1.8e308."""


class Encoder:
    """Encodes points of a search space as vectors in the unit cube, and back.

    Args:
        space: The search space.

    Examples:
        >>> from tuner.space import IntParameter, SearchSpace
        >>> encoder = Encoder(SearchSpace((
        ...     IntParameter(name="n", low=1, high=100, scale=Scale.LOG),
        ...     CategoricalParameter(name="c", choices=("a", "b", "c")),
        ... )))
        >>> encoder.n_dims, encoder.encode({"n": 10, "c": "b"}).round(3).tolist()
        (4, [0.5, 0.0, 1.0, 0.0])
        >>> encoder.decode(np.array([0.5, 0.1, 0.2, 0.9]))
        {'n': 10, 'c': 'c'}
    """

    def __init__(self, space: SearchSpace) -> None:
        columns = []
        start = 0
        for parameter in space:
            axis = axis_of(parameter)
            width, is_log, low, high = 1, False, 0.0, 0.0
            if isinstance(parameter, CategoricalParameter):
                width = len(parameter.choices)
            elif isinstance(parameter, DiscreteParameter):
                high = float(len(parameter.values) - 1)
            else:
                is_log = parameter.scale is Scale.LOG
                low, high = float(parameter.low), float(parameter.high)
                if is_log:
                    low, high = math.log(low), math.log(high)
            span = high - low
            columns.append(_Column(parameter, axis, start, width, is_log, low, high, span))
            start += width
        self._columns = tuple(columns)
        self.n_dims = start
        """Coordinates of an encoded point."""
        self.n_parameters = len(columns)

    def encode(self, values: Mapping[str, ParameterValue]) -> NDArray[np.float64]:
        """The coordinates of a point (values off the space are clipped into it)."""
        u = np.zeros(self.n_dims)
        for column in self._columns:
            u[column.start : column.start + column.width] = self._encode_one(
                column, values[column.parameter.name]
            )
        return u

    def _encode_one(self, column: _Column, value: ParameterValue) -> NDArray[np.float64] | float:
        parameter = column.parameter
        if isinstance(parameter, CategoricalParameter):
            one_hot = np.zeros(column.width)
            if isinstance(value, str) and value in parameter.choices:
                one_hot[parameter.choices.index(value)] = 1.0
            return one_hot
        if isinstance(parameter, DiscreteParameter):
            assert column.axis is not None
            index = column.axis.index(value)
            if index is None:  # not one of the values: the nearest one
                assert not isinstance(value, str)
                index = int(np.argmin([abs(v - value) for v in parameter.values]))
            return index / column.span if column.span > 0 else 0.5
        assert not isinstance(value, str)
        number = float(value)
        if column.is_log:
            number = math.log(max(number, float(parameter.low)))
        return _unit(number, column)

    def decode(self, u: NDArray[np.float64]) -> dict[str, ParameterValue]:
        """The point whose coordinates are nearest ``u``, inside the space.

        Integers come back as ``int``, doubles as ``float``, stepped values on their grid.
        """
        values: dict[str, ParameterValue] = {}
        for column in self._columns:
            part = u[column.start : column.start + column.width]
            values[column.parameter.name] = self._decode_one(column, part)
        return values

    def _decode_one(self, column: _Column, part: NDArray[np.float64]) -> ParameterValue:
        parameter = column.parameter
        if isinstance(parameter, CategoricalParameter):
            return parameter.choices[int(np.argmax(part))]
        if isinstance(parameter, DiscreteParameter):
            return parameter.values[int(_level_index(float(part[0]), column))]
        assert not isinstance(parameter, CategoricalParameter | DiscreteParameter)
        number = _from_unit(float(part[0]), column)
        if column.axis is None:
            return min(max(number, float(parameter.low)), float(parameter.high))
        step = float(parameter.step)  # type: ignore[arg-type]
        offset = (number - float(parameter.low)) / step
        index = min(max(round(offset), 0), column.axis.size - 1) if math.isfinite(offset) else 0
        return column.axis.value(index)

    def snap(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        """Each row of ``u`` (points, coordinates) moved to the encoding of its decoded point.

        Vectorised; equal, up to rounding, to encoding the decoded rows.
        """
        snapped = np.clip(u, 0.0, 1.0)
        for column in self._columns:
            parameter = column.parameter
            block = snapped[:, column.start : column.start + column.width]
            if isinstance(parameter, CategoricalParameter):
                one_hot = np.zeros_like(block)
                one_hot[np.arange(len(block)), np.argmax(block, axis=1)] = 1.0
                snapped[:, column.start : column.start + column.width] = one_hot
            elif isinstance(parameter, DiscreteParameter):
                if column.span > 0:
                    levels = np.round(block[:, 0] * column.span)
                    snapped[:, column.start] = levels / column.span
                else:
                    snapped[:, column.start] = 0.5
            elif column.axis is not None:
                snapped[:, column.start] = self._snap_stepped(column, block[:, 0])
            elif column.high / 2 - column.low / 2 == 0:
                snapped[:, column.start] = 0.5
        return snapped

    def _snap_stepped(self, column: _Column, unit: NDArray[np.float64]) -> NDArray[np.float64]:
        parameter = column.parameter
        assert column.axis is not None and not isinstance(
            parameter, CategoricalParameter | DiscreteParameter
        )
        if column.high / 2 - column.low / 2 == 0:
            return np.full_like(unit, 0.5)
        low, step = float(parameter.low), float(parameter.step)  # type: ignore[arg-type]
        numbers = (1.0 - unit) * column.low + unit * column.high
        if column.is_log:
            numbers = np.exp(numbers)
        with np.errstate(over="ignore", invalid="ignore"):
            indices = np.clip(np.round((numbers - low) / step), 0, column.axis.size - 1)
        values = low + indices * step
        if column.is_log:
            values = np.log(np.maximum(values, low))
        return np.clip((values / 2 - column.low / 2) / (column.high / 2 - column.low / 2), 0, 1)

    def is_finite(self) -> bool:
        """Whether every parameter takes finitely many values."""
        return all(column.axis is not None for column in self._columns)

    def raw_dims(self) -> int:
        """One coordinate per parameter: the dimension of :meth:`from_raw`'s input."""
        return self.n_parameters

    def from_raw(self, raw: NDArray[np.float64]) -> NDArray[np.float64]:
        """Map points of ``[0, 1)^n_parameters`` (a Sobol design) to snapped encodings.

        A categorical coordinate picks choice ``floor(raw * n_choices)``; a discrete one the
        value at that position; the others are the encoded coordinate.
        """
        u = np.zeros((len(raw), self.n_dims))
        for i, column in enumerate(self._columns):
            if isinstance(column.parameter, CategoricalParameter):
                index = np.minimum((raw[:, i] * column.width).astype(int), column.width - 1)
                u[np.arange(len(raw)), column.start + index] = 1.0
            elif isinstance(column.parameter, DiscreteParameter):
                n = int(column.span) + 1
                index = np.minimum((raw[:, i] * n).astype(int), n - 1)
                u[:, column.start] = index / column.span if column.span > 0 else 0.5
            else:
                u[:, column.start] = raw[:, i]
        return self.snap(u)


def _unit(number: float, column: _Column) -> float:
    # Halved, so bounds near ±1.8e308 do not overflow.
    half_span = column.high / 2 - column.low / 2
    if half_span == 0:  # one value, or a range of a few subnormals
        return 0.5
    return min(max((number / 2 - column.low / 2) / half_span, 0.0), 1.0)


def _from_unit(u: float, column: _Column) -> float:
    u = min(max(u, 0.0), 1.0)
    number = (1.0 - u) * column.low + u * column.high
    return math.exp(number) if column.is_log else number


def _level_index(u: float, column: _Column) -> int:
    return round(min(max(u, 0.0), 1.0) * column.span) if column.span > 0 else 0
