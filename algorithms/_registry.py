"""The algorithms by name: their settings, and their designers imported on first use.

Adding an algorithm is one line in ``_ALGORITHMS``: its Katib name, its settings class
(:mod:`tuner.algorithms._algorithm_settings`) and the ``module:Class`` path of its designer.
A designer class is built as ``cls(config, settings, seed=seed)`` and has a class method
``check_config(config, settings)`` that refuses a study it cannot run.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from tuner.algorithms._algorithm_settings import (
    BayesianOptimizationSettings,
    CmaEsSettings,
    GridSettings,
    HyperbandSettings,
    MultivariateTpeSettings,
    RandomSettings,
    SobolSettings,
    TpeSettings,
)
from tuner.algorithms._names import look_up
from tuner.algorithms._settings import Settings, parse_settings

if TYPE_CHECKING:
    from tuner.algorithms._base import Designer
    from tuner.config import StudyConfig

__all__ = [
    "DesignerClass",
    "check_algorithm",
    "designer_class",
    "make_designer",
    "registered_algorithms",
    "settings_class",
]


class DesignerClass(Protocol):
    """What the registry needs of a designer class."""

    def __call__(self, config: StudyConfig, settings: Any, *, seed: int) -> Designer:
        """Build the designer for a study."""
        ...

    def check_config(self, config: StudyConfig, settings: Any) -> None:
        """Raise :class:`InvalidArgumentError` if the designer cannot run this study."""
        ...


@dataclass(frozen=True, slots=True)
class _Algorithm:
    settings: type[Settings]
    designer: str
    """``module:Class`` of the designer, imported on first use."""


_ALGORITHMS: dict[str, _Algorithm] = {
    "bayesianoptimization": _Algorithm(
        BayesianOptimizationSettings, "tuner.algorithms._gp_designer:GPDesigner"
    ),
    "grid": _Algorithm(GridSettings, "tuner.algorithms._grid:GridDesigner"),
    "hyperband": _Algorithm(HyperbandSettings, "tuner.algorithms._hyperband:HyperbandDesigner"),
    "random": _Algorithm(RandomSettings, "tuner.algorithms._random:RandomDesigner"),
    "cmaes": _Algorithm(CmaEsSettings, "tuner.algorithms._cmaes:CmaEsDesigner"),
    "multivariate-tpe": _Algorithm(
        MultivariateTpeSettings, "tuner.algorithms._tpe:MultivariateTpeDesigner"
    ),
    "sobol": _Algorithm(SobolSettings, "tuner.algorithms._sobol:SobolDesigner"),
    "tpe": _Algorithm(TpeSettings, "tuner.algorithms._tpe:TpeDesigner"),
}


def registered_algorithms() -> tuple[str, ...]:
    """The names ``algorithm.name`` accepts, sorted.

    Examples:
        >>> "random" in registered_algorithms()
        True
    """
    return tuple(sorted(_ALGORITHMS))


def _algorithm(name: str) -> _Algorithm:
    return look_up(_ALGORITHMS, name, kind="algorithm", field="algorithm.name")


def settings_class(name: str) -> type[Settings]:
    """The settings class of the algorithm ``name``.

    Raises:
        InvalidArgumentError: No algorithm has that name (``field="algorithm.name"``).
    """
    return _algorithm(name).settings


def designer_class(name: str) -> DesignerClass:
    """The designer class of the algorithm ``name``, importing its module if needed.

    Raises:
        InvalidArgumentError: No algorithm has that name (``field="algorithm.name"``).
    """
    return _load(_algorithm(name).designer)


@functools.cache
def _load(path: str) -> DesignerClass:
    module_name, _, class_name = path.partition(":")
    return cast("DesignerClass", getattr(importlib.import_module(module_name), class_name))


def _checked(config: StudyConfig) -> tuple[DesignerClass, Settings]:
    algorithm = _algorithm(config.algorithm.name)
    settings = parse_settings(algorithm.settings, config.algorithm.settings)
    designer = _load(algorithm.designer)
    designer.check_config(config, settings)
    return designer, settings


def check_algorithm(config: StudyConfig) -> None:
    """Check that a study's algorithm exists, its settings are valid and it can run the space.

    Args:
        config: The study config; ``config.algorithm`` names the algorithm and holds its
            settings as strings.

    Raises:
        InvalidArgumentError: With ``field`` ``algorithm.name`` (unknown algorithm),
            ``algorithm.settings.<name>`` (unknown setting or bad value) or
            ``space.parameters[<index>]...`` (a parameter the algorithm cannot handle).

    Examples:
        >>> from tuner.config import AlgorithmSpec, Objective, StudyConfig
        >>> from tuner.space import DoubleParameter, SearchSpace
        >>> check_algorithm(StudyConfig(  # doctest: +ELLIPSIS
        ...     space=SearchSpace((DoubleParameter(name="lr", low=0.0, high=1.0),)),
        ...     objective=Objective(metric_name="loss"),
        ...     algorithm=AlgorithmSpec(name="grid"),
        ... ))
        Traceback (most recent call last):
        ...
        tuner.errors.InvalidArgumentError: space.parameters[0].step: ...
    """
    _checked(config)


def make_designer(config: StudyConfig) -> Designer:
    """Build the designer of a study, checked as :func:`check_algorithm` does.

    Args:
        config: The study config. ``config.seed`` seeds the designer (None counts as 0);
            an algorithm's ``random_state`` setting, when given, overrides it.

    Returns:
        A designer that has seen no trials.

    Raises:
        InvalidArgumentError: As :func:`check_algorithm`.

    Examples:
        >>> from tuner.config import AlgorithmSpec, Objective, StudyConfig
        >>> from tuner.space import CategoricalParameter, IntParameter, SearchSpace
        >>> designer = make_designer(StudyConfig(
        ...     space=SearchSpace((
        ...         IntParameter(name="depth", low=2, high=3),
        ...         CategoricalParameter(name="kernel", choices=("rbf", "linear")),
        ...     )),
        ...     objective=Objective(metric_name="loss"),
        ...     algorithm=AlgorithmSpec(name="grid"),
        ...     seed=7,
        ... ))
        >>> [tuple(point.values()) for point in designer.suggest(3)]
        [(2, 'rbf'), (2, 'linear'), (3, 'rbf')]
    """
    designer, settings = _checked(config)
    return designer(config, settings, seed=0 if config.seed is None else config.seed)
