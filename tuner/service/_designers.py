"""Warm designers: one per study, fed only the trials it has not seen (kept in a StudyCache)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from tuner.service._study_cache import is_same_study

if TYPE_CHECKING:
    from tuner.algorithms import Designer
    from tuner.config import StudyInfo

__all__ = ["WarmDesigner"]


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
        return self.designer is not None and is_same_study(self.study, study)

    def reset(self, designer: Designer, study: StudyInfo) -> None:
        """Replace the designer by a fresh one that has seen nothing."""
        self.designer = designer
        self.study = study
        self.seen_ids = set()
