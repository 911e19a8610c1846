"""CMA-ES: the covariance matrix adaptation evolution strategy, on the unit cube."""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from cmaes import CMA

from tuner.algorithms._algorithm_settings import CmaEsSettings, RestartStrategy
from tuner.algorithms._base import Designer
from tuner.algorithms._cube import PointTracker, UnitCodec
from tuner.config import Direction
from tuner.trial import TrialState

if TYPE_CHECKING:
    from tuner.config import StudyConfig
    from tuner.space import ParameterValue
    from tuner.trial import Trial

__all__ = ["CmaEsDesigner"]

_DEFAULT_SIGMA0 = 1.0 / 6.0
_CANDIDATES = 8
"""Draws per suggestion in a finite space, to find a point not tried yet."""
_LARGEST_LOSS = 1e300


@dataclass(slots=True)
class _Member:
    number: int
    x: np.ndarray
    """The trial's point in the unit cube."""
    is_finished: bool = False
    loss: float | None = None
    """The objective as a loss (smaller is better); None when failed or NaN."""


class CmaEsDesigner(Designer):
    """Suggests points from CMA-ES (Hansen, 2016) over the unit cube of the parameters.

    Each parameter is one coordinate of ``[0, 1]``: doubles continuously (in the logarithm
    on a log scale), integers and stepped doubles as bins of their values, discrete values
    and categorical choices as bins in their listed order. CMA-ES suits numeric spaces;
    choices work, but their order means nothing to the search.

    Generations are the trials in order of their number: the first ``population_size``
    trials make generation 0, and so on. A generation is told to CMA-ES once all its
    trials finished (and the generations before it were told), with the points the trials
    actually ran; failed, infeasible and NaN trials count as worse than the worst of their
    generation. Suggestions beyond the open generation come from the same distribution.
    The state is therefore a function of the trials alone: a designer rebuilt from the
    store replays the generations and continues as the warm one would. With the ``ipop``
    restart strategy a converged search restarts from a random mean with twice the
    population.

    Suggestion ``k`` of the study (``k`` counting the trials seen) draws from a generator
    seeded with ``(seed, k)``. In a finite space a suggestion avoids tried and active
    points while any are left.

    Args:
        config: The study config: space and objective direction.
        settings: CMA-ES settings; ``random_state``, when given, replaces ``seed``.
        seed: Seed of the designer; negative seeds are taken modulo ``2**64``.

    Examples:
        >>> from tuner.config import Objective, StudyConfig
        >>> from tuner.space import DoubleParameter, SearchSpace
        >>> config = StudyConfig(
        ...     space=SearchSpace((
        ...         DoubleParameter(name="x", low=-1.0, high=1.0),
        ...         DoubleParameter(name="y", low=-1.0, high=1.0),
        ...     )),
        ...     objective=Objective(metric_name="loss"),
        ... )
        >>> designer = CmaEsDesigner(config, seed=3)
        >>> len(designer.suggest(6)), designer.population_size
        (6, 6)
    """

    def __init__(
        self, config: StudyConfig, settings: CmaEsSettings | None = None, *, seed: int = 0
    ) -> None:
        settings = CmaEsSettings() if settings is None else settings
        seed = seed if settings.random_state is None else settings.random_state
        self._seed = seed if seed >= 0 else seed % (1 << 64)
        self._restarts = settings.restart_strategy is RestartStrategy.IPOP
        self._sigma0 = _DEFAULT_SIGMA0 if settings.sigma0 is None else settings.sigma0
        self._sign = 1.0 if config.objective.direction is Direction.MINIMIZE else -1.0
        self._metric = config.objective.metric_name
        self._names = config.space.names
        self._codecs = tuple(UnitCodec(parameter) for parameter in config.space)
        n_dims = len(self._codecs)
        self._base_population = (
            4 + math.floor(3 * math.log(n_dims))
            if settings.population_size is None
            else settings.population_size
        )
        self._tracker = PointTracker(config.space)
        self._seen_ids: set[int] = set()
        self._members: dict[int, _Member] = {}
        """Trials in the generations, by id (trials whose point cannot be encoded are not)."""
        self._order: list[tuple[int, int]] = []
        """(number, id) of the members, sorted."""
        self._cursor = 0
        """Index in ``_order`` where the open generation starts."""
        self._n_restarts = 0
        self._n_generations = 0
        self._optimizer = self._new_optimizer()

    @classmethod
    def check_config(cls, config: StudyConfig, settings: CmaEsSettings) -> None:
        """CMA-ES runs on every search space: nothing to refuse."""

    @property
    def population_size(self) -> int:
        """Trials in the open generation."""
        return int(self._optimizer.population_size)

    @property
    def n_generations(self) -> int:
        """Generations told to CMA-ES so far, over all restarts."""
        return self._n_generations

    @property
    def n_restarts(self) -> int:
        """Restarts so far (``ipop`` only)."""
        return self._n_restarts

    def update(self, completed: Sequence[Trial], active: Sequence[Trial]) -> None:
        """See :meth:`Designer.update`; tells every generation that is now complete."""
        replay = False
        for trial in completed:
            self._seen_ids.add(trial.id)
            member = self._members.get(trial.id)
            if member is None:
                member = self._add(trial)
                if member is None:
                    continue
                replay = replay or self._is_before_cursor(member.number, trial.id)
            member.is_finished = True
            member.loss = self._loss(trial)
        active_ids = set()
        for trial in active:
            if trial.id in self._members and self._members[trial.id].is_finished:
                continue
            active_ids.add(trial.id)
            self._seen_ids.add(trial.id)
            if trial.id not in self._members:
                member = self._add(trial)
                if member is not None:
                    replay = replay or self._is_before_cursor(member.number, trial.id)
        # A trial that left without finishing (deleted) gives its slot to the next one.
        for number, trial_id in self._order[self._cursor :]:
            member = self._members[trial_id]
            if not member.is_finished and trial_id not in active_ids:
                self._order.remove((number, trial_id))
                del self._members[trial_id]
                self._seen_ids.discard(trial_id)
        if replay:
            self._cursor = 0
            self._n_restarts = 0
            self._n_generations = 0
            self._optimizer = self._new_optimizer()
        self._tell_complete_generations()
        self._tracker.update(completed, active)

    def suggest(self, count: int) -> list[dict[str, ParameterValue]]:
        """See :meth:`Designer.suggest`; always ``count`` points."""
        if count <= 0:
            return []
        n_seen = len(self._seen_ids)
        n_candidates = 1 if self._tracker.grid is None else _CANDIDATES
        batch: set[int] = set()
        points = []
        for i in range(count):
            rng = np.random.default_rng([self._seed, n_seen + i])
            self._optimizer.reseed_rng(int(rng.integers(1 << 32)))
            candidates = [self._decode(self._optimizer.ask()) for _ in range(n_candidates)]
            points.append(self._tracker.choose(candidates, rng, batch))
        return points

    # --- generations ----------------------------------------------------------------------

    def _new_optimizer(self) -> CMA:
        n_dims = len(self._codecs)
        rng = np.random.default_rng([self._seed, self._n_restarts, n_dims])
        mean = np.full(n_dims, 0.5) if self._n_restarts == 0 else rng.random(n_dims)
        return CMA(
            mean=mean,
            sigma=self._sigma0,
            bounds=np.tile([0.0, 1.0], (n_dims, 1)),
            seed=int(rng.integers(1 << 32)),
            population_size=self._base_population * 2**self._n_restarts,
        )

    def _tell_complete_generations(self) -> None:
        while True:
            size = self.population_size
            generation = self._order[self._cursor : self._cursor + size]
            members = [self._members[trial_id] for _, trial_id in generation]
            if len(members) < size or not all(member.is_finished for member in members):
                return
            self._optimizer.tell(list(zip((m.x for m in members), _losses(members), strict=True)))
            self._cursor += size
            self._n_generations += 1
            # Always asked, so the covariance is decomposed at the same moments however the
            # generations were told (warm, or replayed after a restart).
            if self._optimizer.should_stop() and self._restarts:
                self._n_restarts += 1
                self._optimizer = self._new_optimizer()

    def _is_before_cursor(self, number: int, trial_id: int) -> bool:
        return self._cursor > 0 and (number, trial_id) < self._order[self._cursor - 1]

    def _add(self, trial: Trial) -> _Member | None:
        x = self._encode(trial.parameters)
        if x is None:
            return None
        member = _Member(trial.number, x)
        self._members[trial.id] = member
        bisect.insort(self._order, (trial.number, trial.id))
        return member

    def _loss(self, trial: Trial) -> float | None:
        value = trial.objective_value(self._metric)
        if trial.state not in (TrialState.SUCCEEDED, TrialState.EARLY_STOPPED):
            return None
        if value is None or math.isnan(value):
            return None
        return min(max(self._sign * value, -_LARGEST_LOSS), _LARGEST_LOSS)

    def _encode(self, parameters: Mapping[str, ParameterValue]) -> np.ndarray | None:
        x = np.empty(len(self._codecs))
        for j, (name, codec) in enumerate(zip(self._names, self._codecs, strict=True)):
            value = parameters.get(name)
            coordinate = None if value is None else codec.encode(value)
            if coordinate is None:
                return None
            x[j] = coordinate
        return x

    def _decode(self, x: np.ndarray) -> dict[str, ParameterValue]:
        return {
            name: codec.decode(float(u))
            for name, codec, u in zip(self._names, self._codecs, x, strict=True)
        }


def _losses(members: list[_Member]) -> list[float]:
    """The members' losses, failures worse than the worst finished one."""
    known = [m.loss for m in members if m.loss is not None]
    worst = max(known, default=0.0) + 1.0
    return [worst if m.loss is None else m.loss for m in members]
