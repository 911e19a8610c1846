"""The designers: suggestion algorithms behind one small interface, by Katib name.

A designer is built from a study config with :func:`make_designer`, told about trials with
``update(completed, active)`` and asked for parameters with ``suggest(count)``; it never
sees a store or a network. :func:`check_algorithm` refuses, before a study is created, an
unknown algorithm, bad settings, or a search space the algorithm cannot handle.

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

from tuner.algorithms._algorithm_settings import GridSettings, RandomSettings
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

__all__ = [
    "Designer",
    "GridSettings",
    "RandomSettings",
    "SettingInfo",
    "Settings",
    "check_algorithm",
    "describe_settings",
    "make_designer",
    "parse_settings",
    "registered_algorithms",
    "setting",
    "settings_class",
]
