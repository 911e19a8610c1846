"""Warm early-stopping checks: per study, the finished trials already read, in a bounded LRU."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from tuner.config import StudyInfo
    from tuner.trial import Trial

__all__ = ["FinishedTrials", "FinishedTrialsCache"]


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
        return (
            self.study is not None
            and self.study.created_at == study.created_at
            and self.study.config == study.config
        )

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


class FinishedTrialsCache:
    """At most ``capacity`` studies' finished trials, by study name, least recently used
    evicted first.

    An evicted entry still in use stays valid for its holder; the next caller starts a new
    one, which is correct because the trials are read again from the store.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self._capacity = capacity
        self._entries: OrderedDict[str, FinishedTrials] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, study_name: object) -> bool:
        with self._lock:
            return study_name in self._entries

    def get(self, study_name: str) -> FinishedTrials:
        """The entry of a study, created empty if absent, marked most recently used."""
        with self._lock:
            entry = self._entries.get(study_name)
            if entry is None:
                entry = self._entries[study_name] = FinishedTrials()
                while len(self._entries) > self._capacity:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(study_name)
            return entry

    def clear(self) -> None:
        """Forget every study's trials."""
        with self._lock:
            self._entries.clear()

    def drop(self, study_name: str) -> None:
        """Forget a study's trials."""
        with self._lock:
            self._entries.pop(study_name, None)
