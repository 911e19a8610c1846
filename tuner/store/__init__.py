"""The study store: studies, trials and measurements in SQLite, PostgreSQL or MySQL/MariaDB.

``import tuner.store`` loads no SQLAlchemy; :func:`open_store` does.

Examples:
    >>> from tuner.store import open_store
    >>> store = open_store("sqlite://")
    >>> store.list_studies()
    []
    >>> store.close()
"""

from __future__ import annotations

from tuner.store._base import Store, SuggestionContext, TrialGenerator
from tuner.store._open import open_store

__all__ = ["Store", "SuggestionContext", "TrialGenerator", "open_store"]
