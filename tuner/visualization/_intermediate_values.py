"""Each trial's reported values of a metric, step by step."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from tuner._experimental import experimental
from tuner.trial import Trial, TrialState

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.typing import LineStyleType

    from tuner.study import Study

__all__ = ["plot_intermediate_values"]

# (line style, legend label) by trial state; a state not listed is not drawn.
_STYLES: dict[TrialState, tuple[LineStyleType, str]] = {
    TrialState.SUCCEEDED: ("-", "completed"),
    TrialState.EARLY_STOPPED: ("--", "early stopped"),
    TrialState.STOPPING: ("--", "early stopped"),
    TrialState.ACTIVE: (":", "running"),
    TrialState.FAILED: ("-.", "failed or infeasible"),
    TrialState.INFEASIBLE: ("-.", "failed or infeasible"),
}


@experimental("0.1.0")
def plot_intermediate_values(
    study: Study, *, metric: str | None = None, ax: Axes | None = None
) -> Axes:
    """Plot the values each trial reported for a metric, against the step.

    One line per trial that reported a finite value of the metric, coloured by trial
    number: solid for completed trials, dashed and ending in a cross for trials an
    early-stopping rule stopped (what median stopping or Hyperband decided), dotted for
    running ones, dash-dotted for failed or infeasible ones. Non-finite values are left
    out. A study where no trial reported the metric yet gives empty axes saying so.

    Args:
        study: The study to plot.
        metric: The metric to plot; the objective metric when None.
        ax: Axes to draw on; a new figure's when None.

    Returns:
        The axes drawn on; ``ax.lines`` holds one line per trial, labelled
        ``"trial <number>"``.

    Examples:
        >>> import matplotlib.pyplot as plt
        >>> import tuner
        >>> from tuner.visualization import plot_intermediate_values
        >>> study = tuner.Study.create(
        ...     "doc-intermediate",
        ...     parameters=[tuner.DoubleParameter(name="lr", low=0.1, high=1.0)],
        ...     objective="loss",
        ...     algorithm="random",
        ...     store="sqlite:///" + str(getfixture("tmp_path") / "intermediate.db"),
        ... )
        >>> def train(trial):
        ...     for step in range(1, 4):
        ...         study.report(trial, step=step, loss=trial.parameters["lr"] / step)
        >>> study.optimize(train, n_trials=3)
        >>> ax = plot_intermediate_values(study)
        >>> len(ax.lines)
        3
        >>> plt.close(ax.figure)
        >>> study.close()
    """
    metric = metric or study.config.objective.metric_name
    if ax is None:
        _, ax = plt.subplots(layout="constrained")
    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(metric)
    curves = [
        (trial, curve)
        for trial in sorted(study.trials, key=lambda trial: trial.number)
        if trial.state in _STYLES and (curve := _curve(trial, metric))
    ]
    if not curves:
        ax.set_title(f"{study.name}: no trial has reported {metric} yet")
        return ax
    ax.set_title(f"{study.name}: intermediate values of {metric}")
    numbers = [trial.number for trial, _ in curves]
    norm = Normalize(min(numbers), max(max(numbers), min(numbers) + 1))
    cmap = plt.get_cmap("viridis")
    for trial, curve in curves:
        steps, values = zip(*curve, strict=True)
        style, _ = _STYLES[trial.state]
        stopped = style == "--"
        ax.plot(
            steps,
            values,
            linestyle=style,
            color=cmap(norm(trial.number)),
            marker="x" if stopped else ("o" if len(curve) == 1 else None),
            markevery=[len(curve) - 1] if stopped else None,
            label=f"trial {trial.number}",
        )
    all_steps = {step for _, curve in curves for step, _ in curve}
    if len(all_steps) == 1:  # integer ticks around a single step
        ax.set_xlim(min(all_steps) - 1, min(all_steps) + 1)
    present = {trial.state for trial, _ in curves}
    legend = {label: style for state, (style, label) in _STYLES.items() if state in present}
    ax.legend(
        handles=[
            Line2D([], [], color="grey", linestyle=style, label=label)
            for label, style in legend.items()
        ],
        loc="best",
    )
    colorbar = ax.figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="trial number")
    colorbar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return ax


def _curve(trial: Trial, metric: str) -> list[tuple[int, float]]:
    """The trial's finite values of ``metric`` by step, in step order."""
    points = [
        (measurement.step, measurement.metrics[metric])
        for measurement in trial.measurements
        if metric in measurement.metrics and math.isfinite(measurement.metrics[metric])
    ]
    return sorted(points, key=lambda point: point[0])
