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
    "check_prometheus_metric_name",
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
    """For ``File``: the metrics file; a relative path is relative to the trial's working
    directory."""
    file_format: FileFormat | None = None
    """For ``File``: how the metrics file is written."""
    directory: str | None = None
    """For ``TensorFlowEvent``: the directory of the event files; a relative path is
    relative to the trial's working directory."""
    http_port: int | None = None
    """For ``PrometheusMetric``: the port the trial serves its metrics on."""
    http_path: str | None = None
    """For ``PrometheusMetric``: the URL path of the metrics."""

    @property
    def self_report_hint(self) -> str:
        """For a trial that exits 0 without its objective: how it should have reported it.

        Empty for the kinds that collect the metrics themselves (they say what they
        missed where they looked); ``Push`` and ``None`` leave reporting to the trial.

        Examples:
            >>> MetricsCollector(kind=CollectorKind.STDOUT).self_report_hint
            ''
            >>> MetricsCollector(kind=CollectorKind.PUSH).self_report_hint[:44]
            'with the Push collector the trial reports it'
        """
        if self.kind is CollectorKind.PUSH:
            return (
                "with the Push collector the trial reports its metrics itself, before it "
                "exits: tuner.report(...) in Python, or `tuner report NAME=VALUE`"
            )
        if self.kind is CollectorKind.NONE:
            return (
                "with metricsCollectorSpec kind None nothing collects the trial's metrics: "
                "it reports them itself (tuner.report(...) or `tuner report NAME=VALUE`)"
            )
        return ""


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


_PROMETHEUS_NAME = re.compile(
    r'[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{\s*(?:[a-zA-Z_]\w*\s*=\s*"(?:[^"\\]|\\.)*"\s*(?:,\s*|(?=\})))*\})?'
)


_NOT_PROMETHEUS = (
    'is not a Prometheus metric name: letters, digits, _ and :, then maybe {label="value"}'
)


def check_prometheus_metric_name(name: str) -> str | None:
    """What keeps a metric name from naming a Prometheus sample, or None when it can.

    The ``PrometheusMetric`` collector reads a metric from the sample of that name; label
    matchers in braces may pick one of several samples.

    Examples:
        >>> check_prometheus_metric_name('loss{split="validation"}') is None
        True
        >>> check_prometheus_metric_name("val-loss")
        'is not a Prometheus metric name: letters, digits, _ and :, then maybe {label="value"}'
    """
    if _PROMETHEUS_NAME.fullmatch(name) is None:
        return _NOT_PROMETHEUS
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
