"""render_trial_job and primary_container: one trial's Job, placeholders resolved."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tuner.errors import InvalidArgumentError
from tuner.space import DiscreteParameter, DoubleParameter, IntParameter
from tuner.spec import Experiment, load_experiment, primary_container, render_trial_job
from tuner.spec._render import format_value
from tuner.trial import Trial


def _trial(**parameters: Any) -> Trial:
    return Trial(id=7, study_name="demo", number=3, parameters=parameters)


@pytest.fixture
def grid(fixtures: Path) -> Experiment:
    return load_experiment(fixtures / "tuner_grid.yaml")


def test_substitutes_parameters_in_command(document: dict[str, Any]) -> None:
    experiment = load_experiment(document)

    job = render_trial_job(experiment, _trial(lr=0.01, layers=3), job_name="demo-3")

    assert primary_container(job)["command"] == ["python", "train.py", "--lr=0.01", "--layers=3"]


def test_katib_example(fixtures: Path) -> None:
    experiment = load_experiment(fixtures / "katib_random.yaml")
    trial = _trial(lr=0.025, optimizer="adam", **{"num-layers": 4})

    job = render_trial_job(experiment, trial, job_name="random-abc")

    assert job["metadata"] == {
        "name": "random-abc",
        "namespace": "kubeflow",
        "annotations": {"tuner.dev/primary-container": "training-container"},
    }
    assert primary_container(job)["command"][-3:] == [
        "--lr=0.025",
        "--num-layers=4",
        "--optimizer=adam",
    ]


def test_args_env_and_metadata_references(grid: Experiment) -> None:
    trial = _trial(lr=0.1 + 0.2 - 0.1, depth=4, batch=64.0, kernel="rbf")

    job = render_trial_job(grid, trial, job_name="grid-demo-3")
    container = primary_container(job)

    assert container["name"] == "train"
    assert container["args"] == [
        "--lr=0.20000000000000004",
        "--depth=4",
        "--batch=64",
        "--kernel=rbf",
    ]
    assert {item["name"]: item["value"] for item in container["env"]} == {
        "TRIAL_NAME": "grid-demo-3",
        "TEAM": "vision",
        "NAMESPACE": "team-a",
        "JOB_KIND": "Job/batch/v1",
        "NOTE": "keep",
    }
    assert job["metadata"] == {
        "labels": {"team": "vision"},
        "annotations": {"note": "keep", "tuner.dev/primary-container": "train"},
        "name": "grid-demo-3",
        "namespace": "team-a",
    }


def test_the_experiment_is_not_changed(grid: Experiment) -> None:
    before = copy.deepcopy(grid.trial_template.trial_spec)

    job = render_trial_job(grid, _trial(lr=0.1, depth=2, batch=32, kernel="linear"), job_name="j")
    job["spec"]["template"]["spec"]["containers"][1]["args"].append("x")

    assert grid.trial_template.trial_spec == before


def test_placeholders_in_mapping_keys(document: dict[str, Any]) -> None:
    job_spec = document["spec"]["trialTemplate"]["trialSpec"]
    job_spec["metadata"] = {"labels": {"lr-${trialParameters.layers}": "${trialSpec.Name}"}}

    job = render_trial_job(load_experiment(document), _trial(lr=0.1, layers=2), job_name="n")

    assert job["metadata"]["labels"] == {"lr-2": "n"}


def test_one_pass_never_expands_a_value(document: dict[str, Any]) -> None:
    document["spec"]["parameters"][0] = {
        "name": "lr",
        "parameterType": "categorical",
        "feasibleSpace": {"list": ["${trialParameters.layers}"]},
    }
    experiment = load_experiment(document)

    job = render_trial_job(
        experiment, _trial(lr="${trialParameters.layers}", layers=2), job_name="n"
    )

    assert primary_container(job)["command"][2] == "--lr=${trialParameters.layers}"


def test_trial_outside_the_space_is_refused(document: dict[str, Any]) -> None:
    experiment = load_experiment(document)

    with pytest.raises(InvalidArgumentError) as info:
        render_trial_job(experiment, _trial(lr=0.01), job_name="n")

    assert info.value.field == "layers"


@pytest.mark.parametrize(
    ("value", "parameter", "expected"),
    [
        (3, IntParameter(name="a", low=0, high=5), "3"),
        (3.0, IntParameter(name="a", low=0, high=5), "3"),
        (0.1, DoubleParameter(name="a", low=0, high=1), "0.1"),
        (1.0, DoubleParameter(name="a", low=0, high=1), "1.0"),
        (1e-05, DoubleParameter(name="a", low=0, high=1), "1e-05"),
        (0.1 + 0.2, DoubleParameter(name="a", low=0, high=1), "0.30000000000000004"),
        (64.0, DiscreteParameter(name="a", values=(32, 64)), "64"),
        (64.0, DiscreteParameter(name="a", values=(0.5, 64)), "64.0"),
        ("adam", None, "adam"),
    ],
)
def test_format_value(value: Any, parameter: Any, expected: str) -> None:
    assert format_value(value, parameter) == expected


def _job(*names: str, annotation: str | None = None) -> dict[str, Any]:
    job: dict[str, Any] = {
        "spec": {"template": {"spec": {"containers": [{"name": n} for n in names]}}}
    }
    if annotation is not None:
        job["metadata"] = {"annotations": {"tuner.dev/primary-container": annotation}}
    return job


def test_primary_container_by_annotation_name_or_only_one() -> None:
    assert primary_container(_job("a", "b", annotation="b"))["name"] == "b"
    assert primary_container(_job("a", "b"), name="a")["name"] == "a"
    assert primary_container(_job("only"))["name"] == "only"


@pytest.mark.parametrize(
    ("job", "message"),
    [
        (_job("a", "b"), "the Job has 2 containers and none is named primary"),
        (_job("a", annotation="b"), "the Job has no container named 'b'"),
        ({"spec": {}}, "the Job has 0 containers and none is named primary"),
    ],
)
def test_primary_container_errors(job: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        primary_container(job)

    assert (info.value.field, info.value.message) == ("spec.template.spec.containers", message)
