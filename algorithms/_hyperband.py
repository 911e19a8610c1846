"""Hyperband for multi-fidelity tuning, with asynchronous successive halving in each bracket.

One parameter of the search space is the *resource*, a trial's budget (epochs, training
steps, a fraction of the data): setting ``resource_name`` names it. The designer runs
cheap trials at a small resource and gives more resource only to the configurations
(the other parameters' values) that did well, as asynchronous successive halving (ASHA,
Li et al. 2020) does, over several Hyperband brackets (Li et al. 2018) that differ in how
aggressively they cut. Unlike a synchronous Hyperband, nothing waits for a whole rung to
finish: every free worker gets a trial at once.

A Hyperband Experiment has the resource as an ordinary parameter, which the trial command
passes to the training code; the code trains for that many epochs and reports the
objective at the end::

    spec:
      objective:
        type: minimize
        objectiveMetricName: loss
      algorithm:
        algorithmName: hyperband
        algorithmSettings:
          - name: resource_name
            value: epochs
          - name: eta
            value: "3"
      parallelTrialCount: 4
      maxTrialCount: 60
      parameters:
        - name: lr
          parameterType: double
          feasibleSpace: {min: "0.0001", max: "0.1", distribution: logUniform}
        - name: epochs          # the resource: rungs at 1, 3, 9, 27 epochs
          parameterType: int
          feasibleSpace: {min: "1", max: "27"}
      trialTemplate:
        trialParameters:
          - name: lr
            reference: lr
          - name: epochs
            reference: epochs
        trialSpec:
          ...
                command:
                  - python
                  - train.py
                  - --lr=${trialParameters.lr}
                  - --epochs=${trialParameters.epochs}

Each trial trains from scratch for its resource (a promoted configuration is a new trial
with more epochs); a training script that keeps checkpoints per configuration can resume
instead.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from tuner.algorithms._algorithm_settings import HyperbandSettings
from tuner.algorithms._axes import GridSpace, axis_of
from tuner.algorithms._base import Designer
from tuner.algorithms._random import _draw_double, _draw_index, _uniform_index
from tuner.algorithms._resource import resource_parameter, resource_rungs, rung_index
from tuner.config import Direction
from tuner.errors import InvalidArgumentError
from tuner.space import DoubleParameter, IntParameter
from tuner.trial import TrialState

if TYPE_CHECKING:
    from tuner.algorithms._axes import Axis
    from tuner.config import StudyConfig
    from tuner.space import Parameter, ParameterValue
    from tuner.trial import Trial

__all__ = ["HyperbandDesigner"]

logger = logging.getLogger(__name__)

_MAX_TRIES = 64
"""Draws of a new configuration before a finite space is searched for one not yet tried."""
_ENUMERATION_LIMIT = 1 << 16
"""Finite configuration spaces up to this size are searched exhaustively for an untried one."""

_Key = tuple[object, ...]
"""What identifies a configuration: per parameter, its grid index, or its value off a grid."""


@dataclass(slots=True)
class _Config:
    """One configuration as the trials seen show it."""

    values: dict[str, ParameterValue]
    """The non-resource parameters, as its first trial holds them."""
    order: int
    """The smallest trial number among its trials: breaks ties between equal scores."""
    scores: dict[int, float] = field(default_factory=dict)
    """Rung -> best score of its completed trials there (lower is better, inf is worst)."""
    taken: set[int] = field(default_factory=set)
    """Rungs where it has a trial, completed or active."""
    has_active: bool = False

    @property
    def bracket(self) -> int | None:
        """The rung it started at, which is its bracket; None without a trial at a rung."""
        return min(self.taken) if self.taken else None


class HyperbandDesigner(Designer):
    """Hyperband over brackets of asynchronous successive halving (ASHA).

    **Rungs.** The resource parameter's range gives the rung resources ``r_0 < r_1 < ... <
    r_top`` (see :func:`resource_rungs`): ``min * eta**k``, the last one the max resource.
    Bracket ``b`` starts its configurations at rung ``b``: bracket 0 is the most aggressive
    (it starts at the min resource and promotes through every rung), the last bracket runs
    every configuration at the max resource (random search). ``n_brackets`` keeps the first
    brackets only; ``n_brackets=1`` is plain ASHA.

    **Suggesting.** For each trial to suggest, the designer first looks for a promotion,
    highest rungs first: a configuration of bracket ``b`` finished at rung ``k < top`` that is
    among the best ``floor(n / eta)`` of the ``n`` configurations of bracket ``b`` finished at
    rung ``k``, and has no trial (completed or active) at a higher rung, is suggested again
    with the resource ``r_{k+1}``, as a new trial. Otherwise it starts a new configuration,
    drawn at random as random search draws (every type, scale and step honoured), at the
    first rung of a bracket. Brackets take new configurations in a smooth round robin
    weighted by Hyperband's bracket sizes, ``ceil((s_max + 1) / (s + 1) * eta**s)`` for a
    bracket with ``s`` promotions, so every bracket spends about the same budget.

    **Trials.** A trial is known by its parameters: its configuration is its parameters
    without the resource, its rung the rung whose resource it holds (trials at other
    resources only mark their configuration as tried), the bracket of a configuration its
    lowest rung. A trial's score is its final objective metric, by ``config.objective``;
    failed and infeasible trials, and missing, NaN or infinite values, count as the worst
    and are never promoted. A configuration with a value off its parameter's grid (a trial
    added by hand) is ranked but never suggested again. Everything is derived from the
    trials, so a designer rebuilt from the same trials suggests the same; each suggestion
    draws from a generator seeded with (seed, number of trials seen + its position in the
    batch), as random search does.

    **Running out.** In a space with an unstepped double besides the resource the designer
    never runs out. In a finite space new configurations avoid the tried ones; once every
    configuration is tried, a new trial instead runs a configuration not yet tried at the
    max resource, at the max resource (the best first), so :meth:`suggest` returns fewer
    than asked only when every configuration is tried at the max resource.

    Args:
        config: The study config: search space and objective.
        settings: Hyperband settings; ``resource_name`` is required.
        seed: Seed of the designer, replaced by ``random_state`` when given; negative seeds
            are taken modulo ``2**64``.

    Raises:
        InvalidArgumentError: As :meth:`check_config`.

    Examples:
        >>> from tuner.config import Objective, StudyConfig
        >>> from tuner.space import SearchSpace
        >>> config = StudyConfig(
        ...     space=SearchSpace((
        ...         DoubleParameter(name="lr", low=1e-4, high=0.1),
        ...         IntParameter(name="epochs", low=1, high=9),
        ...     )),
        ...     objective=Objective(metric_name="loss"),
        ... )
        >>> designer = HyperbandDesigner(config, HyperbandSettings(resource_name="epochs"))
        >>> designer.rungs
        (1, 3, 9)
        >>> [point["epochs"] for point in designer.suggest(4)]
        [1, 3, 1, 1]
    """

    def __init__(self, config: StudyConfig, settings: HyperbandSettings, *, seed: int = 0) -> None:
        self.check_config(config, settings)
        seed = seed if settings.random_state is None else settings.random_state
        self._seed = seed if seed >= 0 else seed % (1 << 64)
        self._space = config.space
        self._metric_name = config.objective.metric_name
        self._sign = 1.0 if config.objective.direction is Direction.MINIMIZE else -1.0
        self._eta = settings.eta
        _, resource = resource_parameter(config.space, settings)
        self._resource = resource
        self._rungs = resource_rungs(resource, settings.eta, settings.r_l)
        n_brackets = len(self._rungs) if settings.n_brackets is None else settings.n_brackets
        s_max = len(self._rungs) - 1
        self._bracket_weights = tuple(
            -(-(s_max + 1) * settings.eta ** (s_max - b) // (s_max - b + 1))
            for b in range(n_brackets)
        )
        self._parameters = tuple(p for p in config.space if p.name != resource.name)
        self._axes = tuple(axis_of(p) for p in self._parameters)
        axes = tuple(axis for axis in self._axes if axis is not None)
        self._grid = (
            GridSpace(tuple(p.name for p in self._parameters), axes)
            if len(axes) == len(self._axes)
            else None
        )
        self._completed_ids: set[int] = set()
        self._completed: dict[_Key, _Config] = {}
        """Configurations by what their completed trials show."""
        self._active: list[Trial] = []

    @classmethod
    def check_config(cls, config: StudyConfig, settings: HyperbandSettings) -> None:
        """Refuse a study without a usable resource parameter.

        Raises:
            InvalidArgumentError: With ``field`` ``algorithm.settings.resource_name`` (no
                resource, an unknown one, or one that is not an int or double parameter),
                ``space.parameters[<index>].low`` (the resource's min is not > 0),
                ``algorithm.settings.r_l`` (outside the resource's range) or
                ``algorithm.settings.n_brackets`` (more brackets than rungs).
        """
        _, resource = resource_parameter(config.space, settings)
        n_rungs = len(resource_rungs(resource, settings.eta, settings.r_l))
        if settings.n_brackets is not None and settings.n_brackets > n_rungs:
            raise InvalidArgumentError(
                f"{settings.n_brackets} brackets asked for, but the resource {resource.name!r} "
                f"has {n_rungs} rung(s) with eta={settings.eta}: at most {n_rungs} brackets",
                field="algorithm.settings.n_brackets",
            )

    @property
    def rungs(self) -> tuple[int | float, ...]:
        """The resources of the rungs, lowest first (see :func:`resource_rungs`)."""
        return self._rungs

    def update(self, completed: Sequence[Trial], active: Sequence[Trial]) -> None:
        """See :meth:`Designer.update`."""
        for trial in completed:
            if trial.id in self._completed_ids:
                continue
            self._completed_ids.add(trial.id)
            located = self._locate(trial)
            if located is None:
                continue
            key, rung = located
            config = self._completed.get(key)
            if config is None:
                config = self._completed[key] = _Config(self._values(trial), trial.number)
            config.order = min(config.order, trial.number)
            if rung is not None:
                config.taken.add(rung)
                score = min(config.scores.get(rung, math.inf), self._score(trial))
                config.scores[rung] = score
        self._active = [trial for trial in active if trial.id not in self._completed_ids]

    def suggest(self, count: int) -> list[dict[str, ParameterValue]]:
        """See :meth:`Designer.suggest`: promotions first, then new configurations."""
        if count <= 0:
            return []
        configs = self._configs()
        n_seen = len(self._completed_ids) + len({trial.id for trial in self._active})
        in_batch: set[tuple[_Key, int]] = set()
        suggestions = []
        for key, rung in self._promotions(configs)[:count]:
            in_batch.add((key, rung))
            suggestions.append(self._point(configs[key].values, rung))
        counts = [0] * len(self._bracket_weights)
        for config in configs.values():
            bracket = config.bracket
            if bracket is not None and bracket < len(counts):
                counts[bracket] += 1
        for position in range(len(suggestions), count):
            rng = np.random.default_rng([self._seed, n_seen + position])
            drawn = self._draw_config(rng, configs)
            if drawn is None:
                suggestions.extend(self._at_max_resource(configs, in_batch, count - position))
                break
            key, values = drawn
            bracket = min(
                range(len(counts)),
                key=lambda b: Fraction(counts[b] + 1, self._bracket_weights[b]),
            )
            counts[bracket] += 1
            # Taken from now on, as if its trial were active already.
            config = configs.setdefault(key, _Config(values, order=n_seen + position))
            config.taken.add(bracket)
            config.has_active = True
            in_batch.add((key, bracket))
            suggestions.append(self._point(values, bracket))
        if len(suggestions) < count:
            logger.debug(
                "hyperband: every configuration is tried at the max resource; %d of %d suggested",
                len(suggestions),
                count,
            )
        return suggestions

    # -- the trials seen --------------------------------------------------------------------

    def _configs(self) -> dict[_Key, _Config]:
        """Every configuration seen, with the rungs of active trials taken."""
        configs = {
            key: _Config(dict(c.values), c.order, dict(c.scores), set(c.taken))
            for key, c in self._completed.items()
        }
        for trial in self._active:
            located = self._locate(trial)
            if located is None:
                continue
            key, rung = located
            config = configs.get(key)
            if config is None:
                config = configs[key] = _Config(self._values(trial), trial.number)
            config.order = min(config.order, trial.number)
            config.has_active = True
            if rung is not None:
                config.taken.add(rung)
        return configs

    def _locate(self, trial: Trial) -> tuple[_Key, int | None] | None:
        """The configuration and rung of a trial; None when it is outside the space."""
        if not self._space.contains(trial.parameters):
            return None
        key = tuple(
            _key_part(axis, trial.parameters[p.name])
            for p, axis in zip(self._parameters, self._axes, strict=True)
        )
        return key, rung_index(self._rungs, trial.parameters[self._resource.name])

    def _values(self, trial: Trial) -> dict[str, ParameterValue]:
        return {p.name: _plain(p, trial.parameters[p.name]) for p in self._parameters}

    def _score(self, trial: Trial) -> float:
        """Lower is better; inf for a trial that failed or has no finite value."""
        if trial.state in (TrialState.FAILED, TrialState.INFEASIBLE):
            return math.inf
        value = trial.objective_value(self._metric_name)
        if value is None or not math.isfinite(value):
            return math.inf
        return self._sign * value

    # -- what to suggest --------------------------------------------------------------------

    def _promotions(self, configs: dict[_Key, _Config]) -> list[tuple[_Key, int]]:
        """Every promotion due now, as (configuration, rung to run), highest rungs first."""
        top = len(self._rungs) - 1
        pools: dict[tuple[int, int], list[tuple[float, int, _Key]]] = {}
        for key, config in configs.items():
            bracket = config.bracket
            if bracket is None or bracket >= len(self._bracket_weights):
                continue
            for rung, score in config.scores.items():
                if rung < top:
                    pools.setdefault((bracket, rung), []).append((score, config.order, key))
        due: list[tuple[int, int, float, int, _Key]] = []
        for (bracket, rung), pool in pools.items():
            pool.sort(key=lambda entry: (entry[0], entry[1]))
            for score, order, key in pool[: len(pool) // self._eta]:
                if score < math.inf and max(configs[key].taken) == rung and _is_on_grid(key):
                    due.append((-rung, bracket, score, order, key))
        due.sort(key=lambda entry: entry[:4])
        return [(key, -negative_rung + 1) for negative_rung, _, _, _, key in due]

    def _draw_config(
        self, rng: np.random.Generator, configs: dict[_Key, _Config]
    ) -> tuple[_Key, dict[str, ParameterValue]] | None:
        """A configuration not seen yet; None when a finite space has none left."""
        key: _Key = ()
        values: dict[str, ParameterValue] = {}
        for _ in range(_MAX_TRIES):
            key, values = self._draw(rng)
            if key not in configs:
                return key, values
        grid = self._grid
        if grid is None:
            logger.debug("hyperband repeats a configuration: no new one was drawn")
            return key, values
        if grid.size > _ENUMERATION_LIMIT:
            return None
        free = [k for point in range(grid.size) if (k := grid.axis_indices(point)) not in configs]
        if not free:
            return None
        key = free[_uniform_index(rng, len(free))]
        values = dict(zip(grid.names, grid.values(key), strict=True))
        return key, values

    def _draw(self, rng: np.random.Generator) -> tuple[_Key, dict[str, ParameterValue]]:
        key: list[object] = []
        values: dict[str, ParameterValue] = {}
        for parameter, axis in zip(self._parameters, self._axes, strict=True):
            if axis is None:
                assert isinstance(parameter, DoubleParameter)
                value = _draw_double(parameter.low, parameter.high, parameter.scale, rng)
                key.append(value)
                values[parameter.name] = value
            else:
                index = _draw_index(parameter, axis, rng)
                key.append(index)
                values[parameter.name] = axis.value(index)
        return tuple(key), values

    def _at_max_resource(
        self, configs: dict[_Key, _Config], in_batch: set[tuple[_Key, int]], count: int
    ) -> list[dict[str, ParameterValue]]:
        """Up to ``count`` configurations not yet tried at the max resource, best first."""
        top = len(self._rungs) - 1

        def rank(key: _Key) -> tuple[bool, bool, int, float, int]:
            config = configs[key]
            highest = max(config.scores, default=-1)
            score = config.scores.get(highest, math.inf)
            return (config.has_active, score == math.inf, -highest, score, config.order)

        waiting = [
            key
            for key, c in configs.items()
            if top not in c.taken and (key, top) not in in_batch and _is_on_grid(key)
        ]
        waiting.sort(key=rank)
        return [self._point(configs[key].values, top) for key in waiting[:count]]

    def _point(self, values: dict[str, ParameterValue], rung: int) -> dict[str, ParameterValue]:
        point = dict(values)
        point[self._resource.name] = self._rungs[rung]
        return {name: point[name] for name in self._space.names}


def _key_part(axis: Axis | None, value: ParameterValue) -> object:
    if axis is not None:
        index = axis.index(value)
        return ("value", value) if index is None else index
    return float(value)


def _is_on_grid(key: _Key) -> bool:
    """Whether no value of a configuration is off its parameter's grid (as a trial added by
    hand may be): only such configurations are suggested again."""
    return not any(isinstance(part, tuple) for part in key)


def _plain(parameter: Parameter, value: ParameterValue) -> ParameterValue:
    if isinstance(parameter, IntParameter):
        return int(value)
    if isinstance(parameter, DoubleParameter):
        return float(value)
    return value
