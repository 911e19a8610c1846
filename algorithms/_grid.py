"""Grid search: every point of the product of the parameters' grids, once, in order."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tuner.algorithms._algorithm_settings import GridSettings
from tuner.algorithms._axes import GridSpace
from tuner.algorithms._base import Designer
from tuner.errors import InvalidArgumentError
from tuner.space import DoubleParameter

if TYPE_CHECKING:
    from tuner.config import StudyConfig
    from tuner.space import ParameterValue
    from tuner.trial import Trial

__all__ = ["GridDesigner"]

logger = logging.getLogger(__name__)


class GridDesigner(Designer):
    """Suggests the points of the grid in :func:`itertools.product` order, skipping tried ones.

    The grid of a parameter is: integers ``low, low + step, ... <= high``; doubles likewise
    (a ``step`` is required, and the values are computed in decimal, so ``0.1`` by ``0.1``
    up to ``0.3`` is ``0.1, 0.2, 0.3``); discrete values; categorical choices. Scales do not
    matter. A point whose trial is active or completed (in any final state) is never
    suggested; when no point is left, :meth:`suggest` returns fewer than asked, or none.

    The grid is never materialised: the designer keeps a cursor below which every point is
    completed, and the points completed or active above it, so a call costs
    ``O(count + trials new to the designer)`` however large the grid.

    Args:
        config: The study config; only its search space is used.
        settings: Grid search settings (``random_state`` is accepted and ignored).
        seed: Unused: grid search is deterministic.

    Raises:
        InvalidArgumentError: A double parameter has no ``step`` (see :meth:`check_config`).

    Examples:
        >>> from tuner.config import Objective, StudyConfig
        >>> from tuner.space import SearchSpace
        >>> config = StudyConfig(
        ...     space=SearchSpace((DoubleParameter(name="x", low=0.0, high=0.2, step=0.1),)),
        ...     objective=Objective(metric_name="loss"),
        ... )
        >>> designer = GridDesigner(config)
        >>> designer.suggest(5)
        [{'x': 0.0}, {'x': 0.1}, {'x': 0.2}]
    """

    def __init__(
        self, config: StudyConfig, settings: GridSettings | None = None, *, seed: int = 0
    ) -> None:
        self.check_config(config, GridSettings() if settings is None else settings)
        grid = GridSpace.of(config.space)
        assert grid is not None
        self._grid = grid
        self._cursor = 0
        """Every point below is completed."""
        self._frontier = 0
        """Every point in ``[cursor, frontier)`` is completed or active."""
        self._completed: set[int] = set()
        """Completed points at or above the cursor."""
        self._active: set[int] = set()

    @classmethod
    def check_config(cls, config: StudyConfig, settings: GridSettings) -> None:
        """Refuse a double parameter without ``step``: it has no finite grid.

        Raises:
            InvalidArgumentError: With ``field`` ``space.parameters[<index>].step``.
        """
        for index, parameter in enumerate(config.space):
            if isinstance(parameter, DoubleParameter) and parameter.step is None:
                raise InvalidArgumentError(
                    f"grid search needs a step for the double parameter {parameter.name!r}: "
                    "add a step, or use another algorithm such as random",
                    field=f"space.parameters[{index}].step",
                )

    def update(self, completed: Sequence[Trial], active: Sequence[Trial]) -> None:
        """See :meth:`Designer.update`."""
        for trial in completed:
            point = self._grid.index(trial.parameters)
            if point is not None and point >= self._cursor:
                self._completed.add(point)
        active_points = {
            point for trial in active if (point := self._grid.index(trial.parameters)) is not None
        }
        if any(
            point not in active_points and point not in self._completed for point in self._active
        ):
            # A point left the active set without completing: it may be suggested again, so
            # the points below the frontier are no longer all taken.
            self._frontier = self._cursor
        self._active = active_points
        while self._cursor in self._completed:
            self._completed.remove(self._cursor)
            self._cursor += 1
        self._frontier = max(self._frontier, self._cursor)

    def suggest(self, count: int) -> list[dict[str, ParameterValue]]:
        """See :meth:`Designer.suggest`; fewer than ``count`` once the grid is exhausted."""
        while self._frontier < self._grid.size and self._is_taken(self._frontier):
            self._frontier += 1
        points: list[dict[str, ParameterValue]] = []
        point = self._frontier
        while len(points) < count and point < self._grid.size:
            if not self._is_taken(point):
                points.append(self._grid.point(point))
            point += 1
        if len(points) < count:
            logger.debug("grid search is exhausted: %d of %d points suggested", len(points), count)
        return points

    def _is_taken(self, point: int) -> bool:
        return point < self._cursor or point in self._completed or point in self._active
