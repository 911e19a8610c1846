"""Collectors turn a trial's output into measurements and report them to the service.

The StdOut collector wraps the trial's command::

    python -m tuner.collectors stdout --metric accuracy --metric loss -- python train.py

It runs the command, copies its output to its own stdout, reads metric lines
(:class:`MetricLineParser`) and reports them for the trial ``TUNER_TRIAL_ID`` to the
service at ``TUNER_SERVICE_ENDPOINT`` (:class:`MeasurementReporter`), then exits with the
command's exit code. :func:`wrap_with_stdout_collector` builds that command line.
"""

from __future__ import annotations

from tuner.collectors._parse import (
    DEFAULT_FORMAT,
    MetricLineParser,
    Observation,
    UnparseableValue,
    parse_number,
    strip_ansi,
)
from tuner.collectors._reporter import MeasurementReporter
from tuner.collectors._wrapper import run_stdout_collector, wrap_with_stdout_collector
from tuner.trial import UnparseableLine

__all__ = [
    "DEFAULT_FORMAT",
    "MeasurementReporter",
    "MetricLineParser",
    "Observation",
    "UnparseableLine",
    "UnparseableValue",
    "parse_number",
    "run_stdout_collector",
    "strip_ansi",
    "wrap_with_stdout_collector",
]
