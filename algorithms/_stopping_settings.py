"""Each early-stopping rule's settings, named as in Katib.

They live apart from the rules so a study's settings are checked without importing a rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuner.algorithms._settings import Settings, setting

__all__ = ["MedianStopSettings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MedianStopSettings(Settings):
    """Settings of the median stopping rule (``medianstop``), with Katib's names and defaults.

    Examples:
        >>> MedianStopSettings()
        MedianStopSettings(min_trials_required=3, start_step=4)
    """

    min_trials_required: int = setting(
        3,
        ge=1,
        description="Other trials that must have reached a step before a trial at that step "
        "can be stopped.",
    )
    start_step: int = setting(
        4, ge=0, description="The first step at which a trial may be stopped."
    )
