"""Collectors turn a trial's output into measurements and report them to the service.

The StdOut collector wraps the trial's command::

    python -m tuner.collectors stdout --metric accuracy --metric loss -- python train.py

It runs the command, copies its output to its own stdout, reads metric lines
(:class:`MetricLineParser`) and reports them for the trial ``TUNER_TRIAL_ID`` to the
service at ``TUNER_SERVICE_ENDPOINT`` (:class:`MeasurementReporter`), then exits with the
command's exit code. :func:`wrap_with_stdout_collector` builds that command line.

The other kinds wrap the command the same way and read the metrics elsewhere while it runs,
then once more after it exits: ``file --path PATH`` follows a metrics file (Katib's
``File``, TEXT or ``--json``), ``tfevents --dir DIR`` reads TensorBoard event files
(``TensorFlowEvent``; needs ``tuner[tfevents]``), ``prometheus --port PORT`` scrapes the
trial's ``/metrics`` (``PrometheusMetric``). :func:`collector_command` builds the command
line for an Experiment's ``metricsCollectorSpec``, of any kind.
"""

from __future__ import annotations

from tuner.collectors._command import collector_command
from tuner.collectors._parse import (
    DEFAULT_FORMAT,
    MetricLineParser,
    Observation,
    UnparseableValue,
    parse_number,
    strip_ansi,
)
from tuner.collectors._push import (
    flush_trial_spools,
    parse_metric_assignments,
    report,
    report_once,
)
from tuner.collectors._reporter import MeasurementReporter
from tuner.collectors._spool import flush_spools
from tuner.collectors._wrapper import run_stdout_collector, wrap_with_stdout_collector
from tuner.trial import UnparseableLine

__all__ = [
    "DEFAULT_FORMAT",
    "MeasurementReporter",
    "MetricLineParser",
    "Observation",
    "UnparseableLine",
    "UnparseableValue",
    "collector_command",
    "flush_spools",
    "flush_trial_spools",
    "parse_metric_assignments",
    "parse_number",
    "report",
    "report_once",
    "run_stdout_collector",
    "strip_ansi",
    "wrap_with_stdout_collector",
]
