"""Sobol search: a low-discrepancy sequence spread over the space, one point per trial."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import qmc

from tuner.algorithms._algorithm_settings import SobolSettings
from tuner.algorithms._base import Designer
from tuner.algorithms._cube import PointTracker, UnitCodec

if TYPE_CHECKING:
    from tuner.config import StudyConfig
    from tuner.space import ParameterValue
    from tuner.trial import Trial

__all__ = ["SobolDesigner"]


class SobolDesigner(Designer):
    """Suggests the points of a (scrambled) Sobol sequence, point ``k`` for the k-th trial.

    The sequence has one dimension per parameter, mapped to each parameter's scale: doubles
    uniformly (in the logarithm on a log scale); integers and stepped doubles by equal bins
    of the values (in the logarithm on a log scale); discrete values and categorical
    choices by equal bins. The first ``2**m`` points put one point in each of ``2**m``
    equal slices of every dimension, and spread more evenly than random ones.

    ``k`` is the number of distinct trials seen (completed and active), so a designer
    rebuilt after a restart continues the sequence. In a finite space a point already
    tried or active is replaced by a random untried one while any is left.

    Args:
        config: The study config; only its search space is used.
        settings: Sobol settings: ``scramble`` (seeded by ``random_state`` or ``seed``).
        seed: Seed of the scrambling; negative seeds are taken modulo ``2**64``.

    Examples:
        >>> from tuner.config import Objective, StudyConfig
        >>> from tuner.space import DoubleParameter, SearchSpace
        >>> config = StudyConfig(
        ...     space=SearchSpace((DoubleParameter(name="x", low=0.0, high=1.0),)),
        ...     objective=Objective(metric_name="loss"),
        ... )
        >>> designer = SobolDesigner(config, SobolSettings(scramble=False))
        >>> [point["x"] for point in designer.suggest(4)]
        [0.0, 0.5, 0.75, 0.25]
    """

    def __init__(
        self, config: StudyConfig, settings: SobolSettings | None = None, *, seed: int = 0
    ) -> None:
        settings = SobolSettings() if settings is None else settings
        seed = seed if settings.random_state is None else settings.random_state
        self._seed = seed if seed >= 0 else seed % (1 << 64)
        self._names = config.space.names
        self._codecs = tuple(UnitCodec(parameter) for parameter in config.space)
        self._engine = qmc.Sobol(
            len(self._codecs),
            scramble=settings.scramble,
            seed=np.random.default_rng(self._seed),
        )
        self._tracker = PointTracker(config.space)
        self._completed_ids: set[int] = set()
        self._active_ids: set[int] = set()

    @classmethod
    def check_config(cls, config: StudyConfig, settings: SobolSettings) -> None:
        """Sobol search runs on every search space: nothing to refuse."""

    def update(self, completed: Sequence[Trial], active: Sequence[Trial]) -> None:
        """See :meth:`Designer.update`; Sobol search only counts trials and their points."""
        self._completed_ids.update(trial.id for trial in completed)
        self._active_ids = {trial.id for trial in active} - self._completed_ids
        self._tracker.update(completed, active)

    def suggest(self, count: int) -> list[dict[str, ParameterValue]]:
        """See :meth:`Designer.suggest`; always ``count`` points."""
        if count <= 0:
            return []
        n_seen = len(self._completed_ids) + len(self._active_ids)
        units = self.sequence(n_seen, count)
        batch: set[int] = set()
        points = []
        for i, row in enumerate(units):
            point = {
                name: codec.decode(float(u))
                for name, codec, u in zip(self._names, self._codecs, row, strict=True)
            }
            rng = np.random.default_rng([self._seed, n_seen + i])
            points.append(self._tracker.choose([point], rng, batch))
        return points

    def sequence(self, start: int, count: int) -> np.ndarray:
        """Points ``start`` to ``start + count - 1`` of the sequence, in the unit cube."""
        self._engine.reset()
        if start:
            self._engine.fast_forward(start)
        with warnings.catch_warnings():
            # scipy warns that only 2**m points keep the balance properties; any prefix of
            # the sequence is what a study of any length gets.
            warnings.simplefilter("ignore", UserWarning)
            return np.asarray(self._engine.random(count))
