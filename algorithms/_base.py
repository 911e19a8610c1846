"""The designer interface every algorithm implements."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuner.space import ParameterValue
    from tuner.trial import Trial

__all__ = ["Designer"]


class Designer(abc.ABC):
    """Suggests parameters from the trials it is told about.

    Built from a study config, a frozen settings object and a seed; it never sees a store
    or a network. Deterministic: the same construction and the same calls give the same
    suggestions.
    """

    @abc.abstractmethod
    def update(self, completed: Sequence[Trial], active: Sequence[Trial]) -> None:
        """Tell the designer what changed.

        Args:
            completed: Trials finished since the last call (any final state), each given
                once over the designer's life.
            active: Every trial that is handed out or queued and not finished now; it
                replaces the set given before, so suggestions avoid repeating them.
        """

    @abc.abstractmethod
    def suggest(self, count: int) -> list[dict[str, ParameterValue]]:
        """Up to ``count`` new parameter assignments inside the space.

        Fewer than ``count`` (or none) means the designer has nothing more to offer, as a
        finished grid: the study is then complete once its active trials finish.
        """
