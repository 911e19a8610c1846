"""A "local kubelet" for tests: runs the Jobs of one namespace as local processes.

With :class:`tests.k8s.emulator.ThreadedEmulator` there is no job controller and no kubelet:
a Job stays a stored object. :class:`LocalKubelet` plays both for one namespace, through the
official client like the real ones:

- it watches Jobs; for each new one it creates a Pod (``<job>-<5 hex>``, the template's
  labels, which include ``job-name`` / ``batch.kubernetes.io/job-name`` / ``controller-uid``,
  and an ownerReference to the Job), patches the Job's status (``startTime``, ``active``) and
  the Pod's (``Running``), then runs every container's ``command + args`` as a subprocess:
  ``python``/``python3`` become :data:`sys.executable` (whose directory also comes first on
  ``PATH``, as in an image with tuner installed); the container's ``env`` values (and
  ``valueFrom.fieldRef`` for the pod's name and namespace, ``valueFrom.secretKeyRef`` read
  from the namespace's Secrets) are added to this process's environment; ``$(VAR)`` in
  command and args expands as Kubernetes does; ``workingDir`` is used when it exists (else a
  directory of that name under the pod's directory); each ``emptyDir`` volume is a
  directory of the pod's, and any command/arg/env/workingDir string starting with its
  ``mountPath`` is rewritten to it (so a trial and a sidecar share files), as is the value
  of an ``--option=<mountPath>/...`` argument (a wrapping collector's); stdout and stderr of
  each container go to ``<workdir>/<pod>/<container>.log``;
- a Secret (or key) that ``secretKeyRef`` names and that is missing (and not ``optional``)
  keeps the pod ``Pending``, its containers waiting: that one with reason
  ``CreateContainerConfigError`` and the real kubelet's message (``secret "x" not found``,
  ``couldn't find key k in Secret ns/x``), the others ``ContainerCreating``; no container
  starts until every reference resolves, retried every ``config_retry`` seconds (as the real
  kubelet retries), so a Secret created later still starts the pod;
- images are not pulled, but two image problems are played before that, keeping the pod
  ``Pending`` the same way: an image that is not a valid reference (``Registry/X``) waits
  in ``InvalidImageName`` (``Failed to apply default image tag ...``), for good; an image in
  :attr:`LocalKubelet.unpullable_images` fails each try, every ``config_retry`` seconds,
  alternating ``ErrImagePull`` (``failed to pull and unpack image "IMG" ...``) and
  ``ImagePullBackOff`` (``Back-off pulling image "IMG"``) as the real kubelet's back-off
  does; removing it from the set lets the next try "pull" it and start the pod;
- when the first container exits, the others get ``sidecar_grace`` seconds and are then
  terminated; the Pod's phase is ``Succeeded`` if the first container exited 0 and no other
  failed on its own, else ``Failed``, with ``containerStatuses[].state.terminated``;
- the Job then gets ``succeeded``/``failed``, ``completionTime`` and the conditions
  ``SuccessCriteriaMet`` + ``Complete`` (reason ``CompletionsReached``) or ``FailureTarget``
  + ``Failed`` (reason ``BackoffLimitExceeded`` or ``DeadlineExceeded``); a failed pod is
  retried with a new Pod while the failures do not exceed ``spec.backoffLimit`` (default 6);
  ``spec.activeDeadlineSeconds`` kills the running pod and fails the Job;
- deleting a Pod kills its processes (SIGTERM, then SIGKILL after ``kill_grace``); deleting
  its Job with ``propagationPolicy`` Background/Foreground deletes the Pods (the emulator
  cascades), so the processes die, and a deleted Job gets no new Pod. A Job deleted without
  a policy orphans its Pods (as on a real cluster: the default for ``batch/v1`` Jobs), and
  they run on;
- it serves ``read_namespaced_pod_log`` for its pods (a kmock reaction answering
  ``text/plain``): ``container=`` (required when the pod has several), ``tailLines=``,
  ``follow=true`` (streams until the container exits).

:attr:`LocalKubelet.max_running` is the largest number of pods that ran at the same time.

Not emulated: images themselves (a container needs a ``command`` runnable here), resources, probes,
init containers, ``parallelism``/``completions`` above 1, ``restartPolicy: OnFailure``
restarts in place (a failure always makes a new Pod), suspended Jobs, node names.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kmock
from kubernetes import client, watch

from tests.k8s.emulator import ThreadedEmulator

__all__ = ["LocalKubelet"]

_PYTHON_NAMES = frozenset({"python", "python3"})
_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
# an image reference, as the container runtime parses it: [domain[:port]/]path[:tag][@digest],
# the path's components lower-case
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_REFERENCE = re.compile(
    r"(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?"
    rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
    r"(?::\w[\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"
)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Container:
    name: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    exit_code: int | None = None
    killed: bool = False
    started_at: str = ""
    finished_at: str = ""
    error: str = ""
    image: dict[str, str] = field(default_factory=dict)


@dataclass
class _Pod:
    name: str
    job_name: str
    containers: list[_Container] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    deleted: threading.Event = field(default_factory=threading.Event)


class LocalKubelet:
    """Runs the Jobs of ``namespace`` as local processes (see the module docstring).

    Args:
        api_client: A client of the emulator.
        namespace: The namespace whose Jobs this kubelet runs.
        workdir: Where pods get their directories and logs.
        emulator: The emulator, to serve the pods' logs through it.
        sidecar_grace: Seconds the other containers get after the first one exits.
        kill_grace: Seconds between SIGTERM and SIGKILL.
        config_retry: Seconds between tries to resolve a missing Secret reference (or to
            pull an unpullable image).
        unpullable_images: Images whose pull fails (see :attr:`unpullable_images`).
        watch_timeout: ``timeoutSeconds`` of the watches (bounds the teardown).
    """

    def __init__(
        self,
        api_client: client.ApiClient,
        namespace: str,
        workdir: Path,
        *,
        emulator: ThreadedEmulator,
        sidecar_grace: float = 2.0,
        kill_grace: float = 2.0,
        config_retry: float = 0.2,
        watch_timeout: int = 1,
        unpullable_images: Iterable[str] = (),
    ) -> None:
        self.namespace = namespace
        self.workdir = Path(workdir)
        self._emulator = emulator
        self._api_client = api_client
        self._batch = client.BatchV1Api(api_client)
        self._core = client.CoreV1Api(api_client)
        self._sidecar_grace = sidecar_grace
        self._kill_grace = kill_grace
        self._config_retry = config_retry
        self._watch_timeout = watch_timeout
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._jobs_seen: set[str] = set()  # uids
        self._deleted_jobs: set[str] = set()  # uids
        self._pods: dict[str, _Pod] = {}
        self._threads: list[threading.Thread] = []
        self._watchers: set[watch.Watch] = set()
        self._running = 0
        self.max_running = 0
        """The largest number of pods whose processes ran at the same time."""
        self.unpullable_images: set[str] = set(unpullable_images)
        """Images whose pull fails, as a registry without them; change it at any time (the
        next try sees it)."""
        self.errors: list[BaseException] = []
        """Unexpected errors in the kubelet's threads (a test may assert it is empty)."""

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> LocalKubelet:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._emulator.react(
            (kmock.resource("v1/pods"), kmock.subresource("log"), kmock.namespace(self.namespace)),
            self._serve_log,
        )
        for target, name in ((self._watch_jobs, "jobs"), (self._watch_pods, "pods")):
            self._start(target, f"kubelet-{name}-{self.namespace}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        with self._lock:
            pods = list(self._pods.values())
            watchers = list(self._watchers)
        for watcher in watchers:  # end the open watches now rather than at their timeout
            watcher.stop()
            response = getattr(watcher, "_resp", None)
            with contextlib.suppress(Exception):
                if hasattr(response, "shutdown"):
                    response.shutdown()
                else:
                    response.close()
        for pod in pods:
            pod.deleted.set()
            self._kill(pod)
        for thread in list(self._threads):
            thread.join(self._watch_timeout + self._kill_grace + 5)

    @property
    def running(self) -> int:
        """How many pods run now."""
        with self._lock:
            return self._running

    def pod_names(self, job_name: str | None = None) -> list[str]:
        """The pods this kubelet made (of one Job), oldest first."""
        with self._lock:
            return [p.name for p in self._pods.values() if job_name in (None, p.job_name)]

    def log_path(self, pod_name: str, container: str) -> Path:
        """Where a container's output goes."""
        return self.workdir / pod_name / f"{container}.log"

    def _start(self, target: Callable[..., None], name: str, *args: Any) -> None:
        def run() -> None:
            try:
                target(*args)
            except BaseException as error:
                if not self._stopping.is_set():
                    self.errors.append(error)
                    raise

        thread = threading.Thread(target=run, name=name, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    # -- watching -----------------------------------------------------------------------------

    def _watch_jobs(self) -> None:
        listing = self._batch.list_namespaced_job(self.namespace)
        version = listing.metadata.resource_version
        for job in listing.items:
            self._on_job("ADDED", self._api_client.sanitize_for_serialization(job))
        self._watch(self._batch.list_namespaced_job, version, self._on_job)

    def _watch_pods(self) -> None:
        version = self._core.list_namespaced_pod(self.namespace).metadata.resource_version
        self._watch(self._core.list_namespaced_pod, version, self._on_pod)

    def _watch(
        self, list_fn: Callable[..., Any], version: str, handle: Callable[[str, Any], None]
    ) -> None:
        """Watch from ``version`` on, again and again (each watch ends after the timeout)."""
        while not self._stopping.is_set():
            watcher = watch.Watch()
            with self._lock:
                self._watchers.add(watcher)
            try:
                for event in watcher.stream(
                    list_fn,
                    self.namespace,
                    resource_version=version,
                    timeout_seconds=self._watch_timeout,
                ):
                    raw = event["raw_object"]
                    if event["type"] == "ERROR":  # expired: list again
                        version = list_fn(self.namespace).metadata.resource_version
                        break
                    version = raw["metadata"]["resourceVersion"]
                    handle(event["type"], raw)
            except Exception:
                if not self._stopping.is_set():
                    raise
            finally:
                with self._lock:
                    self._watchers.discard(watcher)

    def _on_job(self, kind: str, job: dict[str, Any]) -> None:
        uid = job["metadata"]["uid"]
        if kind == "DELETED":
            with self._lock:
                self._deleted_jobs.add(uid)
            return
        with self._lock:
            if uid in self._jobs_seen:
                return
            self._jobs_seen.add(uid)
        status = job.get("status") or {}
        if status.get("startTime") or status.get("conditions"):
            return  # run by someone else (a test playing the kubelet, or an earlier kubelet)
        self._start(self._run_job, f"kubelet-job-{job['metadata']['name']}", job)

    def _on_pod(self, kind: str, pod: dict[str, Any]) -> None:
        if kind != "DELETED":
            return
        with self._lock:
            ours = self._pods.get(pod["metadata"]["name"])
        if ours is not None:
            ours.deleted.set()
            self._kill(ours)

    def _job_exists(self, job: dict[str, Any]) -> bool:
        try:
            current = self._batch.read_namespaced_job(job["metadata"]["name"], self.namespace)
        except client.ApiException as error:
            if error.status == 404:
                return False
            raise
        return bool(current.metadata.uid == job["metadata"]["uid"])

    def _job_deleted(self, job: dict[str, Any]) -> bool:
        with self._lock:
            return job["metadata"]["uid"] in self._deleted_jobs or self._stopping.is_set()

    # -- the job controller -------------------------------------------------------------------

    def _run_job(self, job: dict[str, Any]) -> None:
        name = job["metadata"]["name"]
        spec = job.get("spec") or {}
        backoff_limit = spec.get("backoffLimit", 6)
        deadline_seconds = spec.get("activeDeadlineSeconds")
        started = time.monotonic()
        deadline = None if deadline_seconds is None else started + float(deadline_seconds)
        self._patch_job(name, {"startTime": _now(), "active": 1})
        failures = 0
        while not self._job_deleted(job):
            if failures and not self._job_exists(job):
                return  # deleted, and the pod watch saw it first
            pod = self._create_pod(job)
            if pod is None:
                return
            outcome = self._run_pod(pod, job, deadline)
            if self._job_deleted(job):
                return
            if outcome == "Succeeded":
                now = _now()
                condition = {
                    "status": "True",
                    "reason": "CompletionsReached",
                    "message": "Reached expected number of succeeded pods",
                    "lastProbeTime": now,
                    "lastTransitionTime": now,
                }
                self._patch_job(
                    name,
                    {
                        "active": None,
                        "succeeded": 1,
                        "ready": 0,
                        "completionTime": now,
                        "conditions": [
                            {"type": "SuccessCriteriaMet", **condition},
                            {"type": "Complete", **condition},
                        ],
                    },
                )
                return
            failures += 1
            if outcome == "DeadlineExceeded":
                self._fail_job(
                    name,
                    failures,
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                )
                return
            if failures > backoff_limit:
                self._fail_job(
                    name,
                    failures,
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                )
                return
            self._patch_job(name, {"failed": failures})

    def _fail_job(self, name: str, failures: int, reason: str, message: str) -> None:
        now = _now()
        condition = {
            "status": "True",
            "reason": reason,
            "message": message,
            "lastProbeTime": now,
            "lastTransitionTime": now,
        }
        self._patch_job(
            name,
            {
                "active": None,
                "failed": failures,
                "ready": 0,
                "conditions": [
                    {"type": "FailureTarget", **condition},
                    {"type": "Failed", **condition},
                ],
            },
        )

    def _patch_job(self, name: str, status: dict[str, Any]) -> None:
        with contextlib.suppress(client.ApiException):  # deleted meanwhile
            self._batch.patch_namespaced_job_status(name, self.namespace, {"status": status})

    def _patch_pod(self, name: str, status: dict[str, Any]) -> None:
        with contextlib.suppress(client.ApiException):
            self._core.patch_namespaced_pod_status(name, self.namespace, {"status": status})

    def _create_pod(self, job: dict[str, Any]) -> tuple[_Pod, dict[str, Any]] | None:
        template = (job.get("spec") or {}).get("template") or {}
        job_meta = job["metadata"]
        metadata = dict(template.get("metadata") or {})
        pod_name = f"{job_meta['name']}-{secrets.token_hex(3)[:5]}"
        metadata.update(
            {
                "name": pod_name,
                "labels": dict(metadata.get("labels") or {}),
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": job_meta["name"],
                        "uid": job_meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            }
        )
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata,
            "spec": template.get("spec"),
        }
        pod = _Pod(name=pod_name, job_name=job_meta["name"])
        with self._lock:
            self._pods[pod_name] = pod
        try:
            created = self._core.create_namespaced_pod(self.namespace, body)
        except client.ApiException:
            with self._lock:
                self._pods.pop(pod_name, None)
            if self._job_deleted(job):
                return None
            raise
        return pod, self._api_client.sanitize_for_serialization(created)

    # -- the kubelet --------------------------------------------------------------------------

    def _run_pod(
        self,
        pod_and_object: tuple[_Pod, dict[str, Any]],
        job: dict[str, Any],
        deadline: float | None,
    ) -> str:
        pod, obj = pod_and_object
        spec = obj.get("spec") or {}
        pod_dir = self.workdir / pod.name
        pod_dir.mkdir(parents=True, exist_ok=True)
        volumes = {
            v["name"]: pod_dir / "volumes" / v["name"]
            for v in spec.get("volumes") or []
            if "emptyDir" in v
        }
        for path in volumes.values():
            path.mkdir(parents=True, exist_ok=True)
        containers = spec.get("containers") or []
        resolved = self._wait_to_start(pod, job, containers, deadline)
        if isinstance(resolved, str):
            if resolved == "DeadlineExceeded":
                self._patch_pod(
                    pod.name,
                    {
                        "phase": "Failed",
                        "reason": "DeadlineExceeded",
                        "message": "Pod was active on the node longer than the specified deadline",
                    },
                )
            pod.done.set()
            return resolved
        with self._lock:
            self._running += 1
            self.max_running = max(self.max_running, self._running)
        try:
            for container in containers:
                secret_values = resolved[_container_name(container)]
                pod.containers.append(
                    self._start_container(pod, pod_dir, container, volumes, secret_values)
                )
            self._patch_pod(
                pod.name,
                {
                    "phase": "Running",
                    "startTime": _now(),
                    "containerStatuses": [
                        {
                            "name": c.name,
                            "ready": True,
                            "restartCount": 0,
                            **c.image,
                            "state": {"running": {"startedAt": c.started_at}},
                        }
                        for c in pod.containers
                        if c.process is not None
                    ],
                },
            )
            outcome = self._wait(pod, deadline)
        finally:
            with self._lock:
                self._running -= 1
            pod.done.set()
        if pod.deleted.is_set():
            return "Deleted"
        first = pod.containers[0] if pod.containers else None
        succeeded = (
            first is not None
            and first.exit_code == 0
            and all(c.killed or c.exit_code == 0 for c in pod.containers[1:])
        )
        phase = "Succeeded" if succeeded and outcome != "DeadlineExceeded" else "Failed"
        status: dict[str, Any] = {
            "phase": phase,
            "containerStatuses": [
                {
                    "name": c.name,
                    **c.image,
                    "ready": False,
                    "restartCount": 0,
                    "state": {
                        "terminated": {
                            "exitCode": c.exit_code if c.exit_code is not None else 128,
                            "reason": "Completed" if c.exit_code == 0 else "Error",
                            "message": c.error,
                            "startedAt": c.started_at or _now(),
                            "finishedAt": c.finished_at or _now(),
                        }
                    },
                }
                for c in pod.containers
            ],
        }
        if outcome == "DeadlineExceeded":
            status.update(
                reason="DeadlineExceeded",
                message="Pod was active on the node longer than the specified deadline",
            )
        self._patch_pod(pod.name, status)
        return "DeadlineExceeded" if outcome == "DeadlineExceeded" else phase

    def _wait_to_start(
        self,
        pod: _Pod,
        job: dict[str, Any],
        containers: list[dict[str, Any]],
        deadline: float | None,
    ) -> dict[str, dict[str, str]] | str:
        """The Secret values of each container's environment, once every image "pulls" and
        every reference resolves; or ``"Deleted"``/``"DeadlineExceeded"`` if the pod ends
        first. Meanwhile the pod waits (``Pending``, a container in ``InvalidImageName``,
        ``ErrImagePull``/``ImagePullBackOff`` or ``CreateContainerConfigError``), as on a
        real node."""
        shown: object = None
        attempt = 0
        while True:
            problems: dict[str, tuple[str, str]] = {}
            resolved: dict[str, dict[str, str]] = {}
            for container in containers:
                name = _container_name(container)
                image_problem = self._image_problem(str(container.get("image") or ""), attempt)
                if image_problem is not None:
                    problems[name] = image_problem
                    continue
                try:
                    resolved[name] = self._secret_env(container)
                except _ConfigError as error:
                    problems[name] = ("CreateContainerConfigError", str(error))
            attempt += 1
            if not problems:
                return resolved
            statuses = [
                {
                    "name": _container_name(c),
                    "image": str(c.get("image") or "local"),
                    "imageID": "",
                    "ready": False,
                    "started": False,
                    "restartCount": 0,
                    "state": {
                        "waiting": (
                            {
                                "reason": problems[_container_name(c)][0],
                                "message": problems[_container_name(c)][1],
                            }
                            if _container_name(c) in problems
                            else {"reason": "ContainerCreating"}
                        )
                    },
                }
                for c in containers
            ]
            if statuses != shown:  # patch on change only, as the kubelet does
                self._patch_pod(pod.name, {"phase": "Pending", "containerStatuses": statuses})
                shown = statuses
            end = time.monotonic() + self._config_retry
            while time.monotonic() < end:
                if pod.deleted.is_set() or self._job_deleted(job):
                    return "Deleted"
                if deadline is not None and time.monotonic() >= deadline:
                    return "DeadlineExceeded"
                time.sleep(0.02)

    def _image_problem(self, image: str, attempt: int) -> tuple[str, str] | None:
        """``(reason, message)`` of an image the kubelet cannot get, as the real one says it;
        None for one it can. ``attempt`` counts the tries: a failing pull is
        ``ErrImagePull`` on even ones, ``ImagePullBackOff`` (backing off) on odd ones."""
        if image and not _IMAGE_REFERENCE.fullmatch(image):
            problem = "invalid reference format"
            if _IMAGE_REFERENCE.fullmatch(image.lower()):
                problem += ": repository name must be lowercase"
            return (
                "InvalidImageName",
                f'Failed to apply default image tag "{image}": couldn\'t parse image name '
                f'"{image}": {problem}',
            )
        with self._lock:
            unpullable = image in self.unpullable_images
        if not unpullable:
            return None
        if attempt % 2:
            return "ImagePullBackOff", f'Back-off pulling image "{image}"'
        return (
            "ErrImagePull",
            f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
            f'failed to resolve reference "{image}": {image}: not found',
        )

    def _secret_env(self, container: dict[str, Any]) -> dict[str, str]:
        """The values of the container's ``valueFrom.secretKeyRef`` variables.

        Raises:
            _ConfigError: A Secret or key is missing (and the reference is not optional),
                with the real kubelet's message.
        """
        values: dict[str, str] = {}
        for var in container.get("env") or []:
            ref = (var.get("valueFrom") or {}).get("secretKeyRef")
            if not ref:
                continue
            secret_name, key = str(ref.get("name") or ""), str(ref.get("key") or "")
            try:
                secret = self._core.read_namespaced_secret(secret_name, self.namespace)
            except client.ApiException as error:
                if error.status != 404:
                    raise
                if ref.get("optional"):
                    continue
                raise _ConfigError(f'secret "{secret_name}" not found') from None
            data = secret.data or {}
            if key not in data:
                if ref.get("optional"):
                    continue
                raise _ConfigError(
                    f"couldn't find key {key} in Secret {self.namespace}/{secret_name}"
                )
            values[var["name"]] = base64.b64decode(data[key]).decode()
        return values

    def _start_container(
        self,
        pod: _Pod,
        pod_dir: Path,
        container: dict[str, Any],
        volumes: dict[str, Path],
        secret_values: dict[str, str],
    ) -> _Container:
        name = _container_name(container)
        result = _Container(name=name, log_path=pod_dir / f"{name}.log", started_at=_now())
        image = str(container.get("image") or "local")
        result.image = {"image": image, "imageID": f"local://{image}"}
        mounts = {
            m["mountPath"].rstrip("/") or "/": volumes[m["name"]]
            for m in container.get("volumeMounts") or []
            if m.get("name") in volumes
        }

        def rewrite(text: str) -> str:
            # ``--option=/mount/...`` too (a collector's ``--path=``/``--dir=``): the value
            # after the first ``=`` of an argument starting with ``-``
            option, equals, value = text.partition("=") if text.startswith("-") else ("", "", "")
            for mount, local in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
                if text == mount or text.startswith(mount + "/"):
                    return str(local) + text[len(mount) :]
                if equals and (value == mount or value.startswith(mount + "/")):
                    return option + equals + str(local) + value[len(mount) :]
            return text

        env_values: dict[str, str] = {}
        for var in container.get("env") or []:
            if "value" in var:
                env_values[var["name"]] = rewrite(_expand(str(var["value"]), env_values))
            elif ref := ((var.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath"):
                known = {"metadata.name": pod.name, "metadata.namespace": self.namespace}
                if ref in known:
                    env_values[var["name"]] = known[ref]
            elif var["name"] in secret_values:
                env_values[var["name"]] = secret_values[var["name"]]
        argv = [rewrite(_expand(str(a), env_values)) for a in (container.get("command") or [])]
        argv += [rewrite(_expand(str(a), env_values)) for a in (container.get("args") or [])]
        log = open(result.log_path, "ab")  # noqa: SIM115 - closed below or when the process ends
        if not container.get("command"):
            result.error = (
                "the local kubelet runs commands, not images: the container has no command"
            )
            log.write(f"kubelet: {result.error}\n".encode())
            log.close()
            result.exit_code = 128
            result.finished_at = _now()
            return result
        if argv[0] in _PYTHON_NAMES:
            argv[0] = sys.executable
        env = dict(os.environ)
        # as in an image with tuner installed: this interpreter's ``python`` comes first
        bin_dir = os.path.dirname(sys.executable)
        env["PATH"] = os.pathsep.join(p for p in (bin_dir, env.get("PATH", "")) if p)
        env.update(env_values)
        cwd = None
        if container.get("workingDir"):
            cwd_path = Path(rewrite(container["workingDir"]))
            if not cwd_path.is_dir():
                cwd_path = pod_dir / "root" / str(cwd_path).lstrip("/")
                cwd_path.mkdir(parents=True, exist_ok=True)
            cwd = str(cwd_path)
        try:
            result.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as error:
            result.error = f"cannot start {argv[0]!r}: {error}"
            log.write(f"kubelet: {result.error}\n".encode())
            result.exit_code = 128
            result.finished_at = _now()
        finally:
            log.close()
        return result

    def _wait(self, pod: _Pod, deadline: float | None) -> str:
        """Wait for the first container, then the sidecars; kill on deletion or deadline."""
        first = pod.containers[0] if pod.containers else None
        outcome = "Exited"
        while first is not None and first.process is not None and first.process.poll() is None:
            if pod.deleted.is_set():
                outcome = "Deleted"
                break
            if deadline is not None and time.monotonic() >= deadline:
                outcome = "DeadlineExceeded"
                break
            time.sleep(0.02)
        if outcome == "Exited":
            grace_end = time.monotonic() + self._sidecar_grace
            while any(c.process is not None and c.process.poll() is None for c in pod.containers):
                if time.monotonic() >= grace_end or pod.deleted.is_set():
                    break
                time.sleep(0.02)
        self._kill(pod)
        return outcome

    def _kill(self, pod: _Pod) -> None:
        running = [c for c in pod.containers if c.process is not None and c.process.poll() is None]
        for container in running:
            container.killed = True
            assert container.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(container.process.pid, signal.SIGTERM)
        end = time.monotonic() + self._kill_grace
        for container in running:
            assert container.process is not None
            try:
                container.process.wait(max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(container.process.pid, signal.SIGKILL)
                container.process.wait()
        for container in pod.containers:
            if container.process is not None and container.exit_code is None:
                code = container.process.poll()
                if code is not None:
                    container.exit_code = code if code >= 0 else 128 - code
                    container.finished_at = container.finished_at or _now()

    # -- pod logs (in the emulator's event loop) ----------------------------------------------

    def _serve_log(self, request: kmock.Request) -> kmock.Response:
        name = request.name or ""
        with self._lock:
            pod = self._pods.get(name)
        if pod is None:
            raise kmock.KubernetesError(
                status=404,
                reason="NotFound",
                message=f'pods "{name}" not found',
                details={"name": name, "kind": "pods"},
            )
        params = dict(request.params)
        names = [c.name for c in pod.containers]
        wanted = params.get("container")
        if wanted is None:
            if len(names) != 1:
                raise kmock.KubernetesError(
                    status=400,
                    reason="BadRequest",
                    message=f"a container name must be specified for pod {name}, choose one of: "
                    f"[{' '.join(names)}]",
                    details={"name": name, "kind": "pods"},
                )
            wanted = names[0]
        container = next((c for c in pod.containers if c.name == wanted), None)
        if container is None:
            raise kmock.KubernetesError(
                status=400,
                reason="BadRequest",
                message=f"container {wanted} is not valid for pod {name}",
                details={"name": name, "kind": "pods"},
            )
        tail = params.get("tailLines")
        headers = {"Content-Type": "text/plain"}
        if params.get("follow") in ("true", "1"):
            return kmock.Response(
                status=200, headers=headers, payload=self._follow(pod, container, tail)
            )
        return kmock.Response(status=200, headers=headers, payload=_read(container.log_path, tail))

    async def _follow(
        self, pod: _Pod, container: _Container, tail: str | None
    ) -> AsyncIterator[bytes]:
        data = _read(container.log_path, tail)
        offset = _size(container.log_path)
        yield data  # possibly b"": kmock needs a first chunk to start the response
        while True:
            finished = (
                pod.done.is_set()
                or (container.process is not None and container.process.poll() is not None)
                or container.process is None
            )
            size = _size(container.log_path)
            if size > offset:
                with open(container.log_path, "rb") as log:
                    log.seek(offset)
                    chunk = log.read(size - offset)
                offset += len(chunk)
                yield chunk
            elif finished:
                return
            else:
                await asyncio.sleep(0.05)


class _ConfigError(Exception):
    """A Secret reference that does not resolve: the kubelet's CreateContainerConfigError."""


def _container_name(container: dict[str, Any]) -> str:
    return str(container.get("name") or "main")


def _expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion (unknown references stay, ``$$`` is ``$``)."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _VAR_REF.sub(replace, text)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read(path: Path, tail: str | None) -> bytes:
    try:
        data = path.read_bytes()
    except OSError:
        return b""
    if tail is not None:
        try:
            count = int(tail)
        except ValueError:
            count = -1
        if count >= 0:
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-count:]) if count else b""
    return data
