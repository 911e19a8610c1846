"""Model <-> proto conversion: round trips, NaN and infinities, refusals with field paths."""

from __future__ import annotations

import dataclasses
import math

import pytest

from tuner._proto import convert, service_pb2, study_pb2, trial_pb2
from tuner.config import (
    AlgorithmSpec,
    Direction,
    MetricStrategy,
    Objective,
    StudyConfig,
    StudyInfo,
    StudyState,
)
from tuner.errors import InvalidArgumentError
from tuner.space import (
    CategoricalParameter,
    DiscreteParameter,
    DoubleParameter,
    IntParameter,
    Scale,
    SearchSpace,
)
from tuner.trial import Measurement, StopDecision, Trial, TrialState

SPACE = SearchSpace(
    (
        DoubleParameter(name="lr", low=1e-4, high=1e-1, scale=Scale.LOG),
        DoubleParameter(name="dropout", low=0.0, high=0.5, step=0.1),
        IntParameter(name="depth", low=2, high=64, scale=Scale.LOG, step=2),
        DiscreteParameter(name="batch", values=(32.0, 16.0, 64.0)),
        CategoricalParameter(name="kernel", choices=("rbf", "linear")),
    )
)
CONFIG = StudyConfig(
    space=SPACE,
    objective=Objective(
        metric_name="accuracy",
        direction=Direction.MAXIMIZE,
        goal=0.99,
        additional_metric_names=("loss",),
        metric_strategies={"loss": MetricStrategy.MIN},
    ),
    algorithm=AlgorithmSpec(name="grid", settings={"a": "1"}),
    seed=12345,
)


def test_config_round_trip() -> None:
    assert convert.config_from_proto(convert.config_to_proto(CONFIG)) == CONFIG


def test_config_round_trip_without_seed_goal_or_algorithm() -> None:
    config = StudyConfig(space=SPACE, objective=Objective(metric_name="loss"))
    message = convert.config_to_proto(config)
    assert not message.HasField("seed")
    assert not message.objective.HasField("goal")
    assert convert.config_from_proto(message) == config
    message.ClearField("algorithm")
    assert convert.config_from_proto(message).algorithm == AlgorithmSpec()


def test_study_round_trip() -> None:
    for state in StudyState:
        study = StudyInfo(name="s", config=CONFIG, state=state, reason="r", created_at=12.5)
        assert convert.study_from_proto(convert.study_to_proto(study)) == study


def test_trial_round_trip_keeps_nan_infinities_and_value_types() -> None:
    trial = Trial(
        id=7,
        study_name="s",
        number=3,
        parameters={"lr": 0.01, "depth": 4, "batch": 32, "kernel": "rbf", "dropout": 0.2},
        state=TrialState.SUCCEEDED,
        client_id="w",
        measurements=(
            Measurement(step=1, time=1.5, metrics={"loss": math.nan, "accuracy": math.inf}),
            Measurement(step=2, metrics={"loss": -math.inf}),
        ),
        final_measurement=Measurement(step=2, metrics={"accuracy": 0.5}),
        reason="",
        created_at=1.0,
        completed_at=2.0,
    )
    back = convert.trial_from_proto(convert.trial_to_proto(trial))
    assert list(back.parameters) == list(trial.parameters)
    assert {k: type(v) for k, v in back.parameters.items()} == {
        k: type(v) for k, v in trial.parameters.items()
    }
    assert math.isnan(back.measurements[0].metrics["loss"])
    assert back.measurements[0].metrics["accuracy"] == math.inf
    assert back.measurements[1].metrics["loss"] == -math.inf
    assert back.measurements[1] == trial.measurements[1]
    assert back.final_measurement == trial.final_measurement
    assert (back.completed_at, back.state) == (2.0, trial.state)


def test_trial_without_final_measurement_or_completion() -> None:
    trial = Trial(id=1, study_name="s", number=0, parameters={"x": 1.0})
    message = convert.trial_to_proto(trial)
    assert not message.HasField("final_measurement")
    assert not message.HasField("completed_at")
    assert convert.trial_from_proto(message) == trial


def test_every_trial_state_converts() -> None:
    for state in TrialState:
        assert convert.trial_state_from_proto(convert.trial_state_to_proto(state)) is state


def test_numpy_values_convert_to_plain_numbers() -> None:
    np = pytest.importorskip("numpy")
    [integer, real] = convert.parameters_to_proto({"a": np.int64(3), "b": np.float32(0.5)})
    assert integer.WhichOneof("value") == "int_value"
    assert real.WhichOneof("value") == "double_value"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda m: m.ClearField("space"), "config.space"),
        (lambda m: m.ClearField("objective"), "config.objective"),
        (lambda m: m.space.parameters[1].ClearField("kind"), "config.space.parameters[1]"),
        (
            lambda m: setattr(m.space.parameters[0].double_parameter, "low", 5.0),
            "config.space.parameters[0]",
        ),
        (
            lambda m: setattr(m.space.parameters[0].double_parameter, "scale", 99),
            "config.space.parameters[0]",
        ),
        (lambda m: setattr(m.space.parameters[4], "name", "lr"), "config.space"),
        (lambda m: setattr(m.objective, "metric_name", ""), "config.objective.metric_name"),
        (lambda m: setattr(m.objective, "goal", math.nan), "config.objective.goal"),
        (lambda m: setattr(m.objective, "direction", 7), "config.objective.direction"),
        (lambda m: setattr(m.algorithm, "name", ""), "config.algorithm.name"),
    ],
)
def test_bad_config_names_the_field(mutate: object, field: str) -> None:
    message = convert.config_to_proto(CONFIG)
    mutate(message)  # type: ignore[operator]
    with pytest.raises(InvalidArgumentError) as raised:
        convert.config_from_proto(message)
    assert raised.value.field == field


def test_bad_parameters_name_the_field() -> None:
    unset = [trial_pb2.ParameterValue(name="x")]
    with pytest.raises(InvalidArgumentError, match="no value") as raised:
        convert.parameters_from_proto(unset)
    assert raised.value.field == "parameters[0]"
    twice = [trial_pb2.ParameterValue(name="x", int_value=1)] * 2
    with pytest.raises(InvalidArgumentError, match="twice"):
        convert.parameters_from_proto(twice)
    with pytest.raises(InvalidArgumentError, match="name"):
        convert.parameters_from_proto([trial_pb2.ParameterValue(int_value=1)])
    with pytest.raises(InvalidArgumentError):
        convert.parameters_to_proto({"flag": True})


def test_bad_measurement_names_the_field() -> None:
    message = trial_pb2.Measurement(step=-1)
    with pytest.raises(InvalidArgumentError) as raised:
        convert.measurement_from_proto(message, "measurements[2]")
    assert raised.value.field == "measurements[2].step"
    message = trial_pb2.Measurement(metrics={"": 1.0})
    with pytest.raises(InvalidArgumentError) as raised:
        convert.measurement_from_proto(message, "final_measurement")
    assert raised.value.field == "final_measurement.metrics"


def test_unspecified_states_are_refused() -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        convert.study_state_from_proto(study_pb2.STUDY_STATE_UNSPECIFIED)
    assert raised.value.field == "state"
    request = service_pb2.TrialStateFilter(
        states=[trial_pb2.TRIAL_STATE_ACTIVE, trial_pb2.TRIAL_STATE_UNSPECIFIED]
    )
    with pytest.raises(InvalidArgumentError) as raised:
        convert.trial_states_from_proto(request.states, "filter.states")
    assert raised.value.field == "filter.states[1]"


def test_early_stopping_round_trips_and_unset_means_none() -> None:
    config = dataclasses.replace(
        CONFIG, early_stopping=AlgorithmSpec(name="medianstop", settings={"start_step": "2"})
    )
    message = convert.config_to_proto(config)
    assert message.early_stopping.name == "medianstop"
    assert convert.config_from_proto(message) == config
    assert not convert.config_to_proto(CONFIG).HasField("early_stopping")
    assert convert.config_from_proto(convert.config_to_proto(CONFIG)).early_stopping is None


def test_an_empty_early_stopping_name_names_the_field() -> None:
    message = convert.config_to_proto(CONFIG)
    message.early_stopping.SetInParent()
    with pytest.raises(InvalidArgumentError) as error:
        convert.config_from_proto(message)
    assert error.value.field == "config.early_stopping.name"


def test_stop_decision_round_trips() -> None:
    decision = StopDecision(should_stop=True, reason="worse than the median")
    assert convert.stop_decision_from_proto(convert.stop_decision_to_proto(decision)) == decision
