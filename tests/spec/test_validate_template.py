"""Semantic checks of spec.trialTemplate: the Job, its containers and its placeholders."""

from __future__ import annotations

from typing import Any

import pytest

from tuner.spec import load_experiment

T = "spec.trialTemplate"
TS = "spec.trialTemplate.trialSpec"
POD = "spec.trialTemplate.trialSpec.spec.template.spec"


def _template(document: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = document["spec"]["trialTemplate"]
    return result


def _pod(document: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = _template(document)["trialSpec"]["spec"]["template"]["spec"]
    return result


def test_placeholder_without_trial_parameter(
    errors_of: Any, container: dict[str, Any], document: dict[str, Any]
) -> None:
    container["command"].append("--momentum=${trialParameters.momentum}")

    message = errors_of(document).at(f"{POD}.containers[0].command[4]")

    assert message == (
        "${trialParameters.momentum} names no trialParameter: add {name: momentum, "
        "reference: <parameter>} to spec.trialTemplate.trialParameters"
    )


def test_placeholders_are_found_in_env_and_keys(
    errors_of: Any, container: dict[str, Any], document: dict[str, Any]
) -> None:
    container["env"] = [{"name": "A", "value": "${trialParameters.a}"}]
    _template(document)["trialSpec"]["metadata"] = {"labels": {"${trialParameters.b}": "x"}}

    errors = errors_of(document)

    assert errors.paths == [
        f"{POD}.containers[0].env[0].value",
        f'{TS}.metadata.labels["${{trialParameters.b}}"]',
    ]


def test_reference_must_be_a_parameter(errors_of: Any, document: dict[str, Any]) -> None:
    _template(document)["trialParameters"][0]["reference"] = "learning_rate"

    message = errors_of(document).at(f"{T}.trialParameters[0].reference")

    assert message.startswith(
        "'learning_rate' is not a parameter name (parameters: lr, layers) nor a metadata "
        "reference (use ${trialSpec.Name}, "
    )


@pytest.mark.parametrize(
    "reference",
    [
        "${trialSpec.Name}",
        "${trialSpec.Namespace}",
        "${trialSpec.Kind}",
        "${trialSpec.APIVersion}",
        "${trialSpec.Labels[team]}",
        "${trialSpec.Annotations[note]}",
    ],
)
def test_metadata_references_are_accepted(
    document: dict[str, Any], container: dict[str, Any], reference: str
) -> None:
    template = _template(document)
    template["trialSpec"]["metadata"] = {"labels": {"team": "a"}, "annotations": {"note": "b"}}
    template["trialParameters"].append({"name": "meta", "reference": reference})
    container["args"] = ["${trialParameters.meta}"]

    parameter = load_experiment(document).trial_template.trial_parameters[2]

    assert parameter.metadata_reference is not None


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("${trialSpec.Uid}", "${trialSpec.Uid} is not a metadata reference; use "),
        ("${trialSpec.Labels[team]}", "${trialSpec.Labels[team]}: 'team' is not in "),
        ("${trialSpec.Name", "'${trialSpec.Name' is not a metadata reference; use "),
        ("${trialName}", "'${trialName}' is not a metadata reference; use "),
    ],
)
def test_bad_metadata_references(
    errors_of: Any,
    document: dict[str, Any],
    container: dict[str, Any],
    reference: str,
    message: str,
) -> None:
    _template(document)["trialParameters"].append({"name": "meta", "reference": reference})
    container["args"] = ["${trialParameters.meta}"]

    assert errors_of(document).at(f"{T}.trialParameters[2].reference").startswith(message)


def test_direct_metadata_reference_in_the_template(
    errors_of: Any, document: dict[str, Any], container: dict[str, Any]
) -> None:
    container["args"] = ["${trialSpec.Name}", "${trialSpec.Labels[app]}", "${trialSpec.Size}"]

    errors = errors_of(document)

    assert errors.paths == [f"{POD}.containers[0].args[1]", f"{POD}.containers[0].args[2]"]
    assert errors.at(f"{POD}.containers[0].args[1]") == (
        "${trialSpec.Labels[app]}: 'app' is not in spec.trialTemplate.trialSpec.metadata.labels"
    )


def test_unused_trial_parameter(
    errors_of: Any, document: dict[str, Any], container: dict[str, Any]
) -> None:
    container["command"].pop()

    assert errors_of(document).at(f"{T}.trialParameters[1].name") == (
        "'layers' is not used: spec.trialTemplate.trialSpec has no ${trialParameters.layers}"
    )


def test_duplicate_trial_parameter_names(errors_of: Any, document: dict[str, Any]) -> None:
    _template(document)["trialParameters"][1]["name"] = "learningRate"

    errors = errors_of(document)

    assert (
        errors.at(f"{T}.trialParameters[1].name") == "repeats 'learningRate' (trialParameters[0])"
    )


def test_trial_parameter_name_with_braces(errors_of: Any, document: dict[str, Any]) -> None:
    _template(document)["trialParameters"][1]["name"] = "a}b"

    assert "must not contain '{' or '}'" in errors_of(document).at(f"{T}.trialParameters[1].name")


def test_primary_container_must_exist(errors_of: Any, document: dict[str, Any]) -> None:
    _template(document)["primaryContainerName"] = "trainer"

    assert errors_of(document).at(f"{T}.primaryContainerName") == (
        "'trainer' is not a container of the trialSpec (containers: train)"
    )


def test_primary_container_defaults_to_the_only_one(document: dict[str, Any]) -> None:
    del _template(document)["primaryContainerName"]

    assert load_experiment(document).trial_template.primary_container_name == "train"


def test_primary_container_required_with_several(errors_of: Any, document: dict[str, Any]) -> None:
    del _template(document)["primaryContainerName"]
    _pod(document)["containers"].append({"name": "sidecar", "image": "busybox"})

    assert (
        errors_of(document)
        .at(f"{T}.primaryContainerName")
        .startswith("is required when the Job has several containers (train, sidecar)")
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "apiVersion",
            "kubeflow.org/v1",
            "must be batch/v1 (each trial runs as a Kubernetes Job), got 'kubeflow.org/v1'",
        ),
        ("kind", "PyTorchJob", "must be Job, got 'PyTorchJob'"),
    ],
)
def test_trial_spec_must_be_a_batch_job(
    errors_of: Any, document: dict[str, Any], key: str, value: str, message: str
) -> None:
    _template(document)["trialSpec"][key] = value

    assert errors_of(document).at(f"{TS}.{key}") == message


def test_trial_spec_missing_kind(errors_of: Any, document: dict[str, Any]) -> None:
    del _template(document)["trialSpec"]["kind"]

    assert errors_of(document).at(f"{TS}.kind") == "must be Job, got None"


def test_trial_spec_is_required(errors_of: Any, document: dict[str, Any]) -> None:
    del _template(document)["trialSpec"]

    assert errors_of(document).at(TS) == "is required: the batch/v1 Job each trial runs"


def test_config_map_is_refused(errors_of: Any, document: dict[str, Any]) -> None:
    template = _template(document)
    del template["trialSpec"]
    template["configMap"] = {
        "configMapName": "templates",
        "configMapNamespace": "kubeflow",
        "templatePath": "job.yaml",
    }

    errors = errors_of(document)

    assert errors.paths == [f"{T}.configMap"]
    assert errors.at(f"{T}.configMap") == (
        "is not supported: put the Job in spec.trialTemplate.trialSpec"
    )


@pytest.mark.parametrize(
    ("remove", "path"),
    [
        (("spec",), f"{TS}.spec"),
        (("spec", "template"), f"{TS}.spec.template"),
        (("spec", "template", "spec", "containers"), f"{POD}.containers"),
    ],
)
def test_containers_are_required(
    errors_of: Any, document: dict[str, Any], remove: tuple[str, ...], path: str
) -> None:
    target = _template(document)["trialSpec"]
    for key in remove[:-1]:
        target = target[key]
    del target[remove[-1]]

    assert errors_of(document).at(path) == (
        "is required: a Job needs spec.template.spec.containers"
    )


def test_container_checks(
    errors_of: Any, document: dict[str, Any], container: dict[str, Any]
) -> None:
    containers = _pod(document)["containers"]
    containers.append({"name": "train"})
    containers.append("sidecar")
    container["args"] = ["--epochs", 10]
    container["env"] = [{"name": "SEED", "value": 7}]

    errors = errors_of(document)

    assert (
        errors.at(f"{POD}.containers[0].args[1]")
        == 'must be a string, got a number; quote it ("10")'
    )
    assert errors.at(f"{POD}.containers[0].env[0].value") == (
        'must be a string, got a number; quote it ("7")'
    )
    assert errors.at(f"{POD}.containers[1].name") == "repeats the container name 'train'"
    assert errors.at(f"{POD}.containers[2]") == "must be a mapping (a container)"


def test_command_must_be_a_list(
    errors_of: Any, document: dict[str, Any], container: dict[str, Any]
) -> None:
    container["command"] = (
        "python train.py --lr=${trialParameters.learningRate} ${trialParameters.layers}"
    )

    assert errors_of(document).at(f"{POD}.containers[0].command") == (
        "must be a list of strings, got str"
    )


@pytest.mark.parametrize("policy", [None, "Always"])
def test_job_restart_policy(errors_of: Any, document: dict[str, Any], policy: str | None) -> None:
    if policy is None:
        del _pod(document)["restartPolicy"]
    else:
        _pod(document)["restartPolicy"] = policy

    message = errors_of(document).at(f"{POD}.restartPolicy")

    got = "is required" if policy is None else f"is {policy!r}"
    assert message == (
        f"{got}: it must be Never or OnFailure, since Kubernetes refuses a Job whose pods "
        "restart Always (the default)"
    )


@pytest.mark.parametrize("key", ["name", "namespace"])
def test_job_name_and_namespace_must_be_omitted(
    errors_of: Any, document: dict[str, Any], key: str
) -> None:
    _template(document)["trialSpec"]["metadata"] = {key: "x"}

    assert errors_of(document).at(f"{TS}.metadata.{key}").startswith("must be omitted")
