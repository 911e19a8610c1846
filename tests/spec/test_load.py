"""load_experiment: sources, valid documents converted exactly, all errors at once."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import pytest

from tuner.config import AlgorithmSpec, Budget, Direction, MetricStrategy, Objective, StudyConfig
from tuner.errors import InvalidArgumentError
from tuner.space import (
    CategoricalParameter,
    DiscreteParameter,
    DoubleParameter,
    IntParameter,
    Scale,
    SearchSpace,
)
from tuner.spec import (
    CollectorKind,
    Experiment,
    ExperimentError,
    FileFormat,
    MetricsCollector,
    TrialParameter,
    load_experiment,
)


def test_katib_example_loads_with_strings_for_numbers(fixtures: Path) -> None:
    experiment = load_experiment(fixtures / "katib_random.yaml")

    assert (experiment.name, experiment.namespace) == ("random", "kubeflow")
    assert experiment.study_config() == StudyConfig(
        space=SearchSpace(
            (
                DoubleParameter(name="lr", low=0.01, high=0.03),
                IntParameter(name="num-layers", low=2, high=5),
                CategoricalParameter(name="optimizer", choices=("sgd", "adam", "ftrl")),
            )
        ),
        objective=Objective(
            metric_name="Validation-accuracy",
            direction=Direction.MAXIMIZE,
            goal=0.99,
            additional_metric_names=("Train-accuracy",),
        ),
        algorithm=AlgorithmSpec(name="random"),
    )
    assert experiment.study_config().seed is None
    assert experiment.budget == Budget(
        max_trial_count=12, max_failed_trial_count=3, parallel_trial_count=3
    )
    assert experiment.metrics_collector == MetricsCollector(kind=CollectorKind.STDOUT)
    template = experiment.trial_template
    assert template.primary_container_name == "training-container"
    assert template.trial_parameters == (
        TrialParameter(
            name="learningRate",
            reference="lr",
            description="Learning rate for the training model",
        ),
        TrialParameter(
            name="numberLayers",
            reference="num-layers",
            description="Number of training model layers",
        ),
        TrialParameter(
            name="optimizer",
            reference="optimizer",
            description="Training model optimizer (sdg, adam or ftrl)",
        ),
    )
    assert template.trial_spec["kind"] == "Job"
    assert (template.retain, template.success_condition) == (False, "")


def test_our_api_version_with_every_section(fixtures: Path) -> None:
    experiment = load_experiment(str(fixtures / "tuner_grid.yaml"))

    assert (experiment.name, experiment.namespace) == ("grid-demo", "team-a")
    assert experiment.space == SearchSpace(
        (
            DoubleParameter(name="lr", low=0.1, high=0.3, step=0.1),
            IntParameter(name="depth", low=2, high=8, step=2),
            DiscreteParameter(name="batch", values=(32, 64, 128)),
            CategoricalParameter(name="kernel", choices=("rbf", "linear")),
        )
    )
    batch = experiment.space["batch"]
    assert isinstance(batch, DiscreteParameter)
    assert all(type(value) is int for value in batch.values)
    assert experiment.objective == Objective(
        metric_name="loss",
        direction=Direction.MINIMIZE,
        goal=0.05,
        additional_metric_names=("accuracy",),
        metric_strategies={"loss": MetricStrategy.LATEST},
    )
    assert experiment.objective.metric_strategies == {
        "loss": MetricStrategy.LATEST,
        "accuracy": MetricStrategy.LATEST,
    }
    assert experiment.algorithm == AlgorithmSpec(name="grid", settings={"random_state": "3"})
    assert experiment.budget == Budget(
        max_trial_count=20, max_failed_trial_count=0, parallel_trial_count=2
    )
    assert experiment.metrics_collector == MetricsCollector(
        kind=CollectorKind.FILE,
        metrics_format=(r"([\w-]+):\s*((-?\d+)(\.\d+)?)",),
        file_path="/tmp/metrics.log",
        file_format=FileFormat.TEXT,
    )
    template = experiment.trial_template
    assert template.primary_container_name == "train"
    assert template.retain is True
    assert template.success_condition == 'status.conditions.#(type=="Complete")#|#(status=="True")#'
    assert template.trial_parameters[4] == TrialParameter(
        name="trialName", reference="${trialSpec.Name}"
    )


def test_log_uniform_becomes_a_log_scale(document: dict[str, Any]) -> None:
    document["spec"]["parameters"][0]["feasibleSpace"]["distribution"] = "logUniform"
    document["spec"]["parameters"][1]["feasibleSpace"]["distribution"] = "uniform"

    space = load_experiment(document).space

    assert space["lr"] == DoubleParameter(name="lr", low=0.001, high=0.1, scale=Scale.LOG)
    assert space["layers"] == IntParameter(name="layers", low=1, high=4)


def test_defaults(document: dict[str, Any]) -> None:
    experiment = load_experiment(document)

    assert experiment.namespace == "default"
    assert experiment.algorithm == AlgorithmSpec(name="bayesianoptimization")
    assert experiment.budget == Budget(parallel_trial_count=3)
    assert experiment.metrics_collector == MetricsCollector(kind=CollectorKind.STDOUT)
    assert experiment.objective.goal is None


def test_file_collector_gets_katib_defaults(spec: dict[str, Any]) -> None:
    spec["metricsCollectorSpec"] = {"collector": {"kind": "File"}}

    collector = load_experiment({"spec": spec, **_head()}).metrics_collector

    assert collector == MetricsCollector(
        kind=CollectorKind.FILE,
        file_path="/var/log/katib/metrics.log",
        file_format=FileFormat.TEXT,
    )


def test_none_collector(document: dict[str, Any]) -> None:
    document["spec"]["metricsCollectorSpec"] = {"collector": {"kind": "None"}}

    assert load_experiment(document).metrics_collector.kind is CollectorKind.NONE


def test_document_is_a_copy_and_the_mapping_is_untouched(document: dict[str, Any]) -> None:
    original = copy.deepcopy(document)

    experiment = load_experiment(document)
    document["spec"]["trialTemplate"]["trialSpec"]["kind"] = "Changed"

    assert experiment.document == original
    assert experiment.trial_template.trial_spec["kind"] == "Job"


def test_yaml_text_and_path_like(tmp_path: Path, fixtures: Path) -> None:
    text = (fixtures / "katib_random.yaml").read_text()
    copied = tmp_path / "experiment.yml"
    copied.write_text(text)

    from_text = load_experiment(text)
    from_path = load_experiment(copied)
    from_str_path = load_experiment(str(copied))

    assert from_text == from_path == from_str_path


def test_experiment_is_frozen(document: dict[str, Any]) -> None:
    experiment = load_experiment(document)

    with pytest.raises(AttributeError):
        experiment.name = "other"  # type: ignore[misc]
    assert isinstance(experiment, Experiment)


# -- errors ------------------------------------------------------------------------------------


def test_experiment_error_is_an_invalid_argument_error(errors_of: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        load_experiment({"kind": "Experiment"})


def test_yaml_syntax_error_is_one_error_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("apiVersion: tuner.dev/v1beta1\nkind: [Experiment\nmetadata: {}\n")

    with pytest.raises(ExperimentError) as info:
        load_experiment(path)

    (error,) = info.value.errors
    assert error.path == ""
    assert error.message.startswith("invalid YAML: ")
    assert (error.line, error.column) == (3, 9)
    assert str(info.value).splitlines()[1].startswith(f"{path}:3:9: invalid YAML")


def test_yaml_syntax_error_in_text_gives_its_line() -> None:
    with pytest.raises(ExperimentError) as info:
        load_experiment("a: b\n  c: d\n")

    (error,) = info.value.errors
    assert error.line == 2
    assert str(info.value).splitlines()[1].startswith("line 2, column ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ExperimentError) as info:
        load_experiment(tmp_path / "absent.yaml")

    (error,) = info.value.errors
    assert "cannot read the file" in error.message
    assert info.value.source == str(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("source", "expected"),
    [("", "the document is empty"), ("- a\n- b\n", "the document is a list, not a mapping")],
)
def test_not_a_mapping(errors_of: Any, source: str, expected: str) -> None:
    (error,) = errors_of(source)

    assert error.path == ""
    assert error.message.startswith(expected)


def test_wrong_source_type() -> None:
    with pytest.raises(TypeError):
        load_experiment(42)  # type: ignore[arg-type]


def test_duplicate_yaml_keys_are_errors(errors_of: Any) -> None:
    text = (
        "apiVersion: tuner.dev/v1beta1\nkind: Experiment\nmetadata: {name: a, name: b}\nspec: {}\n"
    )

    errors = errors_of(text)

    assert "YAML would keep only the last one" in errors.at("metadata.name")


def test_every_mistake_is_reported_at_once(errors_of: Any, document: dict[str, Any]) -> None:
    spec = document["spec"]
    spec["maxTrialCount"] = "twelve"  # wrong type
    spec["parameters"][0]["feasibleSpace"]["min"] = "0.5"  # min > max
    spec["parameters"][1]["name"] = "lr"  # duplicate name
    spec["parameters"][1]["feasibleSpace"]["stride"] = 2  # unknown field
    spec["objective"]["metricStrategies"] = [{"name": "acc", "value": "max"}]  # unknown metric
    spec["metricsCollectorSpec"] = {"source": {"filter": {"metricsFormat": ["(oops"]}}}

    errors = errors_of(document)

    assert errors.paths == [
        "spec.objective.metricStrategies[0].name",
        "spec.parameters[0].feasibleSpace.min",
        "spec.parameters[1].name",
        "spec.parameters[1].feasibleSpace.stride",
        "spec.trialTemplate.trialParameters[1].reference",
        "spec.maxTrialCount",
        "spec.metricsCollectorSpec.source.filter.metricsFormat[0]",
    ]
    # The renamed parameter leaves trialParameter "layers" pointing nowhere: a real mistake.
    assert "'layers' is not a parameter name" in errors.at(
        "spec.trialTemplate.trialParameters[1].reference"
    )


def test_errors_follow_the_lines_of_the_file(tmp_path: Path, fixtures: Path) -> None:
    text = (fixtures / "katib_random.yaml").read_text()
    text = text.replace('min: "2"', 'min: "2.5"').replace("type: maximize", "type: maximum")
    path = tmp_path / "bad.yaml"
    path.write_text(text)

    with pytest.raises(ExperimentError) as info:
        load_experiment(path)

    lines = str(info.value).splitlines()
    assert lines[0] == f"{path}: 2 errors in the Experiment:"
    assert lines[1] == (
        f"{path}:10:5: spec.objective.type: must be 'minimize' or 'maximize', got 'maximum'"
    )
    assert lines[2] == (
        f"{path}:29:9: spec.parameters[1].feasibleSpace.min: "
        "must be an integer for an int parameter, got 2.5"
    )
    assert [e.line for e in info.value.errors] == [10, 29]


def test_unreferenced_parameter_is_a_warning(
    document: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    del document["spec"]["trialTemplate"]["trialParameters"][1]
    command = document["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"][
        "containers"
    ][0]["command"]
    command.pop()

    with caplog.at_level(logging.WARNING, logger="tuner.spec"):
        load_experiment(document)

    assert "layers" in caplog.text


def _head() -> dict[str, Any]:
    return {"apiVersion": "tuner.dev/v1beta1", "kind": "Experiment", "metadata": {"name": "x"}}


def test_no_warning_for_an_invalid_document(
    document: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    del document["spec"]["trialTemplate"]["trialParameters"][1]
    document["spec"]["maxTrialCount"] = 0

    with caplog.at_level(logging.WARNING, logger="tuner.spec"), pytest.raises(ExperimentError):
        load_experiment(document)

    assert caplog.text == ""
