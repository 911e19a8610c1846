"""tuner: a hyperparameter tuning service.

``import tuner`` loads only the model (pure Python and numpy); the store, the gRPC
service and client, and Kubernetes load when first used.
"""

from __future__ import annotations

import logging

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
from tuner.trial import Measurement, StopDecision, Trial, TrialState

__version__ = "0.1.0"

__all__ = [
    "AlgorithmSpec",
    "AlreadyExistsError",
    "Budget",
    "CategoricalParameter",
    "Direction",
    "DiscreteParameter",
    "DoubleParameter",
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
    "UnavailableError",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
