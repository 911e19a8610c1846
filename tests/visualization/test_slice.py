from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.visualization.conftest import NewStudy, finish, save
from tuner.visualization import plot_slice


def test_one_panel_per_parameter(new_study: NewStudy, tmp_path: Path) -> None:
    study = new_study()
    for parameters, value in [
        ({"lr": 1e-2, "n": 1, "optimizer": "adam"}, 2.0),
        ({"lr": 1e-4, "n": 9, "optimizer": "rmsprop"}, math.inf),  # not plotted
        ({"lr": 1.0, "n": 5, "optimizer": "sgd"}, 1.0),
    ]:
        study.enqueue(parameters)
        study.complete(study.suggest(), value)
    finish(study, [None])
    figure = plot_slice(study)
    lr, n, optimizer = figure.axes[:3]
    assert [ax.get_label() for ax in (lr, n, optimizer)] == ["lr", "n", "optimizer"]
    (points,) = lr.collections
    assert points.get_offsets().tolist() == [[1e-2, 2.0], [1.0, 1.0]]  # type: ignore[union-attr]
    assert list(points.get_array()) == [0, 2]  # type: ignore[arg-type]  # colour: trial number
    assert lr.get_xscale() == "log"
    assert n.get_xscale() == "linear"
    (points,) = optimizer.collections
    assert points.get_offsets().tolist() == [[1.0, 2.0], [0.0, 1.0]]  # type: ignore[union-attr]
    assert [t.get_text() for t in optimizer.get_xticklabels()] == ["sgd", "adam", "rmsprop"]
    assert lr.get_ylabel() == "loss (minimize)"
    save(figure, tmp_path / "slice.png")


def test_chosen_parameters_wrap_into_rows(new_study: NewStudy, tmp_path: Path) -> None:
    import tuner

    parameters = [tuner.DoubleParameter(name=f"x{i}", low=0.0, high=1.0) for i in range(5)]
    study = new_study(parameters=parameters)
    finish(study, [1.0, 2.0])
    figure = plot_slice(study, params=["x4", "x0", "x1", "x2", "x3"])
    panels = [ax for ax in figure.axes if ax.get_label().startswith("x")]
    assert [ax.get_label() for ax in panels] == ["x4", "x0", "x1", "x2", "x3"]
    assert len({ax.get_subplotspec().rowspan.start for ax in panels}) == 2  # type: ignore[union-attr]
    save(figure, tmp_path / "slice.png")


def test_an_unknown_parameter_is_refused(new_study: NewStudy) -> None:
    with pytest.raises(ValueError, match="no parameter 'depth'"):
        plot_slice(new_study(), params=["depth"])


def test_a_study_without_succeeded_trials_gives_titled_empty_panels(
    new_study: NewStudy, tmp_path: Path
) -> None:
    study = new_study()
    finish(study, [None])
    figure = plot_slice(study)
    assert all(len(ax.collections) == 0 for ax in figure.axes)
    suptitle = figure.get_suptitle()
    assert suptitle.endswith("no succeeded trials yet")
    save(figure, tmp_path / "empty.png")
