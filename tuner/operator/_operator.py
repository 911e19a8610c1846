"""The operator: a watch loop around an idempotent reconcile of one Experiment.

Why not kopf: kopf keeps its own state in annotations and finalizers on our objects, retries
a failing handler after 60 s by default, and runs handlers in its own event loop, which
makes every test a timing test. Here the whole decision is :meth:`Operator.reconcile`, a
plain function of (the Experiment as the API server has it, the study in the service, the
experiment's controller if one runs): tests call it directly, with no thread, and play the
cluster themselves. The loop around it is small (:class:`~tuner.operator._loop.WatchLoop`):
one thread watches Experiments (always with ``timeoutSeconds``, then lists again, which is
also the resync), one worker takes ``(namespace, name)`` keys off a deduplicating queue and
reconciles them; each running Experiment's :class:`~tuner.controller.Controller` has a
thread of its own and asks for a reconcile whenever its progress changes or it ends.

Each Experiment ``<name>`` in namespace ``<ns>`` is the study ``<ns>/<name>`` in the
service, so equal names in two namespaces never share anything. The store is the source
of truth: an operator that restarts (or dies) creates nothing twice; its new controllers
adopt the trials' Jobs, found by label, and relaunch trials whose Job is gone.

Deleting an Experiment stops its controller and its running trials (their Jobs are
deleted; in a cluster the garbage collector also deletes them through their
ownerReferences). Its study stays in the service, with those trials left ``ACTIVE``: an
Experiment created again under the same name resumes it (relaunching them), as a rerun of
``tuner run`` does; ``tuner study delete <namespace>/<name>`` starts afresh.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tuner.controller import Controller, ExperimentEnd, ExperimentOutcome
from tuner.errors import AlreadyExistsError, InvalidArgumentError
from tuner.operator._loop import Key, WatchLoop
from tuner.operator._queue import WorkQueue
from tuner.operator._resources import API_VERSION, KIND, ExperimentApi
from tuner.operator._run import ExperimentRun
from tuner.operator._runners import RunnerFactory, job_name, study_name_of
from tuner.operator._status import (
    ExperimentStatus,
    Phase,
    Reason,
    TrialCounts,
    build_status,
    current_phase,
    optimal_trial,
)

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from tuner.backend import Backend
    from tuner.controller import ExperimentResult, Progress
    from tuner.spec import Experiment, ExperimentError

__all__ = ["Operator"]

logger = logging.getLogger(__name__)

_END_REASONS = {
    ExperimentEnd.GOAL_REACHED: Reason.GOAL_REACHED,
    ExperimentEnd.MAX_TRIALS_REACHED: Reason.MAX_TRIALS_REACHED,
    ExperimentEnd.SUGGESTION_END_REACHED: Reason.SUGGESTION_END_REACHED,
    ExperimentEnd.MAX_FAILED_TRIALS_REACHED: Reason.MAX_FAILED_TRIALS_REACHED,
}
_RUNNING_MESSAGE = "the operator runs its trials as Jobs"


class Operator:
    """Runs the trials of every ``Experiment`` in scope and keeps its ``.status``.

    Use it as a context manager (or :meth:`start` / :meth:`stop`), or call
    :meth:`reconcile` yourself with ``threads=False``.

    Args:
        api_client: A configured ``kubernetes.client.ApiClient``.
        backend: The service: a :class:`tuner.client.Client`, or an in-process core.
        runner_factory: Builds each Experiment's runner (its Jobs carry the owner).
        namespace: Watch only this namespace; None watches all.
        poll_interval: Seconds between a controller's polls of its Jobs.
        watch_timeout: ``timeoutSeconds`` of each watch; the Experiments are listed again
            (a resync) whenever a watch ends.
        retry_delay: Seconds before a failed reconcile, or a controller that raised, is
            tried again.
        threads: False: no controller threads; each :meth:`reconcile` advances the
            Experiment's controller by one step, and restarts a failed one without
            waiting for ``retry_delay`` (deterministic tests).
    """

    def __init__(
        self,
        api_client: ApiClient,
        backend: Backend,
        *,
        runner_factory: RunnerFactory,
        namespace: str | None = None,
        poll_interval: float = 1.0,
        watch_timeout: int = 30,
        retry_delay: float = 5.0,
        threads: bool = True,
    ) -> None:
        self._api = ExperimentApi(api_client, namespace)
        self._backend = backend
        self._runner_factory = runner_factory
        self._poll_interval = poll_interval
        self._retry_delay = retry_delay
        self._threads = threads
        self._runs: dict[Key, ExperimentRun] = {}
        self._runs_lock = threading.Lock()
        self._retry_at: dict[Key, float] = {}
        """When an Experiment whose controller failed may start one again (monotonic)."""
        self._validated: dict[Key, tuple[tuple[Any, Any], Experiment | ExperimentError]] = {}
        self._queue: WorkQueue[Key] = WorkQueue()
        self._loop = WatchLoop(
            self._api,
            self._queue,
            self.reconcile,
            extra_keys=self._run_keys,  # ones deleted while nobody watched
            watch_timeout=watch_timeout,
            retry_delay=retry_delay,
        )

    @property
    def namespace(self) -> str | None:
        """The namespace watched; None for all."""
        return self._api.namespace

    def running(self) -> list[Key]:
        """The Experiments whose controller runs now, as (namespace, name)."""
        with self._runs_lock:
            return sorted(key for key, run in self._runs.items() if not run.is_over)

    # -- the loop --------------------------------------------------------------------------

    def start(self) -> None:
        """Start watching and reconciling in background threads."""
        self._loop.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and every controller, leaving the trials' Jobs running.

        Like an operator that is shut down (or dies): the next one adopts the Jobs.
        """
        self._loop.stop_worker(timeout)  # no reconcile starts a controller from now on
        with self._runs_lock:
            runs = list(self._runs.values())
        for run in runs:
            run.controller.request_stop(stop_trials=False)
        for run in runs:
            if not run.join(timeout):
                logger.warning("experiment %s: controller still running", run.experiment.name)
            run.close()
        with self._runs_lock:
            self._runs.clear()
        self._loop.join_watcher(timeout)

    def __enter__(self) -> Operator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run_keys(self) -> list[Key]:
        with self._runs_lock:
            return list(self._runs)

    # -- reconcile -------------------------------------------------------------------------

    def reconcile(self, namespace: str, name: str) -> None:
        """Bring one Experiment's trials and ``.status`` in line with its spec; idempotent.

        A new Experiment is validated (an invalid one gets the condition ``Failed`` with
        reason ``InvalidSpec`` and nothing else happens), its study created or resumed,
        and its controller started; an edited budget is handed to the running
        controller; a deleted Experiment's controller stops its trials (deleting their
        Jobs); an ended one writes its final status. ``.status`` is patched only when it
        changes.

        Raises:
            kubernetes.client.ApiException: The API server refused a call (the loop
                retries after ``retry_delay``).
            TunerError: The service refused a call.
        """
        from tuner.spec import ExperimentError

        key = (namespace, name)
        obj = self._api.get(namespace, name)
        with self._runs_lock:
            run = self._runs.get(key)
        metadata = (obj or {}).get("metadata") or {}
        if obj is None or metadata.get("deletionTimestamp"):
            self._validated.pop(key, None)
            if run is not None:
                self._end_run(key, run)
            return
        if run is not None and run.uid != metadata.get("uid"):
            logger.info("experiment %s/%s was re-created; stopping the old one", *key)
            self._end_run(key, run)
            with self._runs_lock:
                run = self._runs.get(key)
            if run is not None:
                return  # the new one starts once the old one's controller has returned

        previous = obj.get("status") or {}
        loaded, is_new = self._load(key, obj)
        experiment = loaded if not isinstance(loaded, ExperimentError) else None
        if isinstance(loaded, ExperimentError):
            if run is None:
                study = study_name_of(namespace, name)
                self._write(obj, _failed(previous, Reason.INVALID_SPEC, str(loaded), study))
                return
            if is_new:
                logger.warning(
                    "experiment %s/%s: the edited spec is invalid; running on with the one it "
                    "started with:\n%s",
                    namespace,
                    name,
                    loaded,
                )

        if run is None:
            assert experiment is not None
            if not self._should_run(previous, experiment):
                return
            wait = self._retry_at.get(key, 0.0) - time.monotonic()
            if wait > 0 and self._threads:
                self._queue.add(key, delay=wait)  # a controller failed: not before its delay
                return
            self._retry_at.pop(key, None)
            started = self._start_run(obj, experiment)
            if started is None:
                return
            run, previous = started
            obj = {**obj, "status": previous}
        elif experiment is not None:
            if experiment.budget != run.controller.budget:
                logger.info("experiment %s/%s: budget now %s", namespace, name, experiment.budget)
                run.controller.update_budget(experiment.budget)
            if is_new and (
                experiment.study_config() != run.experiment.study_config()
                or experiment.trial_template != run.experiment.trial_template
                or experiment.metrics_collector != run.experiment.metrics_collector
            ):
                logger.warning(
                    "experiment %s/%s: only maxTrialCount, parallelTrialCount and "
                    "maxFailedTrialCount of a running Experiment can change; its other edits "
                    "are ignored",
                    namespace,
                    name,
                )

        if not self._threads:
            run.step()
        if run.error is not None:
            message = (
                f"the controller failed ({type(run.error).__name__}: {run.error}); "
                f"restarting it in {self._retry_delay:g} s"
            )
            logger.warning("experiment %s/%s: %s", namespace, name, message)
            self._drop(key, run)
            self._write(
                obj,
                build_status(
                    previous,
                    phase=Phase.RUNNING,
                    reason=Reason.RUNNING,
                    message=message,
                    now=_now(),
                    study_name=study_name_of(namespace, name),
                ),
            )
            self._retry_at[key] = time.monotonic() + self._retry_delay
            self._queue.add(key, delay=self._retry_delay)
            return
        if run.result is not None and run.result.outcome is ExperimentOutcome.INTERRUPTED:
            self._drop(key, run)
            return
        self._write(obj, self._status_of(previous, run, namespace, name))
        if run.result is not None:
            self._drop(key, run)

    def _load(self, key: Key, obj: Mapping[str, Any]) -> tuple[Experiment | ExperimentError, bool]:
        """The validated spec, or why it is invalid; validated again only when it changed.

        Returns:
            The experiment or its error, and whether it was validated just now.
        """
        from tuner.spec import ExperimentError, load_experiment

        metadata = obj["metadata"]
        # generation counts spec changes; without one, any change of the object counts
        version = (
            metadata.get("uid"),
            metadata.get("generation") or metadata.get("resourceVersion"),
        )
        cached = self._validated.get(key)
        if cached is not None and cached[0] == version:
            return cached[1], False
        try:
            loaded: Experiment | ExperimentError = load_experiment(obj)
        except ExperimentError as error:
            loaded = error
        self._validated[key] = (version, loaded)
        return loaded, True

    def _should_run(self, previous: Mapping[str, Any], experiment: Experiment) -> bool:
        """Whether an Experiment without a controller needs one: not ended, or restartable.

        An ended one restarts when its budget was raised past the rule that ended it (as
        Katib restarts an Experiment whose ``maxTrialCount`` grew); one that never started
        (``InvalidSpec``, ``StudyConflict``) is tried again: its spec now validates, or the
        old study may be gone.
        """
        phase = current_phase(previous)
        if phase is None or not phase.is_final:
            return True
        reason = previous["conditions"][-1].get("reason")
        if reason in (Reason.INVALID_SPEC, Reason.STUDY_CONFLICT):
            return True
        budget = experiment.budget
        finished = int(previous.get("trials", 0)) - int(previous.get("trialsRunning", 0))
        if reason == Reason.MAX_TRIALS_REACHED:
            return budget.max_trial_count is None or budget.max_trial_count > finished
        if reason == Reason.MAX_FAILED_TRIALS_REACHED:
            failed = int(previous.get("trialsFailed", 0))
            return budget.max_failed_trial_count is None or budget.max_failed_trial_count >= failed
        return False

    def _start_run(
        self, obj: Mapping[str, Any], experiment: Experiment
    ) -> tuple[ExperimentRun, Mapping[str, Any]] | None:
        """Create or resume the study and start the controller; the run and the status."""
        metadata = obj["metadata"]
        namespace, name = str(metadata["namespace"]), str(metadata["name"])
        key = (namespace, name)
        study = study_name_of(namespace, name)
        config = experiment.study_config()
        previous = obj.get("status") or {}
        from tuner.runners import KubernetesOwner

        owner = KubernetesOwner(
            api_version=str(obj.get("apiVersion") or API_VERSION),
            kind=str(obj.get("kind") or KIND),
            name=name,
            uid=str(metadata["uid"]),
        )
        try:
            runner = self._runner_factory(experiment, owner)
        except InvalidArgumentError as error:
            self._write(obj, _failed(previous, Reason.INVALID_SPEC, str(error), study))
            return None
        try:
            self._backend.create_study(study, config)
            created = f"study {study} created"
        except AlreadyExistsError:
            stored = self._backend.get_study(study)
            if not stored.config.is_same_problem(config):
                runner.close()
                message = (
                    f"the service already holds a study {study!r} with a different search "
                    "space, objective or algorithm; rename the Experiment or delete the old "
                    f"study (tuner study delete {study})"
                )
                self._write(obj, _failed(previous, Reason.STUDY_CONFLICT, message, study))
                return None
            created = f"study {study} resumed"
        controller = Controller(
            self._backend,
            runner,
            study_name=study,
            budget=experiment.budget,
            poll_interval=self._poll_interval,
            on_progress=lambda _progress: self._queue.add(key),
            missing_objective_hint=experiment.metrics_collector.self_report_hint,
        )
        run = ExperimentRun(
            uid=str(metadata["uid"]),
            experiment=experiment,
            controller=controller,
            runner=runner,
            on_change=lambda: self._queue.add(key),
        )
        with self._runs_lock:
            self._runs[key] = run
        logger.info("experiment %s/%s: %s; running it", namespace, name, created)
        status = build_status(
            previous,
            phase=Phase.CREATED,
            reason=Reason.CREATED,
            message=created,
            now=_now(),
            study_name=study,
        )
        if current_phase(previous) is not Phase.RUNNING:  # new, or ended and restarting
            self._write(obj, status)  # Created first, so a watcher sees it before Running
            previous = status
        if self._threads:
            run.start_thread(f"tuner-experiment-{namespace}-{name}")
        return run, previous

    def _status_of(
        self, previous: Mapping[str, Any], run: ExperimentRun, namespace: str, name: str
    ) -> ExperimentStatus:
        result: ExperimentResult | None = run.result
        progress: Progress = result.progress if result is not None else run.progress
        experiment = run.experiment
        best = progress.best_trial
        optimal = (
            optimal_trial(
                best, objective=experiment.objective, trial_name=job_name(experiment, best)
            )
            if best is not None
            else None
        )
        if result is None:
            phase, reason, message = Phase.RUNNING, Reason.RUNNING, _RUNNING_MESSAGE
        else:
            phase = (
                Phase.SUCCEEDED if result.outcome is ExperimentOutcome.SUCCEEDED else Phase.FAILED
            )
            reason, message = _END_REASONS[result.end], result.reason
        return build_status(
            previous,
            phase=phase,
            reason=reason,
            message=message,
            now=_now(),
            study_name=study_name_of(namespace, name),
            counts=TrialCounts(
                succeeded=progress.succeeded,
                failed=progress.failed,
                running=progress.running,
                early_stopped=progress.early_stopped,
                infeasible=progress.infeasible,
            ),
            optimal=optimal,
        )

    def _write(self, obj: Mapping[str, Any], status: ExperimentStatus) -> None:
        """Patch ``.status`` if it differs from the object's; never a no-op patch."""
        previous = obj.get("status") or {}
        new: Mapping[str, Any] = status
        patch = {k: v for k, v in new.items() if previous.get(k) != v}
        patch.update({k: None for k in _STATUS_KEYS if k in previous and k not in new})
        if not patch:
            return
        metadata = obj["metadata"]
        logger.debug("experiment %s/%s: status %s", metadata["namespace"], metadata["name"], patch)
        self._api.patch_status(str(metadata["namespace"]), str(metadata["name"]), patch)

    def _end_run(self, key: Key, run: ExperimentRun) -> None:
        """Stop a run's trials (deleting their Jobs); drop it once its controller returned."""
        logger.info("experiment %s/%s is gone; stopping its trials", *key)
        run.controller.request_stop(stop_trials=True)
        if not self._threads:
            run.step()
        if run.is_over:
            self._drop(key, run)

    def _drop(self, key: Key, run: ExperimentRun) -> None:
        run.close()
        with self._runs_lock:
            if self._runs.get(key) is run:
                del self._runs[key]


_STATUS_KEYS = frozenset(ExperimentStatus.__annotations__)


def _failed(
    previous: Mapping[str, Any], reason: Reason, message: str, study: str
) -> ExperimentStatus:
    return build_status(
        previous, phase=Phase.FAILED, reason=reason, message=message, now=_now(), study_name=study
    )


def _now() -> datetime:
    return datetime.now(UTC)
