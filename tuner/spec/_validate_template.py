"""Semantic checks of ``spec.trialTemplate``: the Job, its containers and placeholders."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tuner.spec._errors import ErrorSink, Loc
from tuner.spec._model import TrialTemplateSection
from tuner.spec._trial_template import (
    CONTAINERS_LOC,
    METADATA_KEYS,
    PLACEHOLDER,
    MetadataReference,
    TrialParameter,
    iter_strings,
    parse_metadata_reference,
)

__all__ = ["check_trial_template"]

_TEMPLATE: Loc = ("spec", "trialTemplate")
_TRIAL_SPEC: Loc = (*_TEMPLATE, "trialSpec")
_JOB_RESTART_POLICIES = ("Never", "OnFailure")
_METADATA_HELP = "use " + ", ".join(f"${{trialSpec.{key}}}" for key in METADATA_KEYS)


def check_trial_template(
    template: TrialTemplateSection,
    *,
    parameter_names: Sequence[str] | None,
    errors: ErrorSink,
) -> None:
    """Record the mistakes of ``spec.trialTemplate``.

    Args:
        template: The well-formed section.
        parameter_names: The search parameters' names, or None when some parameter is
            malformed (references to parameters are then not checked).
        errors: Where mistakes go.
    """
    if template.config_map is not None:
        errors.add(
            (*_TEMPLATE, "configMap"),
            "is not supported: put the Job in spec.trialTemplate.trialSpec",
        )
    job = template.trial_spec
    if job is None:
        if template.config_map is None:
            errors.add(_TRIAL_SPEC, "is required: the batch/v1 Job each trial runs")
        return
    _check_job(job, errors)
    _check_containers(job, template.primary_container_name, errors)
    _check_trial_parameters(template, job, parameter_names, errors)


def _check_job(job: Mapping[str, Any], errors: ErrorSink) -> None:
    api_version = job.get("apiVersion")
    if api_version != "batch/v1":
        errors.add(
            (*_TRIAL_SPEC, "apiVersion"),
            f"must be batch/v1 (each trial runs as a Kubernetes Job), got {api_version!r}",
        )
    kind = job.get("kind")
    if kind != "Job":
        errors.add((*_TRIAL_SPEC, "kind"), f"must be Job, got {kind!r}")
    metadata = job.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        errors.add((*_TRIAL_SPEC, "metadata"), "must be a mapping")
    elif metadata is not None:
        for key in ("name", "namespace"):
            if key in metadata:
                errors.add(
                    (*_TRIAL_SPEC, "metadata", key),
                    "must be omitted: each trial's Job gets its own name, in the "
                    "Experiment's namespace",
                )
    pod_spec = _pod_spec(job)
    if pod_spec is not None:
        policy = pod_spec.get("restartPolicy")
        if policy not in _JOB_RESTART_POLICIES:
            got = "is required" if policy is None else f"is {policy!r}"
            errors.add(
                (*_TRIAL_SPEC, *CONTAINERS_LOC[:-1], "restartPolicy"),
                f"{got}: it must be Never or OnFailure, since Kubernetes refuses a Job whose "
                "pods restart Always (the default)",
            )


def _pod_spec(job: Mapping[str, Any]) -> Mapping[str, Any] | None:
    value: Any = job
    for key in CONTAINERS_LOC[:-1]:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value if isinstance(value, Mapping) else None


def _check_containers(job: Mapping[str, Any], primary_name: str | None, errors: ErrorSink) -> None:
    value: Any = job
    loc: Loc = _TRIAL_SPEC
    for key in CONTAINERS_LOC:
        if not isinstance(value, Mapping):
            errors.add(loc, "must be a mapping")
            return
        loc = (*loc, key)
        value = value.get(key)
        if value is None:
            errors.add(loc, "is required: a Job needs spec.template.spec.containers")
            return
    if not isinstance(value, list) or not value:
        errors.add(loc, "must be a non-empty list of containers")
        return
    names: list[str] = []
    for index, container in enumerate(value):
        at: Loc = (*loc, index)
        if not isinstance(container, Mapping):
            errors.add(at, "must be a mapping (a container)")
            continue
        name = container.get("name")
        if not isinstance(name, str) or not name:
            errors.add((*at, "name"), "is required: a non-empty string")
        elif name in names:
            errors.add((*at, "name"), f"repeats the container name {name!r}")
        else:
            names.append(name)
        _check_container(container, at, errors)
    at_primary: Loc = (*_TEMPLATE, "primaryContainerName")
    if primary_name is not None:
        if primary_name not in names and len(names) == len(value):
            errors.add(
                at_primary,
                f"{primary_name!r} is not a container of the trialSpec "
                f"(containers: {', '.join(names)})",
            )
    elif len(value) > 1:
        errors.add(
            at_primary,
            f"is required when the Job has several containers ({', '.join(names)}): "
            "name the one that runs the training code",
        )


def _check_container(container: Mapping[str, Any], at: Loc, errors: ErrorSink) -> None:
    for key in ("command", "args"):
        value = container.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            errors.add((*at, key), f"must be a list of strings, got {_kind(value)}")
            continue
        for index, item in enumerate(value):
            if not isinstance(item, str):
                errors.add(
                    (*at, key, index),
                    f'must be a string, got {_kind(item)}; quote it ("{item}")',
                )
    env = container.get("env")
    if env is None:
        return
    if not isinstance(env, list):
        errors.add((*at, "env"), f"must be a list of {{name, value}}, got {_kind(env)}")
        return
    for index, variable in enumerate(env):
        if not isinstance(variable, Mapping) or not isinstance(variable.get("name"), str):
            errors.add((*at, "env", index), "must be a mapping with a string name")
        elif "value" in variable and not isinstance(variable["value"], str):
            item = variable["value"]
            errors.add(
                (*at, "env", index, "value"),
                f'must be a string, got {_kind(item)}; quote it ("{item}")',
            )


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


# -- placeholders ------------------------------------------------------------------------------


def _check_trial_parameters(
    template: TrialTemplateSection,
    job: Mapping[str, Any],
    parameter_names: Sequence[str] | None,
    errors: ErrorSink,
) -> None:
    at: Loc = (*_TEMPLATE, "trialParameters")
    defined: dict[str, int] = {}
    for index, spec in enumerate(template.trial_parameters):
        parameter = TrialParameter(
            name=spec.name, reference=spec.reference, description=spec.description
        )
        if "{" in spec.name or "}" in spec.name:
            errors.add((*at, index, "name"), "must not contain '{' or '}'")
        elif spec.name in defined:
            errors.add(
                (*at, index, "name"),
                f"repeats {spec.name!r} (trialParameters[{defined[spec.name]}])",
            )
        else:
            defined[spec.name] = index
        problem = _reference_problem(parameter, job, parameter_names)
        if problem is not None:
            errors.add((*at, index, "reference"), problem)
    used: set[str] = set()
    for loc, text in iter_strings(job, _TRIAL_SPEC):
        for match in PLACEHOLDER.finditer(text):
            kind, inner = match.groups()
            if kind == "trialParameters":
                used.add(inner)
                if inner not in defined:
                    errors.add(
                        loc,
                        f"{match.group(0)} names no trialParameter: add {{name: {inner}, "
                        "reference: <parameter>} to spec.trialTemplate.trialParameters",
                    )
            else:
                reference = parse_metadata_reference(inner)
                problem = _metadata_problem(match.group(0), reference, job)
                if problem is not None:
                    errors.add(loc, problem)
    for name, index in defined.items():
        if name not in used:
            errors.add(
                (*at, index, "name"),
                f"{name!r} is not used: spec.trialTemplate.trialSpec has no "
                f"${{trialParameters.{name}}}",
            )


def _reference_problem(
    parameter: TrialParameter, job: Mapping[str, Any], parameter_names: Sequence[str] | None
) -> str | None:
    reference = parameter.reference
    if reference.startswith("${"):
        if not reference.startswith("${trialSpec.") or not reference.endswith("}"):
            return f"{reference!r} is not a metadata reference; {_METADATA_HELP}"
        return _metadata_problem(reference, parameter.metadata_reference, job)
    if parameter_names is not None and reference not in parameter_names:
        return (
            f"{reference!r} is not a parameter name (parameters: {', '.join(parameter_names)}) "
            f"nor a metadata reference ({_METADATA_HELP})"
        )
    return None


def _metadata_problem(
    text: str, reference: MetadataReference | None, job: Mapping[str, Any]
) -> str | None:
    if reference is None:
        return f"{text} is not a metadata reference; {_METADATA_HELP}"
    if reference.key in ("Labels", "Annotations"):
        value = reference.resolve(job, job_name="", namespace="")
        if value is None:
            where = f"spec.trialTemplate.trialSpec.metadata.{reference.key.lower()}"
            return f"{text}: {reference.index!r} is not in {where}"
    return None
