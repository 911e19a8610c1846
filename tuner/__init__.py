"""tuner: a hyperparameter tuning service.

``import tuner`` loads only the model (pure Python and numpy); the store, the gRPC
service and client, and Kubernetes load when first used.
"""

from __future__ import annotations

import logging

from tuner._experimental import ExperimentalWarning
from tuner.config import (
    AlgorithmSpec,
    Budget,
    Direction,
    MetricStrategy,
    Objective,
    StudyConfig,
    StudyInfo,
    StudyState,
)
from tuner.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    TunerError,
    UnauthenticatedError,
    UnavailableError,
)
from tuner.space import (
    CategoricalParameter,
    DiscreteParameter,
    DoubleParameter,
    IntParameter,
    Parameter,
    ParameterType,
    ParameterValue,
    Scale,
    SearchSpace,
)
from tuner.study import Study
from tuner.trial import (
    CollectorDiagnostics,
    Measurement,
    StopDecision,
    Trial,
    TrialState,
    UnparseableLine,
)

__version__ = "0.1.0"

__all__ = [
    "AlgorithmSpec",
    "AlreadyExistsError",
    "Budget",
    "CategoricalParameter",
    "CollectorDiagnostics",
    "Direction",
    "DiscreteParameter",
    "DoubleParameter",
    "ExperimentalWarning",
    "FailedPreconditionError",
    "IntParameter",
    "InvalidArgumentError",
    "Measurement",
    "MetricStrategy",
    "NotFoundError",
    "Objective",
    "Parameter",
    "ParameterType",
    "ParameterValue",
    "Scale",
    "SearchSpace",
    "StopDecision",
    "Study",
    "StudyConfig",
    "StudyInfo",
    "StudyState",
    "Trial",
    "TrialState",
    "TunerError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnparseableLine",
    "report",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())


def report(step: int | None = None, **metrics: float) -> None:
    """Report metric values of the running trial (the Push collector); returns at once.

    Values given in one call form one measurement at ``step``; without a step the k-th
    value of a metric gets step k. The trial and the service come from
    ``TUNER_TRIAL_ID`` and ``TUNER_SERVICE_ENDPOINT``; a background thread sends, and
    what is unsent at exit is delivered then (for ``$TUNER_REPORT_GRACE_PERIOD`` seconds,
    default 30) or spooled to disk for later. Outside a trial (no endpoint set) it warns
    once and does nothing. See :func:`tuner.collectors.report`.

    Examples:
        >>> import tuner
        >>> for epoch in range(3):  # doctest: +SKIP
        ...     tuner.report(step=epoch, loss=1 / (epoch + 1), accuracy=0.3 * epoch)
    """
    from tuner.collectors._push import report as push

    push(step, **metrics)
