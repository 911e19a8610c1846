"""The designers: suggestion algorithms behind one small interface, by Katib name.

A designer is built from a study config with :func:`make_designer`, told about trials with
``update(completed, active)`` and asked for parameters with ``suggest(count)``; it never
sees a store or a network. :func:`check_algorithm` refuses, before a study is created, an
unknown algorithm, bad settings, or a search space the algorithm cannot handle.
Early-stopping rules (``medianstop``) sit beside them: :func:`make_stopper` builds a
study's :class:`EarlyStopper`, and :func:`check_early_stopping` refuses a bad one.

Importing this package imports no designer: each is imported on first use.

Examples:
    >>> from tuner.config import AlgorithmSpec, Objective, StudyConfig
    >>> from tuner.space import IntParameter, SearchSpace
    >>> config = StudyConfig(
    ...     space=SearchSpace((IntParameter(name="depth", low=2, high=8),)),
    ...     objective=Objective(metric_name="loss"),
    ...     algorithm=AlgorithmSpec(name="random", settings={"random_state": "42"}),
    ... )
    >>> check_algorithm(config)
    >>> designer = make_designer(config)
    >>> all(2 <= point["depth"] <= 8 for point in designer.suggest(3))
    True
"""

from __future__ import annotations

from tuner.algorithms._algorithm_settings import (
    CmaEsSettings,
    GridSettings,
    HyperbandSettings,
    MultivariateTpeSettings,
    RandomSettings,
    RestartStrategy,
    SobolSettings,
    TpeSettings,
)
from tuner.algorithms._base import Designer
from tuner.algorithms._registry import (
    check_algorithm,
    make_designer,
    registered_algorithms,
    settings_class,
)
from tuner.algorithms._settings import (
    SettingInfo,
    Settings,
    describe_settings,
    parse_settings,
    setting,
)
from tuner.algorithms._stopping import (
    EarlyStopper,
    check_early_stopping,
    make_stopper,
    registered_stoppers,
    stopper_settings_class,
)
from tuner.algorithms._stopping_settings import MedianStopSettings

__all__ = [
    "CmaEsSettings",
    "Designer",
    "EarlyStopper",
    "GridSettings",
    "HyperbandSettings",
    "MedianStopSettings",
    "MultivariateTpeSettings",
    "RandomSettings",
    "RestartStrategy",
    "SettingInfo",
    "Settings",
    "SobolSettings",
    "TpeSettings",
    "check_algorithm",
    "check_early_stopping",
    "describe_settings",
    "make_designer",
    "make_stopper",
    "parse_settings",
    "registered_algorithms",
    "registered_stoppers",
    "setting",
    "settings_class",
    "stopper_settings_class",
]
