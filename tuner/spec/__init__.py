"""The Experiment document: parse, validate and convert Katib-style ``v1beta1`` YAML.

Users describe an experiment in one ``Experiment`` document that follows Katib's
``v1beta1`` Experiment field for field, so Katib users can bring their files.
:func:`load_experiment` checks all of it at once and reports every mistake with its
field path; :func:`render_trial_job` turns the trial template into one trial's Job.

Examples:
    >>> from tuner.spec import ExperimentError, load_experiment
    >>> try:
    ...     load_experiment({"apiVersion": "v1", "kind": "Experiment", "metadata": {"name": "x"}})
    ... except ExperimentError as exc:
    ...     for error in exc.errors:
    ...         print(error.path, "->", error.message)
    apiVersion -> must be 'tuner.dev/v1beta1' or 'kubeflow.org/v1beta1', got 'v1'
    spec -> is required
"""

from __future__ import annotations

from tuner.spec._crd import experiment_crd
from tuner.spec._errors import ExperimentError, FieldError
from tuner.spec._experiment import Experiment
from tuner.spec._load import load_experiment
from tuner.spec._metrics_collector import (
    CollectorKind,
    FileFormat,
    MetricsCollector,
    check_prometheus_metric_name,
)
from tuner.spec._render import primary_container, render_trial_job
from tuner.spec._trial_template import MetadataReference, TrialParameter, TrialTemplate

__all__ = [
    "CollectorKind",
    "Experiment",
    "ExperimentError",
    "FieldError",
    "FileFormat",
    "MetadataReference",
    "MetricsCollector",
    "TrialParameter",
    "TrialTemplate",
    "check_prometheus_metric_name",
    "experiment_crd",
    "load_experiment",
    "primary_container",
    "render_trial_job",
]
