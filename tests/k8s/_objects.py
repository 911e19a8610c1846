"""What the emulator needs about objects: Status errors, merge patches, selectors, validation.

Separate from the emulator's request handling so that each reads on its own; see
:mod:`tests.k8s.emulator` for what the emulator does with them.
"""

from __future__ import annotations

import base64
import copy
import datetime
import re
from collections.abc import Callable
from typing import Any

__all__ = [
    "ApiError",
    "Obj",
    "Predicate",
    "default_job",
    "fold_string_data",
    "merge_patch",
    "now",
    "parse_field_selector",
    "parse_label_selector",
    "validate_metadata",
]

Obj = dict[str, Any]

# -- errors ----------------------------------------------------------------------------------

_REASON_OF = {
    400: "BadRequest",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
}


class ApiError(Exception):
    """A Kubernetes ``Status`` failure the emulator answers with."""

    def __init__(
        self, code: int, message: str, *, reason: str | None = None, details: Obj | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _REASON_OF.get(code, "InternalError")
        self.details = details or {}

    def status(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


# -- patches and selectors ------------------------------------------------------------------


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _split_terms(selector: str) -> list[str]:
    return [t for t in re.split(r",(?![^()]*\))", selector) if t.strip()]


_LABEL_TERM = re.compile(
    r"^\s*(?P<not>!)?\s*(?P<key>[A-Za-z0-9][-A-Za-z0-9_./]*)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[-A-Za-z0-9_.]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?\s*$"
)
_FIELD_TERM = re.compile(r"^\s*(?P<path>[A-Za-z0-9_.]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^,]*?)\s*$")

Predicate = Callable[[Obj], bool]


def parse_label_selector(selector: str) -> Predicate:
    """A predicate on an object's ``metadata.labels``; ApiError 400 on bad syntax."""
    checks: list[Callable[[dict[str, str]], bool]] = []
    for term in _split_terms(selector):
        match = _LABEL_TERM.match(term)
        if match is None or (match["not"] and (match["op"] or match["setop"])):
            raise ApiError(400, f"unable to parse requirement: invalid label selector {term!r}")
        key = match["key"]
        if match["not"]:
            checks.append(lambda labels, k=key: k not in labels)
        elif match["op"] in ("=", "=="):
            checks.append(lambda labels, k=key, v=match["value"]: labels.get(k) == v)
        elif match["op"] == "!=":
            checks.append(lambda labels, k=key, v=match["value"]: labels.get(k) != v)
        elif match["setop"]:
            values = {v.strip() for v in match["values"].split(",") if v.strip()}
            if match["setop"] == "in":
                checks.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                checks.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        else:
            checks.append(lambda labels, k=key: k in labels)

    def predicate(obj: Obj) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(check(labels) for check in checks)

    return predicate


def parse_field_selector(selector: str) -> Predicate:
    """A predicate on dotted paths of an object; ApiError 400 on bad syntax."""
    checks: list[Callable[[Obj], bool]] = []
    for term in _split_terms(selector):
        match = _FIELD_TERM.match(term)
        if match is None:
            raise ApiError(400, f"invalid field selector {term!r}")
        path = match["path"].split(".")
        negate = match["op"] == "!="

        def check(
            obj: Obj, path: list[str] = path, value: str = match["value"], neg: bool = negate
        ) -> bool:
            node: Any = obj
            for part in path:
                node = node.get(part) if isinstance(node, dict) else None
            text = (
                "" if node is None else str(node).lower() if isinstance(node, bool) else str(node)
            )
            return (text == value) != neg

        checks.append(check)
    return lambda obj: all(check(obj) for check in checks)


# -- validation and defaults ---------------------------------------------------------------


def fold_string_data(secret: Obj) -> None:
    """As the API server does with a Secret: ``stringData`` goes into ``data``, base64."""
    strings = secret.pop("stringData", None)
    if not isinstance(strings, dict):
        return
    data = secret.get("data") if isinstance(secret.get("data"), dict) else {}
    assert isinstance(data, dict)
    for key, value in strings.items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    secret["data"] = data


def default_job(job: Obj) -> None:
    """Default and validate a new Job as the API server does (ApiError 422 if invalid)."""
    meta = job["metadata"]
    name, uid = meta["name"], meta["uid"]

    def invalid(field: str, message: str) -> ApiError:
        return ApiError(422, f'Job.batch "{name}" is invalid: {field}: {message}')

    if len(name) > 63:
        raise invalid(
            "metadata.name",
            f"Invalid value: {name!r}: must be no more than 63 characters",
        )
    spec = job.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    pod_spec = template.get("spec") if isinstance(template, dict) else None
    if not isinstance(pod_spec, dict) or not pod_spec.get("containers"):
        raise invalid("spec.template.spec.containers", "Required value")
    assert isinstance(spec, dict) and isinstance(template, dict)
    policy = pod_spec.get("restartPolicy")
    if policy not in ("Never", "OnFailure"):
        raise invalid(
            "spec.template.spec.restartPolicy",
            f'Unsupported value: "{policy or "Always"}": supported values: "OnFailure", "Never"',
        )
    if spec.get("selector") and not spec.get("manualSelector"):
        raise invalid(
            "spec.selector",
            "Invalid value: `selector` not auto-generated (set manualSelector: true)",
        )
    spec.setdefault("parallelism", 1)
    spec.setdefault("completions", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    if not spec.get("manualSelector"):
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        template_meta = template.get("metadata")
        if not isinstance(template_meta, dict):
            template_meta = template["metadata"] = {}
        labels = template_meta.get("labels")
        if not isinstance(labels, dict):
            labels = template_meta["labels"] = {}
        labels.update(
            {
                "batch.kubernetes.io/controller-uid": uid,
                "batch.kubernetes.io/job-name": name,
                "controller-uid": uid,
                "job-name": name,
            }
        )


_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _label_problem(key: Any, value: Any) -> str | None:
    if not isinstance(key, str) or not isinstance(value, str):
        return "label keys and values must be strings"
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"key {key!r}: the prefix must be a DNS-1123 subdomain"
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        return (
            f"key {key!r}: the name part must be 63 characters or less, alphanumeric, '-', "
            "'_' or '.', starting and ending with an alphanumeric character"
        )
    if value and (len(value) > 63 or not _LABEL_NAME.match(value)):
        return (
            f"Invalid value: {value!r}: a valid label must be an empty string or 63 characters "
            "or less, alphanumeric, '-', '_' or '.', starting and ending with an alphanumeric "
            "character"
        )
    return None


def validate_metadata(kind: str, obj: Obj) -> None:
    """Check labels (also a pod template's) and ownerReferences as the API server does."""
    meta = obj.get("metadata") or {}
    name = meta.get("name", "")

    def invalid(field: str, message: str) -> ApiError:
        return ApiError(422, f'{kind} "{name}" is invalid: {field}: {message}')

    places = [("metadata.labels", meta.get("labels"))]
    template = (
        (obj.get("spec") or {}).get("template") if isinstance(obj.get("spec"), dict) else None
    )
    if isinstance(template, dict):
        places.append(
            ("spec.template.metadata.labels", (template.get("metadata") or {}).get("labels"))
        )
    for field, labels in places:
        if labels is None:
            continue
        if not isinstance(labels, dict):
            raise invalid(field, "must be a map of strings")
        for key, value in labels.items():
            problem = _label_problem(key, value)
            if problem is not None:
                raise invalid(field, problem)
    references = meta.get("ownerReferences") or []
    if not isinstance(references, list):
        raise invalid("metadata.ownerReferences", "must be a list")
    for index, reference in enumerate(references):
        for part in ("apiVersion", "kind", "name", "uid"):
            if not isinstance(reference, dict) or not reference.get(part):
                raise invalid(f"metadata.ownerReferences[{index}].{part}", "Required value")
    if sum(1 for r in references if r.get("controller")) > 1:
        raise invalid(
            "metadata.ownerReferences", "Only one reference can have Controller set to true"
        )
