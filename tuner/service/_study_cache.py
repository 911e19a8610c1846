"""A bounded, thread-safe LRU of per-study entries (warm designers, finished trials)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from tuner.config import StudyInfo

__all__ = ["StudyCache", "is_same_study"]

_Entry = TypeVar("_Entry")


class StudyCache(Generic[_Entry]):
    """At most ``capacity`` entries, by study name, least recently used evicted first.

    An evicted entry still in use stays valid for its holder; the next caller gets a new
    one, which is correct because every entry can be rebuilt from the store.

    Args:
        capacity: Most entries kept.
        new_entry: Makes the empty entry of a study not in the cache.
    """

    def __init__(self, capacity: int, new_entry: Callable[[], _Entry]) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self._capacity = capacity
        self._new_entry = new_entry
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, study_name: object) -> bool:
        with self._lock:
            return study_name in self._entries

    def get(self, study_name: str) -> _Entry:
        """The entry of a study, created empty if absent, marked most recently used."""
        with self._lock:
            entry = self._entries.get(study_name)
            if entry is None:
                entry = self._entries[study_name] = self._new_entry()
                while len(self._entries) > self._capacity:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(study_name)
            return entry

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def drop(self, study_name: str, entry: _Entry | None = None) -> None:
        """Forget a study's entry (only if it is still ``entry``, when given)."""
        with self._lock:
            current = self._entries.get(study_name)
            if current is not None and (entry is None or current is entry):
                del self._entries[study_name]


def is_same_study(kept: StudyInfo | None, study: StudyInfo) -> bool:
    """Whether ``kept`` is this very study, not another one created later under its name."""
    return kept is not None and kept.created_at == study.created_at and kept.config == study.config
