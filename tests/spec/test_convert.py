"""Conversion: the algorithm's own checks and the model's errors, at document paths."""

from __future__ import annotations

from typing import Any

import pytest

from tuner.config import AlgorithmSpec
from tuner.errors import InvalidArgumentError
from tuner.space import DoubleParameter
from tuner.spec import load_experiment
from tuner.spec._convert import algorithm_error_loc, convert_space, early_stopping_error_loc
from tuner.spec._errors import ErrorSink, format_loc
from tuner.spec._model import AlgorithmSection, EarlyStoppingSection, ParameterSection


def _algorithm(document: dict[str, Any], name: str, **settings: str) -> None:
    document["spec"]["algorithm"] = {
        "algorithmName": name,
        "algorithmSettings": [{"name": k, "value": v} for k, v in settings.items()],
    }


def test_grid_on_a_double_without_step(errors_of: Any, document: dict[str, Any]) -> None:
    _algorithm(document, "grid")

    errors = errors_of(document)

    assert errors.paths == ["spec.parameters[0].feasibleSpace.step"]


def test_grid_on_a_double_with_step(document: dict[str, Any]) -> None:
    _algorithm(document, "grid")
    document["spec"]["parameters"][0]["feasibleSpace"]["step"] = "0.01"

    experiment = load_experiment(document)

    assert experiment.space["lr"] == DoubleParameter(name="lr", low=0.001, high=0.1, step=0.01)


def test_unknown_algorithm(errors_of: Any, document: dict[str, Any]) -> None:
    _algorithm(document, "bayesianoptimisation")

    message = errors_of(document).at("spec.algorithm.algorithmName")

    assert "unknown algorithm 'bayesianoptimisation'" in message


def test_unknown_setting_points_at_its_name(errors_of: Any, document: dict[str, Any]) -> None:
    _algorithm(document, "random", random_state="1", n_startup="3")

    message = errors_of(document).at("spec.algorithm.algorithmSettings[1].name")

    assert "unknown setting 'n_startup'" in message


def test_bad_setting_value_points_at_its_value(errors_of: Any, document: dict[str, Any]) -> None:
    _algorithm(document, "random", random_state="-1")

    assert errors_of(document).paths == ["spec.algorithm.algorithmSettings[0].value"]


def test_algorithm_checks_wait_for_a_valid_space(errors_of: Any, document: dict[str, Any]) -> None:
    _algorithm(document, "grid")
    document["spec"]["parameters"][1]["feasibleSpace"]["min"] = "9"

    assert errors_of(document).paths == ["spec.parameters[1].feasibleSpace.min"]


def test_algorithm_errors_come_with_the_others(errors_of: Any, document: dict[str, Any]) -> None:
    _algorithm(document, "grid")
    document["spec"]["maxTrialCount"] = 0

    assert errors_of(document).paths == [
        "spec.parameters[0].feasibleSpace.step",
        "spec.maxTrialCount",
    ]


_SETTINGS = AlgorithmSection.model_validate(
    {
        "algorithmName": "tpe",
        "algorithmSettings": [
            {"name": "random_state", "value": "1"},
            {"name": "n_startup_trials", "value": "x"},
        ],
    }
)


@pytest.mark.parametrize(
    ("field", "message", "expected"),
    [
        ("algorithm.name", "unknown algorithm", "spec.algorithm.algorithmName"),
        ("algorithm", "bad", "spec.algorithm.algorithmName"),
        (
            "algorithm.settings.n_startup_trials",
            "must be an int",
            "spec.algorithm.algorithmSettings[1].value",
        ),
        (
            "algorithm.settings.random_state",
            "unknown setting 'random_state'",
            "spec.algorithm.algorithmSettings[0].name",
        ),
        ("algorithm.settings.gamma", "is required", "spec.algorithm.algorithmSettings"),
        ("algorithm.settings", "too many", "spec.algorithm.algorithmSettings"),
        ("space.parameters[2].step", "needs a step", "spec.parameters[2].feasibleSpace.step"),
        ("space.parameters[0].low", "x", "spec.parameters[0].feasibleSpace.min"),
        ("space.parameters[0].high", "x", "spec.parameters[0].feasibleSpace.max"),
        ("space.parameters[0].scale", "x", "spec.parameters[0].feasibleSpace.distribution"),
        ("space.parameters[0].choices", "x", "spec.parameters[0].feasibleSpace.list"),
        ("space.parameters[0].values", "x", "spec.parameters[0].feasibleSpace.list"),
        ("space.parameters[0].type", "x", "spec.parameters[0].parameterType"),
        ("space.parameters[0].name", "x", "spec.parameters[0].name"),
        ("space.parameters[3]", "x", "spec.parameters[3]"),
        ("space.parameters[3].unknown", "x", "spec.parameters[3]"),
        ("space", "too large", "spec.parameters"),
        ("objective.metric_name", "x", "spec.objective.objectiveMetricName"),
        ("objective.direction", "x", "spec.objective.type"),
        ("objective", "x", "spec.objective"),
        ("seed", "x", "spec.algorithm"),
    ],
)
def test_algorithm_error_paths(field: str, message: str, expected: str) -> None:
    assert format_loc(algorithm_error_loc(field, message, _SETTINGS)) == expected


def test_model_errors_become_document_paths() -> None:
    # The checks in _validate catch these first; the translation is the safety net.
    sections = [
        _parameter("a", "double", min=2, max=1),
        _parameter("b", "discrete", list=["1", "1"]),
    ]
    errors = ErrorSink()

    assert convert_space(sections, errors) is None
    assert [(format_loc(loc), message) for loc, message in errors.items] == [
        ("spec.parameters[0].feasibleSpace", "min 2.0 is greater than max 1.0"),
        ("spec.parameters[1].feasibleSpace", "discrete values must be distinct"),
    ]


def test_duplicate_names_from_the_model_point_at_the_second() -> None:
    sections = [_parameter("a", "double", min=0, max=1), _parameter("a", "double", min=0, max=1)]
    errors = ErrorSink()

    assert convert_space(sections, errors) is None
    assert [format_loc(loc) for loc, _ in errors.items] == ["spec.parameters[1].name"]


def test_model_errors_are_invalid_argument_errors() -> None:
    with pytest.raises(InvalidArgumentError):
        DoubleParameter(name="a", low=2, high=1)


def _parameter(name: str, kind: str, **space: Any) -> ParameterSection:
    return ParameterSection.model_validate(
        {"name": name, "parameterType": kind, "feasibleSpace": space}
    )


# -- early stopping ----------------------------------------------------------------------------


def _early_stopping(document: dict[str, Any], name: str, **settings: str) -> None:
    document["spec"]["earlyStopping"] = {
        "algorithmName": name,
        "algorithmSettings": [{"name": k, "value": v} for k, v in settings.items()],
    }


def test_early_stopping_converts_into_the_study_config(document: dict[str, Any]) -> None:
    _early_stopping(document, "medianstop", min_trials_required="2", start_step="5")

    experiment = load_experiment(document)

    expected = AlgorithmSpec(
        name="medianstop", settings={"min_trials_required": "2", "start_step": "5"}
    )
    assert experiment.early_stopping == expected
    assert experiment.study_config().early_stopping == expected


def test_no_early_stopping_converts_to_none(document: dict[str, Any]) -> None:
    assert load_experiment(document).study_config().early_stopping is None


def test_unknown_early_stopping_algorithm(errors_of: Any, document: dict[str, Any]) -> None:
    _early_stopping(document, "median")

    message = errors_of(document).at("spec.earlyStopping.algorithmName")

    assert "unknown early-stopping algorithm 'median'" in message
    assert "did you mean 'medianstop'" in message


def test_bad_early_stopping_value_points_at_its_value(
    errors_of: Any, document: dict[str, Any]
) -> None:
    _early_stopping(document, "medianstop", min_trials_required="3", start_step="-2")

    message = errors_of(document).at("spec.earlyStopping.algorithmSettings[1].value")

    assert message == "must be >= 0, got -2"


def test_unknown_early_stopping_setting_points_at_its_name(
    errors_of: Any, document: dict[str, Any]
) -> None:
    _early_stopping(document, "medianstop", min_trials="3")

    message = errors_of(document).at("spec.earlyStopping.algorithmSettings[0].name")

    assert "unknown setting 'min_trials'" in message
    assert "min_trials_required, start_step" in message


_STOPPING = EarlyStoppingSection.model_validate(
    {"algorithmName": "medianstop", "algorithmSettings": [{"name": "start_step", "value": "x"}]}
)


@pytest.mark.parametrize(
    ("field", "message", "expected"),
    [
        ("early_stopping.name", "unknown", "spec.earlyStopping.algorithmName"),
        ("early_stopping", "x", "spec.earlyStopping.algorithmName"),
        (
            "early_stopping.settings.start_step",
            "bad",
            "spec.earlyStopping.algorithmSettings[0].value",
        ),
        (
            "early_stopping.settings.start_step",
            "unknown setting",
            "spec.earlyStopping.algorithmSettings[0].name",
        ),
        ("early_stopping.settings.other", "x", "spec.earlyStopping.algorithmSettings"),
        ("something.else", "x", "spec.earlyStopping"),
    ],
)
def test_early_stopping_error_paths(field: str, message: str, expected: str) -> None:
    assert format_loc(early_stopping_error_loc(field, message, _STOPPING)) == expected
