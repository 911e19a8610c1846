"""The validated Experiment: everything the rest of tuner needs from the document."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tuner.config import AlgorithmSpec, Budget, Objective, StudyConfig
from tuner.space import SearchSpace
from tuner.spec._metrics_collector import MetricsCollector
from tuner.spec._trial_template import TrialTemplate

__all__ = ["Experiment"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Experiment:
    """A valid Experiment document, converted to tuner's model.

    Build one with :func:`tuner.spec.load_experiment`; an invalid document never becomes
    an ``Experiment``.

    Examples:
        >>> from tuner.spec import load_experiment
        >>> experiment = load_experiment('''
        ... apiVersion: tuner.dev/v1beta1
        ... kind: Experiment
        ... metadata: {name: demo}
        ... spec:
        ...   objective: {type: minimize, objectiveMetricName: loss}
        ...   maxTrialCount: 10
        ...   parameters:
        ...     - {name: lr, parameterType: double, feasibleSpace: {min: "0.001", max: "0.1"}}
        ...   trialTemplate:
        ...     trialParameters: [{name: lr, reference: lr}]
        ...     trialSpec:
        ...       apiVersion: batch/v1
        ...       kind: Job
        ...       spec:
        ...         template:
        ...           spec:
        ...             restartPolicy: Never
        ...             containers:
        ...               - {name: train, command: [python, train.py, "--lr=${trialParameters.lr}"]}
        ... ''')
        >>> experiment.name, experiment.namespace, experiment.budget.max_trial_count
        ('demo', 'default', 10)
        >>> experiment.study_config().space.names
        ('lr',)
    """

    name: str
    namespace: str
    space: SearchSpace
    objective: Objective
    algorithm: AlgorithmSpec
    budget: Budget
    trial_template: TrialTemplate
    metrics_collector: MetricsCollector
    document: Mapping[str, Any]
    """The document as given (a deep copy), for storing or showing it."""
    early_stopping: AlgorithmSpec | None = None
    """The early-stopping rule (``spec.earlyStopping``); None when there is none."""

    def study_config(self) -> StudyConfig:
        """The study's optimisation problem: space, objective, algorithm, early stopping.

        ``seed`` is None: the service draws one, and a designer that honours Katib's
        ``random_state`` setting reads it from the algorithm settings itself.
        """
        return StudyConfig(
            space=self.space,
            objective=self.objective,
            algorithm=self.algorithm,
            early_stopping=self.early_stopping,
        )
