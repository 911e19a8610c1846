"""Studies on SQLite files to plot, drawn with the Agg backend; every figure closed after."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

import tuner

SPACE = [
    tuner.DoubleParameter(name="lr", low=1e-4, high=1.0, scale=tuner.Scale.LOG),
    tuner.IntParameter(name="n", low=1, high=9),
    tuner.CategoricalParameter(name="optimizer", choices=("sgd", "adam", "rmsprop")),
]

NewStudy = Callable[..., tuner.Study]


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture
def new_study(tmp_path: Path) -> Iterator[NewStudy]:
    """``new_study(**options)``: a random-search study over :data:`SPACE` on a SQLite file."""
    studies: list[tuner.Study] = []

    def create(**options: object) -> tuner.Study:
        arguments: dict[str, object] = {
            "parameters": SPACE,
            "objective": "loss",
            "algorithm": "random",
            "seed": 1,
            "store": f"sqlite:///{tmp_path / 't.db'}",
            **options,
        }
        study = tuner.Study.create(f"s{len(studies)}", **arguments)  # type: ignore[arg-type]
        studies.append(study)
        return study

    yield create
    for study in studies:
        study.close()


def finish(study: tuner.Study, values: Sequence[float | None]) -> list[tuner.Trial]:
    """One trial per value, completed with it; None fails the trial instead."""
    trials = []
    for value in values:
        trial = study.suggest()
        if value is None:
            trials.append(study.fail(trial, "crashed"))
        else:
            trials.append(study.complete(trial, value))
    return trials


def save(figure: Any, path: Path) -> None:
    """Render the figure to a PNG file and check that something was written."""
    figure.savefig(path)
    assert path.stat().st_size > 0
