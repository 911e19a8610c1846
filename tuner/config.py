"""What a study optimises and how: objective, metric strategies, algorithm."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from tuner.errors import InvalidArgumentError
from tuner.space import SearchSpace

__all__ = [
    "DEFAULT_ALGORITHM",
    "AlgorithmSpec",
    "Budget",
    "Direction",
    "MetricStrategy",
    "Objective",
    "StudyConfig",
    "StudyInfo",
    "StudyState",
]


class Direction(enum.Enum):
    """Whether the objective metric is to be made small or large (Katib's ``type``)."""

    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"


class MetricStrategy(enum.Enum):
    """How a trial's intermediate values of a metric reduce to its final value."""

    MIN = "min"
    MAX = "max"
    LATEST = "latest"


@dataclass(frozen=True, slots=True, kw_only=True)
class Objective:
    """The metric to optimise, an optional goal, and the other metrics to collect.

    ``metric_strategies`` holds the strategy of every metric named here: those not given
    default to ``min``/``max`` for the objective (by direction) and ``latest`` for the rest,
    as in Katib.

    Examples:
        >>> objective = Objective(metric_name="accuracy", direction=Direction.MAXIMIZE, goal=0.99)
        >>> objective.metric_strategies["accuracy"]
        <MetricStrategy.MAX: 'max'>
        >>> objective.is_goal_reached(0.995)
        True
    """

    metric_name: str
    direction: Direction = Direction.MINIMIZE
    goal: float | None = None
    additional_metric_names: tuple[str, ...] = ()
    metric_strategies: Mapping[str, MetricStrategy] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.metric_name:
            raise InvalidArgumentError("the objective needs a metric name", field="metric_name")
        names = (self.metric_name, *self.additional_metric_names)
        if len(set(names)) != len(names):
            raise InvalidArgumentError(
                "metric names must be distinct", field="additional_metric_names"
            )
        if self.goal is not None and not math.isfinite(self.goal):
            raise InvalidArgumentError(f"goal must be finite, got {self.goal}", field="goal")
        unknown = sorted(set(self.metric_strategies) - set(names))
        if unknown:
            raise InvalidArgumentError(
                f"strategy given for {unknown[0]!r}, which is not an objective metric",
                field="metric_strategies",
            )
        default = MetricStrategy.MIN if self.direction is Direction.MINIMIZE else MetricStrategy.MAX
        strategies = {self.metric_name: default}
        strategies.update({name: MetricStrategy.LATEST for name in self.additional_metric_names})
        strategies.update(self.metric_strategies)
        object.__setattr__(self, "additional_metric_names", tuple(self.additional_metric_names))
        object.__setattr__(self, "metric_strategies", strategies)

    @property
    def metric_names(self) -> tuple[str, ...]:
        """The objective metric first, then the additional ones."""
        return (self.metric_name, *self.additional_metric_names)

    def is_better(self, value: float, than: float) -> bool:
        """Whether ``value`` is strictly better than ``than`` in this direction."""
        return value < than if self.direction is Direction.MINIMIZE else value > than

    def is_goal_reached(self, value: float) -> bool:
        """Whether ``value`` meets the goal (never, when there is no goal)."""
        if self.goal is None or math.isnan(value):
            return False
        return value <= self.goal if self.direction is Direction.MINIMIZE else value >= self.goal


DEFAULT_ALGORITHM = "bayesianoptimization"
"""The algorithm of a study that names none: the best-ranked of ours in ``bench/``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlgorithmSpec:
    """An algorithm by its registered name, with its settings as Katib gives them (strings).

    Names a suggestion algorithm (``StudyConfig.algorithm``) or an early-stopping rule
    (``StudyConfig.early_stopping``).
    """

    name: str = DEFAULT_ALGORITHM
    settings: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidArgumentError("algorithm name must not be empty", field="name")
        object.__setattr__(self, "settings", {str(k): str(v) for k, v in self.settings.items()})


@dataclass(frozen=True, slots=True, kw_only=True)
class StudyConfig:
    """Everything that defines a study's optimisation problem.

    Two runs of the same experiment must produce equal configs; that is how a rerun
    recognises the study it resumes.
    """

    space: SearchSpace
    objective: Objective
    algorithm: AlgorithmSpec = field(default_factory=AlgorithmSpec)
    seed: int | None = None
    """Seed of the algorithm; the service draws one at creation when None."""
    early_stopping: AlgorithmSpec | None = None
    """The early-stopping rule by its registered name (``medianstop``) with its settings;
    None: trials run to their end."""

    def is_same_problem(self, other: StudyConfig) -> bool:
        """Whether ``other`` equals this config but maybe for the seed.

        A stored study has the seed the service drew; a rerun of its experiment (or a
        ``load_if_exists``) asks again without one, and means the same study.
        """
        return replace(self, seed=None) == replace(other, seed=None)


class StudyState(enum.Enum):
    """Whether a study still takes suggestions."""

    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    """The budget is spent, the goal is reached or the algorithm has nothing left."""
    FAILED = "FAILED"
    """Too many trials failed, or the experiment could not run."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StudyInfo:
    """A study as the store holds it."""

    name: str
    config: StudyConfig
    state: StudyState = StudyState.ACTIVE
    reason: str = ""
    created_at: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """How many trials an experiment runs, and how many at once (Katib's counts).

    Examples:
        >>> Budget(max_trial_count=12, parallel_trial_count=3).max_failed_trial_count is None
        True
    """

    max_trial_count: int | None = None
    """Trials to finish, in any final state; None runs until the goal or exhaustion."""
    max_failed_trial_count: int | None = None
    """The experiment fails once more trials than this have failed; None tolerates any."""
    parallel_trial_count: int = 3

    def __post_init__(self) -> None:
        if self.max_trial_count is not None and self.max_trial_count < 1:
            raise InvalidArgumentError(
                f"must be >= 1, got {self.max_trial_count}", field="max_trial_count"
            )
        if self.max_failed_trial_count is not None and self.max_failed_trial_count < 0:
            raise InvalidArgumentError(
                f"must be >= 0, got {self.max_failed_trial_count}", field="max_failed_trial_count"
            )
        if self.parallel_trial_count < 1:
            raise InvalidArgumentError(
                f"must be >= 1, got {self.parallel_trial_count}", field="parallel_trial_count"
            )
