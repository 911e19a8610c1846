"""One trial's Job: the trial template with its placeholders resolved."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tuner.errors import InvalidArgumentError
from tuner.space import DiscreteParameter, IntParameter, Parameter, ParameterValue
from tuner.spec._trial_template import (
    PRIMARY_CONTAINER_ANNOTATION,
    containers_of,
    parse_metadata_reference,
    substitute,
)

if TYPE_CHECKING:
    from tuner.spec._experiment import Experiment
    from tuner.trial import Trial

__all__ = ["format_value", "primary_container", "render_trial_job"]


def render_trial_job(experiment: Experiment, trial: Trial, *, job_name: str) -> dict[str, Any]:
    """The ``batch/v1`` Job that runs ``trial``, ready to launch.

    Every ``${trialParameters.<name>}`` in every string of the trial template (command,
    args, env values, ..., mapping keys too) becomes the trial's value of the parameter
    it references, and every metadata reference (``${trialSpec.Name}``,
    ``${trialSpec.Namespace}``, ``${trialSpec.Kind}``, ``${trialSpec.APIVersion}``,
    ``${trialSpec.Labels[<key>]}``, ``${trialSpec.Annotations[<key>]}``), whether a
    trialParameter's reference or written in the template itself, becomes its value.
    Ints print without ``.0``, floats as the shortest text that reads back the same,
    strings as they are. ``metadata.name`` is ``job_name``, ``metadata.namespace`` the
    experiment's, and the ``tuner.dev/primary-container`` annotation names the primary
    container for :func:`primary_container`.

    Args:
        experiment: The experiment the trial belongs to.
        trial: The trial; its parameters must lie in the experiment's space.
        job_name: The Job's name; ``${trialSpec.Name}`` resolves to it.

    Returns:
        A new JSON-like dict; the experiment is not changed.

    Raises:
        InvalidArgumentError: The trial's parameters do not fit the search space
            (``field`` names the parameter).
    """
    space = experiment.space
    space.check(trial.parameters)
    template = experiment.trial_template
    job_spec = template.trial_spec
    namespace = experiment.namespace
    values: dict[str, str] = {}
    for parameter in template.trial_parameters:
        reference = parameter.metadata_reference
        if reference is None:
            value = trial.parameters[parameter.reference]
            values[parameter.name] = format_value(value, space[parameter.reference])
        else:
            values[parameter.name] = (
                reference.resolve(job_spec, job_name=job_name, namespace=namespace) or ""
            )

    def replace(match: re.Match[str]) -> str:
        kind, inner = match.groups()
        if kind == "trialParameters":
            return values.get(inner, match.group(0))
        reference = parse_metadata_reference(inner)
        if reference is None:
            return match.group(0)
        resolved = reference.resolve(job_spec, job_name=job_name, namespace=namespace)
        return match.group(0) if resolved is None else resolved

    job: dict[str, Any] = substitute(job_spec, replace)
    metadata = job.get("metadata")
    metadata = dict(metadata) if isinstance(metadata, Mapping) else {}
    metadata["name"] = job_name
    metadata["namespace"] = namespace
    annotations = metadata.get("annotations")
    annotations = dict(annotations) if isinstance(annotations, Mapping) else {}
    annotations[PRIMARY_CONTAINER_ANNOTATION] = template.primary_container_name
    metadata["annotations"] = annotations
    job["metadata"] = metadata
    return job


def format_value(value: ParameterValue, parameter: Parameter | None = None) -> str:
    """A parameter value as text for the command line.

    Examples:
        >>> format_value(3), format_value(0.1), format_value(1e-05), format_value("adam")
        ('3', '0.1', '1e-05', 'adam')
        >>> format_value(64.0, DiscreteParameter(name="batch", values=(32, 64)))
        '64'
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):  # not a parameter value, but never print True as 1
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    is_integer_valued = math.isfinite(value) and value.is_integer()
    if is_integer_valued and (
        isinstance(parameter, IntParameter)
        or (
            isinstance(parameter, DiscreteParameter)
            and all(isinstance(v, int) for v in parameter.values)
        )
    ):
        return str(int(value))
    return repr(float(value))


def primary_container(job: Mapping[str, Any], *, name: str | None = None) -> Mapping[str, Any]:
    """The container of ``job`` that runs the training code.

    Args:
        job: A Job, as :func:`render_trial_job` returns it.
        name: The container's name; by default the one the ``tuner.dev/primary-container``
            annotation names, or the only container.

    Raises:
        InvalidArgumentError: The Job has no such container (``field`` is
            ``spec.template.spec.containers``).

    Examples:
        >>> job = {"spec": {"template": {"spec": {"containers": [{"name": "train"}]}}}}
        >>> primary_container(job)["name"]
        'train'
    """
    field = "spec.template.spec.containers"
    containers = [c for c in containers_of(job) or [] if isinstance(c, Mapping)]
    if name is None:
        metadata = job.get("metadata")
        annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
        if isinstance(annotations, Mapping):
            name = annotations.get(PRIMARY_CONTAINER_ANNOTATION)
    if name is None:
        if len(containers) == 1:
            return containers[0]
        raise InvalidArgumentError(
            f"the Job has {len(containers)} containers and none is named primary", field=field
        )
    for container in containers:
        if container.get("name") == name:
            return container
    raise InvalidArgumentError(f"the Job has no container named {name!r}", field=field)
