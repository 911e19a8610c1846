"""The document's shape: required fields, unknown fields, wrong types, numbers as strings."""

from __future__ import annotations

from typing import Any

import pytest

from tuner.spec import load_experiment
from tuner.spec._model import parse_number


@pytest.mark.parametrize("api_version", ["tuner.dev/v1beta1", "kubeflow.org/v1beta1"])
def test_both_api_versions(document: dict[str, Any], api_version: str) -> None:
    document["apiVersion"] = api_version

    assert load_experiment(document).name == "demo"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "apiVersion",
            "kubeflow.org/v1alpha3",
            "must be 'tuner.dev/v1beta1' or 'kubeflow.org/v1beta1', got 'kubeflow.org/v1alpha3'",
        ),
        ("kind", "Trial", "must be 'Experiment', got 'Trial'"),
    ],
)
def test_bad_api_version_or_kind(
    errors_of: Any, document: dict[str, Any], key: str, value: str, message: str
) -> None:
    document[key] = value

    assert errors_of(document).at(key) == message


def test_missing_name(errors_of: Any, document: dict[str, Any]) -> None:
    del document["metadata"]["name"]

    assert errors_of(document).at("metadata.name") == "is required"


def test_other_metadata_passes(document: dict[str, Any]) -> None:
    document["metadata"].update(labels={"team": "a"}, annotations={"x": "y"}, uid="123")

    assert load_experiment(document).document["metadata"]["uid"] == "123"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("spec.parallelTrialCount", "three", "must be an integer, got 'three'"),
        ("spec.parallelTrialCount", 0, "must be >= 1, got 0"),
        ("spec.maxTrialCount", 0, "must be >= 1, got 0"),
        ("spec.maxTrialCount", 2.5, "must be an integer, got 2.5"),
        ("spec.maxFailedTrialCount", -1, "must be >= 0, got -1"),
        ("spec.objective", [], "must be a mapping, got a list"),
        ("spec.parameters", {"name": "lr"}, "must be a list, got a mapping"),
        ("spec.objective.objectiveMetricName", 3, "must be a string, got 3"),
        ("spec.objective.objectiveMetricName", "", "must not be empty"),
        ("spec.objective.type", "minimise", "must be 'minimize' or 'maximize', got 'minimise'"),
        ("spec.objective.goal", "high", "must be a number, got 'high'"),
        ("spec.objective.goal", True, "must be a number (or a string holding one), got a boolean"),
        ("spec.objective.goal", ".nan", "must be a number, got '.nan'"),
        ("spec.trialTemplate.retain", [], "must be true or false, got a list"),
        (
            "spec.resumePolicy",
            "Always",
            "must be '', 'Never', 'LongRunning' or 'FromVolume', got 'Always'",
        ),
    ],
)
def test_wrong_types(
    errors_of: Any, document: dict[str, Any], path: str, value: Any, message: str
) -> None:
    *parents, last = path.split(".")
    target = document
    for key in parents:
        target = target[key]
    target[last] = value

    assert errors_of(document).at(path) == message


def test_goal_as_yaml_float_nan_is_refused(errors_of: Any, document: dict[str, Any]) -> None:
    document["spec"]["objective"]["goal"] = float("nan")

    assert errors_of(document).at("spec.objective.goal") == "must be a finite number, got nan"


@pytest.mark.parametrize(
    ("path", "suggestion"),
    [
        ("spec.parameters[0].feasibleSpace.mn", "did you mean 'min'? "),
        ("spec.objectives", "did you mean 'objective'? "),
        ("spec.trialTemplate.trialparameters", "did you mean 'trialParameters'? "),
        ("spec.metricsCollectorSpec.source.filter.format", ""),
    ],
)
def test_unknown_fields_are_errors(
    errors_of: Any, document: dict[str, Any], path: str, suggestion: str
) -> None:
    spec = document["spec"]
    spec["metricsCollectorSpec"] = {"source": {"filter": {}}}
    target: Any = document
    parts = path.replace("[0]", ".0").split(".")
    for key in parts[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    target[parts[-1]] = 1

    message = errors_of(document).at(path)

    assert message.startswith(f"unknown field {parts[-1]!r}; {suggestion}allowed here: ")


def test_unknown_field_lists_what_is_allowed(errors_of: Any, document: dict[str, Any]) -> None:
    document["spec"]["objective"]["direction"] = "max"

    assert errors_of(document).at("spec.objective.direction") == (
        "unknown field 'direction'; allowed here: type, goal, objectiveMetricName, "
        "additionalMetricNames, metricStrategies"
    )


def test_trial_spec_is_free_form(document: dict[str, Any]) -> None:
    job = document["spec"]["trialTemplate"]["trialSpec"]
    job["spec"]["backoffLimit"] = 0
    job["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}}

    assert load_experiment(document).trial_template.trial_spec["spec"]["backoffLimit"] == 0


@pytest.mark.parametrize(
    ("fields", "expected_low", "expected_high"),
    [
        ({"min": "0.01", "max": "0.03"}, 0.01, 0.03),
        ({"min": 0.01, "max": 1}, 0.01, 1.0),
        ({"min": "1e-3", "max": " 2.5E+1 "}, 0.001, 25.0),
        ({"min": "-1", "max": ".5"}, -1.0, 0.5),
    ],
)
def test_numbers_as_strings_or_numbers(
    document: dict[str, Any], fields: dict[str, Any], expected_low: float, expected_high: float
) -> None:
    document["spec"]["parameters"][0]["feasibleSpace"] = fields

    parameter = load_experiment(document).space["lr"]

    assert (parameter.low, parameter.high) == (expected_low, expected_high)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "must be a number, got 'abc'"),
        ("1_000", "must be a number, got '1_000'"),
        ("inf", "must be a number, got 'inf'"),
        (None, "is required for a double parameter"),
        ([1], "must be a number (or a string holding one), got a list"),
    ],
)
def test_bad_numbers(errors_of: Any, document: dict[str, Any], value: Any, message: str) -> None:
    document["spec"]["parameters"][0]["feasibleSpace"]["max"] = value

    errors = errors_of(document)

    assert errors.at("spec.parameters[0].feasibleSpace.max") == message


def test_booleans_in_a_list_are_refused(errors_of: Any, document: dict[str, Any]) -> None:
    document["spec"]["parameters"].append(
        {"name": "flag", "parameterType": "categorical", "feasibleSpace": {"list": [True, "x"]}}
    )

    errors = errors_of(document)

    assert errors.at("spec.parameters[2].feasibleSpace.list[0]") == (
        'YAML read true as a boolean; quote it ("true") to mean a string'
    )


def test_setting_values_may_be_numbers(document: dict[str, Any]) -> None:
    document["spec"]["algorithm"] = {
        "algorithmName": "random",
        "algorithmSettings": [{"name": "random_state", "value": 7}],
    }

    assert load_experiment(document).algorithm.settings == {"random_state": "7"}


def test_early_stopping_and_katib_only_fields_parse(document: dict[str, Any]) -> None:
    template = document["spec"]["trialTemplate"]
    template["primaryPodLabels"] = {"training.kubeflow.org/job-role": "master"}
    document["spec"]["resumePolicy"] = "LongRunning"
    document["status"] = {"trials": 3}

    experiment = load_experiment(document)

    assert experiment.trial_template.primary_pod_labels == {
        "training.kubeflow.org/job-role": "master"
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3", 3), ("-3", -3), ("3.0", 3.0), ("1e3", 1000.0), (2, 2), (0.5, 0.5)],
)
def test_parse_number(text: object, expected: float) -> None:
    value = parse_number(text)

    assert value == expected
    assert type(value) is type(expected)
