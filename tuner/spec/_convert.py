"""Conversion of well-formed, checked sections into tuner's model objects.

The model's constructors check themselves and raise ``InvalidArgumentError`` naming a
model field (a parameter name, ``metric_name``, ...); those errors are translated here
into document paths. So are the errors of ``tuner.algorithms.check_algorithm``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from tuner.config import DEFAULT_ALGORITHM, AlgorithmSpec, Budget, Objective
from tuner.errors import InvalidArgumentError
from tuner.space import (
    CategoricalParameter,
    DiscreteParameter,
    DoubleParameter,
    IntParameter,
    Parameter,
    ParameterType,
    Scale,
    SearchSpace,
)
from tuner.spec._errors import ErrorSink, Loc
from tuner.spec._metrics_collector import (
    CollectorKind,
    FileFormat,
    MetricsCollector,
)
from tuner.spec._model import (
    AlgorithmSection,
    Distribution,
    EarlyStoppingSection,
    ExperimentSpec,
    MetricsCollectorSection,
    ObjectiveSection,
    ParameterSection,
    TrialTemplateSection,
    parse_number,
)
from tuner.spec._trial_template import TrialParameter, TrialTemplate, containers_of

__all__ = [
    "DEFAULT_ALGORITHM",
    "algorithm_error_loc",
    "convert_algorithm",
    "convert_budget",
    "convert_early_stopping",
    "convert_metrics_collector",
    "convert_objective",
    "convert_space",
    "convert_trial_template",
    "early_stopping_error_loc",
]

"""The algorithm of an Experiment that names none."""

DEFAULT_FILE_PATH = "/var/log/katib/metrics.log"
"""Katib's default metrics file of the File collector."""
DEFAULT_EVENT_DIRECTORY = "/var/log/katib/tfevent/"
"""Katib's default event file directory of the TensorFlowEvent collector."""
DEFAULT_PROMETHEUS_PORT = 8080
"""Katib's default port of the PrometheusMetric collector."""
DEFAULT_PROMETHEUS_PATH = "/metrics"
"""Katib's default URL path of the PrometheusMetric collector."""

_T = TypeVar("_T")

_PARAMETERS: Loc = ("spec", "parameters")
_OBJECTIVE: Loc = ("spec", "objective")
_ALGORITHM: Loc = ("spec", "algorithm")
_EARLY_STOPPING: Loc = ("spec", "earlyStopping")

_PARAMETER_FIELDS: dict[str, Loc] = {
    "name": ("name",),
    "type": ("parameterType",),
    "low": ("feasibleSpace", "min"),
    "high": ("feasibleSpace", "max"),
    "step": ("feasibleSpace", "step"),
    "scale": ("feasibleSpace", "distribution"),
    "values": ("feasibleSpace", "list"),
    "choices": ("feasibleSpace", "list"),
}
_OBJECTIVE_FIELDS: dict[str, str] = {
    "metric_name": "objectiveMetricName",
    "direction": "type",
    "goal": "goal",
    "additional_metric_names": "additionalMetricNames",
    "metric_strategies": "metricStrategies",
}
_BUDGET_FIELDS: dict[str, str] = {
    "max_trial_count": "maxTrialCount",
    "max_failed_trial_count": "maxFailedTrialCount",
    "parallel_trial_count": "parallelTrialCount",
}


def _build(
    make: Callable[[], _T], errors: ErrorSink, locate: Callable[[InvalidArgumentError], Loc]
) -> _T | None:
    try:
        return make()
    except InvalidArgumentError as exc:
        errors.add(locate(exc), exc.message)
        return None


# -- search space ------------------------------------------------------------------------------


def convert_space(parameters: Sequence[ParameterSection], errors: ErrorSink) -> SearchSpace | None:
    """The search space, in document order; None (errors recorded) if it cannot be built."""
    converted: list[Parameter] = []
    for index, section in enumerate(parameters):
        try:
            converted.append(_parameter(section))
        except InvalidArgumentError as exc:
            attribute = "name" if exc.field == "name" and not section.name else "feasibleSpace"
            errors.add((*_PARAMETERS, index, attribute), exc.message)
    if len(converted) != len(parameters):
        return None

    def locate_space(exc: InvalidArgumentError) -> Loc:
        names = [p.name for p in parameters]
        if exc.field in names:
            return (*_PARAMETERS, len(names) - 1 - names[::-1].index(exc.field), "name")
        return _PARAMETERS

    return _build(lambda: SearchSpace(tuple(converted)), errors, locate_space)


def _parameter(section: ParameterSection) -> Parameter:
    space = section.feasible_space
    name = section.name
    scale = Scale.LOG if space.distribution is Distribution.LOG_UNIFORM else Scale.LINEAR
    kind = section.parameter_type
    if kind in (ParameterType.DOUBLE, ParameterType.INT):
        low, high = space.low, space.high
        if low is None or high is None:
            raise InvalidArgumentError(f"a {kind.value} parameter needs min and max", field=name)
        if kind is ParameterType.DOUBLE:
            return DoubleParameter(
                name=name,
                low=float(low),
                high=float(high),
                scale=scale,
                step=None if space.step is None else float(space.step),
            )
        return IntParameter(
            name=name,
            low=_as_int(low, name),
            high=_as_int(high, name),
            scale=scale,
            step=1 if space.step is None else _as_int(space.step, name),
        )
    values = space.values or []
    if kind is ParameterType.DISCRETE:
        return DiscreteParameter(name=name, values=tuple(parse_number(v) for v in values))
    return CategoricalParameter(
        name=name, choices=tuple(repr(v) if isinstance(v, float) else str(v) for v in values)
    )


def _as_int(value: float, name: str) -> int:
    if isinstance(value, float) and not value.is_integer():
        raise InvalidArgumentError(f"int bounds and step must be integers, got {value}", field=name)
    return int(value)


# -- objective, algorithm, budget ----------------------------------------------------------------


def convert_objective(section: ObjectiveSection, errors: ErrorSink) -> Objective | None:
    """The objective; None (errors recorded) if it cannot be built."""

    def locate(exc: InvalidArgumentError) -> Loc:
        key = _OBJECTIVE_FIELDS.get(exc.field)
        return (*_OBJECTIVE, key) if key else _OBJECTIVE

    return _build(
        lambda: Objective(
            metric_name=section.objective_metric_name,
            direction=section.type,
            goal=None if section.goal is None else float(section.goal),
            additional_metric_names=tuple(section.additional_metric_names),
            metric_strategies={s.name: s.value for s in section.metric_strategies},
        ),
        errors,
        locate,
    )


def convert_algorithm(section: AlgorithmSection, errors: ErrorSink) -> AlgorithmSpec | None:
    """The algorithm (``random`` when the document names none)."""
    return _build(
        lambda: AlgorithmSpec(
            name=section.algorithm_name or DEFAULT_ALGORITHM,
            settings={s.name: s.value for s in section.algorithm_settings},
        ),
        errors,
        lambda exc: (*_ALGORITHM, "algorithmName") if exc.field == "name" else _ALGORITHM,
    )


def convert_early_stopping(
    section: EarlyStoppingSection, errors: ErrorSink
) -> AlgorithmSpec | None:
    """The early-stopping rule of a checked section (which names one)."""
    return _build(
        lambda: AlgorithmSpec(
            name=section.algorithm_name or "",
            settings={s.name: s.value for s in section.algorithm_settings},
        ),
        errors,
        lambda exc: (*_EARLY_STOPPING, "algorithmName") if exc.field == "name" else _EARLY_STOPPING,
    )


def convert_budget(spec: ExperimentSpec, errors: ErrorSink) -> Budget | None:
    """The trial counts."""

    def locate(exc: InvalidArgumentError) -> Loc:
        key = _BUDGET_FIELDS.get(exc.field)
        return ("spec", key) if key else ("spec",)

    return _build(
        lambda: Budget(
            max_trial_count=spec.max_trial_count,
            max_failed_trial_count=spec.max_failed_trial_count,
            parallel_trial_count=spec.parallel_trial_count,
        ),
        errors,
        locate,
    )


def algorithm_error_loc(field: str, message: str, algorithm: AlgorithmSection) -> Loc:
    """Where in the document an error of ``check_algorithm`` belongs.

    Args:
        field: The error's field: ``algorithm.name``, ``algorithm.settings.<name>``,
            ``space.parameters[<i>].<attribute>`` or ``objective.<attribute>``.
        message: The error's message (it tells an unknown setting from a bad value).
        algorithm: The document's algorithm section, to find a setting's index.
    """
    if field in ("algorithm", "algorithm.name"):
        return (*_ALGORITHM, "algorithmName")
    if match := re.fullmatch(r"algorithm\.settings(?:\.(.+))?", field):
        return _setting_loc(_ALGORITHM, match.group(1), message, algorithm)
    if match := re.fullmatch(r"space\.parameters\[(\d+)\](?:\.(\w+))?", field):
        index = int(match.group(1))
        attribute = match.group(2)
        suffix = _PARAMETER_FIELDS.get(attribute, ()) if attribute else ()
        return (*_PARAMETERS, index, *suffix)
    if field in ("space", "space.parameters"):
        return _PARAMETERS
    if match := re.fullmatch(r"objective(?:\.(\w+))?", field):
        key = _OBJECTIVE_FIELDS.get(match.group(1) or "")
        return (*_OBJECTIVE, key) if key else _OBJECTIVE
    return _ALGORITHM


def early_stopping_error_loc(field: str, message: str, section: EarlyStoppingSection) -> Loc:
    """Where in the document an error of ``check_early_stopping`` belongs.

    Args:
        field: The error's field: ``early_stopping.name`` or
            ``early_stopping.settings.<name>``.
        message: The error's message (it tells an unknown setting from a bad value).
        section: The document's early-stopping section, to find a setting's index.
    """
    if match := re.fullmatch(r"early_stopping\.settings(?:\.(.+))?", field):
        return _setting_loc(_EARLY_STOPPING, match.group(1), message, section)
    if field in ("early_stopping", "early_stopping.name"):
        return (*_EARLY_STOPPING, "algorithmName")
    return _EARLY_STOPPING


def _setting_loc(
    at: Loc, name: str | None, message: str, section: AlgorithmSection | EarlyStoppingSection
) -> Loc:
    """``at.algorithmSettings[j].value`` (or ``.name`` for an unknown setting)."""
    names = [s.name for s in section.algorithm_settings]
    if name not in names:
        return (*at, "algorithmSettings")
    is_unknown = re.search(r"\bunknown\b|\bunrecognised\b|\bunrecognized\b", message, re.I)
    return (*at, "algorithmSettings", names.index(name), "name" if is_unknown else "value")


# -- trial template and metrics collector --------------------------------------------------------


def convert_trial_template(section: TrialTemplateSection) -> TrialTemplate:
    """The trial template; ``section`` must have passed the checks."""
    job = copy.deepcopy(section.trial_spec or {})
    primary = section.primary_container_name
    if primary is None:
        containers = containers_of(job) or [{}]
        primary = str(containers[0].get("name", ""))
    return TrialTemplate(
        trial_spec=job,
        primary_container_name=primary,
        trial_parameters=tuple(
            TrialParameter(name=p.name, reference=p.reference, description=p.description)
            for p in section.trial_parameters
        ),
        retain=section.retain,
        success_condition=section.success_condition or "",
        failure_condition=section.failure_condition or "",
        primary_pod_labels=dict(section.primary_pod_labels or {}),
    )


def convert_metrics_collector(section: MetricsCollectorSection) -> MetricsCollector:
    """The metrics collector, with Katib's defaults for its file, directory or endpoint.

    ``section`` must have passed the checks. An empty ``metricsFormat`` stays empty: it
    means the collector's own default format.
    """
    kind = section.collector.kind if section.collector is not None else CollectorKind.STDOUT
    source = section.source
    formats = tuple(source.filter.metrics_format) if source and source.filter else ()
    if kind is CollectorKind.FILE:
        path = source.file_system_path if source else None
        file_format = (path.format if path else None) or FileFormat.TEXT
        return MetricsCollector(
            kind=kind,
            metrics_format=formats,
            file_path=(path.path if path else None) or DEFAULT_FILE_PATH,
            file_format=file_format,
        )
    if kind is CollectorKind.TENSORFLOW_EVENT:
        path = source.file_system_path if source else None
        return MetricsCollector(
            kind=kind, directory=(path.path if path else None) or DEFAULT_EVENT_DIRECTORY
        )
    if kind is CollectorKind.PROMETHEUS_METRIC:
        http = source.http_get if source else None
        port = http.port if http and isinstance(http.port, int) else None
        return MetricsCollector(
            kind=kind,
            http_port=DEFAULT_PROMETHEUS_PORT if port is None else port,
            http_path=(http.path if http else None) or DEFAULT_PROMETHEUS_PATH,
        )
    return MetricsCollector(kind=kind, metrics_format=formats)
