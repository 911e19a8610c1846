"""The service's logic over a store, with no gRPC: the in-process backend."""

from __future__ import annotations

import dataclasses
import logging
import math
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from tuner.algorithms import check_algorithm, check_early_stopping, make_designer, make_stopper
from tuner.backend import Suggestions
from tuner.errors import FailedPreconditionError, InvalidArgumentError
from tuner.service._designers import WarmDesigner
from tuner.service._metrics import reduce_measurements
from tuner.service._stoppers import FinishedTrials
from tuner.service._study_cache import StudyCache
from tuner.trial import StopDecision, TrialState

if TYPE_CHECKING:
    from tuner.config import Objective, StudyConfig, StudyInfo, StudyState
    from tuner.space import ParameterValue
    from tuner.store import Store, SuggestionContext
    from tuner.trial import CollectorDiagnostics, Measurement, Trial

__all__ = ["MAX_SUGGESTIONS", "ServiceCore"]

logger = logging.getLogger(__name__)

MAX_SUGGESTIONS = 1000
"""The largest ``count`` one ``suggest_trials`` call may ask for."""

_UNFINISHED = (TrialState.REQUESTED, TrialState.ACTIVE, TrialState.STOPPING)
_RACE_ATTEMPTS = 3
_T = TypeVar("_T")


def _plain(value: ParameterValue) -> ParameterValue:
    """A numpy scalar as the Python number it holds; anything else unchanged."""
    if isinstance(value, np.generic):
        item: ParameterValue = value.item()
        return item
    return value


def _check_unfinished(trial: Trial, verb: str) -> None:
    if trial.state.is_finished:
        raise FailedPreconditionError(
            f"cannot {verb} trial {trial.id} of study {trial.study_name!r}: "
            f"it is already {trial.state.value}"
        )


class _StateChanged(Exception):
    """The store refused a write because the trial's state changed since it was read."""


def _write_unless_changed(write: Callable[[], _T]) -> _T:
    try:
        return write()
    except FailedPreconditionError as error:
        raise _StateChanged() from error


def _retry_on_race(attempt: Callable[[], _T]) -> _T:
    """Run a read-decide-write ``attempt`` again if the trial changed state in between.

    Each attempt reads the trial, checks it and writes (through ``_write_unless_changed``)
    with ``allowed_from`` set to the state it read, so a concurrent change makes the store
    refuse the write; the next attempt decides on the new state (and refuses clearly if
    the trial has finished meanwhile).
    """
    for _ in range(_RACE_ATTEMPTS - 1):
        try:
            return attempt()
        except _StateChanged:
            continue
    try:
        return attempt()
    except _StateChanged as error:
        assert isinstance(error.__cause__, FailedPreconditionError)
        raise error.__cause__ from None


@dataclasses.dataclass(frozen=True, slots=True)
class _Completion:
    state: TrialState
    final_measurement: Measurement | None
    objective_value: float | None
    reason: str


def _decide_completion(
    trial: Trial,
    objective: Objective,
    final_measurement: Measurement | None,
    infeasible_reason: str,
) -> _Completion:
    final = final_measurement
    if final is None:
        final = reduce_measurements(trial.measurements, objective)
    value = None if final is None else final.metrics.get(objective.metric_name)
    if infeasible_reason:
        return _Completion(TrialState.INFEASIBLE, final, None, infeasible_reason)
    if value is None:
        where = "the final measurement" if final_measurement is not None else "any measurement"
        raise InvalidArgumentError(
            f"trial {trial.id}: objective metric {objective.metric_name!r} is missing from {where}",
            field="final_measurement",
        )
    if math.isnan(value):
        reason = f"objective metric {objective.metric_name!r} is NaN"
        return _Completion(TrialState.INFEASIBLE, final, None, reason)
    if trial.state is TrialState.STOPPING:
        # Keep why it was stopped (the early-stopping rule's reason).
        return _Completion(TrialState.EARLY_STOPPED, final, value, trial.reason)
    return _Completion(TrialState.SUCCEEDED, final, value, "")


class ServiceCore:
    """Every :class:`~tuner.backend.Backend` call over a :class:`~tuner.store.Store`.

    The gRPC servicer converts and delegates here; the in-process ``Study`` backend and
    ``tuner run`` use it directly. It keeps one warm designer per study (at most
    ``max_designers``, least recently used evicted), feeds each only the trials it has not
    seen, and rebuilds it from the store after a restart or an error. Likewise, for early
    stopping, it keeps the finished trials it has read of up to ``max_stopping_studies``
    studies and reads only the rest on each check. Every refusal happens before any
    write, so a refused call changes nothing.

    Thread safe: suggestions for one study are serialised by the store's database lock
    (across processes and replicas) and, around the designer object, by a per-study lock.

    Args:
        store: The single source of truth; :meth:`close` closes it.
        max_designers: How many warm designers to keep.
        max_stopping_studies: Of how many studies to keep the finished trials read by
            early-stopping checks (each holds its trials' measurements in memory: tens of
            MB for a study of 500 trials x 100 measurements).

    Examples:
        >>> from tuner import DoubleParameter, Measurement, Objective, SearchSpace, StudyConfig
        >>> from tuner.store import open_store
        >>> core = ServiceCore(open_store("sqlite://"))
        >>> space = SearchSpace((DoubleParameter(name="x", low=0.0, high=1.0),))
        >>> study = core.create_study("demo", StudyConfig(
        ...     space=space, objective=Objective(metric_name="loss")))
        >>> study.config.seed is not None
        True
        >>> [trial] = core.suggest_trials("demo").trials
        >>> core.complete_trial(trial.id, Measurement(metrics={"loss": 0.5})).state
        <TrialState.SUCCEEDED: 'SUCCEEDED'>
        >>> core.close()
    """

    def __init__(
        self, store: Store, *, max_designers: int = 128, max_stopping_studies: int = 8
    ) -> None:
        self._store = store
        self._designers = StudyCache(max_designers, WarmDesigner)
        self._finished = StudyCache(max_stopping_studies, FinishedTrials)

    @property
    def store(self) -> Store:
        """The store this core works on."""
        return self._store

    def close(self) -> None:
        """Forget the warm designers and close the store; the core is unusable afterwards."""
        self._designers.clear()
        self._finished.clear()
        self._store.close()

    # --- studies ---------------------------------------------------------------------------

    def create_study(self, name: str, config: StudyConfig) -> StudyInfo:
        """Create a study, drawing a seed when the config has none.

        Raises:
            InvalidArgumentError: The name is empty, the algorithm or its settings do
                not fit the config, or the early-stopping rule or its settings are invalid.
            AlreadyExistsError: The name is taken.
        """
        if not name:
            raise InvalidArgumentError("a study needs a non-empty name", field="name")
        check_algorithm(config)
        check_early_stopping(config)
        if config.seed is None:
            config = dataclasses.replace(config, seed=secrets.randbits(31))
        study = self._store.create_study(name, config)
        self._designers.drop(name)
        self._finished.drop(name)
        logger.info(
            "created study %r (algorithm %s, seed %s)", name, config.algorithm.name, config.seed
        )
        return study

    def get_study(self, name: str) -> StudyInfo:
        """The study of that name; ``NotFoundError`` if there is none."""
        return self._store.get_study(name)

    def list_studies(self) -> list[StudyInfo]:
        """Every study, oldest first."""
        return self._store.list_studies()

    def delete_study(self, name: str) -> None:
        """Delete a study and its trials, and forget its designer."""
        self._store.delete_study(name)
        self._designers.drop(name)
        self._finished.drop(name)
        logger.info("deleted study %r", name)

    def set_study_state(self, name: str, state: StudyState, reason: str = "") -> StudyInfo:
        """Mark a study completed or failed (or active again)."""
        study = self._store.set_study_state(name, state, reason)
        logger.info("study %r is now %s %s", name, state.value, reason)
        return study

    # --- suggestions -----------------------------------------------------------------------

    def suggest_trials(self, study_name: str, count: int = 1, client_id: str = "") -> Suggestions:
        """Hand out up to ``count`` trials to run, made ``ACTIVE``.

        Queued trials go first; a ``client_id`` that holds active trials gets those back.
        New ones come from the study's warm designer.

        Raises:
            InvalidArgumentError: ``count`` is not in ``[1, MAX_SUGGESTIONS]``.
            NotFoundError: There is no such study.
            FailedPreconditionError: The study is not ``ACTIVE``.
        """
        if not 1 <= count <= MAX_SUGGESTIONS:
            raise InvalidArgumentError(
                f"count must be between 1 and {MAX_SUGGESTIONS}, got {count}", field="count"
            )
        entry = self._designers.get(study_name)
        exhausted = False

        def generate(context: SuggestionContext, n: int) -> Sequence[Mapping[str, ParameterValue]]:
            nonlocal exhausted
            suggestions = self._generate(entry, context, n)
            exhausted = len(suggestions) < n
            return suggestions

        with entry.lock:
            try:
                trials = self._store.suggest_trials(study_name, count, client_id, generate)
            except BaseException:
                # The designer may have seen trials, or advanced its state, for suggestions
                # that were rolled back: rebuild it from the store next time.
                self._designers.drop(study_name, entry)
                raise
        if exhausted:
            logger.info("study %r: the algorithm has nothing left to suggest", study_name)
        return Suggestions(trials=tuple(trials), is_exhausted=exhausted)

    def _generate(
        self, entry: WarmDesigner, context: SuggestionContext, count: int
    ) -> list[dict[str, ParameterValue]]:
        study = context.study
        if not entry.is_built_for(study):
            logger.debug("study %r: building its designer from the store", study.name)
            entry.reset(make_designer(study.config), study)
        designer = entry.designer
        assert designer is not None  # set by reset
        completed = context.finished_trials(exclude=entry.seen_ids)
        designer.update(completed, context.active_trials())
        entry.seen_ids.update(trial.id for trial in completed)
        suggestions = designer.suggest(count)
        if len(suggestions) > count:
            raise RuntimeError(
                f"study {study.name!r}: algorithm {study.config.algorithm.name!r} returned "
                f"{len(suggestions)} suggestions, asked for {count}"
            )
        checked = []
        for suggestion in suggestions:
            parameters = {name: _plain(value) for name, value in suggestion.items()}
            try:
                study.config.space.check(parameters)
            except InvalidArgumentError as error:
                raise RuntimeError(
                    f"study {study.name!r}: algorithm {study.config.algorithm.name!r} "
                    f"suggested {parameters!r}, outside the search space ({error})"
                ) from error
            checked.append(parameters)
        return checked

    # --- trials ----------------------------------------------------------------------------

    def add_trial(self, study_name: str, parameters: Mapping[str, ParameterValue]) -> Trial:
        """Queue a trial with the given parameters (``REQUESTED``); it is handed out first.

        Raises:
            NotFoundError: There is no such study.
            InvalidArgumentError: A parameter is missing, unknown or outside the space
                (field ``parameters.<name>``).
        """
        study = self._store.get_study(study_name)
        values = {name: _plain(value) for name, value in parameters.items()}
        try:
            study.config.space.check(values)
        except InvalidArgumentError as error:
            field = f"parameters.{error.field}" if error.field else "parameters"
            raise InvalidArgumentError(error.message, field=field) from error
        trial = self._store.add_trial(study_name, values)
        logger.info("study %r: queued trial %d", study_name, trial.id)
        return trial

    def get_trial(self, trial_id: int) -> Trial:
        """The trial with that id; ``NotFoundError`` if there is none."""
        return self._store.get_trial(trial_id)

    def list_trials(
        self, study_name: str, states: Collection[TrialState] | None = None
    ) -> list[Trial]:
        """The study's trials, by number, optionally only those in ``states``."""
        return self._store.list_trials(study_name, states)

    def count_trials(self, study_name: str) -> dict[TrialState, int]:
        """How many of the study's trials are in each state (every state a key, zeros included).

        Reads no trial, so it stays fast on a study with many trials and measurements.

        Raises:
            NotFoundError: There is no such study.
        """
        return self._store.count_trials(study_name)

    def list_optimal_trials(self, study_name: str) -> list[Trial]:
        """The succeeded trials with the best finite objective value (ties included)."""
        return self._store.list_optimal_trials(study_name)

    def report_measurements(
        self,
        trial_id: int,
        measurements: Sequence[Measurement],
        *,
        diagnostics: CollectorDiagnostics | None = None,
    ) -> None:
        """Append intermediate measurements to an unfinished trial.

        Measurements whose ``report_id`` the trial already has are skipped; a report
        with nothing new succeeds even on a finished trial. ``diagnostics`` merge into
        the trial's (:meth:`~tuner.trial.CollectorDiagnostics.merge`).

        Raises:
            NotFoundError: There is no such trial.
            FailedPreconditionError: The trial is finished and the report holds something new.
        """
        if measurements or diagnostics is not None:
            self._store.add_measurements(trial_id, measurements, diagnostics=diagnostics)
        else:
            self._store.get_trial(trial_id)  # NotFoundError for an unknown trial

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
            NotFoundError: There is no such trial.
            InvalidArgumentError: There is no value of the objective metric (field
                ``final_measurement``); the trial is left as it was.
            FailedPreconditionError: The trial is already finished.
        """

        def attempt() -> Trial:
            trial = self._store.get_trial(trial_id)
            _check_unfinished(trial, "complete")
            objective = self._store.get_study(trial.study_name).config.objective
            completion = _decide_completion(trial, objective, final_measurement, infeasible_reason)
            return _write_unless_changed(
                lambda: self._store.update_trial(
                    trial_id,
                    completion.state,
                    allowed_from=(trial.state,),
                    final_measurement=completion.final_measurement,
                    objective_value=completion.objective_value,
                    reason=completion.reason,
                )
            )

        trial = _retry_on_race(attempt)
        logger.info(
            "study %r: trial %d %s %s",
            trial.study_name,
            trial.id,
            trial.state.value,
            trial.reason,
        )
        return trial

    def fail_trial(self, trial_id: int, reason: str) -> Trial:
        """Finish a trial as ``FAILED``: it crashed, or produced no objective value.

        Raises:
            NotFoundError: There is no such trial.
            FailedPreconditionError: The trial is already finished.
        """
        trial = self._store.get_trial(trial_id)
        _check_unfinished(trial, "fail")
        trial = self._store.update_trial(
            trial_id, TrialState.FAILED, allowed_from=_UNFINISHED, reason=reason
        )
        logger.info("study %r: trial %d FAILED %s", trial.study_name, trial.id, reason)
        return trial

    def stop_trial(self, trial_id: int) -> Trial:
        """Ask for an active trial to stop early (``STOPPING``); a stopping one is returned.

        Raises:
            NotFoundError: There is no such trial.
            FailedPreconditionError: The trial is queued or finished.
        """

        def attempt() -> Trial:
            trial = self._store.get_trial(trial_id)
            if trial.state is TrialState.STOPPING:
                return trial
            if trial.state is not TrialState.ACTIVE:
                raise FailedPreconditionError(
                    f"cannot stop trial {trial.id} of study {trial.study_name!r}: it is "
                    f"{trial.state.value}, not ACTIVE"
                )
            return _write_unless_changed(
                lambda: self._store.update_trial(
                    trial_id, TrialState.STOPPING, allowed_from=(TrialState.ACTIVE,)
                )
            )

        return _retry_on_race(attempt)

    # --- early stopping --------------------------------------------------------------------

    def check_trial_early_stopping(self, trial_id: int) -> StopDecision:
        """Apply the study's early-stopping rule to a trial; stop it if the rule says so.

        Reads the trial and the study's other trials (of those finished, only the ones
        no earlier check of this core has read), asks the rule (built from the
        study's config, :func:`tuner.algorithms.make_stopper`) and, when it says stop,
        moves the trial ``ACTIVE`` -> ``STOPPING`` with the rule's reason, in the same
        call. A study without early stopping, or a trial that is queued or finished,
        answers ``should_stop=False``; a ``STOPPING`` trial answers True with its reason.

        Raises:
            NotFoundError: There is no such trial.
        """

        def attempt() -> StopDecision:
            trial = self._store.get_trial(trial_id)
            if trial.state is TrialState.STOPPING:
                return StopDecision(should_stop=True, reason=trial.reason or "already stopping")
            if trial.state is not TrialState.ACTIVE:
                return StopDecision(
                    should_stop=False, reason=f"trial {trial_id} is {trial.state.value}"
                )
            study = self._store.get_study(trial.study_name)
            stopper = make_stopper(study.config)
            if stopper is None:
                return StopDecision(should_stop=False, reason="the study has no early stopping")
            others = [other for other in self._study_trials(study) if other.id != trial_id]
            decision = stopper.should_stop(trial, others)
            if decision.should_stop:
                _write_unless_changed(
                    lambda: self._store.update_trial(
                        trial_id,
                        TrialState.STOPPING,
                        allowed_from=(TrialState.ACTIVE,),
                        reason=decision.reason,
                    )
                )
                logger.info(
                    "study %r: stopping trial %d early: %s",
                    trial.study_name,
                    trial_id,
                    decision.reason,
                )
            return decision

        return _retry_on_race(attempt)

    def _study_trials(self, study: StudyInfo) -> list[Trial]:
        """The study's trials by number, as ``list_trials`` returns them.

        Reads from the store only the trials not kept from earlier checks: the unfinished
        ones and those finished since (one read, so one consistent view), and keeps the
        finished ones for the next check.
        """
        entry = self._finished.get(study.name)
        with entry.lock:
            if not entry.is_kept_for(study):
                entry.reset(study)
            loaded = self._store.list_trials(study.name, exclude_ids=entry.trials.keys())
            return entry.merge(loaded)
