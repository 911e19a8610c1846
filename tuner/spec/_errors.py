"""The errors of an Experiment document: one per mistake, each with its field path."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tuner.errors import InvalidArgumentError

__all__ = ["ErrorSink", "ExperimentError", "FieldError", "Loc", "format_loc", "parse_loc"]

Loc = tuple[str | int, ...]
"""A field path as keys and list indices: ``("spec", "parameters", 1, "name")``."""

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_LOC_PART = re.compile(r"""\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]""")


def format_loc(loc: Loc) -> str:
    """``("spec", "parameters", 1, "name")`` -> ``spec.parameters[1].name``.

    Keys that are not plain identifiers (``app.kubernetes.io/name``) are quoted in brackets.
    """
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            escaped = part.replace("\\", "\\\\").replace('"', '\\"')
            text += f'["{escaped}"]'
    return text


def parse_loc(path: str) -> Loc | None:
    """The inverse of :func:`format_loc`; None when ``path`` is not such a path."""
    parts: list[str | int] = []
    position = 0
    while position < len(path):
        match = _LOC_PART.match(path, position)
        if match is None or (match.group(0).startswith(".") and not parts):
            return None
        key, index, quoted = match.groups()
        if key is not None:
            parts.append(key)
        elif index is not None:
            parts.append(int(index))
        else:
            parts.append(re.sub(r"\\(.)", r"\1", quoted))
        position = match.end()
    return tuple(parts)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One mistake in an Experiment document.

    Attributes:
        path: Where, as ``spec.parameters[1].feasibleSpace.min``; ``""`` for the whole
            document (a YAML syntax error, a document that is not a mapping).
        message: What is wrong, and where it helps, how to put it right.
        line: The 1-based line in the YAML text, when the document came as text.
        column: The 1-based column in the YAML text, when the document came as text.

    Examples:
        >>> str(FieldError("spec.maxTrialCount", "must be >= 1, got 0"))
        'spec.maxTrialCount: must be >= 1, got 0'
    """

    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ExperimentError(InvalidArgumentError):
    """An Experiment document is invalid; it lists every mistake found, not just the first.

    gRPC ``INVALID_ARGUMENT``; retrying the same document cannot help.

    Args:
        errors: The mistakes, in document order.
        source: The file the document was read from, if any; it prefixes every line.

    Examples:
        >>> errors = [FieldError("metadata.name", "is required", line=3, column=1)]
        >>> errors.append(FieldError("spec.objective", "is required"))
        >>> error = ExperimentError(errors, source="exp.yaml")
        >>> print(error)
        exp.yaml: 2 errors in the Experiment:
        exp.yaml:3:1: metadata.name: is required
        exp.yaml: spec.objective: is required
    """

    def __init__(self, errors: Iterable[FieldError], *, source: str | None = None) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        self.source = source
        super().__init__(_describe(self.errors, source))


class ErrorSink:
    """Collects mistakes as (location, message) while a document is checked."""

    def __init__(self) -> None:
        self.items: list[tuple[Loc, str]] = []

    def add(self, loc: Loc, message: str) -> None:
        """Record one mistake at ``loc``."""
        self.items.append((loc, message))

    def has_under(self, prefix: Loc) -> bool:
        """Whether a mistake was recorded at ``prefix`` or anywhere inside it."""
        return any(loc[: len(prefix)] == prefix for loc, _ in self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _describe(errors: Sequence[FieldError], source: str | None) -> str:
    count = len(errors)
    header = f"{count} error{'s' if count != 1 else ''} in the Experiment:"
    lines = [f"{source}: {header}" if source else header]
    for error in errors:
        lines.append(f"{_position(error, source)}{error}")
    return "\n".join(lines)


def _position(error: FieldError, source: str | None) -> str:
    if source:
        line = f":{error.line}" if error.line is not None else ""
        column = f":{error.column}" if error.line is not None and error.column is not None else ""
        return f"{source}{line}{column}: "
    if error.line is not None:
        column = f", column {error.column}" if error.column is not None else ""
        return f"line {error.line}{column}: "
    return ""
