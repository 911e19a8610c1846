"""ServiceCore on a real SQLite store: every call, every refusal, the warm designers."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import pytest

from tuner.algorithms import Designer, make_designer
from tuner.backend import Backend
from tuner.config import (
    AlgorithmSpec,
    Direction,
    MetricStrategy,
    Objective,
    StudyConfig,
    StudyState,
)
from tuner.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from tuner.service import ServiceCore
from tuner.service import _core as core_module
from tuner.space import ParameterValue
from tuner.store import Store
from tuner.trial import Measurement, Trial, TrialState


def _snapshot(store: Store) -> list[object]:
    """Everything the store holds, to compare before and after a refused call."""
    studies = store.list_studies()
    return [studies, *[store.list_trials(s.name) for s in studies]]


class _Recording(Designer):
    """Wraps a real designer and records what it is fed."""

    def __init__(self, inner: Designer, log: list[_Recording]) -> None:
        self.inner = inner
        self.completed: list[int] = []
        self.active: list[list[int]] = []
        log.append(self)

    def update(self, completed: Sequence[Trial], active: Sequence[Trial]) -> None:
        self.completed.extend(t.id for t in completed)
        self.active.append([t.id for t in active])
        self.inner.update(completed, active)

    def suggest(self, count: int) -> list[dict[str, ParameterValue]]:
        return self.inner.suggest(count)


@pytest.fixture
def designers(monkeypatch: pytest.MonkeyPatch) -> list[_Recording]:
    """Every designer the core builds, recorded."""
    log: list[_Recording] = []
    monkeypatch.setattr(
        core_module, "make_designer", lambda config: _Recording(make_designer(config), log)
    )
    return log


def test_core_is_a_backend(core: ServiceCore) -> None:
    backend: Backend = core
    assert backend is core


# --- studies -------------------------------------------------------------------------------


def test_create_study_draws_and_stores_a_seed(core: ServiceCore, config: StudyConfig) -> None:
    study = core.create_study("s", dataclasses.replace(config, seed=None))
    assert isinstance(study.config.seed, int)
    assert core.get_study("s").config.seed == study.config.seed
    assert core.create_study("t", config).config.seed == 7


def test_create_study_refusals_change_nothing(core: ServiceCore, config: StudyConfig) -> None:
    core.create_study("s", config)
    before = _snapshot(core.store)
    with pytest.raises(AlreadyExistsError):
        core.create_study("s", config)
    with pytest.raises(InvalidArgumentError) as raised:
        core.create_study("", config)
    assert raised.value.field == "name"
    with pytest.raises(InvalidArgumentError, match="unknown algorithm"):
        core.create_study("u", dataclasses.replace(config, algorithm=AlgorithmSpec(name="nope")))
    with pytest.raises(InvalidArgumentError):  # a double without step has no grid
        core.create_study("g", dataclasses.replace(config, algorithm=AlgorithmSpec(name="grid")))
    assert _snapshot(core.store) == before


def test_list_delete_and_set_state(core: ServiceCore, config: StudyConfig) -> None:
    core.create_study("a", config)
    core.create_study("b", config)
    assert [s.name for s in core.list_studies()] == ["a", "b"]
    study = core.set_study_state("a", StudyState.COMPLETED, "goal reached")
    assert (study.state, study.reason) == (StudyState.COMPLETED, "goal reached")
    core.delete_study("b")
    assert [s.name for s in core.list_studies()] == ["a"]
    with pytest.raises(NotFoundError):
        core.get_study("b")
    with pytest.raises(NotFoundError):
        core.delete_study("b")


# --- suggestions ---------------------------------------------------------------------------


def test_suggestions_are_active_and_inside_the_space(
    core: ServiceCore, config: StudyConfig
) -> None:
    core.create_study("s", config)
    suggestions = core.suggest_trials("s", 3, "w1")
    assert len(suggestions.trials) == 3
    assert not suggestions.is_exhausted
    for trial in suggestions.trials:
        assert trial.state is TrialState.ACTIVE
        assert trial.client_id == "w1"
        assert config.space.contains(trial.parameters)
    assert [t.number for t in suggestions.trials] == [0, 1, 2]


def test_same_client_gets_its_active_trials_back(core: ServiceCore, config: StudyConfig) -> None:
    core.create_study("s", config)
    first = core.suggest_trials("s", 2, "w1").trials
    assert core.suggest_trials("s", 2, "w1").trials == first
    other = core.suggest_trials("s", 1, "w2").trials
    assert {t.id for t in other}.isdisjoint(t.id for t in first)


@pytest.mark.parametrize("count", [0, -1, core_module.MAX_SUGGESTIONS + 1])
def test_suggest_refuses_a_bad_count(core: ServiceCore, count: int, config: StudyConfig) -> None:
    core.create_study("s", config)
    with pytest.raises(InvalidArgumentError) as raised:
        core.suggest_trials("s", count)
    assert raised.value.field == "count"
    assert core.list_trials("s") == []


def test_suggest_refuses_missing_and_inactive_studies(
    core: ServiceCore, config: StudyConfig
) -> None:
    with pytest.raises(NotFoundError):
        core.suggest_trials("nope")
    core.create_study("s", config)
    core.set_study_state("s", StudyState.COMPLETED)
    with pytest.raises(FailedPreconditionError):
        core.suggest_trials("s")
    assert core.list_trials("s") == []


def test_queued_trials_are_handed_out_first(core: ServiceCore, config: StudyConfig) -> None:
    core.create_study("s", config)
    queued = core.add_trial("s", {"x": 0.5, "n": 3, "kind": "b"})
    assert queued.state is TrialState.REQUESTED
    [trial, new] = core.suggest_trials("s", 2).trials
    assert trial.id == queued.id
    assert trial.state is TrialState.ACTIVE
    assert new.id != queued.id


def test_add_trial_outside_the_space_changes_nothing(
    core: ServiceCore, config: StudyConfig
) -> None:
    core.create_study("s", config)
    cases: list[tuple[dict[str, ParameterValue], str]] = [
        ({"x": 5.0, "n": 3, "kind": "b"}, "parameters.x"),
        ({"x": 0.0, "n": 3}, "parameters.kind"),
        ({"x": 0.0, "n": 3, "kind": "b", "y": 1}, "parameters.y"),
    ]
    for parameters, field in cases:
        with pytest.raises(InvalidArgumentError) as raised:
            core.add_trial("s", parameters)
        assert raised.value.field == field
    with pytest.raises(NotFoundError):
        core.add_trial("nope", {"x": 0.0, "n": 3, "kind": "b"})
    assert core.list_trials("s") == []


def test_grid_exhaustion_is_reported_without_duplicates(
    core: ServiceCore, grid_config: StudyConfig
) -> None:
    core.create_study("g", grid_config)
    seen: list[tuple[object, ...]] = []
    exhausted = False
    while not exhausted:
        suggestions = core.suggest_trials("g", 7)
        exhausted = suggestions.is_exhausted
        seen.extend(tuple(sorted(t.parameters.items())) for t in suggestions.trials)
    assert len(seen) == len(set(seen)) == 30


def test_warm_designer_is_fed_each_finished_trial_once(
    core: ServiceCore, designers: list[_Recording], config: StudyConfig
) -> None:
    core.create_study("s", config)
    ids = []
    for value in (3.0, 2.0, 1.0):
        [trial] = core.suggest_trials("s").trials
        ids.append(trial.id)
        core.complete_trial(trial.id, Measurement(metrics={"loss": value}))
    [active] = core.suggest_trials("s").trials
    core.suggest_trials("s")
    assert len(designers) == 1
    [designer] = designers
    assert designer.completed == ids
    assert designer.active[-1] == [active.id]


def test_a_restarted_core_rebuilds_its_designer_from_the_store(
    sqlite_store: Store, designers: list[_Recording], config: StudyConfig
) -> None:
    first = ServiceCore(sqlite_store)
    first.create_study("s", config)
    [done] = first.suggest_trials("s").trials
    first.complete_trial(done.id, Measurement(metrics={"loss": 1.0}))
    [running] = first.suggest_trials("s").trials
    second = ServiceCore(sqlite_store)
    second.suggest_trials("s")
    assert designers[-1].completed == [done.id]
    assert designers[-1].active[0] == [running.id]


def test_a_recreated_study_gets_a_new_designer(
    core: ServiceCore, designers: list[_Recording], config: StudyConfig, grid_config: StudyConfig
) -> None:
    core.create_study("s", config)
    core.suggest_trials("s")
    core.delete_study("s")
    core.create_study("s", grid_config)
    [trial] = core.suggest_trials("s").trials
    assert grid_config.space.contains(trial.parameters)
    assert len(designers) == 2


class _Broken(Designer):
    def __init__(self, suggestion: dict[str, ParameterValue] | None) -> None:
        self.suggestion = suggestion

    def update(self, completed: Sequence[Trial], active: Sequence[Trial]) -> None:
        pass

    def suggest(self, count: int) -> list[dict[str, ParameterValue]]:
        if self.suggestion is None:
            raise ZeroDivisionError("designer bug")
        return [dict(self.suggestion)] * count


@pytest.mark.parametrize(
    ("suggestion", "error"),
    [(None, ZeroDivisionError), ({"x": 9.0, "n": 1, "kind": "a"}, RuntimeError)],
)
def test_a_failing_designer_changes_nothing_and_is_dropped(
    core: ServiceCore,
    monkeypatch: pytest.MonkeyPatch,
    suggestion: dict[str, ParameterValue] | None,
    error: type[Exception],
    config: StudyConfig,
) -> None:
    core.create_study("s", config)
    core.suggest_trials("s")
    built: list[Any] = []

    def broken(config: StudyConfig) -> Designer:
        built.append(config)
        return _Broken(suggestion)

    monkeypatch.setattr(core_module, "make_designer", broken)
    core._designers.drop("s")
    before = _snapshot(core.store)
    with pytest.raises(error):
        core.suggest_trials("s", 2)
    assert _snapshot(core.store) == before
    assert "s" not in core._designers
    monkeypatch.setattr(core_module, "make_designer", make_designer)
    assert len(core.suggest_trials("s", 2).trials) == 2


# --- measurements and results --------------------------------------------------------------


def test_report_measurements(core: ServiceCore, config: StudyConfig) -> None:
    core.create_study("s", config)
    [trial] = core.suggest_trials("s").trials
    core.report_measurements(trial.id, [Measurement(step=1, metrics={"loss": math.nan})])
    core.report_measurements(trial.id, [])
    core.report_measurements(trial.id, [Measurement(step=2, metrics={"loss": math.inf})])
    stored = core.get_trial(trial.id).measurements
    assert [m.step for m in stored] == [1, 2]
    assert math.isnan(stored[0].metrics["loss"])
    assert stored[1].metrics["loss"] == math.inf
    with pytest.raises(NotFoundError):
        core.report_measurements(10**9, [Measurement(metrics={"loss": 1.0})])
    core.fail_trial(trial.id, "crashed")
    with pytest.raises(FailedPreconditionError):
        core.report_measurements(trial.id, [Measurement(metrics={"loss": 1.0})])
    assert len(core.get_trial(trial.id).measurements) == 2


def test_complete_reduces_intermediate_measurements_by_strategy(
    core: ServiceCore, config: StudyConfig
) -> None:
    objective = Objective(
        metric_name="acc",
        direction=Direction.MAXIMIZE,
        additional_metric_names=("loss", "time"),
        metric_strategies={"loss": MetricStrategy.MIN},
    )
    core.create_study("s", dataclasses.replace(config, objective=objective))
    [trial] = core.suggest_trials("s").trials
    history = [
        {"acc": 0.5, "loss": math.nan, "time": 1.0},
        {"acc": math.nan, "loss": 0.3, "time": 2.0},
        {"acc": 0.4, "loss": 0.6, "time": math.nan, "extra": 5.0},
    ]
    core.report_measurements(
        trial.id, [Measurement(step=i, metrics=m) for i, m in enumerate(history)]
    )
    done = core.complete_trial(trial.id)
    assert done.state is TrialState.SUCCEEDED
    assert done.final_measurement is not None
    metrics = done.final_measurement.metrics
    assert (metrics["acc"], metrics["loss"], metrics["extra"]) == (0.5, 0.3, 5.0)
    assert math.isnan(metrics["time"])
    assert done.final_measurement.step == 2
    assert done.completed_at is not None
    assert core.list_optimal_trials("s") == [done]


def test_complete_without_objective_value_is_refused_and_changes_nothing(
    core: ServiceCore, config: StudyConfig
) -> None:
    core.create_study("s", config)
    [trial] = core.suggest_trials("s").trials
    core.report_measurements(trial.id, [Measurement(metrics={"other": 1.0})])
    before = core.get_trial(trial.id)
    with pytest.raises(InvalidArgumentError, match="'loss'") as raised:
        core.complete_trial(trial.id)
    assert raised.value.field == "final_measurement"
    with pytest.raises(InvalidArgumentError, match="'loss'"):
        core.complete_trial(trial.id, Measurement(metrics={"other": 2.0}))
    assert core.get_trial(trial.id) == before


def test_nan_objective_or_a_reason_makes_a_trial_infeasible(
    core: ServiceCore, config: StudyConfig
) -> None:
    core.create_study("s", config)
    first, second, third = core.suggest_trials("s", 3).trials
    nan = core.complete_trial(first.id, Measurement(metrics={"loss": math.nan}))
    assert nan.state is TrialState.INFEASIBLE
    assert "NaN" in nan.reason
    assert nan.final_measurement is not None
    assert math.isnan(nan.final_measurement.metrics["loss"])
    told = core.complete_trial(second.id, infeasible_reason="out of memory")
    assert (told.state, told.reason, told.final_measurement) == (
        TrialState.INFEASIBLE,
        "out of memory",
        None,
    )
    good = core.complete_trial(third.id, Measurement(metrics={"loss": 1.0}))
    assert core.list_optimal_trials("s") == [good]


def test_a_stopping_trial_completes_as_early_stopped(
    core: ServiceCore, config: StudyConfig
) -> None:
    core.create_study("s", config)
    [trial] = core.suggest_trials("s").trials
    stopping = core.stop_trial(trial.id)
    assert stopping.state is TrialState.STOPPING
    assert core.stop_trial(trial.id) == stopping
    done = core.complete_trial(trial.id, Measurement(metrics={"loss": 0.1}))
    assert done.state is TrialState.EARLY_STOPPED
    with pytest.raises(FailedPreconditionError):
        core.stop_trial(trial.id)


def test_finished_trials_refuse_every_change(core: ServiceCore, config: StudyConfig) -> None:
    core.create_study("s", config)
    [trial] = core.suggest_trials("s").trials
    core.complete_trial(trial.id, Measurement(metrics={"loss": 1.0}))
    before = _snapshot(core.store)
    with pytest.raises(FailedPreconditionError):
        core.complete_trial(trial.id, Measurement(metrics={"loss": 0.0}))
    with pytest.raises(FailedPreconditionError):
        core.fail_trial(trial.id, "late")
    with pytest.raises(FailedPreconditionError):
        core.stop_trial(trial.id)
    with pytest.raises(NotFoundError):
        core.complete_trial(10**9, Measurement(metrics={"loss": 0.0}))
    with pytest.raises(NotFoundError):
        core.get_trial(10**9)
    assert _snapshot(core.store) == before


def test_fail_trial_and_stop_refused_for_queued_trials(
    core: ServiceCore, config: StudyConfig
) -> None:
    core.create_study("s", config)
    queued = core.add_trial("s", {"x": 0.5, "n": 3, "kind": "b"})
    with pytest.raises(FailedPreconditionError, match="REQUESTED"):
        core.stop_trial(queued.id)
    failed = core.fail_trial(queued.id, "bad parameters")
    assert (failed.state, failed.reason) == (TrialState.FAILED, "bad parameters")


def test_list_trials_filters_by_state(core: ServiceCore, config: StudyConfig) -> None:
    core.create_study("s", config)
    first, second = core.suggest_trials("s", 2).trials
    core.fail_trial(first.id, "x")
    assert [t.id for t in core.list_trials("s")] == [first.id, second.id]
    assert [t.id for t in core.list_trials("s", [TrialState.ACTIVE])] == [second.id]
    assert core.list_trials("s", []) == []
