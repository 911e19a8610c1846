"""Structural validation: the pydantic pass, its errors in our words, and usable sections.

Semantic checks need the parts of a document that are well formed even when other parts
are not, so that one document's mistakes are all reported together. :func:`parse` returns
the pydantic errors of the whole document plus every section that validates on its own.
"""

from __future__ import annotations

import copy
import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from tuner.spec._errors import ErrorSink, Loc
from tuner.spec._model import (
    AlgorithmSection,
    EarlyStoppingSection,
    ExperimentDocument,
    MetricsCollectorSection,
    ObjectiveSection,
    ObjectMetadata,
    ParameterSection,
    TrialTemplateSection,
)

__all__ = ["Sections", "parse"]

_ModelT = TypeVar("_ModelT", bound=BaseModel)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sections:
    """The parts of a document that are well formed; None where a part is not (or absent)."""

    document: ExperimentDocument | None = None
    """The whole document, when all of it is well formed."""
    metadata: ObjectMetadata | None = None
    parameters: tuple[ParameterSection | None, ...] | None = None
    """One entry per list item (None for a malformed one); None if the list is unusable."""
    objective: ObjectiveSection | None = None
    algorithm: AlgorithmSection | None = None
    """An empty section (Katib's defaults) when the document has none."""
    early_stopping: EarlyStoppingSection | None = None
    """None when the document has none (or it is malformed)."""
    has_nas_config: bool = False
    trial_template: TrialTemplateSection | None = None
    metrics_collector: MetricsCollectorSection | None = None
    """An empty section (Katib's defaults) when the document has none."""

    @property
    def complete_parameters(self) -> tuple[ParameterSection, ...] | None:
        """All parameters, when every one of them is well formed."""
        if self.parameters is None or any(p is None for p in self.parameters):
            return None
        return tuple(p for p in self.parameters if p is not None)


def parse(raw: Any, errors: ErrorSink) -> Sections:
    """Validate the shape of ``raw``; record its errors; return the usable sections."""
    try:
        document = ExperimentDocument.model_validate(raw)
    except ValidationError as exc:
        for details in exc.errors(include_url=False):
            errors.add(*_translate(details))
        return _salvage(raw)
    spec = document.spec
    return Sections(
        document=document,
        metadata=document.metadata,
        parameters=tuple(spec.parameters),
        objective=spec.objective,
        algorithm=spec.algorithm or AlgorithmSection(),
        early_stopping=spec.early_stopping,
        has_nas_config=spec.nas_config is not None,
        trial_template=spec.trial_template,
        metrics_collector=spec.metrics_collector_spec or MetricsCollectorSection(),
    )


def _salvage(raw: Any) -> Sections:
    document = raw if isinstance(raw, Mapping) else {}
    spec = document.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    items = spec.get("parameters")
    return Sections(
        metadata=_try(ObjectMetadata, document.get("metadata")),
        parameters=(
            tuple(_try(ParameterSection, item) for item in items)
            if isinstance(items, list)
            else None
        ),
        objective=_try(ObjectiveSection, spec.get("objective")),
        algorithm=_try(AlgorithmSection, _or_empty(spec.get("algorithm"))),
        early_stopping=_try(EarlyStoppingSection, spec.get("earlyStopping")),
        has_nas_config=spec.get("nasConfig") is not None,
        trial_template=_try(TrialTemplateSection, spec.get("trialTemplate")),
        metrics_collector=_try(
            MetricsCollectorSection, _or_empty(spec.get("metricsCollectorSpec"))
        ),
    )


def _or_empty(value: Any) -> Any:
    """An optional section: absent means Katib's defaults, an empty mapping."""
    return {} if value is None else value


def _try(model: type[_ModelT], value: Any) -> _ModelT | None:
    """``value`` validated alone; unknown fields are dropped first (they change nothing)."""
    if value is None:
        return None
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        details = exc.errors(include_url=False)
        if not isinstance(value, Mapping) or any(d["type"] != "extra_forbidden" for d in details):
            return None
        pruned = copy.deepcopy(dict(value))
        for detail in details:
            _delete(pruned, tuple(detail["loc"]))
    try:
        return model.model_validate(pruned)
    except ValidationError:
        return None


def _delete(value: Any, loc: Loc) -> None:
    for part in loc[:-1]:
        value = value[part]
    del value[loc[-1]]


# -- pydantic's errors, in our words -------------------------------------------------------------


def _translate(details: ErrorDetails) -> tuple[Loc, str]:
    loc: Loc = tuple(details["loc"])
    kind = details["type"]
    context = details.get("ctx", {})
    got = _describe_input(details.get("input"))
    if kind == "missing":
        return loc, "is required"
    if kind == "extra_forbidden":
        return loc, _unknown_field(loc)
    if kind in ("string_type", "str_type"):
        return loc, f"must be a string, got {got}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return loc, f"must be an integer, got {got}"
    if kind in ("bool_type", "bool_parsing"):
        return loc, f"must be true or false, got {got}"
    if kind in ("list_type", "tuple_type"):
        return loc, f"must be a list, got {got}"
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return loc, f"must be a mapping, got {got}"
    if kind in ("enum", "literal_error"):
        return loc, f"must be {context.get('expected', 'one of the allowed values')}, got {got}"
    if kind == "greater_than_equal":
        return loc, f"must be >= {context.get('ge')}, got {got}"
    if kind == "string_too_short" and context.get("min_length") == 1:
        return loc, "must not be empty"
    return loc, details["msg"]


def _describe_input(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _unknown_field(loc: Loc) -> str:
    name = str(loc[-1])
    model = _model_at(ExperimentDocument, loc[:-1])
    if model is None:
        return f"unknown field {name!r}"
    allowed = [field.alias or key for key, field in model.model_fields.items()]
    close = difflib.get_close_matches(name, allowed, n=1)
    if not close:
        close = [a for a in allowed if a.lower() == name.lower()]
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown field {name!r}; {hint}allowed here: {', '.join(allowed)}"


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that validates the value at ``loc`` below ``root``."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            if typing.get_origin(current) is not list:
                return None
            current = typing.get_args(current)[0]
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        fields = {field.alias or key: field for key, field in current.model_fields.items()}
        if part not in fields:
            return None
        current = fields[part].annotation
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """``X | None`` and ``Annotated[X, ...]`` -> ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation
