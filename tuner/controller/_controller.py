"""The experiment loop: keep trials running until the budget, the goal or the end."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from tuner.config import Budget, Objective, StudyInfo, StudyState
from tuner.controller._progress import (
    ExperimentEnd,
    ExperimentOutcome,
    ExperimentResult,
    Progress,
)
from tuner.errors import FailedPreconditionError, InvalidArgumentError
from tuner.runners import RunPhase, RunStatus
from tuner.trial import Trial, TrialState

if TYPE_CHECKING:
    from tuner.backend import Backend
    from tuner.runners import Runner

__all__ = ["Controller"]

logger = logging.getLogger(__name__)

_COUNTERS = {
    TrialState.SUCCEEDED: "succeeded",
    TrialState.FAILED: "failed",
    TrialState.INFEASIBLE: "infeasible",
    TrialState.EARLY_STOPPED: "early_stopped",
}


class Controller:
    """Runs one experiment: suggests trials, launches them through a runner, settles them.

    It keeps up to ``budget.parallel_trial_count`` trials running, stops once
    ``budget.max_trial_count`` trials have finished, fails the experiment once more than
    ``budget.max_failed_trial_count`` have failed, succeeds early when a trial meets the
    objective's goal, and ends when the algorithm has nothing left to suggest. With early
    stopping configured, it asks the service about each running trial that reported new
    measurements since it last asked; trials that become ``STOPPING`` (by that check, or
    by anyone calling ``stop_trial``) are stopped through the runner and end
    ``EARLY_STOPPED`` with their values so far (``FAILED`` without any), counting toward
    ``max_trial_count`` but not as failures. The study must exist. Everything it knows
    comes from the backend, so a new controller picks up where a dead one stopped: trials
    the dead one left running are adopted from the runner or launched again, and finished
    ones count toward the budget.

    :meth:`run` drives the loop in the calling thread; :meth:`start` and :meth:`step` let
    a caller drive it one pass at a time instead. :meth:`request_stop`,
    :meth:`update_budget` and :attr:`progress` are safe from any thread.

    Args:
        backend: Where the study lives: the in-process service core or a client.
        runner: Launches, polls and stops trials.
        study_name: The experiment's study.
        budget: Trial counts.
        poll_interval: Seconds between polls of the runner.
        on_progress: Called with a new snapshot whenever the counts or the best trial change.
        missing_objective_hint: Added to the reason of a trial that exits 0 without a
            value of the objective metric: how it should have reported one.
    """

    def __init__(
        self,
        backend: Backend,
        runner: Runner,
        *,
        study_name: str,
        budget: Budget,
        poll_interval: float = 0.2,
        on_progress: Callable[[Progress], None] | None = None,
        missing_objective_hint: str = "",
    ) -> None:
        self._backend = backend
        self._missing_objective_hint = missing_objective_hint
        self._runner = runner
        self._study_name = study_name
        self._budget = budget
        self._poll_interval = poll_interval
        self._on_progress = on_progress
        self._stop_requested = threading.Event()
        self._keep_trials = False
        self._budget_lock = threading.Lock()
        self._started = False
        self._running: dict[int, Trial] = {}
        self._progress = Progress(study_name=study_name)
        self._published: Progress | None = None
        self._is_exhausted = False
        self._objective: Objective | None = None
        self._has_early_stopping = False
        self._checked_counts: dict[int, int] = {}
        """Per running trial, how many measurements it had when last checked for stopping."""

    def request_stop(self, *, stop_trials: bool = True) -> None:
        """Ask the loop to return ``INTERRUPTED``; safe from any thread.

        Args:
            stop_trials: Stop the running trials through the runner (their trials stay
                ``ACTIVE``, and the next run launches them again). False leaves them
                running, for the next run to adopt (an operator shutting down).
        """
        self._keep_trials = not stop_trials
        self._stop_requested.set()

    @property
    def budget(self) -> Budget:
        """The budget in force."""
        with self._budget_lock:
            return self._budget

    def update_budget(self, budget: Budget) -> None:
        """Change the budget of a running experiment; safe from any thread.

        Takes effect at the next pass of the loop: a smaller ``parallel_trial_count``
        launches no more trials until fewer run (none is stopped for it), a
        ``max_trial_count`` already reached ends the experiment.
        """
        with self._budget_lock:
            self._budget = budget

    @property
    def progress(self) -> Progress:
        """The latest snapshot of the counts and the best trial; safe from any thread."""
        return self._progress

    def run(self) -> ExperimentResult:
        """Run the experiment to its end, or until :meth:`request_stop` or Ctrl-C.

        Returns:
            How it ended and the final counts. On ``INTERRUPTED`` the trials that were
            running stay ``ACTIVE`` in the store, and the next run launches them again.
        """
        self.start()
        try:
            while True:
                result = self.step()
                if result is not None:
                    return result
                if self._stop_requested.wait(self._poll_interval):
                    return self._interrupt()
        except KeyboardInterrupt:
            return self._interrupt()

    def start(self) -> None:
        """Read the study and its trials, and adopt or relaunch those left running.

        Does nothing when already started; :meth:`step` starts on its first call.
        """
        if self._started:
            return
        study = self._backend.get_study(self._study_name)
        self._objective = study.config.objective
        self._has_early_stopping = study.config.early_stopping is not None
        self._load_history(study)
        self._started = True

    def step(self) -> ExperimentResult | None:
        """One pass of the loop: settle, stop early, check the end, launch.

        Returns:
            The result once the experiment ended (or a stop was requested); None while
            it goes on.
        """
        self.start()
        if self._stop_requested.is_set():
            # before settling: a trial whose Job vanished with its deleted owner is
            # interrupted (left ACTIVE), not failed
            return self._interrupt()
        self._settle_finished()
        self._stop_early()
        ended = self._check_end()
        if ended is not None:
            return self._finish(*ended)
        self._launch_more()
        self._publish()
        return None

    # -- history ---------------------------------------------------------------------------

    def _load_history(self, study: StudyInfo) -> None:
        counts = dict.fromkeys(_COUNTERS.values(), 0)
        best: Trial | None = None
        active: list[Trial] = []
        for trial in self._backend.list_trials(self._study_name):
            if trial.state in _COUNTERS:
                counts[_COUNTERS[trial.state]] += 1
                best = self._better(best, trial)
            elif trial.state.is_active:
                active.append(trial)
        self._progress = Progress(study_name=self._study_name, best_trial=best, **counts)
        if study.state is not StudyState.ACTIVE and self._check_end() is None:
            logger.info("study %s: %s before, resuming", self._study_name, study.state.value)
            self._backend.set_study_state(self._study_name, StudyState.ACTIVE)
        for trial in active:
            if self._runner.adopt(trial):
                logger.info("study %s: adopted running trial %d", self._study_name, trial.id)
            else:
                logger.info(
                    "study %s: trial %d was running when the last run ended; launching it again",
                    self._study_name,
                    trial.id,
                )
                self._runner.launch(trial)
            self._running[trial.id] = trial

    # -- settling finished trials ----------------------------------------------------------

    def _settle_finished(self) -> None:
        for trial_id in list(self._running):
            status = self._runner.poll(trial_id)
            if status.phase is not RunPhase.RUNNING:
                self._settle(trial_id, status)

    def _settle(self, trial_id: int, status: RunStatus) -> None:
        trial = self._running.pop(trial_id)
        try:
            if status.phase is RunPhase.SUCCEEDED or trial.state is TrialState.STOPPING:
                settled = self._complete(trial, status)
            else:
                settled = self._backend.fail_trial(trial_id, status.reason or "the trial failed")
        except FailedPreconditionError:
            settled = self._backend.get_trial(trial_id)  # it finished itself, e.g. by push
        self._runner.release(trial_id)
        self._checked_counts.pop(trial_id, None)
        self._count(settled)

    def _complete(self, trial: Trial, status: RunStatus) -> Trial:
        try:
            return self._backend.complete_trial(trial.id)
        except InvalidArgumentError:
            assert self._objective is not None
            if status.phase is RunPhase.SUCCEEDED:
                reason = (
                    f"exited 0 but reported no value of the objective metric "
                    f"{self._objective.metric_name!r}"
                )
                if self._missing_objective_hint:
                    reason += f" ({self._missing_objective_hint})"
            else:
                reason = status.reason or "stopped before it reported the objective metric"
            logger.warning("study %s: trial %d failed: %s", self._study_name, trial.id, reason)
            return self._backend.fail_trial(trial.id, reason)

    def _count(self, trial: Trial) -> None:
        counter = _COUNTERS.get(trial.state)
        if counter is None:
            return
        progress = self._progress
        self._progress = replace(
            progress,
            best_trial=self._better(progress.best_trial, trial),
            **{counter: getattr(progress, counter) + 1},
        )
        logger.info(
            "study %s: trial %d %s%s",
            self._study_name,
            trial.id,
            trial.state.value,
            f" ({trial.reason})" if trial.reason else "",
        )

    def _better(self, best: Trial | None, trial: Trial) -> Trial | None:
        assert self._objective is not None
        metric = self._objective.metric_name
        if trial.state is not TrialState.SUCCEEDED or not trial.has_finite_objective(metric):
            return best
        if best is None:
            return trial
        value, best_value = trial.objective_value(metric), best.objective_value(metric)
        assert value is not None and best_value is not None
        return trial if self._objective.is_better(value, best_value) else best

    # -- early stopping --------------------------------------------------------------------

    def _stop_early(self) -> None:
        """Check running trials with new measurements; stop those that are ``STOPPING``.

        One ``list_trials`` call reads every running trial's state and measurements.
        """
        if not self._running:
            return
        listed = {
            trial.id: trial
            for trial in self._backend.list_trials(
                self._study_name, states=(TrialState.ACTIVE, TrialState.STOPPING)
            )
        }
        for trial_id in list(self._running):
            trial = listed.get(trial_id)
            if trial is None:
                continue  # finished meanwhile (say, by push): settled once its run ends
            if trial.state is TrialState.ACTIVE and self._has_new_measurements(trial):
                decision = self._backend.check_trial_early_stopping(trial_id)
                if decision.should_stop:
                    trial = replace(trial, state=TrialState.STOPPING, reason=decision.reason)
            self._running[trial_id] = trial
            if trial.state is TrialState.STOPPING:
                logger.info(
                    "study %s: stopping trial %d early%s",
                    self._study_name,
                    trial_id,
                    f": {trial.reason}" if trial.reason else "",
                )
                self._runner.stop(trial_id)
                self._settle(trial_id, self._runner.poll(trial_id))

    def _has_new_measurements(self, trial: Trial) -> bool:
        if not self._has_early_stopping:
            return False
        count = len(trial.measurements)
        if count <= self._checked_counts.get(trial.id, 0):
            return False
        self._checked_counts[trial.id] = count
        return True

    # -- ending ----------------------------------------------------------------------------

    def _check_end(self) -> tuple[ExperimentOutcome, ExperimentEnd, str] | None:
        assert self._objective is not None
        progress, budget = self._progress, self.budget
        if (
            budget.max_failed_trial_count is not None
            and progress.failed > budget.max_failed_trial_count
        ):
            return (
                ExperimentOutcome.FAILED,
                ExperimentEnd.MAX_FAILED_TRIALS_REACHED,
                (
                    f"{progress.failed} trials failed, more than maxFailedTrialCount "
                    f"({budget.max_failed_trial_count})"
                ),
            )
        best = progress.best_trial
        if best is not None:
            value = best.objective_value(self._objective.metric_name)
            if value is not None and self._objective.is_goal_reached(value):
                return (
                    ExperimentOutcome.SUCCEEDED,
                    ExperimentEnd.GOAL_REACHED,
                    (
                        f"trial {best.id} reached the goal ({self._objective.metric_name} = "
                        f"{value:g}, goal {self._objective.goal:g})"
                    ),
                )
        if budget.max_trial_count is not None and progress.finished >= budget.max_trial_count:
            return (
                ExperimentOutcome.SUCCEEDED,
                ExperimentEnd.MAX_TRIALS_REACHED,
                (f"maxTrialCount reached: {progress.finished} trials finished"),
            )
        if self._is_exhausted and not self._running:
            return (
                ExperimentOutcome.SUCCEEDED,
                ExperimentEnd.SUGGESTION_END_REACHED,
                "the algorithm has no more points to suggest",
            )
        return None

    def _finish(
        self, outcome: ExperimentOutcome, end: ExperimentEnd, reason: str
    ) -> ExperimentResult:
        for trial_id in list(self._running):
            self._stop_trial(trial_id)
        state = (
            StudyState.COMPLETED if outcome is ExperimentOutcome.SUCCEEDED else StudyState.FAILED
        )
        self._backend.set_study_state(self._study_name, state, reason)
        logger.info("study %s: %s: %s", self._study_name, outcome.value, reason)
        self._publish(force=True)
        return ExperimentResult(outcome=outcome, reason=reason, progress=self._progress, end=end)

    def _stop_trial(self, trial_id: int) -> None:
        """Stop a running trial for good: it ends early-stopped, or failed without a value."""
        # If it finished on its own meanwhile, settling reads its final state.
        with contextlib.suppress(FailedPreconditionError):
            self._running[trial_id] = self._backend.stop_trial(trial_id)
        self._runner.stop(trial_id)
        self._settle(trial_id, self._runner.poll(trial_id))

    def _interrupt(self) -> ExperimentResult:
        """Leave the trials active, for the next run to re-launch (or adopt, if kept)."""
        for trial_id in list(self._running):
            if not self._keep_trials:
                self._runner.stop(trial_id)
            self._runner.release(trial_id)
        self._running.clear()
        self._progress = replace(self._progress, running=0)
        reason = (
            "detached; its trials keep running for the next run to adopt"
            if self._keep_trials
            else "interrupted; run it again to resume"
        )
        logger.info("study %s: %s", self._study_name, reason)
        return ExperimentResult(
            outcome=ExperimentOutcome.INTERRUPTED, reason=reason, progress=self._progress
        )

    # -- launching -------------------------------------------------------------------------

    def _launch_more(self) -> None:
        if self._is_exhausted:
            return
        budget = self.budget
        slots = budget.parallel_trial_count - len(self._running)
        if budget.max_trial_count is not None:
            slots = min(
                slots, budget.max_trial_count - self._progress.finished - len(self._running)
            )
        if slots <= 0:
            return
        suggestions = self._backend.suggest_trials(self._study_name, slots)
        for trial in suggestions.trials:
            if trial.id in self._running:
                continue
            logger.info(
                "study %s: launching trial %d %s",
                self._study_name,
                trial.id,
                dict(trial.parameters),
            )
            self._runner.launch(trial)
            self._running[trial.id] = trial
        self._is_exhausted = suggestions.is_exhausted

    # -- progress --------------------------------------------------------------------------

    def _publish(self, *, force: bool = False) -> None:
        self._progress = replace(self._progress, running=len(self._running))
        if self._on_progress is not None and (force or self._progress != self._published):
            self._published = self._progress
            self._on_progress(self._progress)
