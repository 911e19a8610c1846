"""Each algorithm's settings, named as in Katib.

They live apart from the designers so the registry can validate a study's settings
without importing a designer (and what it imports, such as scipy).
"""

from __future__ import annotations

from dataclasses import dataclass

from tuner.algorithms._settings import Settings, setting

__all__ = ["GridSettings", "RandomSettings"]

_RANDOM_STATE_HELP = "Seed of the algorithm (Katib's name); when given it overrides the study seed."


@dataclass(frozen=True, slots=True, kw_only=True)
class RandomSettings(Settings):
    """Settings of random search (``random``).

    Examples:
        >>> RandomSettings(random_state=42).random_state
        42
    """

    random_state: int | None = setting(None, ge=0, description=_RANDOM_STATE_HELP)


@dataclass(frozen=True, slots=True, kw_only=True)
class GridSettings(Settings):
    """Settings of grid search (``grid``).

    ``random_state`` is accepted so Katib experiments that set it run unchanged, and is
    otherwise ignored: the grid is walked in one fixed order.
    """

    random_state: int | None = setting(
        None,
        ge=0,
        description="Accepted for Katib compatibility and ignored: the grid order is fixed.",
    )
