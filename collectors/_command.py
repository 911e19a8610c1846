"""The command line that runs a trial under the collector its Experiment asks for."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from tuner.collectors._parse import DEFAULT_FORMAT, MetricLineParser
from tuner.collectors._tfevents import require_tfevents
from tuner.collectors._wrapper import wrap_with_stdout_collector
from tuner.errors import InvalidArgumentError

if TYPE_CHECKING:
    from tuner.spec import MetricsCollector

__all__ = ["collector_command"]

_MODULE = "tuner.collectors"


def collector_command(
    argv: Sequence[str],
    *,
    collector: MetricsCollector | None,
    metric_names: Iterable[str],
    exit_with_parent: bool = False,
    python: str | None = None,
) -> tuple[str, ...]:
    """The command line that runs ``argv`` under the metrics collector ``collector``.

    ``StdOut`` wraps it with ``python -m tuner.collectors stdout``, ``File`` with
    ``... file``, ``TensorFlowEvent`` with ``... tfevents`` and ``PrometheusMetric`` with
    ``... prometheus``; each runs the trial, copies its output through and reports the
    metrics to ``TUNER_SERVICE_ENDPOINT`` for ``TUNER_TRIAL_ID``. ``None`` (no collector)
    and ``Push`` leave ``argv`` as it is: the trial reports its metrics itself. A
    relative path of ``File`` or ``TensorFlowEvent`` is relative to the working directory
    the command runs in, which is the trial's.

    Args:
        argv: The trial's command and its arguments.
        collector: The Experiment's ``metricsCollectorSpec``; None means none.
        metric_names: The metrics to collect (the objective's and the additional ones).
        exit_with_parent: Stop the trial when the process that started the collector
            dies (a local runner's controller).
        python: The interpreter that runs the collector; None means this one
            (:data:`sys.executable`). In a container image, say ``python``.

    Returns:
        The command line to run instead of ``argv``.

    Raises:
        InvalidArgumentError: ``argv`` or ``metric_names`` is empty, the collector is
            ``Custom``, or its settings cannot work (a bad format, a missing path or
            port, a name that is no Prometheus metric name).
        ImportError: ``TensorFlowEvent`` runs in this interpreter (``python`` is None),
            which lacks ``tuner[tfevents]``.

    Examples:
        >>> from tuner.spec import CollectorKind, MetricsCollector
        >>> file = MetricsCollector(kind=CollectorKind.FILE, file_path="/logs/m.log")
        >>> command = collector_command(
        ...     ["python", "train.py"], collector=file, metric_names=["loss"], python="python"
        ... )
        >>> " ".join(command)
        'python -m tuner.collectors file --path=/logs/m.log --metric=loss -- python train.py'
        >>> collector_command(["train"], collector=None, metric_names=["loss"])
        ('train',)
    """
    from tuner.spec import CollectorKind, FileFormat, check_prometheus_metric_name

    argv = tuple(argv)
    names = tuple(metric_names)
    if not argv:
        raise InvalidArgumentError("the command is empty", field="argv")
    if not names or not all(names):
        raise InvalidArgumentError(
            "at least one non-empty metric name is needed", field="metric_names"
        )
    interpreter = python or sys.executable
    kind = CollectorKind.NONE if collector is None else collector.kind
    if kind in (CollectorKind.NONE, CollectorKind.PUSH):
        return argv
    assert collector is not None
    metrics = [f"--metric={name}" for name in names]
    tail = ("--exit-with-parent",) if exit_with_parent else ()
    if kind is CollectorKind.STDOUT:
        wrapped = wrap_with_stdout_collector(
            argv,
            metric_names=names,
            formats=collector.metrics_format,
            exit_with_parent=exit_with_parent,
        )
        return (interpreter, *wrapped[1:])
    if kind is CollectorKind.FILE:
        if not collector.file_path:
            raise InvalidArgumentError("the File collector needs a path", field="file_path")
        json_lines = collector.file_format is FileFormat.JSON
        if json_lines and collector.metrics_format:
            raise InvalidArgumentError(
                "a JSON metrics file takes no metrics format", field="metrics_format"
            )
        formats = collector.metrics_format
        MetricLineParser(names, formats or (DEFAULT_FORMAT,), json_lines)  # fail here, not later
        style = ["--json"] if json_lines else [f"--format={regex}" for regex in formats]
        options = [f"--path={collector.file_path}", *metrics, *style, *tail]
        return (interpreter, "-m", _MODULE, "file", *options, "--", *argv)
    if kind is CollectorKind.TENSORFLOW_EVENT:
        if not collector.directory:
            raise InvalidArgumentError(
                "the TensorFlowEvent collector needs a directory", field="directory"
            )
        if python is None:
            require_tfevents()  # this interpreter runs it: say now what is missing
        options = [f"--dir={collector.directory}", *metrics, *tail]
        return (interpreter, "-m", _MODULE, "tfevents", *options, "--", *argv)
    if kind is CollectorKind.PROMETHEUS_METRIC:
        if collector.http_port is None:
            raise InvalidArgumentError(
                "the PrometheusMetric collector needs a port", field="http_port"
            )
        for index, name in enumerate(names):
            problem = check_prometheus_metric_name(name)
            if problem is not None:
                raise InvalidArgumentError(f"{name!r} {problem}", field=f"metric_names[{index}]")
        path = collector.http_path or "/metrics"
        options = [f"--port={collector.http_port}", f"--path={path}", *metrics, *tail]
        return (interpreter, "-m", _MODULE, "prometheus", *options, "--", *argv)
    raise InvalidArgumentError(
        f"the {kind.value} metrics collector cannot wrap a command", field="kind"
    )
