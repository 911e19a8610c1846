"""How a trial's metrics are collected: the model object and its regex rules."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

__all__ = [
    "CollectorKind",
    "FileFormat",
    "FileSystemKind",
    "MetricsCollector",
    "check_metrics_format",
]


class CollectorKind(enum.Enum):
    """Where metrics come from (Katib's ``collector.kind``)."""

    STDOUT = "StdOut"
    FILE = "File"
    TENSORFLOW_EVENT = "TensorFlowEvent"
    PROMETHEUS_METRIC = "PrometheusMetric"
    CUSTOM = "Custom"
    NONE = "None"
    """The trial reports its metrics itself."""
    PUSH = "Push"


class FileFormat(enum.Enum):
    """How a metrics file is written (Katib's ``fileSystemPath.format``)."""

    TEXT = "TEXT"
    """Lines matched with the ``metricsFormat`` regexes."""
    JSON = "JSON"
    """One JSON object per line."""


class FileSystemKind(enum.Enum):
    """Whether a metrics path names a file or a directory (Katib's ``fileSystemPath.kind``)."""

    FILE = "File"
    DIRECTORY = "Directory"


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsCollector:
    """How to turn a trial's output into measurements, from ``spec.metricsCollectorSpec``.

    Each ``metrics_format`` regex either has groups named ``name`` and ``value`` (and
    maybe ``step``), or exactly two top-level capture groups: group 1 the metric name,
    group 2 its value (groups nested inside the value may follow, as in Katib's
    default). An empty list means the collector's default format (``name=value`` pairs).

    Examples:
        >>> collector = MetricsCollector(kind=CollectorKind.STDOUT)
        >>> collector.kind.value, collector.file_path
        ('StdOut', None)
    """

    kind: CollectorKind = CollectorKind.STDOUT
    metrics_format: tuple[str, ...] = ()
    file_path: str | None = None
    """For ``File``: the absolute path of the metrics file."""
    file_format: FileFormat | None = None
    """For ``File``: how the metrics file is written."""
    http_port: int | None = None
    """For ``PrometheusMetric``: the port the trial serves its metrics on."""
    http_path: str | None = None
    """For ``PrometheusMetric``: the URL path of the metrics."""


def check_metrics_format(pattern: str) -> str | None:
    r"""What is wrong with a ``metricsFormat`` regex, or None when it is usable.

    A usable regex compiles and either has groups named ``name`` and ``value``, or has
    exactly two top-level capture groups, the first with no capture group inside it, so
    that groups 1 and 2 are the name and the value.

    Examples:
        >>> check_metrics_format(r"([\w-]+)=((-?\d+)(\.\d+)?)") is None
        True
        >>> check_metrics_format(r"loss=(\d+)")
        'needs exactly two top-level capture groups, the metric name then its value, found 1'
    """
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return f"is not a valid regular expression: {exc}"
    if {"name", "value"} <= set(compiled.groupindex):
        return None
    top_level = _top_level_groups(pattern)
    if top_level is None:
        if compiled.groups != 2:
            return f"needs two capture groups (name, value), found {compiled.groups}"
        return None
    if len(top_level) != 2:
        return (
            "needs exactly two top-level capture groups, the metric name then its value, "
            f"found {len(top_level)}"
        )
    if top_level[1] != 2:
        return (
            "the first capture group (the metric name) must not contain capture groups; "
            "use (?:...) inside it"
        )
    return None


def _top_level_groups(pattern: str) -> list[int] | None:
    """Group numbers of the capture groups at nesting depth 0; None if unsure (verbose mode)."""
    if re.match(r"\(\?[aiLmsux]*x", pattern):
        return None
    top_level: list[int] = []
    depth = 0
    number = 0
    position = 0
    in_class = False
    while position < len(pattern):
        char = pattern[position]
        if char == "\\":
            position += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
            position += 1
            continue
        if char == "[":
            in_class = True
            position += 1
            # A ']' right after '[' or '[^' is a literal.
            if pattern.startswith("^", position):
                position += 1
            if pattern.startswith("]", position):
                position += 1
            continue
        if char == "(":
            capturing = not pattern.startswith("?", position + 1) or pattern.startswith(
                "?P<", position + 1
            )
            if capturing:
                number += 1
                if depth == 0:
                    top_level.append(number)
            depth += 1
        elif char == ")":
            depth -= 1
        position += 1
    return top_level
