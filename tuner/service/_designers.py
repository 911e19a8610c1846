"""Warm designers: one per study, fed only the trials it has not seen, in a bounded LRU cache."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuner.algorithms import Designer
    from tuner.config import StudyInfo

__all__ = ["DesignerCache", "WarmDesigner"]


class WarmDesigner:
    """A study's designer with the ids of the finished trials it was fed.

    Use only while holding :attr:`lock`: it guards the designer object from other threads
    of this process (the store's suggestion lock serialises across processes).
    """

    __slots__ = ("designer", "lock", "seen_ids", "study")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.designer: Designer | None = None
        self.study: StudyInfo | None = None
        """The study the designer was built for; a study deleted and created again under
        the same name has another creation time or config, and gets a new designer."""
        self.seen_ids: set[int] = set()

    def is_built_for(self, study: StudyInfo) -> bool:
        """Whether the designer exists and was built for this very study."""
        return (
            self.designer is not None
            and self.study is not None
            and self.study.created_at == study.created_at
            and self.study.config == study.config
        )

    def reset(self, designer: Designer, study: StudyInfo) -> None:
        """Replace the designer by a fresh one that has seen nothing."""
        self.designer = designer
        self.study = study
        self.seen_ids = set()


class DesignerCache:
    """At most ``capacity`` warm designers, by study name, least recently used evicted first.

    An evicted entry still in use stays valid for its holder; the next caller builds a new
    one, which is correct because designers are rebuilt from the store.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self._capacity = capacity
        self._entries: OrderedDict[str, WarmDesigner] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, study_name: object) -> bool:
        with self._lock:
            return study_name in self._entries

    def get(self, study_name: str) -> WarmDesigner:
        """The entry of a study, created empty if absent, marked most recently used."""
        with self._lock:
            entry = self._entries.get(study_name)
            if entry is None:
                entry = self._entries[study_name] = WarmDesigner()
                while len(self._entries) > self._capacity:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(study_name)
            return entry

    def clear(self) -> None:
        """Forget every designer."""
        with self._lock:
            self._entries.clear()

    def drop(self, study_name: str, entry: WarmDesigner | None = None) -> None:
        """Forget a study's designer (only if it is still ``entry``, when given)."""
        with self._lock:
            current = self._entries.get(study_name)
            if current is not None and (entry is None or current is entry):
                del self._entries[study_name]
