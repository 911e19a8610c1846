"""The early-stopping interface and the stopping rules by name.

A stopping rule is built from a study config and its frozen settings, and asked about one
running trial given the study's other trials: model objects in, a
:class:`~tuner.trial.StopDecision` out. It never sees a store or a network; the service
reads the trials and acts on the decision.

Adding a rule is one line in ``_STOPPERS``: its Katib name, its settings class
(:mod:`tuner.algorithms._stopping_settings`) and the ``module:Class`` path of the rule,
built as ``cls(config, settings)``.
"""

from __future__ import annotations

import abc
import functools
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from tuner.algorithms._names import look_up
from tuner.algorithms._settings import Settings, parse_settings
from tuner.algorithms._stopping_settings import MedianStopSettings
from tuner.errors import InvalidArgumentError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tuner.config import StudyConfig
    from tuner.trial import StopDecision, Trial

__all__ = [
    "EarlyStopper",
    "check_early_stopping",
    "make_stopper",
    "registered_stoppers",
    "stopper_settings_class",
]

_FIELD = "early_stopping"


class EarlyStopper(abc.ABC):
    """Decides whether a running trial should stop early, from the study's trials.

    Stateless between calls: the same trials give the same decision, so the service may
    build one per call or keep one.
    """

    @abc.abstractmethod
    def should_stop(self, trial: Trial, others: Sequence[Trial]) -> StopDecision:
        """Whether ``trial`` should stop now.

        Args:
            trial: The running trial, with the measurements it reported so far.
            others: The study's other trials in any state, with their measurements; a
                rule picks those it trusts.

        Returns:
            The decision with a reason a user can read: what was compared, or why no
            comparison was possible yet.
        """


class _StopperClass(Protocol):
    def __call__(self, config: StudyConfig, settings: Any) -> EarlyStopper: ...


@dataclass(frozen=True, slots=True)
class _Stopper:
    settings: type[Settings]
    rule: str
    """``module:Class`` of the rule, imported on first use."""


_STOPPERS: dict[str, _Stopper] = {
    "medianstop": _Stopper(MedianStopSettings, "tuner.algorithms._median_stop:MedianStopper"),
}


def registered_stoppers() -> tuple[str, ...]:
    """The names ``early_stopping.name`` accepts, sorted.

    Examples:
        >>> registered_stoppers()
        ('medianstop',)
    """
    return tuple(sorted(_STOPPERS))


def _stopper(name: str) -> _Stopper:
    return look_up(_STOPPERS, name, kind="early-stopping algorithm", field=f"{_FIELD}.name")


def stopper_settings_class(name: str) -> type[Settings]:
    """The settings class of the stopping rule ``name``.

    Raises:
        InvalidArgumentError: No rule has that name (``field="early_stopping.name"``).
    """
    return _stopper(name).settings


@functools.cache
def _load(path: str) -> _StopperClass:
    module_name, _, class_name = path.partition(":")
    return cast("_StopperClass", getattr(importlib.import_module(module_name), class_name))


def _parsed_settings(stopper: _Stopper, raw: dict[str, str]) -> Settings:
    try:
        return parse_settings(stopper.settings, raw)
    except InvalidArgumentError as error:
        # The settings machinery names algorithm settings; these are the stopper's.
        field = error.field.replace("algorithm.settings", f"{_FIELD}.settings", 1)
        raise InvalidArgumentError(error.message, field=field) from None


def check_early_stopping(config: StudyConfig) -> None:
    """Check that a study's early-stopping rule exists and its settings are valid.

    A study without early stopping (``config.early_stopping`` None) passes.

    Raises:
        InvalidArgumentError: With ``field`` ``early_stopping.name`` (unknown rule) or
            ``early_stopping.settings.<name>`` (unknown setting or bad value).

    Examples:
        >>> from tuner.config import AlgorithmSpec, Objective, StudyConfig
        >>> from tuner.space import IntParameter, SearchSpace
        >>> check_early_stopping(StudyConfig(
        ...     space=SearchSpace((IntParameter(name="depth", low=1, high=4),)),
        ...     objective=Objective(metric_name="loss"),
        ...     early_stopping=AlgorithmSpec(name="medianstop", settings={"start_step": "-1"}),
        ... ))
        Traceback (most recent call last):
        ...
        tuner.errors.InvalidArgumentError: early_stopping.settings.start_step: must be >= 0, got -1
    """
    make_stopper(config)


def make_stopper(config: StudyConfig) -> EarlyStopper | None:
    """The study's stopping rule, or None when the study has no early stopping.

    Raises:
        InvalidArgumentError: As :func:`check_early_stopping`.
    """
    spec = config.early_stopping
    if spec is None:
        return None
    stopper = _stopper(spec.name)
    settings = _parsed_settings(stopper, dict(spec.settings))
    return _load(stopper.rule)(config, settings)
