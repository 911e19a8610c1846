"""The objective against each parameter, one panel per parameter."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from tuner._experimental import experimental
from tuner.space import CategoricalParameter
from tuner.visualization._utils import (
    EMPTY_TITLE,
    is_log,
    label_categories,
    limits,
    metric_label,
    position,
    select_parameters,
    succeeded,
)

if TYPE_CHECKING:
    from matplotlib.collections import PathCollection
    from matplotlib.figure import Figure

    from tuner.study import Study

__all__ = ["plot_slice"]

_COLUMNS = 4
"""Panels per row; more parameters wrap to further rows."""


@experimental("0.1.0")
def plot_slice(study: Study, *, params: Sequence[str] | None = None) -> Figure:
    """Plot the objective value against each parameter's value, one panel per parameter.

    Each point is a succeeded trial with a finite objective value, coloured by trial
    number, so that where the search went late shows. Log-scale parameters get a log x
    axis over their range, categorical ones a tick per choice. With no such trial yet the
    panels are empty and the figure is titled "no succeeded trials yet".

    Args:
        study: The study to plot.
        params: Parameter names to show, in this order; all of them when None.

    Returns:
        A new figure; its first axes (``figure.axes[:len(params)]``) are the panels, each
        labelled (``Axes.get_label()``) with its parameter's name, in order.

    Raises:
        InvalidArgumentError: ``params`` names a parameter the study does not have (a
            ``ValueError``).

    Examples:
        >>> import matplotlib.pyplot as plt
        >>> import tuner
        >>> from tuner.visualization import plot_slice
        >>> study = tuner.Study.create(
        ...     "doc-slice",
        ...     parameters=[
        ...         tuner.DoubleParameter(name="x", low=-5.0, high=5.0),
        ...         tuner.IntParameter(name="n", low=1, high=100, scale=tuner.Scale.LOG),
        ...     ],
        ...     objective="loss",
        ...     algorithm="random",
        ...     store="sqlite:///" + str(getfixture("tmp_path") / "slice.db"),
        ... )
        >>> study.optimize(lambda trial: trial.parameters["x"] ** 2, n_trials=5)
        >>> figure = plot_slice(study)
        >>> [(ax.get_label(), ax.get_xscale()) for ax in figure.axes[:2]]
        [('x', 'linear'), ('n', 'log')]
        >>> plt.close(figure)
        >>> study.close()
    """
    parameters = select_parameters(study.config.space, params)
    columns = min(len(parameters), _COLUMNS)
    rows = math.ceil(len(parameters) / columns)
    figure, grid = plt.subplots(
        rows,
        columns,
        sharey=True,
        squeeze=False,
        figsize=(1.5 + 3.0 * columns, 0.6 + 3.0 * rows),
        layout="constrained",
    )
    panels = list(grid.flat)
    for unused in panels[len(parameters) :]:
        unused.remove()
    trials = succeeded(study)
    numbers = [trial.number for trial, _ in trials]
    values = [value for _, value in trials]
    points: PathCollection | None = None
    for index, (parameter, ax) in enumerate(zip(parameters, panels, strict=False)):
        ax.set_label(parameter.name)
        ax.set_xlabel(parameter.name)
        if index % columns == 0:
            ax.set_ylabel(metric_label(study))
        if is_log(parameter):
            ax.set_xscale("log")
        low, high = limits(parameter)
        if isinstance(parameter, CategoricalParameter):
            margin = 0.5
        else:
            margin = 0.0 if is_log(parameter) else 0.04 * (high - low)
        ax.set_xlim(low - margin, high + margin)
        label_categories(ax, parameter, axis="x")
        if not trials:
            continue
        at = [position(parameter, trial.parameters.get(parameter.name)) for trial, _ in trials]
        shown = [i for i, x in enumerate(at) if math.isfinite(x)]
        points = ax.scatter(
            [at[i] for i in shown],
            [values[i] for i in shown],
            c=[numbers[i] for i in shown],
            cmap="viridis",
            vmin=min(numbers),
            vmax=max(max(numbers), min(numbers) + 1),
            edgecolors="grey",
            linewidths=0.5,
        )
    if points is None:
        figure.suptitle(f"{study.name}: {EMPTY_TITLE}")
        return figure
    figure.suptitle(f"{study.name}: slice of {study.config.objective.metric_name}")
    colorbar = figure.colorbar(points, ax=panels[: len(parameters)], label="trial number")
    colorbar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return figure
