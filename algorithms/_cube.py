"""Parameters on the unit interval, and steering suggestions off tried points.

Model-based designers (TPE, CMA-ES, Sobol) work on ``[0, 1]`` per parameter: a
:class:`UnitCodec` maps a parameter's values there and back, honouring its scale (a log
scale is uniform in the logarithm) and its grid (integers, stepped doubles, discrete values
and categorical choices are *bins* of the interval, numbered as on the parameter's
:class:`~tuner.algorithms._axes.Axis`). :class:`PointTracker` keeps the grid points of the
trials seen, so a designer in a finite space suggests untried points while there are any.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from tuner.algorithms._axes import GridSpace, axis_of
from tuner.algorithms._random import _uniform_index
from tuner.space import (
    CategoricalParameter,
    DiscreteParameter,
    DoubleParameter,
    IntParameter,
    Scale,
)

if TYPE_CHECKING:
    from tuner.space import Parameter, ParameterValue, SearchSpace
    from tuner.trial import Trial

__all__ = ["PointTracker", "UnitCodec"]

_MAX_TRIES = 64
_ENUMERATION_LIMIT = 1 << 16
_LARGEST_INDEX = 1 << 62
"""Bins beyond this (absurdly fine grids) are not reached from the unit interval."""


class UnitCodec:
    """One parameter on ``[0, 1]``: continuous for a double without step, else bins.

    Bins are equally wide on a linear scale (and for discrete values and categorical
    choices, in index order); on a log scale a bin spans its grid value plus and minus half
    a step, in the logarithm.
    """

    __slots__ = (
        "_axis",
        "_log",
        "_t0",
        "_t1",
        "is_choice",
        "parameter",
        "size",
    )

    def __init__(self, parameter: Parameter) -> None:
        self.parameter = parameter
        self._axis = axis_of(parameter)
        self.size: int | None = None if self._axis is None else self._axis.size
        """The number of bins; None for a continuous parameter."""
        self.is_choice = isinstance(parameter, CategoricalParameter | DiscreteParameter)
        """Whether the values are unordered choices (categorical, or discrete values)."""
        self._log = (
            isinstance(parameter, IntParameter | DoubleParameter) and parameter.scale is Scale.LOG
        )
        self._t0 = 0.0
        self._t1 = 1.0
        if isinstance(parameter, IntParameter | DoubleParameter) and self._log:
            if self.size is None:
                self._t0, self._t1 = math.log(parameter.low), math.log(parameter.high)
            else:
                self._t0 = float(self._log_boundaries(np.array([0]))[0])
                self._t1 = float(self._log_boundaries(np.array([self.size]))[0])

    # --- values to the unit interval ------------------------------------------------------

    def index(self, value: ParameterValue) -> int | None:
        """The bin of ``value`` (the nearest one for an off-grid number); None if not a bin."""
        assert self._axis is not None and self.size is not None
        index = self._axis.index(value)
        if index is not None or self.is_choice:
            return index
        parameter = self.parameter
        assert isinstance(parameter, IntParameter | DoubleParameter) and parameter.step
        if not isinstance(value, int | float) or not math.isfinite(value):
            return None
        nearest = round((float(value) - parameter.low) / parameter.step)
        return min(max(nearest, 0), self.size - 1)

    def encode(self, value: ParameterValue) -> float | None:
        """The unit coordinate of ``value``: of its bin's value for a binned parameter."""
        if self.size is not None:
            index = self.index(value)
            return None if index is None else float(self.centers(np.array([index]))[0])
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        if self._log:
            if value <= 0:
                return None
            return self._unit(math.log(value), self._t0, self._t1)
        parameter = self.parameter
        assert isinstance(parameter, DoubleParameter)
        return self._unit(float(value), parameter.low, parameter.high)

    @staticmethod
    def _unit(t: float, t0: float, t1: float) -> float:
        if not t1 > t0:
            return 0.5
        # Halved so that bounds near +-1.8e308 do not overflow.
        u = (t / 2 - t0 / 2) / (t1 / 2 - t0 / 2)
        return min(max(u, 0.0), 1.0) if math.isfinite(u) else 0.5

    def centers(self, indices: np.ndarray) -> np.ndarray:
        """The unit coordinates of the values of bins ``indices``."""
        assert self.size is not None
        if not self._log:
            return (indices + 0.5) / self.size
        parameter = self.parameter
        assert isinstance(parameter, IntParameter | DoubleParameter) and parameter.step
        values = parameter.low + indices * float(parameter.step)
        return np.clip((np.log(values) - self._t0) / (self._t1 - self._t0), 0.0, 1.0)

    def edges(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The unit interval each bin in ``indices`` spans, as (lower, upper) arrays."""
        assert self.size is not None
        if not self._log:
            return indices / self.size, (indices + 1) / self.size
        span = self._t1 - self._t0
        lower = (self._log_boundaries(indices) - self._t0) / span
        upper = (self._log_boundaries(indices + 1) - self._t0) / span
        return lower, upper

    def _log_boundaries(self, j: np.ndarray) -> np.ndarray:
        """Log of the boundary below bin ``j``: half a step below its value (``j`` may be
        ``size``); below bin 0 mirrored in the logarithm when half a step goes below 0."""
        parameter = self.parameter
        assert isinstance(parameter, IntParameter | DoubleParameter) and parameter.step
        low, step = float(parameter.low), float(parameter.step)
        with np.errstate(invalid="ignore", divide="ignore"):
            inner = np.log(low + (j - 0.5) * step)
        if low - step / 2 > 0:
            return inner
        first = 2 * math.log(low) - math.log(low + step / 2)
        return np.where(j == 0, first, inner)

    # --- the unit interval to values ------------------------------------------------------

    def bins(self, u: np.ndarray) -> np.ndarray:
        """The bin holding each unit coordinate in ``u``."""
        assert self.size is not None
        if not self._log:
            indices = np.floor(np.clip(u, 0.0, 1.0) * self.size)
        else:
            parameter = self.parameter
            assert isinstance(parameter, IntParameter | DoubleParameter) and parameter.step
            values = np.exp(self._t0 + np.clip(u, 0.0, 1.0) * (self._t1 - self._t0))
            indices = np.round((values - parameter.low) / float(parameter.step))
        largest = min(self.size - 1, _LARGEST_INDEX)
        return np.asarray(np.clip(indices, 0, largest), dtype=np.int64)

    def value_at(self, index: int) -> ParameterValue:
        """The value of bin ``index``."""
        assert self._axis is not None
        return self._axis.value(int(index))

    def decode(self, u: float) -> ParameterValue:
        """The value at unit coordinate ``u`` (of the bin holding it, for bins)."""
        if self.size is not None:
            return self.value_at(int(self.bins(np.array([u]))[0]))
        parameter = self.parameter
        assert isinstance(parameter, DoubleParameter)
        u = min(max(float(u), 0.0), 1.0)
        if self._log:
            value = math.exp((1.0 - u) * self._t0 + u * self._t1)
        else:
            value = (1.0 - u) * parameter.low + u * parameter.high
        return float(min(max(value, parameter.low), parameter.high))


class PointTracker:
    """The grid points of completed and active trials in a finite space.

    In a space with a double without step nothing is tracked and :meth:`choose` takes the
    first candidate.
    """

    def __init__(self, space: SearchSpace) -> None:
        self.grid = GridSpace.of(space)
        self._completed: set[int] = set()
        self._active: set[int] = set()

    def update(self, completed: Iterable[Trial], active: Iterable[Trial]) -> None:
        """Add the points of ``completed``; replace the active points by those of ``active``."""
        if self.grid is None:
            return
        grid = self.grid
        self._completed.update(
            p for trial in completed if (p := grid.index(trial.parameters)) is not None
        )
        self._active = {p for trial in active if (p := grid.index(trial.parameters)) is not None}

    def choose(
        self,
        candidates: Sequence[dict[str, ParameterValue]],
        rng: np.random.Generator,
        batch: set[int],
    ) -> dict[str, ParameterValue]:
        """The first candidate not yet tried, else a random untried point, else the first
        candidate not active, and so on; its point is added to ``batch``.

        Args:
            candidates: Points in order of preference; at least one.
            rng: Draws the random points.
            batch: Points suggested earlier in the same call.
        """
        if self.grid is None:
            return candidates[0]
        grid = self.grid
        keys = [grid.index(candidate) for candidate in candidates]
        for avoided in ((self._completed, self._active, batch), (self._active, batch)):
            for candidate, key in zip(candidates, keys, strict=True):
                if key is not None and not any(key in points for points in avoided):
                    batch.add(key)
                    return candidate
            point = _free_point(grid, avoided, rng)
            if point is not None:
                batch.add(point)
                return grid.point(point)
        if keys[0] is not None:
            batch.add(keys[0])
        return candidates[0]


def _free_point(
    grid: GridSpace, avoided: tuple[set[int], ...], rng: np.random.Generator
) -> int | None:
    for _ in range(_MAX_TRIES):
        point = grid.flat_index(tuple(_uniform_index(rng, axis.size) for axis in grid.axes))
        if not any(point in points for points in avoided):
            return point
    if grid.size <= _ENUMERATION_LIMIT:
        free = [p for p in range(grid.size) if not any(p in ps for ps in avoided)]
        if free:
            return free[_uniform_index(rng, len(free))]
    return None
