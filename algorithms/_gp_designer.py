"""Gaussian-process Bayesian optimisation (``bayesianoptimization``)."""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from scipy.stats import qmc

from tuner.algorithms._algorithm_settings import (
    AcquisitionFunction,
    AcquisitionOptimizer,
    BayesianOptimizationSettings,
)
from tuner.algorithms._axes import GridSpace, axis_of
from tuner.algorithms._base import Designer
from tuner.algorithms._gp_acquisition import rank_candidates
from tuner.algorithms._gp_encoding import Encoder
from tuner.algorithms._gp_model import GaussianProcess, Hyperparameters, fit_hyperparameters
from tuner.algorithms._gp_targets import warp_targets
from tuner.config import Direction
from tuner.space import CategoricalParameter, DiscreteParameter
from tuner.trial import TrialState

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from tuner.config import StudyConfig
    from tuner.space import ParameterValue
    from tuner.trial import Trial

__all__ = ["GPDesigner"]

logger = logging.getLogger(__name__)

_GRID_LIMIT = 4096
"""Finite spaces up to this many points are scored point by point."""
_RELAXED_LEVELS = 16
"""Numeric parameters with more values than this are refined as continuous, then snapped."""
_MAX_TRAINING = 300
"""Most trials the process is conditioned on (the best half, then the most recent)."""
_COLD_FITS = 24
"""Up to this many training trials, every fit starts from the fixed points."""
_ANCHOR_GROWTH = 1.25
"""Past ``_COLD_FITS``, a fit starts from the fit on the first trials (by number), refitted
from the fixed points each time the training set grows by this factor."""
_MAX_TRIES = 64
_MIN_SEPARATION = 0.02
"""Preferred least distance, in the unit cube, between a suggestion and pending points."""
_LCB_KAPPA = 1.96

Key = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class _Observation:
    number: int
    id: int
    x: NDArray[np.float64]
    value: float
    """The objective, negated when maximised; NaN where the worst value is imputed."""


class GPDesigner(Designer):
    """Bayesian optimisation with a Gaussian process and log expected improvement.

    The first ``n_initial_points`` trials (by position in the study) are points of a
    scrambled Sobol sequence seeded by the study seed. Then each suggestion maximises the
    acquisition function of a Gaussian process (Matérn 5/2, one lengthscale per coordinate,
    hyperparameters of maximum posterior density) fitted to the completed trials, with the
    points of the active trials, and of those earlier in the same batch, fantasised at the
    posterior mean ("kriging believer"), so parallel suggestions spread out.

    Objective values are warped before fitting (see :mod:`tuner.algorithms._gp_targets`).
    Failed and infeasible trials, and NaN or infinitely bad values, count as the worst
    value seen; an infinitely good value is not believed and its trial is left out; a
    trial that succeeded without the metric is left out too.

    In a finite space a suggestion avoids the points completed, active or earlier in the
    batch while any is left, then only the active ones, then repeats.

    Every suggestion depends only on the seed and the trials given (a fit starts from fixed
    points, or from the fit on the first trials by number, never from whatever was fitted
    last), so a designer rebuilt after a restart suggests what the warm one would.

    Args:
        config: The study config: its space and objective are used.
        settings: The algorithm's settings; ``random_state``, when given, replaces ``seed``.
        seed: Seed of the designer; negative seeds are taken modulo ``2**64``.

    Examples:
        >>> from tuner.config import Objective, StudyConfig
        >>> from tuner.space import DoubleParameter, SearchSpace
        >>> config = StudyConfig(
        ...     space=SearchSpace((DoubleParameter(name="x", low=-1.0, high=1.0),)),
        ...     objective=Objective(metric_name="loss"),
        ... )
        >>> [point] = GPDesigner(config, seed=3).suggest(1)
        >>> -1.0 <= point["x"] <= 1.0
        True
    """

    def __init__(
        self,
        config: StudyConfig,
        settings: BayesianOptimizationSettings | None = None,
        *,
        seed: int = 0,
    ) -> None:
        settings = BayesianOptimizationSettings() if settings is None else settings
        seed = seed if settings.random_state is None else settings.random_state
        self._seed = seed if seed >= 0 else seed % (1 << 64)
        self._space = config.space
        self._metric = config.objective.metric_name
        self._sign = -1.0 if config.objective.direction is Direction.MAXIMIZE else 1.0
        self._encoder = Encoder(config.space)
        n_parameters = len(config.space)
        self._n_initial = settings.n_initial_points or min(n_parameters + 5, 20)
        self._kappa = _LCB_KAPPA if settings.acq_func is AcquisitionFunction.LCB else None
        self._refine = settings.acq_optimizer is not AcquisitionOptimizer.SAMPLING
        self._axes = tuple(axis_of(parameter) for parameter in config.space)
        grid = GridSpace.of(config.space)
        self._grid = grid if grid is not None and grid.size <= _GRID_LIMIT else None
        self._grid_points: NDArray[np.float64] | None = None
        self._free_dims = self._relaxed_dims()

        self._observations: dict[int, _Observation] = {}
        self._seen_ids: set[int] = set()
        """Completed trials, including those left out of the model."""
        self._completed_keys: set[Key] = set()
        self._active: list[Trial] = []
        self._fits: dict[tuple[int, ...], Hyperparameters] = {}
        """Recent hyperparameter fits by the trial ids they were fitted on."""

    @classmethod
    def check_config(cls, config: StudyConfig, settings: BayesianOptimizationSettings) -> None:
        """Every search space is accepted: nothing to refuse."""

    def _relaxed_dims(self) -> NDArray[np.bool_]:
        free = np.zeros(self._encoder.n_dims, dtype=bool)
        start = 0
        for parameter, axis in zip(self._space, self._axes, strict=True):
            width = len(parameter.choices) if isinstance(parameter, CategoricalParameter) else 1
            if not isinstance(parameter, CategoricalParameter | DiscreteParameter) and (
                axis is None or axis.size > _RELAXED_LEVELS
            ):
                free[start] = True
            start += width
        return free

    def update(self, completed: Sequence[Trial], active: Sequence[Trial]) -> None:
        """See :meth:`Designer.update`."""
        for trial in completed:
            if trial.id in self._seen_ids:
                continue
            self._seen_ids.add(trial.id)
            self._completed_keys.add(self._key(trial.parameters))
            value = self._value_of(trial)
            if value is not None:
                x = self._encoder.encode(trial.parameters)
                self._observations[trial.id] = _Observation(trial.number, trial.id, x, value)
        self._active = sorted(
            (trial for trial in active if trial.id not in self._seen_ids),
            key=lambda trial: (trial.number, trial.id),
        )

    def _value_of(self, trial: Trial) -> float | None:
        """The minimised objective; NaN for "impute the worst"; None to leave the trial out."""
        if trial.state in (TrialState.FAILED, TrialState.INFEASIBLE):
            return math.nan
        value = trial.objective_value(self._metric)
        if value is None:
            return None
        value *= self._sign
        if value == -math.inf:
            return None
        return value if math.isfinite(value) else math.nan

    def _key(self, values: Mapping[str, ParameterValue]) -> Key:
        key: list[object] = []
        for parameter, axis in zip(self._space, self._axes, strict=True):
            value = values[parameter.name]
            index = None if axis is None else axis.index(value)
            key.append(("value", value) if index is None else index)
        return tuple(key)

    def suggest(self, count: int) -> list[dict[str, ParameterValue]]:
        """See :meth:`Designer.suggest`; always ``count`` points.

        Each call draws from a generator seeded with (seed, trials seen): the same history
        gives the same suggestions.
        """
        if count <= 0:
            return []
        with _one_blas_thread():
            return self._suggest(count)

    def _suggest(self, count: int) -> list[dict[str, ParameterValue]]:
        n_seen = len(self._seen_ids) + len(self._active)
        rng = np.random.default_rng([self._seed, n_seen])
        active_keys = {self._key(trial.parameters) for trial in self._active}
        batch_keys: set[Key] = set()
        pending = [self._encoder.encode(trial.parameters) for trial in self._active]
        model: _Model | None = None
        points: list[dict[str, ParameterValue]] = []
        for position in range(n_seen, n_seen + count):
            levels = (
                (self._completed_keys, active_keys, batch_keys),
                (active_keys, batch_keys),
                (),
            )
            if position < self._n_initial or (model is None and not self._has_data()):
                ranked = self._sobol_point(position)
            else:
                if model is None:
                    model = self._model(pending)
                ranked = model.rank(rng)
            u = self._first_free(ranked, levels, pending, rng)
            point = self._encoder.decode(u)
            points.append(point)
            batch_keys.add(self._key(point))
            pending.append(u)
            if model is not None:
                model.believe(u)
        return points

    def _has_data(self) -> bool:
        return sum(1 for o in self._observations.values() if math.isfinite(o.value)) >= 2

    def _sobol_point(self, position: int) -> NDArray[np.float64]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # balance needs powers of two
            engine = qmc.Sobol(self._encoder.raw_dims(), seed=np.random.default_rng(self._seed))
            if position > 0:
                engine.fast_forward(position)
            return self._encoder.from_raw(engine.random(1))

    def _first_free(
        self,
        ranked: NDArray[np.float64],
        levels: tuple[tuple[set[Key], ...], ...],
        pending: list[NDArray[np.float64]],
        rng: np.random.Generator,
    ) -> NDArray[np.float64]:
        """The best candidate avoiding the first level of keys it can.

        First choice: also at least ``_MIN_SEPARATION`` from the pending points (active
        or earlier in the batch), which the fantasies alone do not guarantee.
        """
        near = np.array(pending) if pending else np.zeros((0, self._encoder.n_dims))
        for level, avoided in enumerate((levels[0], *levels)):
            if not avoided:
                break
            others = self._grid_encoded()
            if others is None:
                raw = rng.random((_MAX_TRIES, self._encoder.raw_dims()))
                others = self._encoder.from_raw(raw)
            for u in itertools.chain(ranked[: 4 * _MAX_TRIES], others):
                if level == 0 and len(near) and _distance(near, u) < _MIN_SEPARATION:
                    continue
                if not any(self._key(self._encoder.decode(u)) in keys for keys in avoided):
                    return np.asarray(u, dtype=np.float64)
        logger.debug("bayesianoptimization repeats a point: no untried point is left")
        return np.asarray(ranked[0], dtype=np.float64)

    def _grid_encoded(self) -> NDArray[np.float64] | None:
        if self._grid is None:
            return None
        if self._grid_points is None:
            self._grid_points = np.array(
                [self._encoder.encode(self._grid.point(i)) for i in range(self._grid.size)]
            )
        return self._grid_points

    def _ordered(self) -> list[_Observation]:
        return sorted(self._observations.values(), key=lambda o: (o.number, o.id))

    def _training(
        self, observations: list[_Observation]
    ) -> tuple[list[_Observation], NDArray[np.float64]]:
        """The observations (sorted by number) the model is conditioned on, and their targets."""
        if len(observations) > _MAX_TRAINING:
            ordered = sorted(
                range(len(observations)),
                key=lambda i: (np.nan_to_num(observations[i].value, nan=np.inf), i),
            )
            keep = set(ordered[: _MAX_TRAINING // 2])
            for i in reversed(range(len(observations))):
                if len(keep) >= _MAX_TRAINING:
                    break
                keep.add(i)
            observations = [observations[i] for i in sorted(keep)]
        targets = warp_targets(np.array([o.value for o in observations]))
        return observations, targets

    def _model(self, pending: list[NDArray[np.float64]]) -> _Model:
        ordered = self._ordered()
        observations, targets = self._training(ordered)
        x = np.array([o.x for o in observations])
        gp = GaussianProcess(x, targets, self._hyperparameters(ordered))
        incumbents = x[np.argsort(targets, kind="stable")[:5]]
        model = _Model(self, gp, float(np.min(targets)), incumbents)
        for u in pending:
            model.believe(u)
        return model

    def _hyperparameters(self, ordered: list[_Observation]) -> Hyperparameters:
        """The fit on ``ordered`` (observations by number), warm-started from an earlier one.

        Past ``_COLD_FITS`` trials, the fit starts from the fit on the first ``m`` of them,
        ``m`` a point of a fixed geometric schedule, itself started from fixed points: a
        function of the trials alone, so a rebuilt designer fits what the warm one did.
        """
        n = len(ordered)
        start = None
        if n > _COLD_FITS:
            m = _COLD_FITS
            while round(m * _ANCHOR_GROWTH) <= n:
                m = round(m * _ANCHOR_GROWTH)
            start = self._fitted(ordered[:m], None)
        return self._fitted(ordered, start)

    def _fitted(
        self, ordered: list[_Observation], start: Hyperparameters | None
    ) -> Hyperparameters:
        observations, targets = self._training(ordered)
        ids = tuple(o.id for o in observations)
        if ids not in self._fits:
            x = np.array([o.x for o in observations])
            while len(self._fits) >= 4:
                del self._fits[next(iter(self._fits))]
            self._fits[ids] = fit_hyperparameters(x, targets, start=start)
        return self._fits[ids]


@functools.cache
def _blas_controller() -> Any:
    try:
        import threadpoolctl  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return None
    return threadpoolctl.ThreadpoolController()


def _one_blas_thread() -> contextlib.AbstractContextManager[object]:
    """Limit BLAS to one thread while suggesting, when threadpoolctl is installed.

    The matrices are at most a few hundred rows: threads only contend, and on a busy
    2-core machine multi-threaded OpenBLAS made a suggestion 5-8 times slower. The limit
    is process-wide while it holds (threadpoolctl has no per-thread limit).
    """
    controller = _blas_controller()
    if controller is None:
        return contextlib.nullcontext()
    return cast(
        "contextlib.AbstractContextManager[object]", controller.limit(limits=1, user_api="blas")
    )


def _distance(points: NDArray[np.float64], u: NDArray[np.float64]) -> float:
    return float(np.min(np.linalg.norm(points - u, axis=1)))


class _Model:
    """A fitted process with its fantasies, ranking candidates for one batch."""

    def __init__(
        self,
        designer: GPDesigner,
        gp: GaussianProcess,
        best: float,
        incumbents: NDArray[np.float64],
    ) -> None:
        self._designer = designer
        self._gp = gp
        self._best = best
        self._incumbents = incumbents

    def rank(self, rng: np.random.Generator) -> NDArray[np.float64]:
        designer = self._designer
        return rank_candidates(
            self._gp,
            designer._encoder,
            rng,
            best=self._best,
            incumbents=self._incumbents,
            kappa=designer._kappa,
            n_refined=5 if designer._refine else 0,
            grid=designer._grid_encoded(),
            free_dims=designer._free_dims,
        )

    def believe(self, u: NDArray[np.float64]) -> None:
        """Condition on the posterior mean at ``u`` ("kriging believer"), a new incumbent if
        it is better: otherwise a point predicted below the incumbent keeps its improvement
        and the next suggestion lands on it again."""
        value = float(self._gp.predict(u[None, :])[0][0])
        self._gp.condition_on(u, value)
        self._best = min(self._best, value)
