"""Runners launch, poll, stop and adopt trials: local processes or Kubernetes Jobs.

:class:`KubernetesRunner` imports the ``kubernetes`` client only when it is built
(``pip install tuner[kubernetes]``), so importing this package does not need it.
"""

from __future__ import annotations

from tuner.runners._base import Runner, RunPhase, RunStatus
from tuner.runners._job import (
    EXPERIMENT_LABEL,
    TRIAL_LABEL,
    KubernetesOwner,
    SecretKeySelector,
    build_trial_job,
    trial_job_name,
)
from tuner.runners._kubernetes import KubernetesRunner
from tuner.runners._local import LocalRunner, ProcessCommand

__all__ = [
    "EXPERIMENT_LABEL",
    "TRIAL_LABEL",
    "KubernetesOwner",
    "KubernetesRunner",
    "LocalRunner",
    "ProcessCommand",
    "RunPhase",
    "RunStatus",
    "Runner",
    "SecretKeySelector",
    "build_trial_job",
    "trial_job_name",
]
