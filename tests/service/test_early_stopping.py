"""CheckTrialEarlyStopping through a real server and client: decide, stop, settle."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from tuner.algorithms import EarlyStopper, make_stopper
from tuner.client import Client
from tuner.config import AlgorithmSpec, StudyConfig
from tuner.errors import InvalidArgumentError, NotFoundError
from tuner.service import ServiceCore
from tuner.service import _core as core_module
from tuner.store import open_store
from tuner.trial import Measurement, StopDecision, Trial, TrialState


def _medianstop(config: StudyConfig, **settings: str) -> StudyConfig:
    return dataclasses.replace(
        config, early_stopping=AlgorithmSpec(name="medianstop", settings=settings)
    )


def _report(client: Client, trial: Trial, losses: list[float]) -> None:
    client.report_measurements(
        trial.id,
        [Measurement(step=step, metrics={"loss": v}) for step, v in enumerate(losses, start=1)],
    )


@pytest.fixture
def study(client: Client, config: StudyConfig) -> tuple[Trial, Trial]:
    """A medianstop study with three finished good trials; returns two running ones."""
    client.create_study("s", _medianstop(config, min_trials_required="3", start_step="4"))
    trials = client.suggest_trials("s", count=5).trials
    for trial in trials[:3]:
        _report(client, trial, [1.0, 0.8, 0.6, 0.5, 0.4])
        client.complete_trial(trial.id)
    return trials[3], trials[4]


def test_a_bad_trial_is_stopped_and_completes_as_early_stopped(
    client: Client, study: tuple[Trial, Trial]
) -> None:
    bad, _ = study
    _report(client, bad, [5.0, 4.0, 3.5, 3.0])

    decision = client.check_trial_early_stopping(bad.id)

    assert decision.should_stop
    assert "median" in decision.reason
    stopping = client.get_trial(bad.id)
    assert stopping.state is TrialState.STOPPING
    assert stopping.reason == decision.reason
    # Asking again (a retry after a lost answer) gives the same answer and changes nothing.
    assert client.check_trial_early_stopping(bad.id) == decision

    done = client.complete_trial(bad.id)
    assert done.state is TrialState.EARLY_STOPPED
    assert done.reason == decision.reason
    assert done.objective_value("loss") == 3.0  # reduced from what it reported (min)
    assert client.check_trial_early_stopping(bad.id).should_stop is False


def test_a_good_trial_runs_on(client: Client, study: tuple[Trial, Trial]) -> None:
    _, good = study
    _report(client, good, [1.0, 0.7, 0.5, 0.45])

    decision = client.check_trial_early_stopping(good.id)

    assert not decision.should_stop
    assert "not worse than the median" in decision.reason
    assert client.get_trial(good.id).state is TrialState.ACTIVE


def test_before_start_step_nothing_happens(client: Client, study: tuple[Trial, Trial]) -> None:
    bad, _ = study
    _report(client, bad, [5.0, 4.0])

    assert not client.check_trial_early_stopping(bad.id).should_stop
    assert client.get_trial(bad.id).state is TrialState.ACTIVE


def test_a_study_without_early_stopping_answers_false(client: Client, config: StudyConfig) -> None:
    client.create_study("plain", config)
    [trial] = client.suggest_trials("plain").trials
    _report(client, trial, [9.0] * 6)

    assert client.check_trial_early_stopping(trial.id) == StopDecision(
        should_stop=False, reason="the study has no early stopping"
    )
    assert client.get_trial(trial.id).state is TrialState.ACTIVE


def test_queued_trials_answer_false_and_missing_ones_are_not_found(
    client: Client, config: StudyConfig
) -> None:
    client.create_study("s", _medianstop(config))
    queued = client.add_trial("s", {"x": 0.5, "n": 2, "kind": "a"})

    decision = client.check_trial_early_stopping(queued.id)

    assert not decision.should_stop
    assert "REQUESTED" in decision.reason
    with pytest.raises(NotFoundError):
        client.check_trial_early_stopping(queued.id + 1000)


@pytest.mark.parametrize(
    ("early_stopping", "field"),
    [
        (AlgorithmSpec(name="median-stop"), "early_stopping.name"),
        (
            AlgorithmSpec(name="medianstop", settings={"start_step": "soon"}),
            "early_stopping.settings.start_step",
        ),
        (
            AlgorithmSpec(name="medianstop", settings={"min_trials": "3"}),
            "early_stopping.settings.min_trials",
        ),
    ],
)
def test_bad_early_stopping_is_refused_at_create_and_nothing_is_written(
    client: Client, config: StudyConfig, early_stopping: AlgorithmSpec, field: str
) -> None:
    with pytest.raises(InvalidArgumentError) as error:
        client.create_study("s", dataclasses.replace(config, early_stopping=early_stopping))

    assert error.value.field == field
    assert client.list_studies() == []


def test_the_early_stopping_config_is_stored_and_served(
    client: Client, config: StudyConfig
) -> None:
    created = client.create_study("s", _medianstop(config, start_step="2"))

    assert created.config.early_stopping == AlgorithmSpec(
        name="medianstop", settings={"start_step": "2"}
    )
    assert client.get_study("s").config == created.config


# --- the warm path: finished trials are read once per study ----------------------------------


class _RecordingStopper:
    """Wraps the study's rule; records the ``others`` of each call."""

    def __init__(self, stopper: EarlyStopper, calls: list[tuple[int, list[Trial]]]) -> None:
        self._stopper = stopper
        self._calls = calls

    def should_stop(self, trial: Trial, others: Sequence[Trial]) -> StopDecision:
        self._calls.append((trial.id, list(others)))
        return self._stopper.should_stop(trial, others)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, list[Trial]]]:
    """The (trial id, others) of every call the core makes to a stopping rule."""
    calls: list[tuple[int, list[Trial]]] = []

    def make(config: StudyConfig) -> _RecordingStopper | None:
        stopper = make_stopper(config)
        return None if stopper is None else _RecordingStopper(stopper, calls)

    monkeypatch.setattr(core_module, "make_stopper", make)
    return calls


def _report_to(core: ServiceCore, trial: Trial, losses: list[float], first: int = 1) -> None:
    core.report_measurements(
        trial.id,
        [Measurement(step=s, metrics={"loss": v}) for s, v in enumerate(losses, start=first)],
    )


def _check_as_fresh(
    core: ServiceCore, recorded: list[tuple[int, list[Trial]]], trial_id: int
) -> StopDecision:
    """Check a trial; assert it was judged on what a fresh ``list_trials`` gives, and as
    the rule would judge it on that."""
    trial = core.get_trial(trial_id)
    others = [t for t in core.store.list_trials(trial.study_name) if t.id != trial_id]
    stopper = make_stopper(core.get_study(trial.study_name).config)
    assert stopper is not None
    expected = stopper.should_stop(trial, others)
    del recorded[:]

    decision = core.check_trial_early_stopping(trial_id)

    assert recorded == [(trial_id, others)]
    assert decision == expected
    return decision


def test_the_warm_path_judges_on_exactly_the_trials_a_fresh_read_gives(
    core: ServiceCore, config: StudyConfig, sqlite_url: str, recorded: list[tuple[int, list[Trial]]]
) -> None:
    medianstop = _medianstop(config, min_trials_required="2", start_step="3")
    core.create_study("s", medianstop)
    trials = core.suggest_trials("s", count=6).trials
    for trial, base in zip(trials[:3], (0.0, 0.2, 0.4), strict=True):
        _report_to(core, trial, [base + 1.0, base + 0.8, base + 0.6, base + 0.5])
        core.complete_trial(trial.id)
    running = trials[3:]
    _report_to(core, running[0], [1.5, 1.4, 1.3])
    _report_to(core, running[1], [1.0, 0.7, 0.5])
    _report_to(core, running[2], [1.1, 0.9])

    assert not _check_as_fresh(core, recorded, running[1].id).should_stop
    assert _check_as_fresh(core, recorded, running[0].id).should_stop  # now STOPPING
    # A trial finishes between checks; another is stopped and finishes early.
    _report_to(core, running[1], [0.45], first=4)
    core.complete_trial(running[1].id)
    core.complete_trial(running[0].id)
    _report_to(core, running[2], [0.8, 0.75], first=3)
    assert not _check_as_fresh(core, recorded, running[2].id).should_stop
    # More finish, a new one starts; repeated checks see each change.
    [late] = core.suggest_trials("s").trials
    _report_to(core, late, [3.0, 2.9, 2.8, 2.7])
    _check_as_fresh(core, recorded, running[2].id)
    core.fail_trial(running[2].id, "crash")
    assert _check_as_fresh(core, recorded, late.id).should_stop

    # Deleted and created again under the same name by another replica of the service:
    # nothing of the old study may leak into the judgement.
    replica = ServiceCore(open_store(sqlite_url))
    try:
        replica.delete_study("s")
        replica.create_study("s", medianstop)
        again = replica.suggest_trials("s", count=3).trials
    finally:
        replica.close()
    _report_to(core, again[0], [9.0, 9.0, 9.0])
    _report_to(core, again[1], [1.0, 1.0, 1.0])
    core.complete_trial(again[1].id)
    decision = _check_as_fresh(core, recorded, again[0].id)
    assert not decision.should_stop
    assert "1 other trials" in decision.reason
    _report_to(core, again[2], [2.0, 2.0, 2.0])
    core.complete_trial(again[2].id)
    assert _check_as_fresh(core, recorded, again[0].id).should_stop
    # ... and through this core itself.
    core.delete_study("s")
    core.create_study("s", medianstop)
    [alone] = core.suggest_trials("s").trials
    _report_to(core, alone, [5.0, 5.0, 5.0])
    _check_as_fresh(core, recorded, alone.id)
    assert recorded[-1][1] == []


def test_a_check_reads_only_the_unfinished_and_newly_finished_trials(
    core: ServiceCore, config: StudyConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    core.create_study("s", _medianstop(config, min_trials_required="2", start_step="2"))
    trials = core.suggest_trials("s", count=6).trials
    for trial in trials[:3]:
        _report_to(core, trial, [1.0, 0.5, 0.25])
        core.complete_trial(trial.id)
    for trial in trials[3:]:
        _report_to(core, trial, [1.0, 0.5])
    reads: list[list[Trial]] = []
    list_trials = core.store.list_trials

    def spy(
        study_name: str,
        states: Collection[TrialState] | None = None,
        *,
        exclude_ids: Collection[int] = (),
    ) -> list[Trial]:
        loaded = list_trials(study_name, states, exclude_ids=exclude_ids)
        reads.append(loaded)
        return loaded

    monkeypatch.setattr(core.store, "list_trials", spy)

    core.check_trial_early_stopping(trials[3].id)
    core.check_trial_early_stopping(trials[4].id)
    core.complete_trial(trials[3].id)
    core.check_trial_early_stopping(trials[5].id)

    loaded_ids = [[t.id for t in read] for read in reads]
    first, rest = [t.id for t in trials[:3]], [t.id for t in trials[3:]]
    assert loaded_ids == [first + rest, rest, rest]
    assert reads[2][0].state is TrialState.SUCCEEDED  # read again once, now finished


def test_concurrent_checks_keep_the_kept_trials_right(
    core: ServiceCore, config: StudyConfig, recorded: list[tuple[int, list[Trial]]]
) -> None:
    core.create_study("s", _medianstop(config, min_trials_required="2", start_step="2"))
    trials = core.suggest_trials("s", count=16).trials
    for trial in trials:
        _report_to(core, trial, [1.0, 0.5, 0.4])
    checked, finished = trials[:8], trials[8:]

    def check_all() -> None:
        for _ in range(3):
            for trial in checked:
                core.check_trial_early_stopping(trial.id)

    with ThreadPoolExecutor(max_workers=5) as pool:
        futures = [pool.submit(check_all) for _ in range(4)]
        futures.append(pool.submit(lambda: [core.complete_trial(t.id) for t in finished]))
        for future in futures:
            future.result()

    for _, others in recorded:
        numbers = [t.number for t in others]
        assert numbers == sorted(set(numbers))
    core.complete_trial(checked[0].id)
    _check_as_fresh(core, recorded, checked[1].id)
