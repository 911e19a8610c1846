"""Warm early-stopping checks: per study, the finished trials already read (in a StudyCache)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from tuner.service._study_cache import is_same_study

if TYPE_CHECKING:
    from collections.abc import Iterable

    from tuner.config import StudyInfo
    from tuner.trial import Trial

__all__ = ["FinishedTrials"]


class FinishedTrials:
    """A study's finished trials read so far, by id; they never change, so they stay valid.

    Use only while holding :attr:`lock`: it guards the trials from other threads of this
    process.
    """

    __slots__ = ("lock", "study", "trials")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.study: StudyInfo | None = None
        """The study the trials belong to; a study deleted and created again under the
        same name has another creation time or config, and starts again from nothing
        (its trial ids may even be those of the old study's trials, on SQLite)."""
        self.trials: dict[int, Trial] = {}

    def is_kept_for(self, study: StudyInfo) -> bool:
        """Whether the trials kept are those of this very study."""
        return is_same_study(self.study, study)

    def reset(self, study: StudyInfo) -> None:
        """Forget every trial, and keep from now on those of ``study``."""
        self.study = study
        self.trials = {}

    def merge(self, loaded: Iterable[Trial]) -> list[Trial]:
        """Keep the finished ones of ``loaded``; all kept and ``loaded``, by number.

        ``loaded`` is what the store returned for the study less the kept trials' ids:
        the result is then what it would have returned with no id left out.
        """
        fresh = list(loaded)
        self.trials.update((trial.id, trial) for trial in fresh if trial.state.is_finished)
        merged = dict(self.trials)
        merged.update((trial.id, trial) for trial in fresh)
        return sorted(merged.values(), key=lambda trial: trial.number)
