"""The calls every way into tuner offers, as one typing protocol.

The service's gRPC-free core (``tuner.service.ServiceCore``, over a local store) and the
gRPC client (``tuner.client.Client``, over a server) both implement :class:`Backend`; the
``Study`` API and the controller take either. The gRPC API in ``protos/`` has one RPC per
method, with the same names.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from tuner.config import StudyConfig, StudyInfo, StudyState
from tuner.space import ParameterValue
from tuner.trial import CollectorDiagnostics, Measurement, StopDecision, Trial, TrialState

__all__ = ["Backend", "Suggestions"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Suggestions:
    """The answer to ``suggest_trials``."""

    trials: tuple[Trial, ...]
    is_exhausted: bool = False
    """The algorithm has nothing left to suggest (a finished grid): the study is complete."""


class Backend(Protocol):
    """Create studies, hand out trials, take their results.

    Every method either does all it says or, raising a :mod:`tuner.errors` error, nothing.
    """

    def create_study(self, name: str, config: StudyConfig) -> StudyInfo:
        """Create a study; ``AlreadyExistsError`` if the name is taken, ``InvalidArgumentError``
        if the algorithm or its settings do not fit the config."""
        ...

    def get_study(self, name: str) -> StudyInfo:
        """The study of that name; ``NotFoundError`` if there is none."""
        ...

    def list_studies(self) -> list[StudyInfo]:
        """Every study, oldest first."""
        ...

    def delete_study(self, name: str) -> None:
        """Delete a study and all its trials; ``NotFoundError`` if there is none."""
        ...

    def set_study_state(self, name: str, state: StudyState, reason: str = "") -> StudyInfo:
        """Mark a study completed or failed (or active again)."""
        ...

    def suggest_trials(self, study_name: str, count: int = 1, client_id: str = "") -> Suggestions:
        """Hand out up to ``count`` trials to run, made ``ACTIVE``.

        A non-empty ``client_id`` that still holds active trials gets those back instead of
        new ones. Trials queued with ``add_trial`` are handed out first. Concurrent calls
        never hand out the same trial twice.
        """
        ...

    def add_trial(self, study_name: str, parameters: Mapping[str, ParameterValue]) -> Trial:
        """Queue a trial with the given parameters (``REQUESTED``); it is handed out first."""
        ...

    def get_trial(self, trial_id: int) -> Trial:
        """The trial with that id; ``NotFoundError`` if there is none."""
        ...

    def list_trials(
        self, study_name: str, states: Collection[TrialState] | None = None
    ) -> list[Trial]:
        """The study's trials, by number, optionally only those in ``states``."""
        ...

    def count_trials(self, study_name: str) -> dict[TrialState, int]:
        """How many of the study's trials are in each state, without loading the trials.

        Every :class:`~tuner.trial.TrialState` is a key, in the enum's order, with 0 for a
        state no trial is in; ``NotFoundError`` if there is no such study.
        """
        ...

    def report_measurements(
        self,
        trial_id: int,
        measurements: Sequence[Measurement],
        *,
        diagnostics: CollectorDiagnostics | None = None,
    ) -> None:
        """Append intermediate measurements to an unfinished trial.

        A measurement whose ``report_id`` the trial already has is skipped, so reporting
        a batch again is safe; a report that adds nothing new succeeds even on a finished
        trial. ``diagnostics`` (a collector's running totals) merge into the trial's.
        """
        ...

    def complete_trial(
        self,
        trial_id: int,
        final_measurement: Measurement | None = None,
        *,
        infeasible_reason: str = "",
    ) -> Trial:
        """Finish a trial with its result.

        Without ``final_measurement`` the final values are reduced from the intermediate
        measurements by the objective's metric strategies. The trial becomes ``SUCCEEDED``
        (``EARLY_STOPPED`` if it was ``STOPPING``), or ``INFEASIBLE`` when
        ``infeasible_reason`` is given or the objective value is NaN.

        Raises:
            InvalidArgumentError: There is no value of the objective metric
                (field ``final_measurement``); the trial is left as it was.
            FailedPreconditionError: The trial is already finished.
        """
        ...

    def fail_trial(self, trial_id: int, reason: str) -> Trial:
        """Finish a trial as ``FAILED``: it crashed, or produced no objective value."""
        ...

    def stop_trial(self, trial_id: int) -> Trial:
        """Ask for an active trial to stop early (``STOPPING``); its runner acts on it."""
        ...

    def check_trial_early_stopping(self, trial_id: int) -> StopDecision:
        """Apply the study's early-stopping rule to a trial, and stop it if the rule says so.

        The rule sees the trial's measurements and the study's other trials; when it says
        stop, the trial becomes ``STOPPING`` (its runner then stops it, and completing it
        gives ``EARLY_STOPPED``) in the same call, and the decision's reason is kept as the
        trial's reason. A study without early stopping answers ``should_stop=False``; so
        does a trial that is queued or finished. A trial already ``STOPPING`` answers True.

        Raises:
            NotFoundError: There is no such trial.
        """
        ...

    def list_optimal_trials(self, study_name: str) -> list[Trial]:
        """The succeeded trials with the best finite objective value (ties included)."""
        ...
