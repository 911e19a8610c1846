"""The Kubernetes operator: runs each ``Experiment`` custom resource's trials as Jobs.

:class:`Operator` watches Experiments (one namespace or all), runs each one's
:class:`~tuner.controller.Controller` with a :class:`~tuner.runners.KubernetesRunner`, and
writes its ``.status`` (shape: :mod:`tuner.operator._status`). :func:`run_operator` is
``tuner operator``: it connects to the cluster and the service, and runs until stopped.
The ``kubernetes`` client is imported only when an operator is built.
"""

from __future__ import annotations

from tuner.operator._main import OperatorStarted, kubernetes_api_client, run_operator
from tuner.operator._operator import Operator
from tuner.operator._runners import RunnerFactory, kubernetes_runners, study_name_of
from tuner.operator._status import (
    Condition,
    ExperimentStatus,
    OptimalTrial,
    Phase,
    Reason,
    TrialCounts,
    build_status,
    current_phase,
    optimal_trial,
)

__all__ = [
    "Condition",
    "ExperimentStatus",
    "Operator",
    "OperatorStarted",
    "OptimalTrial",
    "Phase",
    "Reason",
    "RunnerFactory",
    "TrialCounts",
    "build_status",
    "current_phase",
    "kubernetes_api_client",
    "kubernetes_runners",
    "optimal_trial",
    "run_operator",
    "study_name_of",
]
