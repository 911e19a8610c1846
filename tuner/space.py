"""The search space: parameters, their types, ranges and scales.

Every parameter object checks itself when built, so an invalid one cannot exist.

Examples:
    >>> space = SearchSpace((
    ...     DoubleParameter(name="lr", low=1e-4, high=1e-1, scale=Scale.LOG),
    ...     IntParameter(name="depth", low=2, high=8),
    ...     CategoricalParameter(name="kernel", choices=("rbf", "linear")),
    ... ))
    >>> space.contains({"lr": 0.01, "depth": 3, "kernel": "rbf"})
    True
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from tuner.errors import InvalidArgumentError

__all__ = [
    "CategoricalParameter",
    "DiscreteParameter",
    "DoubleParameter",
    "IntParameter",
    "Parameter",
    "ParameterType",
    "ParameterValue",
    "Scale",
    "SearchSpace",
]

ParameterValue = float | int | str
"""The value of one parameter in one trial."""


class ParameterType(enum.Enum):
    """The kind of a parameter, named as in Katib's ``parameterType``."""

    DOUBLE = "double"
    INT = "int"
    DISCRETE = "discrete"
    CATEGORICAL = "categorical"


class Scale(enum.Enum):
    """How values are spread over a numeric range (Katib's ``distribution``)."""

    LINEAR = "uniform"
    LOG = "logUniform"


def _check_name(name: str) -> None:
    if not name:
        raise InvalidArgumentError("a parameter needs a non-empty name", field="name")


def _check_bounds(name: str, low: float, high: float, scale: Scale) -> None:
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InvalidArgumentError(f"bounds must be finite, got [{low}, {high}]", field=name)
    if low > high:
        raise InvalidArgumentError(f"min {low} is greater than max {high}", field=name)
    if scale is Scale.LOG and low <= 0:
        raise InvalidArgumentError(f"a log scale needs min > 0, got {low}", field=name)


@dataclass(frozen=True, slots=True, kw_only=True)
class DoubleParameter:
    """A real-valued parameter in ``[low, high]``, optionally on a grid of ``step``."""

    name: str
    low: float
    high: float
    scale: Scale = Scale.LINEAR
    step: float | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_bounds(self.name, self.low, self.high, self.scale)
        if self.step is not None and not (math.isfinite(self.step) and self.step > 0):
            raise InvalidArgumentError(f"step must be > 0, got {self.step}", field=self.name)

    @property
    def type(self) -> ParameterType:
        return ParameterType.DOUBLE

    def contains(self, value: ParameterValue) -> bool:
        """Whether ``value`` is a number inside the range."""
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and self.low <= value <= self.high
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class IntParameter:
    """An integer parameter in ``[low, high]`` (both included), on a grid of ``step``."""

    name: str
    low: int
    high: int
    scale: Scale = Scale.LINEAR
    step: int = 1

    def __post_init__(self) -> None:
        _check_name(self.name)
        for bound in (self.low, self.high, self.step):
            if not isinstance(bound, int) or isinstance(bound, bool):
                raise InvalidArgumentError(
                    f"int bounds and step must be integers, got {bound!r}", field=self.name
                )
        _check_bounds(self.name, self.low, self.high, self.scale)
        if self.step < 1:
            raise InvalidArgumentError(f"step must be >= 1, got {self.step}", field=self.name)

    @property
    def type(self) -> ParameterType:
        return ParameterType.INT

    def contains(self, value: ParameterValue) -> bool:
        """Whether ``value`` is an integer inside the range and on the step grid."""
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and self.low <= value <= self.high
            and (value - self.low) % self.step == 0
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscreteParameter:
    """A numeric parameter taking one of a finite, sorted list of values."""

    name: str
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not self.values:
            raise InvalidArgumentError("a discrete parameter needs values", field=self.name)
        if any(not math.isfinite(v) for v in self.values):
            raise InvalidArgumentError("discrete values must be finite", field=self.name)
        if len(set(self.values)) != len(self.values):
            raise InvalidArgumentError("discrete values must be distinct", field=self.name)
        object.__setattr__(self, "values", tuple(sorted(self.values)))

    @property
    def type(self) -> ParameterType:
        return ParameterType.DISCRETE

    def contains(self, value: ParameterValue) -> bool:
        """Whether ``value`` is one of the values."""
        return not isinstance(value, str | bool) and value in self.values


@dataclass(frozen=True, slots=True, kw_only=True)
class CategoricalParameter:
    """A parameter taking one of a finite list of strings."""

    name: str
    choices: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not self.choices:
            raise InvalidArgumentError("a categorical parameter needs choices", field=self.name)
        if len(set(self.choices)) != len(self.choices):
            raise InvalidArgumentError("categorical choices must be distinct", field=self.name)

    @property
    def type(self) -> ParameterType:
        return ParameterType.CATEGORICAL

    def contains(self, value: ParameterValue) -> bool:
        """Whether ``value`` is one of the choices."""
        return isinstance(value, str) and value in self.choices


Parameter = DoubleParameter | IntParameter | DiscreteParameter | CategoricalParameter
"""Any one parameter of a search space."""


@dataclass(frozen=True, slots=True)
class SearchSpace:
    """An ordered set of parameters with distinct names."""

    parameters: tuple[Parameter, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "parameters", tuple(self.parameters))
        if not self.parameters:
            raise InvalidArgumentError("the search space needs at least one parameter")
        seen: set[str] = set()
        for parameter in self.parameters:
            if parameter.name in seen:
                raise InvalidArgumentError(
                    f"parameter name {parameter.name!r} is used twice", field=parameter.name
                )
            seen.add(parameter.name)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.parameters)

    def __len__(self) -> int:
        return len(self.parameters)

    def __getitem__(self, name: str) -> Parameter:
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        """The parameter names, in order."""
        return tuple(p.name for p in self.parameters)

    def contains(self, values: Mapping[str, ParameterValue]) -> bool:
        """Whether ``values`` assigns every parameter, and only those, a value in range."""
        return set(values) == set(self.names) and all(
            p.contains(values[p.name]) for p in self.parameters
        )

    def check(self, values: Mapping[str, ParameterValue]) -> None:
        """Raise :class:`InvalidArgumentError` naming the first parameter that is off.

        Args:
            values: A parameter assignment, as a trial holds it.

        Raises:
            InvalidArgumentError: A parameter is missing, unknown or out of range.
        """
        unknown = sorted(set(values) - set(self.names))
        if unknown:
            raise InvalidArgumentError(f"unknown parameter {unknown[0]!r}", field=unknown[0])
        for parameter in self.parameters:
            if parameter.name not in values:
                raise InvalidArgumentError("missing value", field=parameter.name)
            if not parameter.contains(values[parameter.name]):
                raise InvalidArgumentError(
                    f"value {values[parameter.name]!r} is outside the space", field=parameter.name
                )
