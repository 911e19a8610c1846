from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection

import tuner
from tests.visualization.conftest import NewStudy, finish, save
from tuner.visualization import plot_parallel_coordinates

ENQUEUED = [
    ({"lr": 1e-2, "n": 1, "optimizer": "adam"}, 2.0),
    ({"lr": 1e-4, "n": 9, "optimizer": "rmsprop"}, 4.0),
    ({"lr": 1.0, "n": 5, "optimizer": "sgd"}, 1.0),
    ({"lr": 1e-3, "n": 3, "optimizer": "sgd"}, math.inf),  # not plotted
]


def _axes(ax: Axes) -> dict[str, Axes]:
    return {axis.get_label(): axis for axis in ax.figure.axes}


def _study(new_study: NewStudy, **options: object) -> tuner.Study:
    study = new_study(**options)
    for parameters, value in ENQUEUED:
        study.enqueue(parameters)
        study.complete(study.suggest(), value)
    finish(study, [None])  # failed: not plotted
    return study


def test_lines_cross_every_axis_at_the_normalised_values(
    new_study: NewStudy, tmp_path: Path
) -> None:
    ax = plot_parallel_coordinates(_study(new_study))
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    # worst first, so that the best (1.0) is drawn on top
    assert list(lines.get_array()) == [4.0, 2.0, 1.0]  # type: ignore[arg-type]
    segments = [segment.tolist() for segment in lines.get_segments()]
    # objective over [1, 4]; lr in log10 over [-4, 0]; n over [1, 9]; optimizer by position
    assert segments == [
        [[0, 1.0], [1, 0.0], [2, 1.0], [3, 1.0]],
        [[0, 1 / 3], [1, 0.5], [2, 0.0], [3, 0.5]],
        [[0, 0.0], [1, 1.0], [2, 0.5], [3, 0.0]],
    ]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["loss", "lr", "n", "optimizer"]
    axes = _axes(ax)
    assert axes["lr"].get_yscale() == "log"
    assert axes["lr"].get_ylim() == pytest.approx((1e-4, 1.0))
    assert axes["n"].get_yscale() == "linear"
    assert axes["loss"].get_ylim() == (1.0, 4.0)
    assert [t.get_text() for t in axes["optimizer"].get_yticklabels()] == [
        "sgd",
        "adam",
        "rmsprop",
    ]
    assert list(axes["optimizer"].get_yticks()) == [0, 1, 2]
    save(ax.figure, tmp_path / "parallel.png")


def test_chosen_parameters_in_order_and_maximize(new_study: NewStudy, tmp_path: Path) -> None:
    study = _study(new_study, direction="maximize")
    ax = plot_parallel_coordinates(study, params=["optimizer", "lr"])
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert list(lines.get_array()) == [1.0, 2.0, 4.0]  # type: ignore[arg-type]
    assert np.allclose(lines.get_segments()[-1][:, 1], [1.0, 1.0, 0.0])
    assert [label.get_text() for label in ax.get_xticklabels()] == ["loss", "optimizer", "lr"]
    assert "n" not in _axes(ax)
    save(ax.figure, tmp_path / "parallel.png")


def test_an_unknown_parameter_is_refused(new_study: NewStudy) -> None:
    with pytest.raises(ValueError, match="no parameter 'depth'"):
        plot_parallel_coordinates(_study(new_study), params=["lr", "depth"])


def test_a_study_without_succeeded_trials_gives_titled_empty_axes(
    new_study: NewStudy, tmp_path: Path
) -> None:
    study = new_study()
    finish(study, [None])
    ax = plot_parallel_coordinates(study)
    assert len(ax.collections) == 0
    assert ax.get_title().endswith("no succeeded trials yet")
    save(ax.figure, tmp_path / "empty.png")
