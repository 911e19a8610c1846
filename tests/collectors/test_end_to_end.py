"""``tuner.local.run_experiment`` per collector kind: real trials, a real store, the best trial.

The Experiment documents and their trials are in ``experiments/``; each test copies one pair
into a fresh directory, where the trials run and write their files.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from tuner.controller import ExperimentOutcome
from tuner.errors import InvalidArgumentError
from tuner.local import run_experiment
from tuner.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

EXPERIMENTS = Path(__file__).parent / "experiments"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def prepare(kind: str, directory: Path, **replacements: str) -> Path:
    """Copy ``experiments/<kind>.yaml`` and its trial into ``directory``; the YAML's path."""
    text = (EXPERIMENTS / f"{kind}.yaml").read_text()
    for token, value in replacements.items():
        text = text.replace(token, value)
    shutil.copy(EXPERIMENTS / f"{kind}_trial.py", directory)
    document = directory / f"{kind}.yaml"
    document.write_text(text)
    return document


@pytest.mark.parametrize(
    ("kind", "objective"),
    [
        ("file", "accuracy"),
        ("tfevents", "train/accuracy"),
        ("prometheus", "accuracy"),
        ("push", "accuracy"),
    ],
)
def test_metrics_reach_the_store_and_the_best_trial_is_found(
    kind: str, objective: str, tmp_path: Path
) -> None:
    if kind == "tfevents":
        pytest.importorskip("tensorboard", reason="needs tuner[tfevents]")
    document = prepare(kind, tmp_path, __PORT__=str(free_port()))
    store_url = f"sqlite:///{tmp_path / 'tuner.db'}"

    result = run_experiment(document, store=store_url, workdir=tmp_path / ".tuner")

    assert result.outcome is ExperimentOutcome.SUCCEEDED, result.reason
    assert result.progress.succeeded == 3
    store = open_store(store_url)
    try:
        trials = store.list_trials(f"{kind}-collector")
    finally:
        store.close()
    assert len(trials) == 3
    for trial in trials:
        x = float(trial.parameters["x"])
        final = 1 - (x - 2) ** 2 / 8
        steps = [(m.step, dict(m.metrics)) for m in trial.measurements]
        assert steps == [
            (1, {objective: final - 0.5, "loss": 1.5 - final}),
            (2, {objective: final, "loss": 1 - final}),
        ], f"trial {trial.id} (x={x})"
    best = result.progress.best_trial
    assert best is not None
    assert float(best.parameters["x"]) == 2.0
    assert best.objective_value(objective) == 1.0


def test_parallel_trials_sharing_one_file_are_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    document = prepare("file", tmp_path)
    document.write_text(
        document.read_text().replace("parallelTrialCount: 1", "parallelTrialCount: 2")
    )

    with pytest.raises(InvalidArgumentError) as raised:
        run_experiment(document, store=f"sqlite:///{tmp_path / 'tuner.db'}")

    assert raised.value.field == "spec.parallelTrialCount"
    assert "one fixed metrics file" in str(raised.value)
    assert not (tmp_path / "tuner.db").exists()
