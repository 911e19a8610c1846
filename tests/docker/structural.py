"""A checker of Kubernetes' rules for a CRD's *structural* ``openAPIV3Schema``.

The API server refuses a CustomResourceDefinition whose schema is not structural; there is
no API server here, so the rules (https://kubernetes.io/docs/tasks/extend-kubernetes/
custom-resources/custom-resource-definitions/#specifying-a-structural-schema) are checked
by hand. :func:`structural_errors` returns one message per broken rule, with the node's path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

# The fields of apiextensions.k8s.io/v1 JSONSchemaProps a CRD may use ($ref, $schema,
# definitions and id are refused by the API server in a CRD).
ALLOWED_KEYS = frozenset(
    {
        "description",
        "type",
        "format",
        "title",
        "default",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "multipleOf",
        "enum",
        "maxProperties",
        "minProperties",
        "required",
        "items",
        "allOf",
        "oneOf",
        "anyOf",
        "not",
        "properties",
        "additionalProperties",
        "nullable",
        "example",
        "externalDocs",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-list-type",
        "x-kubernetes-map-type",
        "x-kubernetes-validations",
    }
)

_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean"})
_JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
_NOT_IN_JUNCTORS = ("description", "type", "default", "additionalProperties", "nullable")
_INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]


def structural_errors(schema: Mapping[str, Any]) -> list[str]:
    """Every way ``schema`` (an ``openAPIV3Schema``) is not structural; empty if it is."""
    errors = list(_node_errors(schema, "openAPIV3Schema"))
    metadata = schema.get("properties", {}).get("metadata")
    if isinstance(metadata, Mapping):
        extra = set(metadata) - {"type", "description", "properties"}
        restricted = set(metadata.get("properties", {})) - {"name", "generateName"}
        if extra or restricted:
            errors.append(
                "openAPIV3Schema.properties.metadata: only name and generateName may be "
                f"restricted, found {sorted(extra | restricted)}"
            )
    return errors


def _node_errors(node: Any, path: str) -> Iterator[str]:
    """The errors of ``node`` and the nodes below it."""
    if not isinstance(node, Mapping):
        yield f"{path}: a schema must be a mapping, got {type(node).__name__}"
        return
    unknown = sorted(set(node) - ALLOWED_KEYS)
    if unknown:
        yield f"{path}: keys a CRD schema may not use: {unknown}"
    for flag in ("x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string"):
        if flag in node and node[flag] is not True:
            yield f"{path}: {flag} must be true when given"
    kind = node.get("type")
    if kind is not None and kind not in _TYPES:
        yield f"{path}: unknown type {kind!r}"
    exempt = node.get("x-kubernetes-int-or-string") or node.get(
        "x-kubernetes-preserve-unknown-fields"
    )
    if not kind and not exempt:
        yield f"{path}: no type (nor x-kubernetes-int-or-string / preserve-unknown-fields)"
    if "properties" in node and "additionalProperties" in node:
        yield f"{path}: properties and additionalProperties are mutually exclusive"
    if ("properties" in node or "additionalProperties" in node) and kind not in (None, "object"):
        yield f"{path}: properties on a node of type {kind!r}"
    if "items" in node and kind not in (None, "array"):
        yield f"{path}: items on a node of type {kind!r}"
    if kind == "array" and not isinstance(node.get("items"), Mapping):
        yield f"{path}: an array needs one items schema"
    for name, child in (node.get("properties") or {}).items():
        yield from _node_errors(child, f"{path}.properties.{name}")
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping):
        yield from _node_errors(extra, f"{path}.additionalProperties")
    if "items" in node:
        yield from _node_errors(node["items"], f"{path}.items")
    for junctor in _JUNCTORS:
        if junctor not in node:
            continue
        branches = [node[junctor]] if junctor == "not" else list(node[junctor])
        if (
            junctor == "anyOf"
            and node.get("x-kubernetes-int-or-string")
            and (branches == _INT_OR_STRING)
        ):
            continue  # the one pattern allowed to name types inside a junctor
        for index, branch in enumerate(branches):
            where = f"{path}.{junctor}" + ("" if junctor == "not" else f"[{index}]")
            yield from _junctor_errors(branch, where, node)


def _junctor_errors(branch: Any, path: str, outside: Mapping[str, Any]) -> Iterator[str]:
    """Inside allOf/anyOf/oneOf/not: value checks only, on fields also specified outside."""
    if not isinstance(branch, Mapping):
        yield f"{path}: a schema must be a mapping"
        return
    for key in _NOT_IN_JUNCTORS:
        if key in branch:
            yield f"{path}: {key} is not allowed inside a junctor"
    outside_properties = outside.get("properties") or {}
    for name, child in (branch.get("properties") or {}).items():
        where = f"{path}.properties.{name}"
        if name not in outside_properties:
            yield f"{where}: not specified outside the junctor"
        yield from _junctor_errors(child, where, outside_properties.get(name) or {})
    if "items" in branch:
        if "items" not in outside:
            yield f"{path}.items: not specified outside the junctor"
        yield from _junctor_errors(branch["items"], f"{path}.items", outside.get("items") or {})
