"""Run trials as Kubernetes Jobs."""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuner.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    TunerError,
    UnavailableError,
)
from tuner.runners._base import RunPhase, RunStatus
from tuner.runners._job import (
    EXPERIMENT_LABEL,
    TRIAL_LABEL,
    KubernetesOwner,
    SecretKeySelector,
    build_trial_job,
    check_collector,
    label_value,
    trial_job_name,
)
from tuner.runners._pod_start import StuckContainer, find_stuck_container, stuck_reason

if TYPE_CHECKING:
    from kubernetes import client

    from tuner.spec import Experiment
    from tuner.trial import Trial

__all__ = ["KubernetesRunner"]

logger = logging.getLogger(__name__)

_TRANSIENT_CODES = frozenset({0, 429, 500, 502, 503, 504})
_TAIL_LINES = 5
_MAX_TAIL_LINE = 300
_MAX_RETRY_AFTER = 5.0


@dataclass(slots=True)
class _Tracked:
    job_name: str
    uid: str
    final: RunStatus | None = None
    stuck_since: float | None = None
    """When polls began to see a pod of the Job unable to start (see POD_START_TIMEOUTS)."""


class KubernetesRunner:
    """Runs each trial of one experiment as a ``batch/v1`` Job.

    The Job is the experiment's trial template rendered for the trial
    (:func:`tuner.spec.render_trial_job`), named ``<experiment>-<trial number>``
    (:func:`~tuner.runners._job.trial_job_name`), labelled ``tuner.dev/experiment`` and
    ``tuner.dev/trial`` (the Job and its pods), owned by ``owner`` (the Experiment custom
    resource), with ``TUNER_TRIAL_ID``, ``TUNER_STUDY_NAME`` and ``TUNER_SERVICE_ENDPOINT``
    (and, with ``token_secret``, ``TUNER_SERVICE_TOKEN`` from that Secret) in its primary
    container's environment, whose command the metrics collector wraps
    (``python -m tuner.collectors <kind> ... -- <command>``: the image needs tuner; the
    collector copies the output through, so the pod's log still shows it).

    Where it differs from :class:`~tuner.runners.LocalRunner`, because a Job outlives the
    process that created it:

    - :meth:`close` stops nothing: the Jobs run on, and the next runner (an operator that
      restarted) takes them over with :meth:`adopt`, which finds a trial's Job by its labels;
    - :meth:`release` deletes a finished Job (unless ``retain``), but leaves a running one
      alone (a controller detaching from its trials releases them);
    - :meth:`adopt` returns True for a finished Job too, so that :meth:`poll` reports how it
      ended and the controller settles the trial rather than running it again;
    - :meth:`launch` is idempotent: a Job of that name already made for the same trial (by
      an earlier run) counts as launched;
    - :meth:`stop` deletes the Job with ``propagationPolicy: Background`` (the cluster's
      garbage collector then deletes its pods, which kills the trial; without a policy a
      ``batch/v1`` Job's pods would be orphaned and run on) and returns without waiting for
      them to be gone; ``poll`` then reports FAILED (``stopped``). A Job deleted by someone
      else is FAILED with a reason saying so.
    - a Job whose pod cannot start would wait forever: the kubelet retries, the pod stays
      ``Pending`` with a container waiting, and the Job never fails on its own. Once polls
      have seen a container waiting for one of these reasons, without a break, for the
      reason's timeout, :meth:`poll` deletes the Job (as :meth:`stop` does) and reports
      FAILED naming the container, the reason, the kubelet's message and (for image
      problems) the image. The default timeouts: ``ErrImagePull`` and ``ImagePullBackOff``
      300 s (a registry's hiccup heals, and the kubelet tries about five pulls in that
      time); ``CreateContainerConfigError`` (a missing Secret or ConfigMap, or key),
      ``CreateContainerError``, ``InvalidImageName``, ``ErrImageNeverPull`` and
      ``ImageInspectError`` 60 s. ``pod_start_timeout`` replaces them all. The clock runs
      from the first poll that sees the pod stuck and keeps running while the reason
      changes (a failing pull alternates ``ErrImagePull`` and ``ImagePullBackOff``); a
      pod that starts (a Secret created, a pull that succeeds) within the time is in time.
      Not included: ``RunContainerError`` and ``CrashLoopBackOff`` (the container was
      started, so the pod fails, or its restarts count against ``backoffLimit``).

    It needs these permissions in the namespace: Jobs ``create``, ``get``, ``list``,
    ``delete``; pods ``list``; ``pods/log`` ``get``. It never reads Secrets: the kubelet
    resolves ``token_secret`` for the pod.

    Transient API errors (no connection, 429, 5xx) are retried for ``retry_timeout``
    seconds with a growing delay (honouring ``Retry-After``), then raise
    :class:`~tuner.errors.UnavailableError`; a refused request raises
    :class:`~tuner.errors.InvalidArgumentError` (400, 422),
    :class:`~tuner.errors.FailedPreconditionError` (401, 403: check the RBAC) or
    :class:`~tuner.errors.TunerError`, with the API server's message.

    The ``kubernetes`` client is imported when the runner is built: ``pip install
    tuner[kubernetes]``.

    Args:
        api_client: A ``kubernetes.client.ApiClient`` (``load_incluster_config()`` in a
            pod; in tests, a ``Configuration`` pointed at an emulator).
        experiment: The validated experiment whose trials this runner runs.
        namespace: Where the Jobs go; None means the experiment's namespace.
        owner: The Experiment custom resource the Jobs belong to; None gives ownerless Jobs.
        service_endpoint: ``host:port`` of the tuner service, as the trials reach it.
        retain: Keep finished Jobs on :meth:`release`; None means the experiment's
            ``trialTemplate.retain``.
        retry_timeout: Seconds to keep retrying a transient API error.
        token_secret: The Secret key holding the service's bearer token, which the trial
            pods get as ``TUNER_SERVICE_TOKEN`` (``valueFrom.secretKeyRef``, replacing any
            the template sets); None sets no token.
        pod_start_timeout: Seconds a trial's pod may wait, unable to start (a missing
            Secret, an image that cannot be pulled, ...), before the trial fails, whatever
            the reason; None: each reason's default (300 s for image pulls, 60 s for the
            rest).

    Raises:
        InvalidArgumentError: The experiment's metrics collector cannot wrap a command
            (``field`` names ``spec.metricsCollectorSpec.collector...``), or a negative
            ``retry_timeout`` or ``pod_start_timeout``.
        ImportError: The ``kubernetes`` client is not installed.
    """

    def __init__(
        self,
        *,
        api_client: client.ApiClient,
        experiment: Experiment,
        namespace: str | None = None,
        owner: KubernetesOwner | None = None,
        service_endpoint: str,
        retain: bool | None = None,
        retry_timeout: float = 30.0,
        token_secret: SecretKeySelector | None = None,
        pod_start_timeout: float | None = None,
    ) -> None:
        try:
            from kubernetes import client
        except ImportError as error:  # pragma: no cover - the extra is installed in tests
            raise ImportError(
                "the Kubernetes runner needs the kubernetes client: pip install tuner[kubernetes]"
            ) from error
        if retry_timeout < 0:
            raise InvalidArgumentError(f"must be >= 0, got {retry_timeout}", field="retry_timeout")
        if pod_start_timeout is not None and not pod_start_timeout >= 0:
            raise InvalidArgumentError(
                f"must be >= 0, got {pod_start_timeout}", field="pod_start_timeout"
            )
        check_collector(experiment)
        self._experiment = experiment
        self._namespace = namespace or experiment.namespace
        self._owner = owner
        self._service_endpoint = service_endpoint
        self._retain = experiment.trial_template.retain if retain is None else retain
        self._retry_timeout = retry_timeout
        self._token_secret = token_secret
        self._pod_start_timeout = pod_start_timeout
        self._api_exception: type[client.ApiException] = client.ApiException
        # typed as Any: the client's models make every field optional; we read dicts
        self._batch: Any = client.BatchV1Api(api_client)
        self._core: Any = client.CoreV1Api(api_client)
        self._api_client: Any = api_client
        self._trials: dict[int, _Tracked] = {}
        self._lock = threading.Lock()

    @property
    def namespace(self) -> str:
        """Where the Jobs go."""
        return self._namespace

    def job_name(self, trial: Trial) -> str:
        """The name of ``trial``'s Job."""
        return trial_job_name(self._experiment.name, trial.number)

    # -- the Runner protocol ------------------------------------------------------------------

    def launch(self, trial: Trial) -> None:
        """Create ``trial``'s Job; a Job already made for this trial counts as launched.

        Raises:
            FailedPreconditionError: The trial is launched already and not released, or a
                Job of its name exists for another trial.
            InvalidArgumentError: The Job cannot be built, or the API server refused it.
            UnavailableError: The API server could not be reached in time.
        """
        with self._lock:
            if trial.id in self._trials:
                raise FailedPreconditionError(f"trial {trial.id} is launched already")
        job = build_trial_job(
            self._experiment,
            trial,
            owner=self._owner,
            service_endpoint=self._service_endpoint,
            token_secret=self._token_secret,
        )
        name = job["metadata"]["name"]
        try:
            created = self._call(
                f"create Job {self._namespace}/{name} for trial {trial.id}",
                lambda: self._batch.create_namespaced_job(self._namespace, job),
            )
            uid = str(created["metadata"]["uid"])
            logger.debug("trial %d: created Job %s/%s", trial.id, self._namespace, name)
        except _Conflict:
            existing = self._read_job(name)
            labels = (existing["metadata"].get("labels") or {}) if existing is not None else {}
            if existing is None or labels.get(TRIAL_LABEL) != str(trial.id):
                raise FailedPreconditionError(
                    f"cannot launch trial {trial.id}: a Job {self._namespace}/{name} exists "
                    f"and belongs to {_describe_owner(labels)}; delete it or rename the "
                    "experiment"
                ) from None
            uid = str(existing["metadata"]["uid"])
            logger.info(
                "trial %d: its Job %s/%s exists already; taking it as launched",
                trial.id,
                self._namespace,
                name,
            )
        with self._lock:
            self._trials[trial.id] = _Tracked(job_name=name, uid=uid)

    def poll(self, trial_id: int) -> RunStatus:
        """The phase of a trial, from its Job's conditions.

        ``Complete`` is SUCCEEDED; ``Failed`` is FAILED, with the Job's reason and message,
        the primary container's exit code and the last lines of its log; a Job that is
        gone is FAILED; a Job whose pod has waited, unable to start, past its timeout (see
        the class) is deleted and FAILED, with the kubelet's reason and message.

        Raises:
            NotFoundError: The trial was never launched or adopted, or was released.
            UnavailableError: The API server could not be reached in time.
        """
        tracked = self._get(trial_id)
        if tracked.final is not None:
            return tracked.final
        job = self._read_job(tracked.job_name)
        if job is None or str(job["metadata"]["uid"]) != tracked.uid:
            status = RunStatus(
                phase=RunPhase.FAILED,
                reason=f"its Job {self._namespace}/{tracked.job_name} was deleted from outside "
                "the runner before it finished",
            )
        else:
            status = self._status_of(job)
            if status.phase is RunPhase.RUNNING:
                status = self._check_stuck(tracked, job)
        if status.phase is not RunPhase.RUNNING:
            tracked.final = status
        return status

    def stop(self, trial_id: int) -> None:
        """Delete the trial's Job, and so its pods (no-op if the Job has finished).

        Raises:
            NotFoundError: The trial was never launched or adopted, or was released.
        """
        tracked = self._get(trial_id)
        if self.poll(trial_id).phase is not RunPhase.RUNNING:
            return
        self._delete_job(tracked)
        tracked.final = RunStatus(
            phase=RunPhase.FAILED,
            reason=f"stopped: its Job {self._namespace}/{tracked.job_name} was deleted",
        )

    def adopt(self, trial: Trial) -> bool:
        """Take over the trial's Job, found by its labels; False if there is none.

        A finished Job is adopted too: :meth:`poll` then reports how it ended.
        """
        selector = (
            f"{EXPERIMENT_LABEL}={label_value(self._experiment.name)},{TRIAL_LABEL}={trial.id}"
        )
        jobs = self._call(
            f"list the Jobs of trial {trial.id}",
            lambda: self._batch.list_namespaced_job(self._namespace, label_selector=selector),
        )["items"]
        if not jobs:
            return False
        names = sorted(str(j["metadata"]["name"]) for j in jobs)
        expected = self.job_name(trial)
        job = next((j for j in jobs if j["metadata"]["name"] == expected), jobs[0])
        name = str(job["metadata"]["name"])
        if len(jobs) > 1:
            logger.warning(
                "trial %d has %d Jobs (%s); adopting %s", trial.id, len(jobs), names, name
            )
        with self._lock:
            self._trials[trial.id] = _Tracked(job_name=name, uid=str(job["metadata"]["uid"]))
        logger.info("trial %d: adopted Job %s/%s", trial.id, self._namespace, name)
        return True

    def release(self, trial_id: int) -> None:
        """Forget a trial; delete its Job if it finished and Jobs are not retained.

        A running Job is left running (the controller releases its trials when it detaches
        from them); unknown ids are ignored.
        """
        with self._lock:
            tracked = self._trials.get(trial_id)
        if tracked is None:
            return
        if not self._retain and tracked.final is not None:
            self._delete_job(tracked)
        with self._lock:
            self._trials.pop(trial_id, None)

    def close(self) -> None:
        """Forget every trial, and stop none: their Jobs run on, for the next runner to adopt.

        Unlike :meth:`LocalRunner.close <tuner.runners.LocalRunner.close>`, which stops its
        processes, since a Job is not tied to this process.
        """
        with self._lock:
            self._trials.clear()

    # -- helpers ------------------------------------------------------------------------------

    def _get(self, trial_id: int) -> _Tracked:
        with self._lock:
            tracked = self._trials.get(trial_id)
        if tracked is None:
            raise NotFoundError(f"trial {trial_id} was not launched or adopted by this runner")
        return tracked

    def _read_job(self, name: str) -> dict[str, Any] | None:
        """The Job, or None when there is none."""
        try:
            job: dict[str, Any] = self._call(
                f"read Job {self._namespace}/{name}",
                lambda: self._batch.read_namespaced_job(name, self._namespace),
            )
        except _Missing:
            return None
        return job

    def _delete_job(self, tracked: _Tracked) -> None:
        name = tracked.job_name
        body = {"propagationPolicy": "Background", "preconditions": {"uid": tracked.uid}}
        # gone already, or replaced by another Job of that name: not ours to delete
        with contextlib.suppress(_Missing, _Conflict):
            self._call(
                f"delete Job {self._namespace}/{name}",
                lambda: self._batch.delete_namespaced_job(name, self._namespace, body=body),
            )
        logger.debug("deleted Job %s/%s", self._namespace, name)

    def _status_of(self, job: dict[str, Any]) -> RunStatus:
        for condition in (job.get("status") or {}).get("conditions") or []:
            if condition.get("status") != "True":
                continue
            if condition.get("type") == "Complete":
                return RunStatus(phase=RunPhase.SUCCEEDED, exit_code=0)
            if condition.get("type") == "Failed":
                reason = f"Job {self._namespace}/{job['metadata']['name']} failed"
                if condition.get("reason"):
                    reason += f": {condition['reason']}"
                if condition.get("message"):
                    reason += f" ({condition['message']})"
                exit_code, tail = self._last_pod_output(job)
                if exit_code is not None:
                    reason += f"; exit code {exit_code}"
                if tail:
                    reason += f"; last output:\n{tail}"
                return RunStatus(phase=RunPhase.FAILED, reason=reason, exit_code=exit_code)
        return RunStatus(phase=RunPhase.RUNNING)

    def _check_stuck(self, tracked: _Tracked, job: dict[str, Any]) -> RunStatus:
        """RUNNING, or FAILED (and the Job deleted) once a pod of the running Job has waited,
        unable to start, past its timeout (polls seeing it so without a break)."""
        running = RunStatus(phase=RunPhase.RUNNING)
        status = job.get("status") or {}
        if int(status.get("active") or 0) <= int(status.get("ready") or 0):
            tracked.stuck_since = None  # no pod, or every pod ready: nothing waits
            return running
        stuck = self._stuck_container_of(job)
        if stuck is None:
            tracked.stuck_since = None
            return running
        timeout = stuck.timeout if self._pod_start_timeout is None else self._pod_start_timeout
        now = time.monotonic()
        if tracked.stuck_since is None:
            tracked.stuck_since = now
            logger.warning(
                "Job %s/%s: container %s of pod %s cannot start (%s: %s); the trial fails "
                "unless that is fixed within %g s",
                self._namespace,
                tracked.job_name,
                stuck.describe(),
                stuck.pod,
                stuck.reason,
                stuck.message,
                timeout,
            )
        if now - tracked.stuck_since < timeout:
            return running
        reason = stuck_reason(
            stuck, namespace=self._namespace, timeout=timeout, token_secret=self._token_secret
        )
        self._delete_job(tracked)
        return RunStatus(
            phase=RunPhase.FAILED,
            reason=f"{reason}; its Job {self._namespace}/{tracked.job_name} was deleted",
        )

    def _stuck_container_of(self, job: dict[str, Any]) -> StuckContainer | None:
        """A container of the Job's pods that waits unable to start; None when none does."""
        try:
            pods = self._pods_of(job)
        except TunerError as error:  # the Job's own status still decides; look again later
            name = job["metadata"]["name"]
            logger.debug("cannot check the pods of Job %s/%s: %s", self._namespace, name, error)
            return None
        return find_stuck_container(pods)

    def _pods_of(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        """The pods the Job controller made for ``job`` (by its uid label)."""
        name, uid = job["metadata"]["name"], job["metadata"]["uid"]
        pods: list[dict[str, Any]] = self._call(
            f"list the pods of Job {self._namespace}/{name}",
            lambda: self._core.list_namespaced_pod(
                self._namespace, label_selector=f"batch.kubernetes.io/controller-uid={uid}"
            ),
        )["items"]
        return pods

    def _last_pod_output(self, job: dict[str, Any]) -> tuple[int | None, str]:
        """The exit code and log tail of the primary container of the Job's newest pod."""
        from tuner.spec import primary_container

        name = job["metadata"]["name"]
        try:
            pods = self._pods_of(job)
            if not pods:
                return None, ""
            pod = max(
                pods,
                key=lambda p: (
                    str(p["metadata"].get("creationTimestamp") or ""),
                    p["metadata"]["name"],
                ),
            )
            pod_name = str(pod["metadata"]["name"])
            container_name = primary_container(job).get("name")
            exit_code = None
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                terminated = (status.get("state") or {}).get("terminated")
                if status.get("name") == container_name and terminated:
                    exit_code = terminated.get("exitCode")
            log = self._call(
                f"read the log of pod {self._namespace}/{pod_name}",
                lambda: self._core.read_namespaced_pod_log(
                    pod_name, self._namespace, container=container_name, tail_lines=_TAIL_LINES
                ),
            )
        except TunerError as error:  # the Job's reason is still worth reporting
            logger.debug("no log tail for Job %s/%s: %s", self._namespace, name, error)
            return None, ""
        lines = [line.rstrip() for line in str(log or "").splitlines() if line.strip()]
        tail = "\n".join(
            "  " + (line if len(line) <= _MAX_TAIL_LINE else line[:_MAX_TAIL_LINE] + "...")
            for line in lines[-_TAIL_LINES:]
        )
        return exit_code, tail

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        """``call()``, retrying transient errors, its result as JSON-like data (a model
        becomes a dict); API errors become tuner's errors."""
        import urllib3.exceptions

        deadline = time.monotonic() + self._retry_timeout
        delay = 0.1
        while True:
            try:
                return self._api_client.sanitize_for_serialization(call())
            except self._api_exception as error:
                code = int(error.status or 0)
                if code not in _TRANSIENT_CODES:
                    raise _translate(what, error) from None
                problem = f"HTTP {code} {error.reason or ''}".strip()
                wait = _retry_after(error) or delay
            except (urllib3.exceptions.HTTPError, OSError) as error:
                problem = f"{type(error).__name__}: {error}"
                wait = delay
            if time.monotonic() + wait > deadline:
                raise UnavailableError(
                    f"cannot {what}: the Kubernetes API server keeps failing ({problem}); "
                    f"gave up after {self._retry_timeout:g} s"
                )
            logger.warning("%s failed (%s); retrying in %.1f s", what, problem, wait)
            time.sleep(wait)
            delay = min(delay * 2, 5.0)


class _Missing(NotFoundError):
    """404 from the API server."""


class _Conflict(FailedPreconditionError):
    """409 from the API server."""


def _message(error: Any) -> str:
    try:
        body = json.loads(error.body or "")
    except (TypeError, ValueError):
        body = None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return f"HTTP {error.status} {error.reason or ''}".strip()


def _translate(what: str, error: Any) -> TunerError:
    code = int(error.status or 0)
    text = f"cannot {what}: {_message(error)}"
    if code == 404:
        return _Missing(text)
    if code == 409:
        return _Conflict(text)
    if code in (400, 422):
        return InvalidArgumentError(text, field="spec.trialTemplate.trialSpec")
    if code in (401, 403):
        return FailedPreconditionError(
            f"{text} (check the operator's credentials and RBAC rules for Jobs and pods)"
        )
    return TunerError(f"{text} (HTTP {code})")


def _retry_after(error: Any) -> float | None:
    headers = getattr(error, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        if parsed is None:
            return None
        seconds = parsed.timestamp() - time.time()
    return max(0.0, min(seconds, _MAX_RETRY_AFTER))


def _describe_owner(labels: dict[str, str]) -> str:
    if TRIAL_LABEL in labels:
        return f"trial {labels[TRIAL_LABEL]} of experiment {labels.get(EXPERIMENT_LABEL, '?')!r}"
    return "something else (it has no tuner.dev/trial label)"
