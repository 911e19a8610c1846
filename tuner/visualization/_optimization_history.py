"""The objective value of each trial and the best value so far."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from tuner._experimental import experimental
from tuner.config import Direction
from tuner.visualization._utils import EMPTY_TITLE, metric_label, succeeded

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from tuner.study import Study

__all__ = ["plot_optimization_history"]


@experimental("0.1.0")
def plot_optimization_history(study: Study, *, ax: Axes | None = None) -> Axes:
    """Plot each succeeded trial's objective value by trial number, and the best so far.

    Points are the succeeded trials with a finite objective value; failed, infeasible,
    early-stopped and running trials are left out. The best-so-far line follows the
    objective's direction (the running minimum or maximum), and the objective's goal, if
    it has one, is a horizontal line. A study with no such trial yet gives empty axes
    titled "no succeeded trials yet" rather than an error, so a notebook cell can plot a
    study that has just started.

    Args:
        study: The study to plot.
        ax: Axes to draw on; a new figure's when None.

    Returns:
        The axes drawn on. Its lines are labelled ``"trials"``, ``"best so far"`` and
        ``"goal"``.

    Examples:
        >>> import matplotlib.pyplot as plt
        >>> import tuner
        >>> from tuner.visualization import plot_optimization_history
        >>> study = tuner.Study.create(
        ...     "doc-history",
        ...     parameters=[tuner.DoubleParameter(name="x", low=-5.0, high=5.0)],
        ...     objective="loss",
        ...     algorithm="random",
        ...     store="sqlite:///" + str(getfixture("tmp_path") / "history.db"),
        ... )
        >>> study.optimize(lambda trial: (trial.parameters["x"] - 1.0) ** 2, n_trials=10)
        >>> ax = plot_optimization_history(study)
        >>> ax.get_ylabel()
        'loss (minimize)'
        >>> plt.close(ax.figure)
        >>> study.close()
    """
    if ax is None:
        _, ax = plt.subplots(layout="constrained")
    objective = study.config.objective
    ax.set_xlabel("trial number")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(metric_label(study))
    trials = succeeded(study)
    if not trials:
        ax.set_title(f"{study.name}: {EMPTY_TITLE}")
        return ax
    ax.set_title(f"{study.name}: optimization history")
    numbers = [trial.number for trial, _ in trials]
    values = [value for _, value in trials]
    pick = min if objective.direction is Direction.MINIMIZE else max
    best = [values[0]]
    for value in values[1:]:
        best.append(pick(best[-1], value))
    ax.plot(numbers, values, linestyle="none", marker="o", alpha=0.6, label="trials")
    if len(numbers) == 1:  # integer ticks around a single trial
        ax.set_xlim(numbers[0] - 1, numbers[0] + 1)
    ax.plot(numbers, best, drawstyle="steps-post", color="C3", label="best so far")
    if objective.goal is not None:
        ax.axhline(objective.goal, color="grey", linestyle=":", label="goal")
    ax.legend()
    return ax
