"""The committed Experiment CRD: fresh, valid, structural, and in step with the spec model.

Every example Experiment passes the CRD's own ``openAPIV3Schema`` (checked with jsonschema,
as the API server would with strict field validation, ``kubectl``'s default) and
``load_experiment``; broken ones fail both, at the same field path.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.docker.structural import structural_errors
from tuner.config import Direction, Objective
from tuner.operator import Phase, Reason, TrialCounts, build_status, optimal_trial
from tuner.spec import ExperimentError, experiment_crd, load_experiment
from tuner.spec._crd import CRD_PATH, crd_yaml, main
from tuner.trial import Measurement, Trial, TrialState

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(
    [
        *(ROOT / "examples").glob("*.yaml"),
        *(ROOT / "examples" / "cluster").glob("*.yaml"),
        *(ROOT / "tests" / "spec" / "fixtures").glob("*.yaml"),
    ]
)


def _committed() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(CRD_PATH.read_text())
    return data


def _schema() -> dict[str, Any]:
    version: dict[str, Any] = _committed()["spec"]["versions"][0]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def _closed(node: Any) -> Any:
    """``node`` with unknown fields refused where the API server would (strict validation)."""
    if isinstance(node, list):
        return [_closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _closed(value) for key, value in node.items()}
    if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        result["additionalProperties"] = False
    return result


def _validator() -> jsonschema.protocols.Validator:
    schema = _closed(_schema())
    validator: jsonschema.protocols.Validator = jsonschema.Draft4Validator(schema)
    return validator


def _path(error: jsonschema.ValidationError) -> str:
    text = ""
    for part in error.absolute_path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _crd_errors(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    return sorted((_path(e), e.message) for e in _validator().iter_errors(document))


# -- the file --------------------------------------------------------------------------------


def test_committed_crd_is_fresh() -> None:
    assert CRD_PATH.read_text() == crd_yaml(), (
        "docker/deploy/crd.yaml is stale: run python -m tuner.spec._crd and commit"
    )
    assert _committed() == experiment_crd()


def test_generator_writes_the_crd(tmp_path: Path) -> None:
    target = tmp_path / "crd.yaml"
    assert main(["--output", str(target)]) == 0
    assert target.read_text() == CRD_PATH.read_text()


def test_crd_passes_the_kubernetes_schema() -> None:
    assert kubernetes_validate.validate(_committed(), "1.33", strict=True) == "1.33"


def test_crd_serves_tuner_dev_v1beta1_with_status() -> None:
    crd = _committed()
    assert crd["metadata"]["name"] == "experiments.tuner.dev"
    spec = crd["spec"]
    assert spec["group"] == "tuner.dev"  # kubeflow.org stays Katib's
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "Experiment"
    assert "exp" in spec["names"]["shortNames"]
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1beta1", True, True)
    assert version["subresources"] == {"status": {}}


# -- structural ---------------------------------------------------------------------------------


def test_schema_is_structural() -> None:
    assert structural_errors(_schema()) == []


def test_trial_spec_keeps_any_job() -> None:
    template = _schema()["properties"]["spec"]["properties"]["trialTemplate"]
    trial_spec = template["properties"]["trialSpec"]
    assert trial_spec == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    keys = path.split(".")

    def change(schema: dict[str, Any]) -> None:
        node = schema
        for key in keys[:-1]:
            node = node[key]
        if value is _DELETE:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value

    return change


_DELETE = object()
_MAX_TRIALS = "properties.spec.properties.maxTrialCount"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_set(f"{_MAX_TRIALS}.type", _DELETE), f"openAPIV3Schema.{_MAX_TRIALS}: no type"),
        (_set(f"{_MAX_TRIALS}.$ref", "#/x"), "keys a CRD schema may not use: ['$ref']"),
        (
            _set("properties.spec.additionalProperties", {"type": "string"}),
            "properties and additionalProperties are mutually exclusive",
        ),
        (
            _set(f"{_MAX_TRIALS}.anyOf", [{"type": "integer"}, {"type": "string"}]),
            "anyOf[0]: type is not allowed inside a junctor",
        ),
        (
            _set("properties.metadata.properties", {"labels": {"type": "object"}}),
            "only name and generateName may be restricted",
        ),
        (
            _set("properties.status.x-kubernetes-preserve-unknown-fields", False),
            "x-kubernetes-preserve-unknown-fields must be true",
        ),
        (_set("properties.spec.type", "map"), "unknown type 'map'"),
    ],
)
def test_structural_checker_finds_each_broken_rule(
    change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    schema = copy.deepcopy(_schema())
    change(schema)
    errors = structural_errors(schema)
    assert any(expected in error for error in errors), errors


# -- documents against the schema ----------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_passes_the_crd_and_the_spec(path: Path) -> None:
    document = yaml.safe_load(path.read_text())
    assert _crd_errors(document) == []
    load_experiment(path)


def test_cluster_examples_use_the_served_group() -> None:
    for path in (ROOT / "examples" / "cluster").glob("*.yaml"):
        assert yaml.safe_load(path.read_text())["apiVersion"] == "tuner.dev/v1beta1", path


def _quickstart() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "quickstart.yaml").read_text())
    return data


def _broken(path: str, value: Any) -> dict[str, Any]:
    document = _quickstart()
    node: Any = document
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in path.split(".")]
    for part in parts[:-1]:
        node = node[part]
    if value is _DELETE:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value
    return document


@pytest.mark.parametrize(
    ("document", "crd_path", "spec_path"),
    [
        (_broken("spec.maxTrialCount", 0), "spec.maxTrialCount", "spec.maxTrialCount"),
        (
            _broken("spec.parameters.1.parameterType", "float"),
            "spec.parameters[1].parameterType",
            "spec.parameters[1].parameterType",
        ),
        (
            _broken("spec.objective.objectiveMetricName", _DELETE),
            "spec.objective",  # jsonschema names the mapping that misses the key
            "spec.objective.objectiveMetricName",
        ),
        (_broken("spec.maxTrials", 5), "spec", "spec.maxTrials"),
        (
            _broken("spec.trialTemplate.trialParameters.0.reference", ""),
            "spec.trialTemplate.trialParameters[0].reference",
            "spec.trialTemplate.trialParameters[0].reference",
        ),
        (
            _broken("spec.metricsCollectorSpec.collector.kind", "Stdout"),
            "spec.metricsCollectorSpec.collector.kind",
            "spec.metricsCollectorSpec.collector.kind",
        ),
    ],
    ids=["minimum", "enum", "required", "unknown-field", "empty-string", "collector-kind"],
)
def test_a_broken_experiment_fails_both_at_its_path(
    document: dict[str, Any], crd_path: str, spec_path: str
) -> None:
    errors = _crd_errors(document)
    assert [path for path, _ in errors] == [crd_path], errors
    with pytest.raises(ExperimentError) as caught:
        load_experiment(document)
    assert spec_path in [error.path for error in caught.value.errors]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("spec.parameters.0.feasibleSpace.min", 0.00001),  # a number where Katib writes "1e-05"
        ("spec.parameters.0.feasibleSpace.max", "1e-1"),
        ("spec.objective.goal", "0.99"),  # Katib's CRD would refuse the string
        ("spec.algorithm.algorithmSettings.0.value", 7),
        ("spec.parameters.2.feasibleSpace.list", ["constant", "optimal"]),
        ("spec.trialTemplate.retain", True),
    ],
)
def test_what_the_spec_accepts_the_crd_accepts(path: str, value: Any) -> None:
    document = _broken(path, value)
    load_experiment(document)
    assert _crd_errors(document) == []


def test_lax_integers_are_refused_by_the_crd_only() -> None:
    # The documented exception: pydantic reads "3" as 3, the API server (like Katib's) does not.
    document = _broken("spec.parallelTrialCount", "3")
    load_experiment(document)
    assert [path for path, _ in _crd_errors(document)] == ["spec.parallelTrialCount"]


def test_a_bad_number_passes_the_crd_and_is_caught_by_the_spec() -> None:
    # No OpenAPI type means "a number or a string holding one": the operator reports it.
    document = _broken("spec.parameters.0.feasibleSpace.min", "tiny")
    assert _crd_errors(document) == []
    with pytest.raises(ExperimentError) as caught:
        load_experiment(document)
    assert "spec.parameters[0].feasibleSpace.min" in [e.path for e in caught.value.errors]


# -- printer columns over the operator's status ------------------------------------------------

_SIMPLE_PATH = re.compile(r"(\.[A-Za-z]+|\[-?\d+\]|\[-?\d*:-?\d*\])+")


def _json_path(data: Any, path: str) -> list[Any]:
    """Kubernetes JSONPath, the subset printer columns here use: fields, [i], [a:b]."""
    assert _SIMPLE_PATH.fullmatch(path), f"{path} uses more JSONPath than this test reads"
    values = [data]
    for field, index, start, stop in re.findall(
        r"\.([A-Za-z]+)|\[(-?\d+)\]|\[(-?\d*):(-?\d*)\]", path
    ):
        found: list[Any] = []
        for value in values:
            if field and isinstance(value, Mapping) and field in value:
                found.append(value[field])
            elif index and isinstance(value, list) and -len(value) <= int(index) < len(value):
                found.append(value[int(index)])
            elif (start or stop) and isinstance(value, list):
                found.extend(value[int(start) if start else None : int(stop) if stop else None])
        values = found
    return values


def _experiment_with_status() -> dict[str, Any]:
    objective = Objective(
        metric_name="accuracy", direction=Direction.MAXIMIZE, additional_metric_names=("loss",)
    )
    final = Measurement(metrics={"accuracy": 0.97, "loss": 0.1}, step=10)
    best = Trial(
        id=31,
        study_name="tuner/quickstart",
        number=7,
        parameters={"alpha": 0.001, "eta0": 0.05, "learning_rate": "adaptive"},
        state=TrialState.SUCCEEDED,
        measurements=(Measurement(metrics={"accuracy": 0.9, "loss": 0.3}, step=1), final),
        final_measurement=final,
    )
    now = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)
    running = build_status(
        None,
        phase=Phase.RUNNING,
        reason=Reason.RUNNING,
        message="running",
        now=now,
        study_name="tuner/quickstart",
        counts=TrialCounts(succeeded=5, running=3, failed=1),
        optimal=optimal_trial(best, objective=objective, trial_name="quickstart-7"),
    )
    document = _quickstart()
    document["metadata"]["creationTimestamp"] = "2026-11-28T12:59:00Z"
    document["status"] = running
    return document


def test_printer_columns_read_the_operator_status() -> None:
    (version,) = _committed()["spec"]["versions"]
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    assert list(columns) == ["Status", "Succeeded", "Running", "Failed", "Best", "Age"]
    document = _experiment_with_status()
    cells = {name: _json_path(document, c["jsonPath"]) for name, c in columns.items()}
    assert cells == {
        "Status": ["Running"],
        "Succeeded": [5],
        "Running": [3],
        "Failed": [1],
        "Best": ["0.97"],
        "Age": ["2026-11-28T12:59:00Z"],
    }
    kinds = {"integer": int, "string": str, "date": str}
    for name, column in columns.items():
        assert isinstance(cells[name][0], kinds[column["type"]]), name
    # An Experiment with a status also passes the schema (status is the operator's).
    assert _crd_errors(document) == []


def test_status_column_shows_the_final_phase() -> None:
    document = _experiment_with_status()
    later = datetime(2026, 11, 28, 13, 9, tzinfo=UTC)
    document["status"] = build_status(
        document["status"],
        phase=Phase.SUCCEEDED,
        reason=Reason.GOAL_REACHED,
        message="goal reached",
        now=later,
        study_name="tuner/quickstart",
    )
    (version,) = _committed()["spec"]["versions"]
    (status,) = [c for c in version["additionalPrinterColumns"] if c["name"] == "Status"]
    assert _json_path(document, status["jsonPath"]) == ["Succeeded"]
