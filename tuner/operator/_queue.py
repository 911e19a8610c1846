"""A work queue of keys: each key at most once, due now or after a delay."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["WorkQueue"]

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    """Keys to work on, deduplicated: adding a queued key again only moves it earlier.

    A key being worked on may be added again; it is then handed out once more, so a change
    seen while working is never lost. Thread safe.

    Examples:
        >>> queue: WorkQueue[str] = WorkQueue()
        >>> queue.add("a"); queue.add("b"); queue.add("a")
        >>> queue.get(0), queue.get(0), queue.get(0)
        ('a', 'b', None)
    """

    def __init__(self) -> None:
        self._due: dict[K, float] = {}
        self._order = 0
        self._rank: dict[K, int] = {}
        self._changed = threading.Condition()

    def add(self, key: K, delay: float = 0.0) -> None:
        """Queue ``key`` to be handed out after ``delay`` seconds (now by default)."""
        due = time.monotonic() + delay
        with self._changed:
            if key in self._due and self._due[key] <= due:
                return
            self._due[key] = due
            self._order += 1
            self._rank[key] = self._order
            self._changed.notify_all()

    def get(self, timeout: float) -> K | None:
        """The key due first (FIFO among those due), waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                now = time.monotonic()
                if self._due:
                    key = min(self._due, key=lambda k: (max(self._due[k], now), self._rank[k]))
                    if self._due[key] <= now:
                        del self._due[key]
                        del self._rank[key]
                        return key
                    wake = min(self._due[key], deadline)
                else:
                    wake = deadline
                if now >= deadline:
                    return None
                self._changed.wait(wake - now)

    def __len__(self) -> int:
        with self._changed:
            return len(self._due)
