"""One vertical axis per parameter and the objective; one line per trial across them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import matplotlib.pyplot as plt
from matplotlib.collections import LineCollection

from tuner._experimental import experimental
from tuner.config import Direction
from tuner.visualization._utils import (
    EMPTY_TITLE,
    colormap_name,
    is_log,
    label_categories,
    limits,
    metric_label,
    position,
    select_parameters,
    succeeded,
    widen,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from tuner.space import Parameter
    from tuner.study import Study

__all__ = ["plot_parallel_coordinates"]


@experimental("0.1.0")
def plot_parallel_coordinates(
    study: Study, *, params: Sequence[str] | None = None, ax: Axes | None = None
) -> Axes:
    """Plot the succeeded trials as lines across one vertical axis per parameter.

    The first axis is the objective (over the values seen), then one per parameter over
    its range in the search space: log-scale parameters on a log axis, categorical ones
    as evenly spaced ticks named by their choices. Each line is a succeeded trial with a
    finite objective value, coloured by that value (dark is better); the best trials are
    drawn on top. A study with no such trial gives empty axes titled "no succeeded trials
    yet".

    Each vertical axis is a twin of ``ax`` whose label (``Axes.get_label()``) is the
    parameter's name, or the objective metric's; the lines themselves are one
    ``LineCollection`` in ``ax``, with every axis mapped to ``[0, 1]``.

    Args:
        study: The study to plot.
        params: Parameter names to show, in this order; all of them when None.
        ax: Axes to draw on; a new figure's when None.

    Returns:
        The axes drawn on.

    Raises:
        InvalidArgumentError: ``params`` names a parameter the study does not have (a
            ``ValueError``).

    Examples:
        >>> import matplotlib.pyplot as plt
        >>> import tuner
        >>> from tuner.visualization import plot_parallel_coordinates
        >>> study = tuner.Study.create(
        ...     "doc-parallel",
        ...     parameters=[
        ...         tuner.DoubleParameter(name="lr", low=1e-4, high=1.0, scale=tuner.Scale.LOG),
        ...         tuner.CategoricalParameter(name="optimizer", choices=("sgd", "adam")),
        ...     ],
        ...     objective="loss",
        ...     algorithm="random",
        ...     store="sqlite:///" + str(getfixture("tmp_path") / "parallel.db"),
        ... )
        >>> study.optimize(lambda trial: trial.parameters["lr"], n_trials=5)
        >>> ax = plot_parallel_coordinates(study)
        >>> [a.get_label() for a in ax.figure.axes if a.get_label() in ("loss", "lr")]
        ['loss', 'lr']
        >>> plt.close(ax.figure)
        >>> study.close()
    """
    parameters = select_parameters(study.config.space, params)
    if ax is None:
        _, ax = plt.subplots(figsize=(2.0 + 1.6 * len(parameters), 4.8), layout="constrained")
    objective = study.config.objective
    trials = succeeded(study)
    if not trials:
        ax.set_title(f"{study.name}: {EMPTY_TITLE}")
        return ax
    ax.set_title(f"{study.name}: parallel coordinates")
    # best last, so that the best lines are drawn on top
    trials.sort(key=lambda pair: pair[1], reverse=objective.direction is Direction.MINIMIZE)
    values = [value for _, value in trials]
    dimensions: list[tuple[str, tuple[float, float], bool, Parameter | None]] = [
        (objective.metric_name, widen(min(values), max(values), log=False), False, None)
    ]
    dimensions += [(p.name, limits(p), is_log(p), p) for p in parameters]

    segments = []
    colours = []
    for trial, value in trials:
        points = [(0.0, _normalise(value, dimensions[0][1], log=False))]
        for x, parameter in enumerate(parameters, start=1):
            at = position(parameter, trial.parameters.get(parameter.name))
            points.append((float(x), _normalise(at, dimensions[x][1], log=dimensions[x][2])))
        if all(math.isfinite(y) for _, y in points):
            segments.append(points)
            colours.append(value)
    lines = LineCollection(segments, cmap=colormap_name(objective.direction), linewidths=1.2)
    lines.set_array(colours)
    ax.add_collection(lines)

    last = len(dimensions) - 1
    ax.set_xlim(0, last)
    ax.set_ylim(0, 1)
    ax.set_xticks(range(len(dimensions)), labels=[name for name, *_ in dimensions])
    ax.tick_params(axis="y", left=False, labelleft=False)
    for edge in ("left", "right", "top", "bottom"):
        ax.spines[edge].set_visible(False)
    for x, (name, bounds, log, dimension) in enumerate(dimensions):
        axis = ax.twinx()
        axis.set_label(name)
        # the first axis (the objective) keeps its ticks on the left, clear of the lines
        side: Literal["left", "right"] = "left" if x == 0 else "right"
        for other in ("left", "right", "top", "bottom"):
            axis.spines[other].set_visible(other == side)
        axis.spines[side].set_position(("axes", x / last))
        axis.yaxis.set_ticks_position(side)
        axis.yaxis.set_label_position(side)
        if log:
            axis.set_yscale("log")
        axis.set_ylim(*bounds)
        if dimension is not None:
            label_categories(axis, dimension, axis="y")
    ax.figure.colorbar(lines, ax=ax, pad=0.08, label=metric_label(study))
    return ax


def _normalise(value: float, bounds: tuple[float, float], *, log: bool) -> float:
    """``value`` mapped to ``[0, 1]`` over ``bounds``, in log space for a log axis."""
    low, high = bounds
    if log:
        if not value > 0:
            return math.nan
        value, low, high = math.log10(value), math.log10(low), math.log10(high)
    return (value - low) / (high - low)
