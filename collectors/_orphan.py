"""Stop a trial whose launcher died, so a restarted launcher can run it again alone."""

from __future__ import annotations

import logging
import os
import subprocess
import threading

__all__ = ["stop_when_orphaned"]

logger = logging.getLogger(__name__)

_CHECK_INTERVAL = 0.5


def stop_when_orphaned(process: subprocess.Popen[bytes], *, grace_period: float = 5.0) -> None:
    """Watch this process's parent from a daemon thread; when it dies, stop ``process``.

    A local runner starts each trial in a session of its own, so a ``tuner run`` killed
    with SIGKILL leaves its trials running; the next ``tuner run`` launches them again.
    This makes the old copy go: once this process is re-parented, ``process`` gets SIGTERM,
    then SIGKILL after ``grace_period`` seconds.
    """
    parent = os.getppid()
    if parent <= 1:
        return  # already re-parented, or PID 1's child in a container: nothing to watch

    def watch() -> None:
        while process.poll() is None:
            if os.getppid() != parent:
                logger.warning(
                    "the process that launched this trial (pid %d) is gone; stopping the trial",
                    parent,
                )
                process.terminate()
                try:
                    process.wait(grace_period)
                except subprocess.TimeoutExpired:
                    process.kill()
                return
            try:
                process.wait(_CHECK_INTERVAL)
            except subprocess.TimeoutExpired:
                continue

    threading.Thread(target=watch, name="tuner-collector-orphan-watch", daemon=True).start()
