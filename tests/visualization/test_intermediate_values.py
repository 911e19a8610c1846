from __future__ import annotations

import math
from pathlib import Path

from tests.visualization.conftest import NewStudy, save
from tuner.visualization import plot_intermediate_values


def test_one_line_per_reporting_trial_early_stopped_ones_dashed(
    new_study: NewStudy, tmp_path: Path
) -> None:
    study = new_study(
        early_stopping="medianstop",
        early_stopping_settings={"min_trials_required": 1, "start_step": 1},
    )
    good = study.suggest()
    for step, loss in enumerate([0.5, math.nan, 0.3], start=1):
        study.report(good, step=step, loss=loss, accuracy=1 - loss)
    study.complete(good)
    bad = study.suggest()
    study.report(bad, step=1, loss=0.9)
    assert study.should_stop(bad)
    assert study.complete(bad).state.value == "EARLY_STOPPED"
    study.complete(study.suggest(), 0.1)  # reported nothing: no line
    running = study.suggest()
    study.report(running, step=1, loss=0.7)
    study.report(running, step=2, loss=0.6)

    ax = plot_intermediate_values(study)
    lines = {line.get_label(): line for line in ax.lines}
    assert sorted(lines) == ["trial 0", "trial 1", "trial 3"]
    assert list(lines["trial 0"].get_xdata()) == [1, 3]  # the NaN at step 2 is left out
    assert list(lines["trial 0"].get_ydata()) == [0.5, 0.3]
    assert lines["trial 0"].get_linestyle() == "-"
    assert lines["trial 1"].get_linestyle() == "--"
    assert lines["trial 3"].get_linestyle() == ":"
    legend = ax.get_legend()
    assert legend is not None
    assert [text.get_text() for text in legend.get_texts()] == [
        "completed",
        "early stopped",
        "running",
    ]
    assert ax.get_xlabel() == "step"
    assert ax.get_ylabel() == "loss"
    save(ax.figure, tmp_path / "intermediate.png")


def test_another_metric(new_study: NewStudy, tmp_path: Path) -> None:
    study = new_study()
    trial = study.suggest()
    study.report(trial, step=0, loss=1.0, accuracy=0.2)
    study.report(trial, step=1, loss=0.5, accuracy=0.6)
    study.complete(trial)
    other = study.suggest()
    study.report(other, step=0, loss=1.0)  # no accuracy: no line
    study.complete(other)
    ax = plot_intermediate_values(study, metric="accuracy")
    assert [list(line.get_ydata()) for line in ax.lines] == [[0.2, 0.6]]
    assert ax.get_ylabel() == "accuracy"
    save(ax.figure, tmp_path / "accuracy.png")


def test_nothing_reported_gives_titled_empty_axes(new_study: NewStudy, tmp_path: Path) -> None:
    study = new_study()
    study.complete(study.suggest(), 1.0)
    trial = study.suggest()
    study.report(trial, step=1, loss=math.inf)
    ax = plot_intermediate_values(study)
    assert len(ax.lines) == 0
    assert ax.get_title().endswith("no trial has reported loss yet")
    save(ax.figure, tmp_path / "empty.png")
