"""The trial template: its model objects and the ``${...}`` placeholders inside it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tuner.spec._errors import Loc

__all__ = [
    "METADATA_KEYS",
    "PLACEHOLDER",
    "PRIMARY_CONTAINER_ANNOTATION",
    "MetadataReference",
    "TrialParameter",
    "TrialTemplate",
    "containers_of",
    "iter_strings",
    "parse_metadata_reference",
    "substitute",
]

PLACEHOLDER = re.compile(r"\$\{(trialParameters|trialSpec)\.([^}]*)\}")
"""``${trialParameters.<name>}`` or ``${trialSpec.<key>}``: group 1 the kind, group 2 the rest."""

PRIMARY_CONTAINER_ANNOTATION = "tuner.dev/primary-container"
"""The annotation of a rendered Job that names its primary container."""

CONTAINERS_LOC = ("spec", "template", "spec", "containers")
"""Where a Job keeps its containers."""

METADATA_KEYS = ("Name", "Namespace", "Kind", "APIVersion", "Labels[<key>]", "Annotations[<key>]")

_METADATA = re.compile(r"(Name|Namespace|Kind|APIVersion)|(Labels|Annotations)\[(.+)\]")
_WHOLE_METADATA = re.compile(r"\$\{trialSpec\.([^}]*)\}")


@dataclass(frozen=True, slots=True)
class MetadataReference:
    """A reference to the trial's Job metadata: ``Name``, ``Labels[app]`` and so on."""

    key: str
    """``Name``, ``Namespace``, ``Kind``, ``APIVersion``, ``Labels`` or ``Annotations``."""
    index: str | None = None
    """The label or annotation key, for ``Labels`` and ``Annotations``."""

    def resolve(
        self, trial_spec: Mapping[str, Any], *, job_name: str, namespace: str
    ) -> str | None:
        """The value for one trial's Job; None when the label or annotation is absent."""
        if self.key == "Name":
            return job_name
        if self.key == "Namespace":
            return namespace
        if self.key == "Kind":
            return str(trial_spec.get("kind", ""))
        if self.key == "APIVersion":
            return str(trial_spec.get("apiVersion", ""))
        metadata = trial_spec.get("metadata")
        entries = metadata.get(self.key.lower()) if isinstance(metadata, Mapping) else None
        if not isinstance(entries, Mapping) or self.index not in entries:
            return None
        return str(entries[self.index])


def parse_metadata_reference(inner: str) -> MetadataReference | None:
    """``Labels[app]`` (the part after ``trialSpec.``) -> a reference; None if no such key."""
    match = _METADATA.fullmatch(inner)
    if match is None:
        return None
    simple, mapping, index = match.groups()
    return MetadataReference(simple) if simple else MetadataReference(mapping, index)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrialParameter:
    """A placeholder of the trial template (``${trialParameters.<name>}``) and its source.

    Examples:
        >>> TrialParameter(name="learningRate", reference="lr").metadata_reference is None
        True
        >>> TrialParameter(name="trial", reference="${trialSpec.Name}").metadata_reference
        MetadataReference(key='Name', index=None)
    """

    name: str
    reference: str
    """A search parameter's name, or a metadata reference such as ``${trialSpec.Name}``."""
    description: str = ""

    @property
    def metadata_reference(self) -> MetadataReference | None:
        """The Job metadata this parameter stands for, or None for a search parameter."""
        match = _WHOLE_METADATA.fullmatch(self.reference)
        return parse_metadata_reference(match.group(1)) if match else None


@dataclass(frozen=True, slots=True, kw_only=True)
class TrialTemplate:
    """How each trial runs: a ``batch/v1`` Job with placeholders, from ``spec.trialTemplate``."""

    trial_spec: Mapping[str, Any]
    """The Job, placeholders unresolved; render one trial's Job with ``render_trial_job``."""
    primary_container_name: str
    """The container that runs the training code (the only one, when the Job has one)."""
    trial_parameters: tuple[TrialParameter, ...] = ()
    retain: bool = False
    """Keep each trial's Job after it finishes."""
    success_condition: str = ""
    failure_condition: str = ""
    primary_pod_labels: Mapping[str, str] = field(default_factory=dict)


def containers_of(job: Mapping[str, Any]) -> list[Any] | None:
    """The Job's ``spec.template.spec.containers`` list, or None when it has none."""
    value: Any = job
    for key in CONTAINERS_LOC:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value if isinstance(value, list) else None


def iter_strings(value: Any, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Every string in a JSON-like value, mapping keys included, with its location."""
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                yield (*loc, key), key
            yield from iter_strings(item, (*loc, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from iter_strings(item, (*loc, index))


def substitute(value: Any, replace: Callable[[re.Match[str]], str]) -> Any:
    """A deep copy of a JSON-like value with every placeholder in every string replaced.

    One pass per string: a replacement that itself looks like a placeholder stays as is.
    """
    if isinstance(value, str):
        return PLACEHOLDER.sub(replace, value)
    if isinstance(value, Mapping):
        return {
            (PLACEHOLDER.sub(replace, key) if isinstance(key, str) else key): substitute(
                item, replace
            )
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [substitute(item, replace) for item in value]
    return value
