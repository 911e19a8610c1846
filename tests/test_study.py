"""The Study API: one suite, run in-process on a local store and against a server."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import tuner
from tuner import Study
from tuner.errors import AlreadyExistsError, FailedPreconditionError, NotFoundError
from tuner.service import ServiceCore, create_server
from tuner.store import open_store

PARAMETERS = [
    tuner.DoubleParameter(name="x", low=-2.0, high=2.0),
    tuner.IntParameter(name="n", low=1, high=4),
    tuner.CategoricalParameter(name="kind", choices=("a", "b")),
]


@pytest.fixture(params=["local", "remote"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Keyword arguments that point a Study at a local store or at a running server."""
    url = f"sqlite:///{tmp_path / 'tuner.db'}"
    if request.param == "local":
        yield {"store": url}
        return
    core = ServiceCore(open_store(url))
    server, port = create_server(core)
    server.start()
    try:
        yield {"server": f"127.0.0.1:{port}"}
    finally:
        server.stop(grace=None)
        core.close()


def _create(where: dict[str, str], **kwargs: object) -> Study:
    options: dict[str, object] = {
        "parameters": PARAMETERS,
        "objective": "loss",
        "seed": 5,
        **where,
        **kwargs,
    }
    return Study.create("s", **options)  # type: ignore[arg-type]


def test_ask_report_tell(where: dict[str, str]) -> None:
    with _create(where) as study:
        trial = study.suggest()
        assert study.config.space.contains(trial.parameters)
        study.report(trial, step=1, loss=3.0)
        study.report(trial, step=2, loss=2.0)
        done = study.complete(trial)  # reduced: min over the reports
        assert done.state is tuner.TrialState.SUCCEEDED
        assert done.objective_value("loss") == 2.0
        assert [m.step for m in study.trials[0].measurements] == [1, 2]

        other = study.complete(study.suggest(), 1.5, accuracy=0.5)
        assert other.final_measurement is not None
        assert other.final_measurement.metrics == {"loss": 1.5, "accuracy": 0.5}
        assert study.best_trial is not None
        assert study.best_trial.id == other.id


def test_optimize_in_parallel(where: dict[str, str]) -> None:
    with _create(where) as study:
        seen_threads: set[int] = set()

        def objective(trial: tuner.Trial) -> float:
            seen_threads.add(threading.get_ident())
            x = trial.parameters["x"]
            assert isinstance(x, float)
            return (x - 1.0) ** 2

        study.optimize(objective, n_trials=12, n_jobs=3)
        trials = study.trials
        assert len(trials) == 12
        assert all(t.state is tuner.TrialState.SUCCEEDED for t in trials)
        assert len({t.id for t in trials}) == 12
        best = study.best_trial
        assert best is not None
        assert best.objective_value("loss") == min(t.objective_value("loss") or 0 for t in trials)


def test_optimize_fails_the_trial_and_raises_unless_caught(where: dict[str, str]) -> None:
    with _create(where) as study:

        def broken(trial: tuner.Trial) -> float:
            raise ValueError("diverged")

        with pytest.raises(ValueError, match="diverged"):
            study.optimize(broken, n_trials=3)
        assert [t.state for t in study.trials] == [tuner.TrialState.FAILED]
        assert study.trials[0].reason == "ValueError: diverged"

        study.optimize(broken, n_trials=2, catch=(ValueError,))
        assert [t.state for t in study.trials] == [tuner.TrialState.FAILED] * 3


def test_trial_counts(where: dict[str, str]) -> None:
    with _create(where) as study:
        assert study.trial_counts == dict.fromkeys(tuner.TrialState, 0)
        study.complete(study.suggest(), 1.0)
        study.fail(study.suggest(), "crash")
        study.suggest()
        counts = study.trial_counts
        assert list(counts) == list(tuner.TrialState)
        assert {state: n for state, n in counts.items() if n} == {
            tuner.TrialState.SUCCEEDED: 1,
            tuner.TrialState.FAILED: 1,
            tuner.TrialState.ACTIVE: 1,
        }


def test_nan_objective_makes_the_trial_infeasible(where: dict[str, str]) -> None:
    with _create(where) as study:
        trial = study.complete(study.suggest(), math.nan)
        assert trial.state is tuner.TrialState.INFEASIBLE
        assert study.best_trial is None


def test_enqueued_parameters_come_first(where: dict[str, str]) -> None:
    with _create(where) as study:
        queued = study.enqueue({"x": 0.25, "n": 2, "kind": "b"})
        assert queued.state is tuner.TrialState.REQUESTED
        trial = study.suggest()
        assert trial.id == queued.id
        assert trial.state is tuner.TrialState.ACTIVE


def test_grid_study_reports_exhaustion(where: dict[str, str]) -> None:
    with _create(
        where, parameters=[tuner.IntParameter(name="n", low=1, high=3)], algorithm="grid"
    ) as study:
        study.optimize(lambda trial: float(trial.parameters["n"]), n_trials=10)
        assert sorted(t.parameters["n"] for t in study.trials) == [1, 2, 3]
        with pytest.raises(FailedPreconditionError):
            study.suggest()


def test_create_load_and_errors(where: dict[str, str]) -> None:
    with _create(where) as study:
        study.complete(study.suggest(), 1.0)
    with pytest.raises(AlreadyExistsError):
        _create(where)
    with _create(where, load_if_exists=True) as again:
        assert len(again.trials) == 1
    with pytest.raises(AlreadyExistsError, match="different configuration"):
        _create(where, objective="accuracy", load_if_exists=True)
    with Study.load("s", **where) as loaded:  # type: ignore[arg-type]
        assert loaded.config.objective.metric_name == "loss"
    with pytest.raises(NotFoundError):
        Study.load("missing", **where)  # type: ignore[arg-type]
    with pytest.raises(tuner.InvalidArgumentError, match="algorithm"):
        Study.create("bad", parameters=PARAMETERS, objective="loss", algorithm="nope", **where)  # type: ignore[arg-type]


def test_to_dataframe(where: dict[str, str]) -> None:
    with _create(where) as study:
        study.optimize(lambda trial: 1.0, n_trials=3)
        frame = study.to_dataframe()
        assert list(frame["state"]) == ["SUCCEEDED"] * 3
        assert {"params.x", "params.n", "params.kind", "metrics.loss"} <= set(frame.columns)


def test_should_stop_stops_a_bad_trial_by_the_median_rule(where: dict[str, str]) -> None:
    settings = {"min_trials_required": 2, "start_step": 2}
    with _create(where, early_stopping="medianstop", early_stopping_settings=settings) as study:
        assert study.config.early_stopping == tuner.AlgorithmSpec(
            name="medianstop", settings={"min_trials_required": "2", "start_step": "2"}
        )
        for _ in range(2):
            good = study.suggest()
            for step, loss in enumerate([1.0, 0.5, 0.25], start=1):
                study.report(good, step=step, loss=loss)
                assert not study.should_stop(good)
            study.complete(good)

        bad = study.suggest()
        study.report(bad, step=1, loss=5.0)
        assert not study.should_stop(bad)  # before start_step
        study.report(bad, step=2, loss=4.0)
        assert study.should_stop(bad)
        done = study.complete(bad)
        assert done.state is tuner.TrialState.EARLY_STOPPED
        assert done.objective_value("loss") == 4.0
        assert "median" in done.reason


def test_should_stop_is_false_without_early_stopping(where: dict[str, str]) -> None:
    with _create(where) as study:
        trial = study.suggest()
        for step in range(1, 10):
            study.report(trial, step=step, loss=100.0)
            assert not study.should_stop(trial.id)


def test_bad_early_stopping_is_refused(where: dict[str, str]) -> None:
    with pytest.raises(tuner.InvalidArgumentError) as error:
        _create(where, early_stopping="medianstop", early_stopping_settings={"start_step": "x"})
    assert error.value.field == "early_stopping.settings.start_step"
    with pytest.raises(tuner.InvalidArgumentError) as error:
        _create(where, early_stopping_settings={"start_step": 2})
    assert error.value.field == "early_stopping_settings"
