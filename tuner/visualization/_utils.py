"""What the plots share: the trials they show and how a parameter value sits on an axis."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tuner.config import Direction
from tuner.errors import InvalidArgumentError
from tuner.space import CategoricalParameter, DiscreteParameter, Parameter, Scale, SearchSpace
from tuner.trial import Trial, TrialState

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from tuner.study import Study

EMPTY_TITLE = "no succeeded trials yet"
"""The title of a plot of a study with no succeeded trial of finite objective value."""


def succeeded(study: Study) -> list[tuple[Trial, float]]:
    """The succeeded trials with a finite objective value and that value, by number."""
    metric = study.config.objective.metric_name
    result = []
    for trial in sorted(study.trials, key=lambda trial: trial.number):
        value = trial.objective_value(metric)
        if trial.state is TrialState.SUCCEEDED and value is not None and math.isfinite(value):
            result.append((trial, value))
    return result


def metric_label(study: Study) -> str:
    """``loss (minimize)``: the objective metric and its direction."""
    objective = study.config.objective
    return f"{objective.metric_name} ({objective.direction.value})"


def colormap_name(direction: Direction) -> str:
    """A colormap whose dark end is the better objective value."""
    return "viridis" if direction is Direction.MINIMIZE else "viridis_r"


def select_parameters(space: SearchSpace, params: Sequence[str] | None) -> list[Parameter]:
    """The named parameters of ``space`` in the order given; all of them for None."""
    if params is None:
        return list(space.parameters)
    if isinstance(params, str):
        params = [params]
    unknown = [name for name in params if name not in space.names]
    if unknown:
        raise InvalidArgumentError(
            f"no parameter {unknown[0]!r} in the study (it has {', '.join(space.names)})",
            field="params",
        )
    if not params:
        raise InvalidArgumentError("params names no parameter", field="params")
    return [space[name] for name in params]


def position(parameter: Parameter, value: object) -> float:
    """Where ``value`` sits on the parameter's axis; NaN when it is not in the space."""
    if isinstance(parameter, CategoricalParameter):
        return float(parameter.choices.index(value)) if value in parameter.choices else math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def is_log(parameter: Parameter) -> bool:
    """Whether the parameter is drawn on a log axis."""
    return getattr(parameter, "scale", Scale.LINEAR) is Scale.LOG


def limits(parameter: Parameter) -> tuple[float, float]:
    """The axis range of a parameter: its bounds, its values, or its category positions."""
    if isinstance(parameter, CategoricalParameter):
        n = len(parameter.choices)
        return (0.0, n - 1.0) if n > 1 else (-1.0, 1.0)
    if isinstance(parameter, DiscreteParameter):
        low, high = parameter.values[0], parameter.values[-1]
    else:
        low, high = parameter.low, parameter.high
    return widen(float(low), float(high), log=is_log(parameter))


def widen(low: float, high: float, *, log: bool) -> tuple[float, float]:
    """``(low, high)``, opened around a single value so that an axis can show it."""
    if low < high:
        return low, high
    if log:
        return low / 2, high * 2
    return low - 0.5, high + 0.5


def label_categories(ax: Axes, parameter: Parameter, *, axis: str) -> None:
    """Evenly spaced ticks named by the choices, on the ``x`` or ``y`` axis of ``ax``."""
    if not isinstance(parameter, CategoricalParameter):
        return
    ticks = list(range(len(parameter.choices)))
    if axis == "x":
        ax.set_xticks(ticks, labels=list(parameter.choices))
    else:
        ax.set_yticks(ticks, labels=list(parameter.choices))
