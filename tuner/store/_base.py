"""The store interface: the single source of truth for studies and trials."""

from __future__ import annotations

import abc
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Protocol

from tuner.config import StudyConfig, StudyInfo, StudyState
from tuner.space import ParameterValue
from tuner.trial import CollectorDiagnostics, Measurement, Trial, TrialState

__all__ = ["Store", "SuggestionContext", "TrialGenerator"]


class SuggestionContext(Protocol):
    """What a trial generator may read while the store holds the study's suggestion lock.

    Valid only during the ``generate`` call it is passed to.
    """

    @property
    def study(self) -> StudyInfo:
        """The study, as of this transaction."""
        ...

    def active_trials(self) -> list[Trial]:
        """The study's ``REQUESTED``, ``ACTIVE`` and ``STOPPING`` trials, by number."""
        ...

    def finished_trials(self, exclude: Collection[int] = ()) -> list[Trial]:
        """The study's finished trials, by number, less those whose id is in ``exclude``.

        Lets a caller that keeps a warm designer read only the trials it has not seen.
        """
        ...


TrialGenerator = Callable[[SuggestionContext, int], Sequence[Mapping[str, ParameterValue]]]
"""Given the context and a count n, returns at most n new parameter assignments."""


class Store(abc.ABC):
    """Studies and trials in a database.

    Contract every implementation keeps (``tests/store/`` checks it on every backend):

    - Each method is one transaction: it does all it says, or raises and changes nothing.
      Checks come before writes.
    - Thread safe, and safe across processes sharing the database: any number of threads
      and processes may call one store at once.
    - ``suggest_trials`` is serialised per study by a database lock (a row lock where the
      database has them), so concurrent callers, in any process, never get the same trial.
    - A finished trial (``TrialState.is_finished``) never changes again.
    - Floats, NaN and infinities included, come back exactly as they went in.
    - Missing studies and trials raise ``NotFoundError``; a taken study name raises
      ``AlreadyExistsError``; a forbidden state change raises ``FailedPreconditionError``.
    """

    @abc.abstractmethod
    def create_study(self, name: str, config: StudyConfig) -> StudyInfo:
        """Insert a study in state ``ACTIVE``."""

    @abc.abstractmethod
    def get_study(self, name: str) -> StudyInfo:
        """The study of that name."""

    @abc.abstractmethod
    def list_studies(self) -> list[StudyInfo]:
        """All studies, oldest first."""

    @abc.abstractmethod
    def delete_study(self, name: str) -> None:
        """Delete a study with its trials and measurements."""

    @abc.abstractmethod
    def set_study_state(self, name: str, state: StudyState, reason: str = "") -> StudyInfo:
        """Change a study's state and reason."""

    @abc.abstractmethod
    def suggest_trials(
        self, study_name: str, count: int, client_id: str, generate: TrialGenerator
    ) -> list[Trial]:
        """Hand out up to ``count`` trials under the study's suggestion lock.

        In order: if ``client_id`` is non-empty and holds ``ACTIVE``/``STOPPING`` trials,
        return those and nothing else. Otherwise make up to ``count`` ``REQUESTED`` trials
        ``ACTIVE`` (oldest first) for ``client_id``, and if that is fewer than ``count``, call
        ``generate(context, missing)`` once and insert what it returns as new ``ACTIVE``
        trials, numbered on from the study's last. If ``generate`` raises, nothing changes.
        Raises ``FailedPreconditionError`` if the study is not ``ACTIVE``.
        """

    @abc.abstractmethod
    def add_trial(self, study_name: str, parameters: Mapping[str, ParameterValue]) -> Trial:
        """Insert a ``REQUESTED`` trial."""

    @abc.abstractmethod
    def get_trial(self, trial_id: int) -> Trial:
        """The trial, with its measurements."""

    @abc.abstractmethod
    def list_trials(
        self,
        study_name: str,
        states: Collection[TrialState] | None = None,
        *,
        exclude_ids: Collection[int] = (),
    ) -> list[Trial]:
        """The study's trials by number, with their measurements.

        Only those in ``states`` when it is given (none for an empty collection), and never
        those whose id is in ``exclude_ids`` (ids of no trial of the study are ignored). An
        excluded trial is not loaded: a caller that keeps the finished trials it has read
        (they never change) passes their ids and reads only the new and unfinished ones, at
        a cost that grows with those, not with the study.
        """

    @abc.abstractmethod
    def count_trials(self, study_name: str) -> dict[TrialState, int]:
        """How many of the study's trials are in each state, without loading them.

        Every :class:`~tuner.trial.TrialState` is a key, in the enum's order; states the
        study has no trial in count 0.
        """

    @abc.abstractmethod
    def add_measurements(
        self,
        trial_id: int,
        measurements: Sequence[Measurement],
        *,
        diagnostics: CollectorDiagnostics | None = None,
    ) -> None:
        """Append measurements, in order, and merge ``diagnostics`` into the trial's.

        A measurement with a non-empty ``report_id`` that the trial already has (or that
        came earlier in the same call) is skipped; the final measurement keeps no id.
        ``FailedPreconditionError`` if the trial is finished and the call would change
        something; a call that would change nothing succeeds whatever the state.
        """

    @abc.abstractmethod
    def update_trial(
        self,
        trial_id: int,
        state: TrialState,
        *,
        allowed_from: Collection[TrialState],
        final_measurement: Measurement | None = None,
        objective_value: float | None = None,
        reason: str = "",
    ) -> Trial:
        """Move a trial to ``state`` if its current state is in ``allowed_from``.

        Sets the final measurement, the objective value used to rank trials (``None`` for
        none), the reason, and, for a finished state, the completion time. Otherwise raises
        ``FailedPreconditionError`` naming the trial and both states.
        """

    @abc.abstractmethod
    def list_optimal_trials(self, study_name: str) -> list[Trial]:
        """Succeeded trials with the best finite objective value, in the study's direction."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. The store must not be used afterwards."""
