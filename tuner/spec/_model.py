"""The Experiment document's shape, as pydantic models (Katib ``v1beta1``, field for field).

These models check structure and types only: required fields, unknown fields, enums,
numbers. Rules that relate fields to each other live in ``_validate``. Field names are
snake_case in Python and Katib's camelCase in the document (the aliases).
"""

from __future__ import annotations

import enum
import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from tuner.config import Direction, MetricStrategy
from tuner.space import ParameterType
from tuner.spec._metrics_collector import CollectorKind, FileFormat, FileSystemKind

__all__ = [
    "API_VERSIONS",
    "AlgorithmSection",
    "ConfigMapSource",
    "Distribution",
    "EarlyStoppingSection",
    "ExperimentDocument",
    "ExperimentSpec",
    "FeasibleSpace",
    "MetricsCollectorSection",
    "ObjectMetadata",
    "ObjectiveSection",
    "ParameterSection",
    "TrialTemplateSection",
    "parse_number",
]

API_VERSIONS = ("tuner.dev/v1beta1", "kubeflow.org/v1beta1")

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def parse_number(value: object) -> int | float:
    """A finite number from a number or a string holding one (Katib writes ``"0.01"``).

    Integer literals (``"3"``, ``3``) stay ints; anything else becomes a float.

    Raises:
        ValueError: ``value`` is no number, or not a finite one; the message says which.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"must be a number (or a string holding one), got {_type_name(value)}")
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER.fullmatch(text):
            return int(text)
        if not _NUMBER.fullmatch(text):
            raise ValueError(f"must be a number, got {value!r}")
        value = float(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value}")
    return value


def _to_number(value: object) -> int | float:
    try:
        return parse_number(value)
    except ValueError as exc:
        raise PydanticCustomError("number", str(exc)) from None


def _to_scalar(value: object) -> str | int | float:
    """A list item of a feasible space: a string or a number, never a boolean or null."""
    if isinstance(value, bool):
        raise PydanticCustomError(
            "scalar",
            'YAML read {value} as a boolean; quote it ("{value}") to mean a string',
            {"value": str(value).lower()},
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("scalar", "must be finite, got {value}", {"value": value})
    if not isinstance(value, str | int | float):
        raise PydanticCustomError(
            "scalar", "must be a string or a number, got {kind}", {"kind": _type_name(value)}
        )
    return value


def _to_setting_value(value: object) -> str:
    """A setting value as text: Katib writes strings; numbers and booleans are accepted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value
    raise PydanticCustomError(
        "setting", "must be a string or a number, got {kind}", {"kind": _type_name(value)}
    )


def _to_port(value: object) -> int | str:
    """A Kubernetes IntOrString port: a number, or a named port."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PydanticCustomError(
            "port", "must be a port number or a port name, got {kind}", {"kind": _type_name(value)}
        )
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    return value


Number = Annotated[int | float, PlainValidator(_to_number)]
Scalar = Annotated[str | int | float, PlainValidator(_to_scalar)]
SettingValue = Annotated[str, PlainValidator(_to_setting_value)]
Port = Annotated[int | str, PlainValidator(_to_port)]
NonEmptyStr = Annotated[str, Field(min_length=1)]


class Distribution(enum.Enum):
    """Katib's ``feasibleSpace.distribution``; only the uniform ones convert."""

    UNIFORM = "uniform"
    LOG_UNIFORM = "logUniform"
    NORMAL = "normal"
    LOG_NORMAL = "logNormal"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel)


# -- metadata ------------------------------------------------------------------------------


class ObjectMetadata(BaseModel):
    """Kubernetes object metadata: name and namespace matter; the rest passes through."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    namespace: str = "default"
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


# -- objective, algorithm, early stopping -------------------------------------------------


class MetricStrategySpec(_Section):
    name: NonEmptyStr
    value: MetricStrategy


class ObjectiveSection(_Section):
    type: Direction
    goal: Number | None = None
    objective_metric_name: NonEmptyStr
    additional_metric_names: list[NonEmptyStr] = []
    metric_strategies: list[MetricStrategySpec] = []


class SettingSpec(_Section):
    name: NonEmptyStr
    value: SettingValue = ""


class AlgorithmSection(_Section):
    algorithm_name: NonEmptyStr | None = None
    algorithm_settings: list[SettingSpec] = []


class EarlyStoppingSection(_Section):
    algorithm_name: NonEmptyStr | None = None
    algorithm_settings: list[SettingSpec] = []


# -- parameters ------------------------------------------------------------------------------


class FeasibleSpace(_Section):
    low: Number | None = Field(None, alias="min")
    high: Number | None = Field(None, alias="max")
    values: list[Scalar] | None = Field(None, alias="list")
    step: Number | None = None
    distribution: Distribution | None = None


class ParameterSection(_Section):
    name: NonEmptyStr
    parameter_type: ParameterType
    feasible_space: FeasibleSpace


# -- trial template --------------------------------------------------------------------------


class TrialParameterSpec(_Section):
    name: NonEmptyStr
    reference: NonEmptyStr
    description: str = ""


class ConfigMapSource(_Section):
    config_map_name: str | None = None
    config_map_namespace: str | None = None
    template_path: str | None = None


class TrialTemplateSection(_Section):
    retain: bool = False
    primary_container_name: NonEmptyStr | None = None
    trial_parameters: list[TrialParameterSpec] = []
    trial_spec: dict[str, Any] | None = None
    config_map: ConfigMapSource | None = None
    primary_pod_labels: dict[str, str] | None = None
    success_condition: str | None = None
    failure_condition: str | None = None


# -- metrics collector -----------------------------------------------------------------------


class CollectorSpec(_Section):
    kind: CollectorKind
    custom_collector: dict[str, Any] | None = None


class FilterSpec(_Section):
    metrics_format: list[str] = []


class FileSystemPathSpec(_Section):
    path: NonEmptyStr | None = None
    kind: FileSystemKind | None = None
    format: FileFormat | None = None


class HttpHeader(_Section):
    name: str
    value: str


class HttpGetSpec(_Section):
    """A Kubernetes ``HTTPGetAction``."""

    path: str | None = None
    port: Port | None = None
    host: str | None = None
    scheme: Literal["HTTP", "HTTPS"] | None = None
    http_headers: list[HttpHeader] | None = None


class SourceSpec(_Section):
    filter: FilterSpec | None = None
    file_system_path: FileSystemPathSpec | None = None
    http_get: HttpGetSpec | None = None


class MetricsCollectorSection(_Section):
    collector: CollectorSpec | None = None
    source: SourceSpec | None = None


# -- the document ------------------------------------------------------------------------------


class ExperimentSpec(_Section):
    parameters: list[ParameterSection]
    objective: ObjectiveSection
    algorithm: AlgorithmSection | None = None
    early_stopping: EarlyStoppingSection | None = None
    trial_template: TrialTemplateSection
    parallel_trial_count: int = Field(3, ge=1)
    max_trial_count: int | None = Field(None, ge=1)
    max_failed_trial_count: int | None = Field(None, ge=0)
    metrics_collector_spec: MetricsCollectorSection | None = None
    resume_policy: Literal["", "Never", "LongRunning", "FromVolume"] | None = None
    nas_config: dict[str, Any] | None = None


class ExperimentDocument(_Section):
    api_version: Literal["tuner.dev/v1beta1", "kubeflow.org/v1beta1"]
    kind: Literal["Experiment"]
    metadata: ObjectMetadata
    spec: ExperimentSpec
    status: dict[str, Any] | None = None
