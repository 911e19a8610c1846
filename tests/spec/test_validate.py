"""Semantic checks: parameters, objective, algorithm settings, metadata, metrics collector."""

from __future__ import annotations

from typing import Any

import pytest

from tuner.spec import load_experiment

FS = "spec.parameters[0].feasibleSpace"


def _parameter(document: dict[str, Any], kind: str, **space: Any) -> None:
    document["spec"]["parameters"][0] = {
        "name": "lr",
        "parameterType": kind,
        "feasibleSpace": space,
    }


# -- parameters ------------------------------------------------------------------------------


def test_min_greater_than_max(errors_of: Any, document: dict[str, Any]) -> None:
    _parameter(document, "double", min="0.5", max="0.1")

    assert errors_of(document).at(f"{FS}.min") == "is greater than max (0.5 > 0.1)"


@pytest.mark.parametrize("kind", ["double", "int"])
@pytest.mark.parametrize("low", ["0", "-1"])
def test_log_scale_needs_positive_min(
    errors_of: Any, document: dict[str, Any], kind: str, low: str
) -> None:
    _parameter(document, kind, min=low, max="10", distribution="logUniform")

    assert errors_of(document).at(f"{FS}.min") == (
        f"must be > 0 on a log scale (distribution: logUniform), got {int(low)}"
    )


def test_duplicate_parameter_names(errors_of: Any, document: dict[str, Any]) -> None:
    document["spec"]["parameters"][1]["name"] = "lr"

    errors = errors_of(document)

    assert errors.at("spec.parameters[1].name") == (
        "parameter name 'lr' is already used by spec.parameters[0]"
    )


def test_no_parameters(errors_of: Any, document: dict[str, Any]) -> None:
    document["spec"]["parameters"] = []

    assert errors_of(document).at("spec.parameters") == "needs at least one parameter"


@pytest.mark.parametrize("distribution", ["normal", "logNormal"])
def test_normal_distributions_are_refused(
    errors_of: Any, document: dict[str, Any], distribution: str
) -> None:
    _parameter(document, "double", min="0.01", max="0.05", distribution=distribution)

    assert errors_of(document).at(f"{FS}.distribution") == (
        f"the {distribution} distribution is not supported; use uniform or logUniform"
    )


def test_unknown_distribution(errors_of: Any, document: dict[str, Any]) -> None:
    _parameter(document, "double", min="0", max="1", distribution="gaussian")

    message = errors_of(document).at(f"{FS}.distribution")

    assert message == ("must be 'uniform', 'logUniform', 'normal' or 'logNormal', got 'gaussian'")


@pytest.mark.parametrize(
    ("space", "path", "message"),
    [
        ({"min": "1.5", "max": "3"}, "min", "must be an integer for an int parameter, got 1.5"),
        ({"min": "1", "max": 3.5}, "max", "must be an integer for an int parameter, got 3.5"),
        (
            {"min": "1", "max": "3", "step": "0.5"},
            "step",
            "must be an integer for an int parameter, got 0.5",
        ),
        ({"min": "1", "max": "3", "step": "0"}, "step", "must be > 0, got 0"),
        ({"max": "3"}, "min", "is required for a int parameter"),
    ],
)
def test_int_bounds_and_step_must_be_integers(
    errors_of: Any, document: dict[str, Any], space: dict[str, Any], path: str, message: str
) -> None:
    _parameter(document, "int", **space)

    assert errors_of(document).at(f"{FS}.{path}") == message


def test_int_bounds_written_as_integral_floats(document: dict[str, Any]) -> None:
    _parameter(document, "int", min=1.0, max="4.0", step=1.0)
    document["spec"]["trialTemplate"]["trialParameters"][0]["reference"] = "lr"

    parameter = load_experiment(document).space["lr"]

    assert (parameter.low, parameter.high, parameter.step) == (1, 4, 1)  # type: ignore[union-attr]
    assert type(parameter.low) is int  # type: ignore[union-attr]


def test_double_step_must_be_positive(errors_of: Any, document: dict[str, Any]) -> None:
    _parameter(document, "double", min="0", max="1", step="-0.1")

    assert errors_of(document).at(f"{FS}.step") == "must be > 0, got -0.1"


def test_list_on_a_double(errors_of: Any, document: dict[str, Any]) -> None:
    _parameter(document, "double", min="0", max="1", list=["0.1"])

    assert errors_of(document).at(f"{FS}.list").startswith("is not allowed for a double parameter")


def test_discrete_list_must_be_numeric(errors_of: Any, document: dict[str, Any]) -> None:
    _parameter(document, "discrete", list=["16", "big", 64, "16.0"])

    errors = errors_of(document)

    assert errors.at(f"{FS}.list[1]") == "must be a number, got 'big'"
    assert errors.at(f"{FS}.list[3]") == "repeats '16.0' (list[0])"


def test_discrete_converts_strings_to_numbers(document: dict[str, Any]) -> None:
    _parameter(document, "discrete", list=["0.1", "0.01", 1])

    assert load_experiment(document).space["lr"].values == (0.01, 0.1, 1)  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", ["discrete", "categorical"])
def test_list_kinds_need_a_list(errors_of: Any, document: dict[str, Any], kind: str) -> None:
    _parameter(document, kind, min="0", max="1")

    errors = errors_of(document)

    assert errors.at(f"{FS}.list").startswith(f"is required for a {kind} parameter")
    assert errors.at(f"{FS}.min") == f"is not allowed for a {kind} parameter: list the values"
    assert errors.at(f"{FS}.max") == f"is not allowed for a {kind} parameter: list the values"


def test_categorical_duplicates_and_numbers(errors_of: Any, document: dict[str, Any]) -> None:
    _parameter(document, "categorical", list=["a", "b", "a"])

    assert errors_of(document).at(f"{FS}.list[2]") == "repeats 'a' (list[0])"


def test_categorical_numbers_become_text(document: dict[str, Any]) -> None:
    _parameter(document, "categorical", list=["relu", 1, 0.5])

    assert load_experiment(document).space["lr"].choices == ("relu", "1", "0.5")  # type: ignore[union-attr]


def test_log_uniform_on_a_categorical(errors_of: Any, document: dict[str, Any]) -> None:
    _parameter(document, "categorical", list=["a"], distribution="logUniform")

    assert errors_of(document).at(f"{FS}.distribution") == (
        "logUniform applies to double and int parameters, not to categorical ones"
    )


def test_unknown_parameter_type(errors_of: Any, document: dict[str, Any]) -> None:
    document["spec"]["parameters"][0]["parameterType"] = "float"

    assert errors_of(document).at("spec.parameters[0].parameterType") == (
        "must be 'double', 'int', 'discrete' or 'categorical', got 'float'"
    )


# -- objective, algorithm, metadata --------------------------------------------------------------


def test_metric_strategies_must_name_known_metrics(
    errors_of: Any, document: dict[str, Any]
) -> None:
    document["spec"]["objective"].update(
        additionalMetricNames=["accuracy"],
        metricStrategies=[
            {"name": "accuracy", "value": "max"},
            {"name": "f1", "value": "latest"},
            {"name": "accuracy", "value": "min"},
        ],
    )

    errors = errors_of(document)

    assert errors.at("spec.objective.metricStrategies[1].name") == (
        "'f1' is neither the objective metric nor an additional metric (metrics: loss, accuracy)"
    )
    assert errors.at("spec.objective.metricStrategies[2].name") == "repeats 'accuracy'"


def test_bad_metric_strategy_value(errors_of: Any, document: dict[str, Any]) -> None:
    document["spec"]["objective"]["metricStrategies"] = [{"name": "loss", "value": "mean"}]

    assert errors_of(document).at("spec.objective.metricStrategies[0].value") == (
        "must be 'min', 'max' or 'latest', got 'mean'"
    )


def test_additional_metric_names(errors_of: Any, document: dict[str, Any]) -> None:
    document["spec"]["objective"]["additionalMetricNames"] = ["loss", "acc", "acc"]

    errors = errors_of(document)

    assert errors.at("spec.objective.additionalMetricNames[0]").startswith(
        "'loss' is the objective metric already"
    )
    assert errors.at("spec.objective.additionalMetricNames[2]") == "repeats 'acc'"


def test_duplicate_algorithm_settings(errors_of: Any, document: dict[str, Any]) -> None:
    document["spec"]["algorithm"] = {
        "algorithmName": "random",
        "algorithmSettings": [
            {"name": "random_state", "value": "1"},
            {"name": "random_state", "value": "2"},
        ],
    }

    errors = errors_of(document)

    assert errors.at("spec.algorithm.algorithmSettings[1].name") == (
        "repeats the setting 'random_state'"
    )


@pytest.mark.parametrize("name", ["Demo", "my_exp", "1abc", "a-", "-a", "a" * 64, ""])
def test_metadata_name_rule(errors_of: Any, document: dict[str, Any], name: str) -> None:
    document["metadata"]["name"] = name

    message = errors_of(document).at("metadata.name")

    assert message == (
        f"{name!r} must be at most 63 characters: lower-case letters, digits and '-', "
        "starting with a letter and ending with a letter or digit (e.g. 'mnist-random'), "
        "since trial Jobs are named after it"
    )


@pytest.mark.parametrize("name", ["a", "mnist-random", "a1", "a" * 63])
def test_metadata_good_names(document: dict[str, Any], name: str) -> None:
    document["metadata"]["name"] = name

    assert load_experiment(document).name == name


def test_metadata_namespace_rule(errors_of: Any, document: dict[str, Any]) -> None:
    document["metadata"]["namespace"] = "Team_A"

    assert (
        errors_of(document)
        .at("metadata.namespace")
        .startswith("'Team_A' must be a Kubernetes namespace")
    )


def test_early_stopping_needs_an_algorithm_name(errors_of: Any, document: dict[str, Any]) -> None:
    document["spec"]["earlyStopping"] = {
        "algorithmSettings": [{"name": "min_trials_required", "value": "3"}],
    }

    assert errors_of(document).at("spec.earlyStopping.algorithmName") == (
        "is required: name the early-stopping algorithm"
    )


def test_early_stopping_settings_must_not_repeat(errors_of: Any, document: dict[str, Any]) -> None:
    document["spec"]["earlyStopping"] = {
        "algorithmName": "medianstop",
        "algorithmSettings": [
            {"name": "start_step", "value": "3"},
            {"name": "start_step", "value": "5"},
        ],
    }

    assert errors_of(document).at("spec.earlyStopping.algorithmSettings[1].name") == (
        "repeats the setting 'start_step'"
    )


def test_early_stopping_shape_is_checked(errors_of: Any, document: dict[str, Any]) -> None:
    document["spec"]["earlyStopping"] = {"algorithm": "medianstop"}

    assert errors_of(document).paths == [
        "spec.earlyStopping.algorithm",
        "spec.earlyStopping.algorithmName",
    ]


def test_nas_config_is_refused(errors_of: Any, document: dict[str, Any]) -> None:
    document["spec"]["nasConfig"] = {"graphConfig": {"numLayers": 8}}

    assert (
        errors_of(document)
        .at("spec.nasConfig")
        .startswith("neural architecture search is not supported")
    )


# -- metrics collector -----------------------------------------------------------------------

MC = "spec.metricsCollectorSpec"


def test_custom_collector_parses_but_is_refused(errors_of: Any, document: dict[str, Any]) -> None:
    document["spec"]["metricsCollectorSpec"] = {
        "collector": {"kind": "Custom", "customCollector": {"name": "sidecar"}},
    }

    assert errors_of(document).at(f"{MC}.collector.kind") == (
        "the Custom metrics collector is not supported; use StdOut, File, TensorFlowEvent, "
        "PrometheusMetric, Push or None"
    )


def test_unknown_collector_kind(errors_of: Any, document: dict[str, Any]) -> None:
    document["spec"]["metricsCollectorSpec"] = {"collector": {"kind": "Stdout"}}

    assert errors_of(document).at(f"{MC}.collector.kind").startswith("must be 'StdOut', ")


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(oops", "is not a valid regular expression: missing ), unterminated subpattern"),
        (
            r"loss=(\d+)",
            "needs exactly two top-level capture groups, the metric name then its value, found 1",
        ),
        (
            r"(\w+)=(\d+) at (\d+)",
            "needs exactly two top-level capture groups, the metric name then its value, found 3",
        ),
        (
            r"((\w+))=(\d+)",
            "the first capture group (the metric name) must not contain capture groups; "
            "use (?:...) inside it",
        ),
    ],
)
def test_bad_metrics_format(
    errors_of: Any, document: dict[str, Any], pattern: str, message: str
) -> None:
    document["spec"]["metricsCollectorSpec"] = {
        "source": {"filter": {"metricsFormat": [r"(\w+)=(\d+)", pattern]}}
    }

    assert errors_of(document).at(f"{MC}.source.filter.metricsFormat[1]").startswith(message)


def test_file_collector_checks(errors_of: Any, document: dict[str, Any]) -> None:
    document["spec"]["metricsCollectorSpec"] = {
        "collector": {"kind": "File"},
        "source": {
            "fileSystemPath": {"path": "metrics.log", "kind": "Directory", "format": "JSON"},
            "filter": {"metricsFormat": [r"(\w+)=(\d+)"]},
        },
    }

    errors = errors_of(document)

    assert f"{MC}.source.fileSystemPath.path" not in errors.paths  # relative: to the trial's cwd
    assert errors.at(f"{MC}.source.fileSystemPath.kind") == (
        "must be File for the File metrics collector"
    )
    assert errors.at(f"{MC}.source.filter").startswith(
        "must be omitted when the metrics file is JSON"
    )


def test_bad_file_format(errors_of: Any, document: dict[str, Any]) -> None:
    document["spec"]["metricsCollectorSpec"] = {
        "collector": {"kind": "File"},
        "source": {"fileSystemPath": {"path": "/m.log", "format": "CSV"}},
    }

    assert errors_of(document).at(f"{MC}.source.fileSystemPath.format") == (
        "must be 'TEXT' or 'JSON', got 'CSV'"
    )


def test_tensorflow_event_collector_checks(errors_of: Any, document: dict[str, Any]) -> None:
    document["spec"]["metricsCollectorSpec"] = {
        "collector": {"kind": "TensorFlowEvent"},
        "source": {
            "fileSystemPath": {"path": "/logs", "kind": "File", "format": "TEXT"},
            "filter": {"metricsFormat": [r"(\w+)=(\d+)"]},
            "httpGet": {"port": 8080},
        },
    }

    errors = errors_of(document)

    assert errors.at(f"{MC}.source.fileSystemPath.kind") == (
        "must be Directory for the TensorFlowEvent metrics collector"
    )
    assert errors.at(f"{MC}.source.fileSystemPath.format").startswith("must be omitted")
    assert errors.at(f"{MC}.source.filter") == "is not used by the TensorFlowEvent collector"
    assert errors.at(f"{MC}.source.httpGet") == "is not used by the TensorFlowEvent collector"


def test_prometheus_collector_checks(errors_of: Any, document: dict[str, Any]) -> None:
    document["spec"]["objective"]["additionalMetricNames"] = ["val-loss"]
    document["spec"]["metricsCollectorSpec"] = {
        "collector": {"kind": "PrometheusMetric"},
        "source": {
            "httpGet": {
                "port": "metrics",
                "path": "metrics",
                "scheme": "HTTPS",
                "host": "10.0.0.1",
                "httpHeaders": [{"name": "a", "value": "b"}],
            },
            "fileSystemPath": {"path": "/logs"},
        },
    }

    errors = errors_of(document)

    http = f"{MC}.source.httpGet"
    assert errors.at(f"{http}.port").startswith("must be a port number")
    assert errors.at(f"{http}.path") == "must start with '/', got 'metrics'"
    assert errors.at(f"{http}.scheme").startswith("must be HTTP")
    assert errors.at(f"{http}.host").startswith("must be omitted")
    assert errors.at(f"{http}.httpHeaders") == "are not supported by the PrometheusMetric collector"
    assert errors.at(f"{MC}.source.fileSystemPath") == (
        "is not used by the PrometheusMetric collector"
    )
    assert errors.at("spec.objective.additionalMetricNames[0]").startswith(
        "is not a Prometheus metric name"
    )


@pytest.mark.parametrize(
    ("collector", "expected"),
    [
        ({"collector": {"kind": "TensorFlowEvent"}}, {"directory": "/var/log/katib/tfevent/"}),
        (
            {
                "collector": {"kind": "TensorFlowEvent"},
                "source": {"fileSystemPath": {"path": "runs", "kind": "Directory"}},
            },
            {"directory": "runs"},
        ),
        (
            {"collector": {"kind": "PrometheusMetric"}},
            {"http_port": 8080, "http_path": "/metrics"},
        ),
        (
            {"collector": {"kind": "PrometheusMetric"}, "source": {"httpGet": {"port": 9100}}},
            {"http_port": 9100, "http_path": "/metrics"},
        ),
        (
            {"collector": {"kind": "File"}, "source": {"fileSystemPath": {"path": "m.log"}}},
            {"file_path": "m.log"},
        ),
        ({"collector": {"kind": "Push"}}, {}),
    ],
)
def test_collector_kinds_convert_with_katib_defaults(
    document: dict[str, Any], collector: dict[str, Any], expected: dict[str, Any]
) -> None:
    document["spec"]["metricsCollectorSpec"] = collector

    converted = load_experiment(document).metrics_collector

    assert converted.kind.value == collector["collector"]["kind"]
    for name, value in expected.items():
        assert getattr(converted, name) == value
