"""Semantic checks: the rules that relate fields, each mistake reported at its own path."""

from __future__ import annotations

import re
from collections.abc import Sequence

from tuner.space import ParameterType
from tuner.spec._errors import ErrorSink, Loc
from tuner.spec._metrics_collector import (
    CollectorKind,
    FileFormat,
    FileSystemKind,
    check_metrics_format,
    check_prometheus_metric_name,
)
from tuner.spec._model import (
    AlgorithmSection,
    Distribution,
    EarlyStoppingSection,
    MetricsCollectorSection,
    ObjectiveSection,
    ObjectMetadata,
    ParameterSection,
    SettingSpec,
    SourceSpec,
    parse_number,
)
from tuner.spec._sections import Sections
from tuner.spec._validate_template import check_trial_template

__all__ = ["CONVERTIBLE_COLLECTORS", "check"]

CONVERTIBLE_COLLECTORS = (
    CollectorKind.STDOUT,
    CollectorKind.FILE,
    CollectorKind.TENSORFLOW_EVENT,
    CollectorKind.PROMETHEUS_METRIC,
    CollectorKind.PUSH,
    CollectorKind.NONE,
)

_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_NAME_RULE = (
    "must be at most 63 characters: lower-case letters, digits and '-', starting with a "
    "letter and ending with a letter or digit (e.g. 'mnist-random'), since trial Jobs are "
    "named after it"
)
_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_NAMESPACE_RULE = (
    "must be a Kubernetes namespace: at most 63 characters, lower-case letters, digits "
    "and '-', starting and ending with a letter or digit"
)


def check(sections: Sections, errors: ErrorSink) -> None:
    """Record every semantic mistake of the well-formed ``sections``."""
    if sections.metadata is not None:
        _check_metadata(sections.metadata, errors)
    if sections.parameters is not None:
        _check_parameters(sections.parameters, errors)
    if sections.objective is not None:
        _check_objective(sections.objective, errors)
    if sections.algorithm is not None:
        _check_algorithm(sections.algorithm, errors)
    if sections.early_stopping is not None:
        _check_early_stopping(sections.early_stopping, errors)
    if sections.has_nas_config:
        errors.add(
            ("spec", "nasConfig"),
            "neural architecture search is not supported; describe the search space in "
            "spec.parameters",
        )
    if sections.trial_template is not None:
        complete = sections.complete_parameters
        check_trial_template(
            sections.trial_template,
            parameter_names=(
                None if complete is None else list(dict.fromkeys(p.name for p in complete))
            ),
            errors=errors,
        )
    if sections.metrics_collector is not None:
        _check_metrics_collector(sections.metrics_collector, sections.objective, errors)


def _check_metadata(metadata: ObjectMetadata, errors: ErrorSink) -> None:
    if len(metadata.name) > 63 or not _NAME.fullmatch(metadata.name):
        errors.add(("metadata", "name"), f"{metadata.name!r} {_NAME_RULE}")
    namespace = metadata.namespace
    if len(namespace) > 63 or not _NAMESPACE.fullmatch(namespace):
        errors.add(("metadata", "namespace"), f"{namespace!r} {_NAMESPACE_RULE}")


# -- parameters ------------------------------------------------------------------------------


def _check_parameters(parameters: Sequence[ParameterSection | None], errors: ErrorSink) -> None:
    if not parameters:
        errors.add(("spec", "parameters"), "needs at least one parameter")
    first_index: dict[str, int] = {}
    for index, parameter in enumerate(parameters):
        if parameter is None:
            continue
        loc: Loc = ("spec", "parameters", index)
        if parameter.name in first_index:
            errors.add(
                (*loc, "name"),
                f"parameter name {parameter.name!r} is already used by "
                f"spec.parameters[{first_index[parameter.name]}]",
            )
        else:
            first_index[parameter.name] = index
        _check_parameter(parameter, loc, errors)


def _check_parameter(parameter: ParameterSection, loc: Loc, errors: ErrorSink) -> None:
    space = parameter.feasible_space
    at: Loc = (*loc, "feasibleSpace")
    kind = parameter.parameter_type
    distribution = space.distribution
    if distribution in (Distribution.NORMAL, Distribution.LOG_NORMAL):
        errors.add(
            (*at, "distribution"),
            f"the {distribution.value} distribution is not supported; use uniform or logUniform",
        )
    elif distribution is Distribution.LOG_UNIFORM and kind not in (
        ParameterType.DOUBLE,
        ParameterType.INT,
    ):
        errors.add(
            (*at, "distribution"),
            f"logUniform applies to double and int parameters, not to {kind.value} ones",
        )
    if kind in (ParameterType.DOUBLE, ParameterType.INT):
        _check_range(parameter, at, errors)
    else:
        _check_list(parameter, at, errors)


def _check_range(parameter: ParameterSection, at: Loc, errors: ErrorSink) -> None:
    space = parameter.feasible_space
    kind = parameter.parameter_type.value
    if space.values is not None:
        errors.add(
            (*at, "list"),
            f"is not allowed for a {kind} parameter: give min and max (or use "
            "parameterType: discrete for a list of numbers)",
        )
    is_int = parameter.parameter_type is ParameterType.INT
    bounds_ok = True
    for key, value in (("min", space.low), ("max", space.high)):
        if value is None:
            errors.add((*at, key), f"is required for a {kind} parameter")
            bounds_ok = False
        elif is_int and not _is_integral(value):
            errors.add((*at, key), f"must be an integer for an int parameter, got {value}")
            bounds_ok = False
    if space.step is not None:
        if is_int and not _is_integral(space.step):
            errors.add((*at, "step"), f"must be an integer for an int parameter, got {space.step}")
        elif space.step <= 0 or (is_int and space.step < 1):
            errors.add((*at, "step"), f"must be > 0, got {space.step}")
    if not bounds_ok or space.low is None or space.high is None:
        return
    if space.low > space.high:
        errors.add((*at, "min"), f"is greater than max ({space.low} > {space.high})")
    if space.distribution is Distribution.LOG_UNIFORM and space.low <= 0:
        errors.add(
            (*at, "min"),
            f"must be > 0 on a log scale (distribution: logUniform), got {space.low}",
        )


def _check_list(parameter: ParameterSection, at: Loc, errors: ErrorSink) -> None:
    space = parameter.feasible_space
    kind = parameter.parameter_type.value
    for key, value in (("min", space.low), ("max", space.high), ("step", space.step)):
        if value is not None:
            errors.add((*at, key), f"is not allowed for a {kind} parameter: list the values")
    if not space.values:
        what = "numbers" if parameter.parameter_type is ParameterType.DISCRETE else "values"
        errors.add((*at, "list"), f"is required for a {kind} parameter: the {what} to choose from")
        return
    seen: dict[object, int] = {}
    for index, item in enumerate(space.values):
        choice: object
        if parameter.parameter_type is ParameterType.DISCRETE:
            try:
                choice = parse_number(item)
            except ValueError:
                errors.add((*at, "list", index), f"must be a number, got {item!r}")
                continue
        else:
            choice = _choice_text(item)
        if choice in seen:
            errors.add((*at, "list", index), f"repeats {item!r} (list[{seen[choice]}])")
        else:
            seen[choice] = index


def _is_integral(value: float) -> bool:
    return isinstance(value, int) or value.is_integer()


def _choice_text(item: str | int | float) -> str:
    """A categorical choice as text: strings as they are, numbers as YAML wrote them."""
    if isinstance(item, float):
        return repr(item)
    return str(item)


# -- objective and algorithm --------------------------------------------------------------------


def _check_objective(objective: ObjectiveSection, errors: ErrorSink) -> None:
    at: Loc = ("spec", "objective")
    names = [objective.objective_metric_name]
    for index, name in enumerate(objective.additional_metric_names):
        if name == objective.objective_metric_name:
            errors.add(
                (*at, "additionalMetricNames", index),
                f"{name!r} is the objective metric already; list only the other metrics",
            )
        elif name in names:
            errors.add((*at, "additionalMetricNames", index), f"repeats {name!r}")
        else:
            names.append(name)
    seen: set[str] = set()
    for index, strategy in enumerate(objective.metric_strategies):
        if strategy.name not in names:
            errors.add(
                (*at, "metricStrategies", index, "name"),
                f"{strategy.name!r} is neither the objective metric nor an additional metric "
                f"(metrics: {', '.join(names)})",
            )
        elif strategy.name in seen:
            errors.add((*at, "metricStrategies", index, "name"), f"repeats {strategy.name!r}")
        seen.add(strategy.name)


def _check_algorithm(algorithm: AlgorithmSection, errors: ErrorSink) -> None:
    _check_settings(algorithm.algorithm_settings, ("spec", "algorithm"), errors)


def _check_early_stopping(early_stopping: EarlyStoppingSection, errors: ErrorSink) -> None:
    at: Loc = ("spec", "earlyStopping")
    if early_stopping.algorithm_name is None:
        errors.add((*at, "algorithmName"), "is required: name the early-stopping algorithm")
    _check_settings(early_stopping.algorithm_settings, at, errors)


def _check_settings(settings: Sequence[SettingSpec], at: Loc, errors: ErrorSink) -> None:
    seen: set[str] = set()
    for index, setting in enumerate(settings):
        if setting.name in seen:
            errors.add(
                (*at, "algorithmSettings", index, "name"),
                f"repeats the setting {setting.name!r}",
            )
        seen.add(setting.name)


# -- metrics collector -----------------------------------------------------------------------


def _check_metrics_collector(
    section: MetricsCollectorSection, objective: ObjectiveSection | None, errors: ErrorSink
) -> None:
    at: Loc = ("spec", "metricsCollectorSpec")
    kind = section.collector.kind if section.collector is not None else CollectorKind.STDOUT
    if kind not in CONVERTIBLE_COLLECTORS:
        errors.add(
            (*at, "collector", "kind"),
            f"the {kind.value} metrics collector is not supported; use StdOut, File, "
            "TensorFlowEvent, PrometheusMetric, Push or None",
        )
    source = section.source
    if source is not None and source.filter is not None:
        for index, pattern in enumerate(source.filter.metrics_format):
            problem = check_metrics_format(pattern)
            if problem is not None:
                errors.add((*at, "source", "filter", "metricsFormat", index), problem)
    if source is None:
        return
    file_at: Loc = (*at, "source", "fileSystemPath")
    path = source.file_system_path
    if kind is CollectorKind.FILE and path is not None:
        if path.kind is FileSystemKind.DIRECTORY:
            errors.add((*file_at, "kind"), "must be File for the File metrics collector")
        if path.format is FileFormat.JSON and source.filter is not None:
            errors.add(
                (*at, "source", "filter"),
                "must be omitted when the metrics file is JSON (each line names its metrics)",
            )
    unused = {
        CollectorKind.TENSORFLOW_EVENT: ("filter", "httpGet"),
        CollectorKind.PROMETHEUS_METRIC: ("filter", "fileSystemPath"),
    }.get(kind, ())
    for field in unused:
        if getattr(source, _SOURCE_FIELDS[field]) is not None:
            errors.add((*at, "source", field), f"is not used by the {kind.value} collector")
    if kind is CollectorKind.TENSORFLOW_EVENT and path is not None:
        if path.kind is FileSystemKind.FILE:
            errors.add(
                (*file_at, "kind"), "must be Directory for the TensorFlowEvent metrics collector"
            )
        if path.format is not None:
            errors.add(
                (*file_at, "format"),
                "must be omitted for the TensorFlowEvent metrics collector (event files "
                "have one format)",
            )
    if kind is CollectorKind.PROMETHEUS_METRIC:
        _check_http_get(source, (*at, "source", "httpGet"), errors)
        if objective is not None:
            _check_prometheus_names(objective, errors)


_SOURCE_FIELDS = {"filter": "filter", "httpGet": "http_get", "fileSystemPath": "file_system_path"}


def _check_http_get(source: SourceSpec, at: Loc, errors: ErrorSink) -> None:
    http = source.http_get
    if http is None:
        return
    if http.port is not None and not isinstance(http.port, int):
        errors.add(
            (*at, "port"),
            f"must be a port number (named ports are not resolved), got {http.port!r}",
        )
    if http.path is not None and not http.path.startswith("/"):
        errors.add((*at, "path"), f"must start with '/', got {http.path!r}")
    if http.scheme == "HTTPS":
        errors.add((*at, "scheme"), "must be HTTP: the collector scrapes the trial over plain HTTP")
    if http.host:
        errors.add(
            (*at, "host"),
            "must be omitted: the collector scrapes the trial on 127.0.0.1, beside it",
        )
    if http.http_headers:
        errors.add((*at, "httpHeaders"), "are not supported by the PrometheusMetric collector")


def _check_prometheus_names(objective: ObjectiveSection, errors: ErrorSink) -> None:
    at: Loc = ("spec", "objective")
    named: list[tuple[Loc, str]] = [((*at, "objectiveMetricName"), objective.objective_metric_name)]
    named += [
        ((*at, "additionalMetricNames", index), name)
        for index, name in enumerate(objective.additional_metric_names)
    ]
    for loc, name in named:
        problem = check_prometheus_metric_name(name)
        if problem is not None:
            errors.add(loc, f"{problem}, as the PrometheusMetric collector reads it from a sample")
