"""Random search: every parameter drawn independently and uniformly on its scale."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tuner.algorithms._algorithm_settings import RandomSettings
from tuner.algorithms._axes import Axis, GridSpace, axis_of
from tuner.algorithms._base import Designer
from tuner.space import DoubleParameter, IntParameter, Scale

if TYPE_CHECKING:
    from tuner.config import StudyConfig
    from tuner.space import Parameter, ParameterValue
    from tuner.trial import Trial

__all__ = ["RandomDesigner"]

logger = logging.getLogger(__name__)

_MAX_TRIES = 64
"""Draws per suggestion before random search stops hoping to miss the points it avoids."""
_ENUMERATION_LIMIT = 1 << 16
"""Finite spaces up to this size are searched exhaustively for a point not yet tried."""


class RandomDesigner(Designer):
    """Suggests points drawn uniformly at random, honouring each parameter's scale and step.

    Doubles are uniform (log-uniform on a log scale) in ``[low, high]``; with a ``step`` they
    are on the grid ``low + k * step``. Integers are ``low + k * step``; on a log scale they
    are drawn log-uniformly and rounded to that grid. Discrete values and categorical
    choices are equally likely.

    Each :meth:`suggest` draws from a generator seeded with ``(seed, n)``, ``n`` being the
    number of distinct trials seen (completed and active): the same history gives the same
    suggestions, and a designer rebuilt after a restart continues where the old one was
    rather than suggesting its first points again.

    In a finite space (no double without ``step``) a suggestion avoids the points of the
    trials completed or active and those earlier in the same batch, as long as any point
    is left; when every point was tried it still avoids active ones if it can, and then
    repeats points: random search never runs out.

    Args:
        config: The study config; only its search space is used.
        settings: Random search settings; ``random_state``, when given, replaces ``seed``.
        seed: Seed of the designer; negative seeds are taken modulo ``2**64``.

    Examples:
        >>> from tuner.config import Objective, StudyConfig
        >>> from tuner.space import SearchSpace
        >>> lr = DoubleParameter(name="lr", low=1e-4, high=1.0, scale=Scale.LOG)
        >>> config = StudyConfig(space=SearchSpace((lr,)), objective=Objective(metric_name="loss"))
        >>> [point] = RandomDesigner(config, seed=1).suggest(1)
        >>> 1e-4 <= point["lr"] <= 1.0
        True
    """

    def __init__(
        self, config: StudyConfig, settings: RandomSettings | None = None, *, seed: int = 0
    ) -> None:
        settings = RandomSettings() if settings is None else settings
        seed = seed if settings.random_state is None else settings.random_state
        self._seed = seed if seed >= 0 else seed % (1 << 64)
        self._parameters = config.space.parameters
        self._axes = tuple(axis_of(parameter) for parameter in self._parameters)
        self._grid = GridSpace.of(config.space)
        self._completed_ids: set[int] = set()
        self._active_ids: set[int] = set()
        self._completed_points: set[int] = set()
        """Grid points of completed trials (finite spaces only)."""
        self._active_points: set[int] = set()

    @classmethod
    def check_config(cls, config: StudyConfig, settings: RandomSettings) -> None:
        """Random search runs on every search space: nothing to refuse."""

    def update(self, completed: Sequence[Trial], active: Sequence[Trial]) -> None:
        """See :meth:`Designer.update`; random search only counts trials and their points."""
        for trial in completed:
            self._completed_ids.add(trial.id)
            point = self._point_of(trial)
            if point is not None:
                self._completed_points.add(point)
        self._active_ids = {trial.id for trial in active} - self._completed_ids
        self._active_points = {
            point for trial in active if (point := self._point_of(trial)) is not None
        }

    def suggest(self, count: int) -> list[dict[str, ParameterValue]]:
        """See :meth:`Designer.suggest`; always ``count`` points.

        The k-th trial of the study draws from a generator seeded with (seed, k), so the
        points depend on the seed and the trial's position only, not on how the trials
        were batched into calls (which depends on timing under parallelism).
        """
        if count <= 0:
            return []
        n_seen = len(self._completed_ids) + len(self._active_ids)
        rngs = [np.random.default_rng([self._seed, n_seen + i]) for i in range(count)]
        if self._grid is None:
            return [self._draw_values(rng) for rng in rngs]
        batch: list[int] = []
        in_batch: set[int] = set()
        exhausted: set[int] = set()
        for rng in rngs:
            point = self._pick(rng, self._grid, in_batch, exhausted)
            batch.append(point)
            in_batch.add(point)
        return [self._grid.point(point) for point in batch]

    def _point_of(self, trial: Trial) -> int | None:
        return None if self._grid is None else self._grid.index(trial.parameters)

    def _pick(
        self, rng: np.random.Generator, grid: GridSpace, batch: set[int], exhausted: set[int]
    ) -> int:
        """A grid point avoiding, if it can, the tried points, else the active ones.

        ``exhausted`` holds the levels of avoidance found impossible earlier in the batch;
        the batch only grows, so they stay impossible.
        """
        levels = (
            (self._completed_points, self._active_points, batch),
            (self._active_points, batch),
        )
        for level, avoided in enumerate(levels):
            if level in exhausted:
                continue
            for _ in range(_MAX_TRIES):
                point = self._draw_point(rng, grid)
                if not any(point in points for points in avoided):
                    return point
            if grid.size <= _ENUMERATION_LIMIT:
                free = [p for p in range(grid.size) if not any(p in ps for ps in avoided)]
                if free:
                    return free[_uniform_index(rng, len(free))]
                exhausted.add(level)
        logger.debug("random search repeats a point: no untried point is left to draw")
        return self._draw_point(rng, grid)

    def _draw_point(self, rng: np.random.Generator, grid: GridSpace) -> int:
        indices = []
        for parameter, axis in zip(self._parameters, self._axes, strict=True):
            assert axis is not None
            indices.append(_draw_index(parameter, axis, rng))
        return grid.flat_index(tuple(indices))

    def _draw_values(self, rng: np.random.Generator) -> dict[str, ParameterValue]:
        values: dict[str, ParameterValue] = {}
        for parameter, axis in zip(self._parameters, self._axes, strict=True):
            if axis is None:
                assert isinstance(parameter, DoubleParameter)
                values[parameter.name] = _draw_double(
                    parameter.low, parameter.high, parameter.scale, rng
                )
            else:
                values[parameter.name] = axis.value(_draw_index(parameter, axis, rng))
        return values


def _draw_double(low: float, high: float, scale: Scale, rng: np.random.Generator) -> float:
    """Uniform (log-uniform on a log scale) in ``[low, high]``."""
    u = float(rng.random())
    if scale is Scale.LOG:
        value = math.exp((1.0 - u) * math.log(low) + u * math.log(high))
    else:
        # Not low + u * (high - low): that overflows when the bounds are near ±1.8e308.
        value = (1.0 - u) * low + u * high
    return min(max(value, low), high)


def _draw_index(parameter: Parameter, axis: Axis, rng: np.random.Generator) -> int:
    """An index on the parameter's axis, log-uniformly on a log scale, else uniformly."""
    if isinstance(parameter, IntParameter | DoubleParameter) and parameter.scale is Scale.LOG:
        step = parameter.step
        assert step is not None
        value = _draw_double(float(parameter.low), float(parameter.high), Scale.LOG, rng)
        return min(max(round((value - parameter.low) / step), 0), axis.size - 1)
    return _uniform_index(rng, axis.size)


def _uniform_index(rng: np.random.Generator, size: int) -> int:
    """Uniform in ``0 .. size - 1``, for any size (a grid may have more than 2**64 points)."""
    if size <= 1 << 62:
        return int(rng.integers(size))
    n_bytes = (size.bit_length() + 64 + 7) // 8  # 64 spare bits make the modulo bias negligible
    return int.from_bytes(rng.bytes(n_bytes), "big") % size
