"""TPE: the Tree-structured Parzen Estimator, independent per parameter or multivariate."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tuner.algorithms._algorithm_settings import MultivariateTpeSettings, TpeSettings
from tuner.algorithms._base import Designer
from tuner.algorithms._cube import PointTracker, UnitCodec
from tuner.algorithms._parzen import Column, ColumnKind, ParzenEstimator
from tuner.config import Direction
from tuner.trial import TrialState

if TYPE_CHECKING:
    from tuner.config import StudyConfig
    from tuner.space import ParameterValue
    from tuner.trial import Trial

__all__ = ["MultivariateTpeDesigner", "TpeDesigner"]

_MAX_BELOW = 25
"""The good group never holds more trials than this, however many there are."""
_RANKED_STATES = (TrialState.SUCCEEDED, TrialState.EARLY_STOPPED)


@dataclass(frozen=True, slots=True)
class _Observation:
    number: int
    row: np.ndarray
    """Per parameter: the unit coordinate (continuous) or the bin index."""
    rank_key: tuple[int, float] | None
    """(0 for a succeeded trial, 1 for an early-stopped one; the loss), smaller is better;
    None for a trial with no usable objective (failed, infeasible, NaN or missing)."""


@dataclass(frozen=True, slots=True)
class _Table:
    """Observations as arrays, sorted by trial number."""

    width: int
    rows: np.ndarray
    numbers: np.ndarray
    primary: np.ndarray
    """0 for a succeeded trial, 1 for an early-stopped one, NaN for one not ranked."""
    loss: np.ndarray

    @classmethod
    def of(cls, observations: list[_Observation], width: int) -> _Table:
        rows = np.stack([o.row for o in observations]) if observations else np.empty((0, width))
        keys = [o.rank_key or (math.nan, math.nan) for o in observations]
        return cls(
            width,
            rows,
            np.array([o.number for o in observations], dtype=np.int64),
            np.array([k[0] for k in keys], dtype=float),
            np.array([k[1] for k in keys], dtype=float),
        )

    def extended(self, observations: list[_Observation]) -> _Table:
        """With ``observations`` appended (all numbered after the last one here)."""
        more = _Table.of(observations, self.width)
        return _Table(
            self.width,
            np.concatenate([self.rows, more.rows]),
            np.concatenate([self.numbers, more.numbers]),
            np.concatenate([self.primary, more.primary]),
            np.concatenate([self.loss, more.loss]),
        )


class TpeDesigner(Designer):
    """Suggests points where good trials are dense and the others are not (TPE).

    Completed trials with an objective value are ranked (succeeded before early-stopped
    ones, each by objective); the best ``min(ceil(gamma * n), 25)`` make the good group
    and give the density ``l(x)``, the rest give ``g(x)``. Each suggestion draws
    ``n_EI_candidates`` points from ``l`` and takes the one maximising ``l(x) / g(x)``.
    Until ``n_startup_trials`` trials are ranked, points are uniform on each parameter's
    scale. ``l`` and ``g`` are mixtures of products over all parameters (multivariate TPE,
    Falkner et al., 2018, as Optuna's default ``TPESampler`` since Optuna 5), or with the
    setting ``multivariate=false`` one mixture per parameter, each parameter drawn and
    chosen alone (independent TPE, as hyperopt and Katib's ``tpe``).

    Trials that failed, were infeasible or reported a NaN objective join the bad group, so
    TPE moves away from them. With ``constant_liar`` (the default) active trials and the
    points earlier in the same batch join it too, so parallel suggestions spread out.

    Integers, stepped doubles and discrete values (in index order) are bins of the unit
    interval, weighed by the mass of each Gaussian over the bin, so near values share
    evidence (as Optuna's integer steps); categorical parameters are choices. In a finite
    space a suggestion avoids tried and active points while any are left.

    Suggestion ``k`` of the study (``k`` counting the trials seen) draws from a generator
    seeded with ``(seed, k)``, and the model depends on the trials seen only (ordered by
    trial number), so a designer rebuilt from the store suggests what the warm one would.

    Args:
        config: The study config: space and objective direction.
        settings: TPE settings (:class:`TpeSettings`, or :class:`MultivariateTpeSettings`
            for ``multivariate-tpe``); ``random_state``, when given, replaces ``seed``.
        seed: Seed of the designer; negative seeds are taken modulo ``2**64``.

    Examples:
        >>> from tuner.config import Objective, StudyConfig
        >>> from tuner.space import DoubleParameter, SearchSpace
        >>> config = StudyConfig(
        ...     space=SearchSpace((DoubleParameter(name="x", low=-1.0, high=1.0),)),
        ...     objective=Objective(metric_name="loss"),
        ... )
        >>> designer = TpeDesigner(config, seed=3)
        >>> [point] = designer.suggest(1)
        >>> -1.0 <= point["x"] <= 1.0
        True
    """

    def __init__(
        self,
        config: StudyConfig,
        settings: MultivariateTpeSettings | None = None,
        *,
        seed: int = 0,
    ) -> None:
        self._settings = TpeSettings() if settings is None else settings
        self._is_multivariate = (
            self._settings.multivariate if isinstance(self._settings, TpeSettings) else True
        )
        seed = seed if self._settings.random_state is None else self._settings.random_state
        self._seed = seed if seed >= 0 else seed % (1 << 64)
        self._sign = 1.0 if config.objective.direction is Direction.MINIMIZE else -1.0
        self._metric = config.objective.metric_name
        self._names = config.space.names
        self._columns = tuple(Column.of(UnitCodec(p)) for p in config.space.parameters)
        self._tracker = PointTracker(config.space)
        self._completed: dict[int, _Observation | None] = {}
        """By trial id; None for a trial whose point cannot be modelled."""
        self._active: dict[int, _Observation | None] = {}
        self._table = _Table.of([], len(self._columns))
        """The completed observations, sorted by number."""

    @classmethod
    def check_config(cls, config: StudyConfig, settings: MultivariateTpeSettings) -> None:
        """TPE runs on every search space: nothing to refuse."""

    def update(self, completed: Sequence[Trial], active: Sequence[Trial]) -> None:
        """See :meth:`Designer.update`."""
        new = []
        for trial in completed:
            observation = self._observe(trial)
            self._completed[trial.id] = observation
            self._active.pop(trial.id, None)
            if observation is not None:
                new.append(observation)
        new.sort(key=lambda o: o.number)
        table = self._table
        if new and len(table.numbers) and new[0].number < table.numbers[-1]:
            everything = [o for o in self._completed.values() if o is not None]
            self._table = _Table.of(sorted(everything, key=lambda o: o.number), table.width)
        elif new:
            self._table = table.extended(new)
        self._active = {
            trial.id: self._active[trial.id] if trial.id in self._active else self._observe(trial)
            for trial in active
            if trial.id not in self._completed
        }
        self._tracker.update(completed, active)

    def suggest(self, count: int) -> list[dict[str, ParameterValue]]:
        """See :meth:`Designer.suggest`; always ``count`` points."""
        if count <= 0:
            return []
        table = self._table
        pending = sorted(
            (o for o in self._active.values() if o is not None), key=lambda o: o.number
        )
        n_ranked = int(np.count_nonzero(~np.isnan(table.primary)))
        n_seen = len(self._completed) + len(self._active)
        last = max(int(table.numbers.max(initial=-1)), max((o.number for o in pending), default=-1))
        batch: set[int] = set()
        points: list[dict[str, ParameterValue]] = []
        for i in range(count):
            rng = np.random.default_rng([self._seed, n_seen + i])
            if n_ranked < max(self._settings.n_startup_trials, 1):
                rows = self._uniform_rows(rng, 1 + len(batch))
            else:
                rows = self._best_rows(rng, table, n_ranked, pending)
            candidates = [self._point(row) for row in rows]
            point = self._tracker.choose(candidates, rng, batch)
            points.append(point)
            if self._settings.constant_liar:
                row = self._encode(point)
                if row is not None:
                    pending.append(_Observation(last + 1 + i, row, None))
        return points

    # --- the model ------------------------------------------------------------------------

    def _best_rows(
        self,
        rng: np.random.Generator,
        table: _Table,
        n_ranked: int,
        pending: list[_Observation],
    ) -> np.ndarray:
        """Candidate rows, best first (one row when parameters are modelled independently)."""
        n_below = min(math.ceil(self._settings.gamma * n_ranked), _MAX_BELOW, n_ranked)
        ranked = np.flatnonzero(~np.isnan(table.primary))
        order = ranked[
            np.lexsort((table.numbers[ranked], table.loss[ranked], table.primary[ranked]))
        ]
        is_below = np.zeros(len(table.numbers), dtype=bool)
        is_below[order[:n_below]] = True
        below_rows = table.rows[is_below]
        above_rows = table.rows[~is_below]
        if self._settings.constant_liar and pending:
            # Older trials weigh less: the bad group stays in order of trial number.
            numbers = np.concatenate([table.numbers[~is_below], [o.number for o in pending]])
            above_rows = np.concatenate([above_rows, np.stack([o.row for o in pending])])
            above_rows = above_rows[np.argsort(numbers, kind="stable")]
        n_candidates = self._settings.n_EI_candidates
        prior_weight = self._settings.prior_weight
        if self._is_multivariate:
            return _ranked_candidates(
                self._columns, below_rows, above_rows, prior_weight, rng, n_candidates
            )
        best = np.empty((1, len(self._columns)))
        for j, column in enumerate(self._columns):
            candidates = _ranked_candidates(
                (column,), below_rows[:, [j]], above_rows[:, [j]], prior_weight, rng, n_candidates
            )
            best[0, j] = candidates[0, 0]
        return best

    def _uniform_rows(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Rows uniform on each parameter's scale (several, so a finite space has spares)."""
        u = rng.random((n, len(self._columns)))
        rows = np.empty_like(u)
        for j, column in enumerate(self._columns):
            rows[:, j] = (
                u[:, j] if column.kind is ColumnKind.CONTINUOUS else column.codec.bins(u[:, j])
            )
        return rows

    # --- conversions ----------------------------------------------------------------------

    def _observe(self, trial: Trial) -> _Observation | None:
        row = self._encode(trial.parameters)
        if row is None:
            return None
        rank_key = None
        value = trial.objective_value(self._metric)
        if trial.state in _RANKED_STATES and value is not None and not math.isnan(value):
            rank_key = (0 if trial.state is TrialState.SUCCEEDED else 1, self._sign * value)
        return _Observation(trial.number, row, rank_key)

    def _encode(self, parameters: Mapping[str, ParameterValue]) -> np.ndarray | None:
        row = np.empty(len(self._columns))
        for j, (name, column) in enumerate(zip(self._names, self._columns, strict=True)):
            value = parameters.get(name)
            if value is None:
                return None
            coordinate = (
                column.codec.encode(value)
                if column.kind is ColumnKind.CONTINUOUS
                else column.codec.index(value)
            )
            if coordinate is None:
                return None
            row[j] = coordinate
        return row

    def _point(self, row: np.ndarray) -> dict[str, ParameterValue]:
        return {
            name: (
                column.codec.decode(float(x))
                if column.kind is ColumnKind.CONTINUOUS
                else column.codec.value_at(int(x))
            )
            for name, column, x in zip(self._names, self._columns, row, strict=True)
        }


class MultivariateTpeDesigner(TpeDesigner):
    """TPE modelling all parameters jointly (``multivariate-tpe``, Katib's name).

    :class:`TpeDesigner` with its default model; its settings have no ``multivariate``.

    Examples:
        >>> from tuner.config import Objective, StudyConfig
        >>> from tuner.space import IntParameter, SearchSpace
        >>> config = StudyConfig(
        ...     space=SearchSpace((IntParameter(name="n", low=1, high=3),)),
        ...     objective=Objective(metric_name="loss"),
        ... )
        >>> sorted(p["n"] for p in MultivariateTpeDesigner(config, seed=1).suggest(3))
        [1, 2, 3]
    """


def _ranked_candidates(
    columns: tuple[Column, ...],
    below: np.ndarray,
    above: np.ndarray,
    prior_weight: float,
    rng: np.random.Generator,
    n_candidates: int,
) -> np.ndarray:
    """Draws from ``l``, sorted by ``log l - log g``, best first."""
    good = ParzenEstimator(columns, below, prior_weight)
    bad = ParzenEstimator(columns, above, prior_weight)
    samples = good.sample(rng, n_candidates)
    score = good.log_pdf(samples) - bad.log_pdf(samples)
    score = np.where(np.isnan(score), -np.inf, score)
    return samples[np.argsort(-score, kind="stable")]
