"""The operator's loop: one thread watches Experiments, one reconciles the keys they queue."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from tuner.operator._queue import WorkQueue
from tuner.operator._resources import ExperimentApi, Gone

__all__ = ["Key", "WatchLoop"]

logger = logging.getLogger(__name__)

Key = tuple[str, str]
"""An Experiment by (namespace, name)."""


class WatchLoop:
    """Watch Experiments and reconcile each one that changed, one at a time.

    The watcher lists the Experiments in scope, queues each (and each of ``extra_keys()``:
    those the operator runs, which may have been deleted while nobody watched), then
    watches from the list's resourceVersion with ``timeoutSeconds``; when the watch ends
    it lists again, which is also the periodic resync. The worker reconciles queued keys;
    a reconcile that raises is queued again after ``retry_delay``.

    Args:
        api: The Experiments in scope.
        queue: The keys to reconcile (others may add to it, e.g. a controller's progress).
        reconcile: Called with (namespace, name), from the worker thread only.
        extra_keys: Keys to reconcile at every list besides those listed.
        watch_timeout: ``timeoutSeconds`` of each watch.
        retry_delay: Seconds before a failed reconcile or list is tried again.
    """

    def __init__(
        self,
        api: ExperimentApi,
        queue: WorkQueue[Key],
        reconcile: Callable[[str, str], None],
        *,
        extra_keys: Callable[[], Iterable[Key]],
        watch_timeout: int,
        retry_delay: float,
    ) -> None:
        self._api = api
        self._queue = queue
        self._reconcile = reconcile
        self._extra_keys = extra_keys
        self._watch_timeout = watch_timeout
        self._retry_delay = retry_delay
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self._worker: threading.Thread | None = None

    def start(self) -> None:
        """Start the watcher and the worker threads."""
        self._stopping.clear()
        self._watcher = self._thread(self._watch, "watch")
        self._worker = self._thread(self._work, "reconcile")

    def stop_worker(self, timeout: float) -> None:
        """Stop both threads and wait for the worker: no reconcile runs once it returns."""
        self._stopping.set()
        if self._worker is not None:
            self._worker.join(timeout)
            self._worker = None

    def join_watcher(self, timeout: float) -> None:
        """Wait for the watcher, which ends with its current watch (``timeoutSeconds``)."""
        if self._watcher is not None:
            self._watcher.join(timeout)
            self._watcher = None

    def _thread(self, target: Callable[[], None], name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=f"tuner-operator-{name}", daemon=True)
        thread.start()
        return thread

    def _watch(self) -> None:
        while not self._stopping.is_set():
            try:
                items, version = self._api.list()
                keys = {_key_of(item) for item in items}
                keys.update(self._extra_keys())
                for key in sorted(keys):
                    self._queue.add(key)
                for event in self._api.watch(version, self._watch_timeout):
                    if event.kind in ("ADDED", "MODIFIED", "DELETED"):
                        self._queue.add((event.namespace, event.name))
                    if self._stopping.is_set():
                        return
                # the watch timed out: list again (resync)
            except Gone:
                logger.info("watch of Experiments expired; listing again")
            except Exception:
                logger.exception("watching Experiments failed; retrying")
                self._stopping.wait(self._retry_delay)

    def _work(self) -> None:
        while not self._stopping.is_set():
            key = self._queue.get(timeout=0.2)
            if key is None or self._stopping.is_set():
                continue
            try:
                self._reconcile(*key)
            except Exception:
                logger.exception("reconciling Experiment %s/%s failed; retrying", *key)
                self._queue.add(key, delay=self._retry_delay)


def _key_of(item: dict[str, object]) -> Key:
    metadata = item.get("metadata")
    if not isinstance(metadata, dict):
        return "", ""
    return str(metadata.get("namespace", "")), str(metadata.get("name", ""))
