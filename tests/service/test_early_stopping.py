"""CheckTrialEarlyStopping through a real server and client: decide, stop, settle."""

from __future__ import annotations

import dataclasses

import pytest

from tuner.client import Client
from tuner.config import AlgorithmSpec, StudyConfig
from tuner.errors import InvalidArgumentError, NotFoundError
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
