"""Finite grids of parameter values: one axis per parameter, and their product.

An axis lists the values one parameter takes, by index, without materialising them: an
integer range by its step, a double range by its ``step`` (computed in decimal from the
numbers as written, so ``0.1 + 2 * 0.1`` is ``0.3`` and never leaves ``[low, high]``),
discrete values, categorical choices. A :class:`GridSpace` is the product of the axes of a
search space, numbered like :func:`itertools.product` (the last parameter varies fastest).
"""

from __future__ import annotations

import abc
import decimal
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tuner.space import (
    CategoricalParameter,
    DiscreteParameter,
    DoubleParameter,
    IntParameter,
)

if TYPE_CHECKING:
    from tuner.space import Parameter, ParameterValue, SearchSpace

__all__ = ["Axis", "GridSpace", "axis_of"]

# Exact for any quotient of two finite doubles (at most ~630 digits before the point).
_DECIMAL = decimal.Context(prec=800)
_INDEX_TOLERANCE = 1e-9
"""How far, relative to the step, a double may be from a grid value and still be on it."""


class Axis(abc.ABC):
    """The values one parameter takes on a grid, numbered ``0 .. size - 1``."""

    __slots__ = ()
    size: int

    @abc.abstractmethod
    def value(self, index: int) -> ParameterValue:
        """The value at ``index`` (``0 <= index < size``)."""

    @abc.abstractmethod
    def index(self, value: ParameterValue) -> int | None:
        """The index of ``value``, or None when it is not on this axis."""


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _IntAxis(Axis):
    __slots__ = ("low", "size", "step")

    def __init__(self, parameter: IntParameter) -> None:
        self.low = parameter.low
        self.step = parameter.step
        self.size = (parameter.high - parameter.low) // parameter.step + 1

    def value(self, index: int) -> int:
        return self.low + index * self.step

    def index(self, value: ParameterValue) -> int | None:
        if not _is_number(value):
            return None
        if isinstance(value, float):
            if not value.is_integer():
                return None
            value = int(value)
        assert isinstance(value, int)
        index, remainder = divmod(value - self.low, self.step)
        return index if remainder == 0 and 0 <= index < self.size else None


class _StepAxis(Axis):
    __slots__ = ("_float_low", "_float_step", "low", "size", "step")

    def __init__(self, parameter: DoubleParameter) -> None:
        assert parameter.step is not None
        # repr() is the shortest text that reads back as the same double: "0.1", not
        # 0.1000000000000000055511151231257827.
        self.low = decimal.Decimal(repr(parameter.low))
        self.step = decimal.Decimal(repr(parameter.step))
        high = decimal.Decimal(repr(parameter.high))
        self.size = int(_DECIMAL.divide_int(_DECIMAL.subtract(high, self.low), self.step)) + 1
        self._float_low = parameter.low
        self._float_step = parameter.step

    def value(self, index: int) -> float:
        # The exact decimal is within [low, high], and rounding to the nearest double is
        # monotonic, so the double is too.
        return float(_DECIMAL.add(self.low, _DECIMAL.multiply(index, self.step)))

    def index(self, value: ParameterValue) -> int | None:
        if not _is_number(value):
            return None
        number = float(value)
        offset = (number - self._float_low) / self._float_step
        if not math.isfinite(offset):
            return None
        index = round(offset)
        if not 0 <= index < self.size:
            return None
        tolerance = _INDEX_TOLERANCE * self._float_step
        is_close = math.isclose(
            number, self.value(index), rel_tol=_INDEX_TOLERANCE, abs_tol=tolerance
        )
        return index if is_close else None


class _ChoiceAxis(Axis):
    __slots__ = ("_indices", "_is_categorical", "size", "values")

    def __init__(self, values: tuple[ParameterValue, ...], *, is_categorical: bool) -> None:
        self.values = values
        self.size = len(values)
        self._is_categorical = is_categorical
        self._indices = {value: index for index, value in enumerate(values)}

    def value(self, index: int) -> ParameterValue:
        return self.values[index]

    def index(self, value: ParameterValue) -> int | None:
        if isinstance(value, str) != self._is_categorical or isinstance(value, bool):
            return None
        return self._indices.get(value)


def axis_of(parameter: Parameter) -> Axis | None:
    """The grid of one parameter, or None for a double without ``step`` (not finite).

    Examples:
        >>> axis = axis_of(DoubleParameter(name="x", low=0.1, high=0.3, step=0.1))
        >>> [axis.value(i) for i in range(axis.size)]
        [0.1, 0.2, 0.3]
        >>> axis.index(0.30000000000000004)
        2
    """
    if isinstance(parameter, IntParameter):
        return _IntAxis(parameter)
    if isinstance(parameter, DoubleParameter):
        return None if parameter.step is None else _StepAxis(parameter)
    if isinstance(parameter, DiscreteParameter):
        return _ChoiceAxis(parameter.values, is_categorical=False)
    if isinstance(parameter, CategoricalParameter):
        return _ChoiceAxis(parameter.choices, is_categorical=True)
    raise TypeError(f"unknown parameter type {type(parameter).__name__}")


@dataclass(frozen=True, slots=True)
class GridSpace:
    """A finite search space: the product of its parameters' axes.

    Points are numbered ``0 .. size - 1`` in :func:`itertools.product` order, the first
    parameter varying slowest. ``size`` may be astronomically large; nothing here is
    materialised.

    Examples:
        >>> from tuner.space import SearchSpace
        >>> grid = GridSpace.of(SearchSpace((
        ...     IntParameter(name="a", low=0, high=1),
        ...     CategoricalParameter(name="b", choices=("x", "y", "z")),
        ... )))
        >>> grid.size, grid.point(4), grid.index({"a": 1, "b": "y"})
        (6, {'a': 1, 'b': 'y'}, 4)
    """

    names: tuple[str, ...]
    axes: tuple[Axis, ...]
    size: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", math.prod(axis.size for axis in self.axes))

    @classmethod
    def of(cls, space: SearchSpace) -> GridSpace | None:
        """The grid of ``space``, or None when a double parameter has no ``step``."""
        axes = [axis_of(parameter) for parameter in space]
        if any(axis is None for axis in axes):
            return None
        return cls(space.names, tuple(axis for axis in axes if axis is not None))

    def point(self, index: int) -> dict[str, ParameterValue]:
        """The parameter values of point ``index``."""
        return dict(zip(self.names, self.values(self.axis_indices(index)), strict=True))

    def axis_indices(self, index: int) -> tuple[int, ...]:
        """The index on each axis of point ``index``."""
        indices = []
        for axis in reversed(self.axes):
            index, axis_index = divmod(index, axis.size)
            indices.append(axis_index)
        return tuple(reversed(indices))

    def values(self, axis_indices: tuple[int, ...]) -> tuple[ParameterValue, ...]:
        """The values at the given index on each axis."""
        return tuple(axis.value(i) for axis, i in zip(self.axes, axis_indices, strict=True))

    def flat_index(self, axis_indices: tuple[int, ...]) -> int:
        """The point number of the given index on each axis."""
        index = 0
        for axis, axis_index in zip(self.axes, axis_indices, strict=True):
            index = index * axis.size + axis_index
        return index

    def index(self, values: Mapping[str, ParameterValue]) -> int | None:
        """The number of the point ``values``, or None when it is not a point of the grid."""
        indices = []
        for name, axis in zip(self.names, self.axes, strict=True):
            if name not in values:
                return None
            axis_index = axis.index(values[name])
            if axis_index is None:
                return None
            indices.append(axis_index)
        return None if len(values) != len(self.names) else self.flat_index(tuple(indices))
