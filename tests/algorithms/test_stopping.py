"""Early stopping: the registry, settings refusals, and the median rule's decisions."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from tuner.algorithms import (
    EarlyStopper,
    MedianStopSettings,
    check_early_stopping,
    make_stopper,
    registered_stoppers,
    stopper_settings_class,
)
from tuner.config import AlgorithmSpec, Direction, Objective, StudyConfig
from tuner.errors import InvalidArgumentError
from tuner.space import DoubleParameter, SearchSpace
from tuner.trial import Measurement, Trial, TrialState

SPACE = SearchSpace((DoubleParameter(name="x", low=0.0, high=1.0),))


def config_with(
    settings: dict[str, str] | None = None,
    *,
    name: str = "medianstop",
    direction: Direction = Direction.MINIMIZE,
) -> StudyConfig:
    return StudyConfig(
        space=SPACE,
        objective=Objective(metric_name="loss", direction=direction),
        early_stopping=AlgorithmSpec(name=name, settings=settings or {}),
    )


def stopper(
    min_trials_required: int = 3, start_step: int = 4, direction: Direction = Direction.MINIMIZE
) -> EarlyStopper:
    made = make_stopper(
        config_with(
            {"min_trials_required": str(min_trials_required), "start_step": str(start_step)},
            direction=direction,
        )
    )
    assert made is not None
    return made


_next_id = iter(range(1, 10_000))


def trial(
    losses: Sequence[float], state: TrialState = TrialState.SUCCEEDED, *, first_step: int = 1
) -> Trial:
    """A trial that reported ``losses`` at steps first_step, first_step + 1, ..."""
    trial_id = next(_next_id)
    return Trial(
        id=trial_id,
        study_name="s",
        number=trial_id,
        parameters={"x": 0.5},
        state=state,
        measurements=tuple(
            Measurement(step=first_step + i, metrics={"loss": v}) for i, v in enumerate(losses)
        ),
    )


def running(losses: Sequence[float]) -> Trial:
    return trial(losses, TrialState.ACTIVE)


GOOD = [trial([1.0, 0.8, 0.6, 0.5, 0.4, 0.3]) for _ in range(3)]
"""Three finished trials; each one's running average up to step 4 is 0.725."""


# -- registry and settings ---------------------------------------------------------------------


def test_registry_names_medianstop_with_katib_settings_and_defaults() -> None:
    assert registered_stoppers() == ("medianstop",)
    assert stopper_settings_class("medianstop") is MedianStopSettings
    assert MedianStopSettings() == MedianStopSettings(min_trials_required=3, start_step=4)


def test_a_study_without_early_stopping_has_no_stopper() -> None:
    config = StudyConfig(space=SPACE, objective=Objective(metric_name="loss"))
    check_early_stopping(config)
    assert make_stopper(config) is None


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (AlgorithmSpec(name="median"), "early_stopping.name"),
        (AlgorithmSpec(name="medianstop", settings={"nope": "1"}), "early_stopping.settings.nope"),
        (
            AlgorithmSpec(name="medianstop", settings={"min_trials_required": "0"}),
            "early_stopping.settings.min_trials_required",
        ),
        (
            AlgorithmSpec(name="medianstop", settings={"start_step": "four"}),
            "early_stopping.settings.start_step",
        ),
        (
            AlgorithmSpec(name="medianstop", settings={"start_step": "-1"}),
            "early_stopping.settings.start_step",
        ),
    ],
)
def test_bad_early_stopping_is_refused_at_its_field(spec: AlgorithmSpec, field: str) -> None:
    config = StudyConfig(space=SPACE, objective=Objective(metric_name="loss"), early_stopping=spec)
    with pytest.raises(InvalidArgumentError) as error:
        check_early_stopping(config)
    assert error.value.field == field


def test_an_unknown_name_suggests_the_close_one() -> None:
    with pytest.raises(InvalidArgumentError, match="did you mean 'medianstop'"):
        check_early_stopping(config_with(name="MedianStop"))


# -- the median rule ---------------------------------------------------------------------------


def test_a_clearly_worse_trial_is_stopped_and_the_reason_says_what_was_compared() -> None:
    decision = stopper().should_stop(running([5.0, 4.0, 3.5, 3.0]), GOOD)
    assert decision.should_stop
    assert "median 0.725" in decision.reason
    assert "best loss so far 3 at step 4" in decision.reason
    assert "3 other trials" in decision.reason


def test_a_good_trial_runs_on() -> None:
    decision = stopper().should_stop(running([1.0, 0.7, 0.5, 0.45]), GOOD)
    assert not decision.should_stop
    assert "not worse than the median" in decision.reason


def test_the_comparison_is_with_the_median_not_the_mean() -> None:
    # Running averages up to step 4: 1.0, 1.0 and 10.0 -> median 1.0, mean 4.0.
    others = [trial([1.0] * 4), trial([1.0] * 4), trial([10.0] * 4)]
    between = running([3.0, 3.0, 3.0, 2.0])  # best 2.0: worse than the median, better than the mean
    decision = stopper().should_stop(between, others)
    assert decision.should_stop
    assert "median 1 " in decision.reason
    # And the other way round: running averages 1.0, 10.0, 10.0 -> median 10, mean 7.
    others = [trial([1.0] * 4), trial([10.0] * 4), trial([10.0] * 4)]
    assert not stopper().should_stop(running([9.0, 9.0, 9.0, 8.0]), others).should_stop


def test_the_running_average_is_taken_up_to_the_trials_step_only() -> None:
    # Up to step 4 the others average 1.0; their later values (100) must not count.
    others = [trial([1.0] * 4 + [100.0] * 4) for _ in range(3)]
    assert stopper().should_stop(running([2.0] * 4), others).should_stop


def test_min_trials_required_is_honoured() -> None:
    bad = running([5.0, 4.0, 3.5, 3.0])
    decision = stopper(min_trials_required=4).should_stop(bad, GOOD)
    assert not decision.should_stop
    assert "3 other trials reached step 4; min_trials_required is 4" in decision.reason
    assert stopper(min_trials_required=3).should_stop(bad, GOOD).should_stop


def test_only_trials_that_reached_the_step_count() -> None:
    short = [trial([0.1, 0.1]) for _ in range(5)]  # stopped at step 2
    decision = stopper().should_stop(running([5.0, 4.0, 3.5, 3.0]), short)
    assert not decision.should_stop
    assert "0 other trials reached step 4" in decision.reason


def test_start_step_is_honoured() -> None:
    bad = running([5.0, 4.0, 3.5])  # at step 3
    decision = stopper(start_step=4).should_stop(bad, GOOD)
    assert not decision.should_stop
    assert "before start_step 4" in decision.reason
    assert stopper(start_step=3).should_stop(bad, GOOD).should_stop


def test_failed_infeasible_and_the_trial_itself_do_not_count() -> None:
    bad = running([5.0, 4.0, 3.5, 3.0])
    untrusted = [
        trial([0.1] * 4, TrialState.FAILED),
        trial([0.1] * 4, TrialState.INFEASIBLE),
        bad,
    ]
    decision = stopper(min_trials_required=1).should_stop(bad, untrusted)
    assert not decision.should_stop
    assert "0 other trials" in decision.reason


def test_running_and_early_stopped_trials_count() -> None:
    others = [
        trial([0.5] * 5, TrialState.ACTIVE),
        trial([0.5] * 4, TrialState.EARLY_STOPPED),
        trial([0.5] * 6, TrialState.STOPPING),
    ]
    assert stopper().should_stop(running([5.0] * 4), others).should_stop


def test_nan_values_are_ignored() -> None:
    nan = math.nan
    others = [trial([1.0, nan, 1.0, nan]) for _ in range(3)]  # averages 1.0, NaN left out
    decision = stopper().should_stop(running([nan, 3.0, nan, nan]), others)
    assert decision.should_stop
    assert "best loss so far 3 " in decision.reason
    assert "median 1 " in decision.reason
    only_nan = stopper().should_stop(running([nan] * 4), others)
    assert not only_nan.should_stop
    assert "NaN" in only_nan.reason


def test_other_trials_with_only_nan_or_a_nan_average_do_not_count() -> None:
    inf = math.inf
    others = [trial([math.nan] * 4), trial([inf, -inf, 1.0, 1.0]), *GOOD[:2]]
    decision = stopper().should_stop(running([5.0] * 4), others)
    assert not decision.should_stop
    assert "2 other trials" in decision.reason


def test_maximize_stops_a_trial_whose_best_is_below_the_median() -> None:
    others = [trial([0.5, 0.6, 0.7, 0.8]) for _ in range(3)]  # running averages 0.65
    low = running([0.1, 0.2, 0.3, 0.4])
    high = running([0.1, 0.2, 0.3, 0.7])  # best 0.7 > 0.65
    assert stopper(direction=Direction.MAXIMIZE).should_stop(low, others).should_stop
    assert not stopper(direction=Direction.MAXIMIZE).should_stop(high, others).should_stop
    # The same values read as losses: the lower curve is the better one.
    assert not stopper().should_stop(low, others).should_stop


def test_a_trial_without_values_of_the_objective_is_not_judged() -> None:
    silent = Trial(
        id=0,
        study_name="s",
        number=0,
        parameters={},
        measurements=(Measurement(step=9, metrics={"accuracy": 0.1}),),
    )
    decision = stopper().should_stop(silent, GOOD)
    assert not decision.should_stop
    assert "no value of 'loss'" in decision.reason


def test_a_tie_with_the_median_runs_on() -> None:
    others = [trial([1.0] * 4) for _ in range(3)]
    assert not stopper().should_stop(running([2.0, 2.0, 2.0, 1.0]), others).should_stop


def test_a_trial_ahead_of_the_others_is_judged_at_the_latest_step_enough_reached() -> None:
    # The others stopped at steps 5, 6 and 8; the trial is at step 20. All three reached
    # step 5, two reached step 6, one reached step 8.
    others = [trial([1.0] * 5), trial([1.0] * 6), trial([1.0] * 8)]
    decision = stopper().should_stop(running([3.0] * 20), others)
    assert decision.should_stop
    assert "up to step 5 of 3 other trials" in decision.reason
    decision = stopper(min_trials_required=2).should_stop(running([3.0] * 20), others)
    assert "up to step 6 of 2 other trials" in decision.reason


def test_a_trial_that_caught_up_later_runs_on() -> None:
    # Judged at step 4 (where the others stopped), but its best value so far counts.
    caught_up = running([5.0, 5.0, 5.0, 5.0, 5.0, 0.1])
    others = [trial([1.0] * 4) for _ in range(3)]
    decision = stopper().should_stop(caught_up, others)
    assert not decision.should_stop
    assert "best loss so far 0.1 at step 6" in decision.reason
    assert "up to step 4" in decision.reason
