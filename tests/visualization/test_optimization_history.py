from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

import tuner
from tests.visualization.conftest import NewStudy, finish, save
from tuner.visualization import plot_optimization_history

VALUES = [3.0, None, 1.0, math.inf, 4.0, 1.5, 5.0]
"""Trial 1 fails and trial 3 is infinite: neither is plotted."""


def _lines(ax: Axes) -> dict[str, Line2D]:
    return {line.get_label(): line for line in ax.lines}


def test_minimize_best_so_far_is_the_running_minimum(new_study: NewStudy, tmp_path: Path) -> None:
    study = new_study()
    finish(study, VALUES)
    ax = plot_optimization_history(study)
    lines = _lines(ax)
    assert list(lines["trials"].get_xdata()) == [0, 2, 4, 5, 6]
    assert list(lines["trials"].get_ydata()) == [3.0, 1.0, 4.0, 1.5, 5.0]
    assert list(lines["best so far"].get_ydata()) == [3.0, 1.0, 1.0, 1.0, 1.0]
    assert "goal" not in lines
    assert ax.get_ylabel() == "loss (minimize)"
    assert "optimization history" in ax.get_title()
    save(ax.figure, tmp_path / "history.png")


def test_maximize_best_so_far_is_the_running_maximum_and_the_goal_is_drawn(
    new_study: NewStudy, tmp_path: Path
) -> None:
    study = new_study(
        objective=tuner.Objective(
            metric_name="accuracy", direction=tuner.Direction.MAXIMIZE, goal=4.5
        )
    )
    finish(study, VALUES)
    ax = plot_optimization_history(study)
    lines = _lines(ax)
    assert list(lines["best so far"].get_ydata()) == [3.0, 3.0, 4.0, 4.0, 5.0]
    assert list(lines["goal"].get_ydata()) == [4.5, 4.5]
    assert ax.get_ylabel() == "accuracy (maximize)"
    save(ax.figure, tmp_path / "history.png")


def test_draws_on_given_axes(new_study: NewStudy) -> None:
    study = new_study()
    finish(study, [2.0])
    _, given = plt.subplots()
    assert plot_optimization_history(study, ax=given) is given
    assert len(given.lines) == 2


def test_a_study_without_succeeded_trials_gives_titled_empty_axes(
    new_study: NewStudy, tmp_path: Path
) -> None:
    study = new_study()
    finish(study, [None, math.nan])  # failed, infeasible
    study.suggest()  # running
    ax = plot_optimization_history(study)
    assert len(ax.lines) == 0
    assert ax.get_title().endswith("no succeeded trials yet")
    save(ax.figure, tmp_path / "empty.png")


def test_trial_numbers_are_whole_ticks_even_for_one_trial(new_study: NewStudy) -> None:
    study = new_study()
    finish(study, [2.0])
    ax = plot_optimization_history(study)
    ax.figure.canvas.draw()
    ticks = [tick for tick in ax.get_xticks() if ax.get_xlim()[0] <= tick <= ax.get_xlim()[1]]
    assert ticks
    assert all(float(tick).is_integer() for tick in ticks)
