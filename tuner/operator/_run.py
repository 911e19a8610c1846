"""One Experiment's controller, its runner, and the thread that drives them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuner.controller import Controller, ExperimentResult, Progress
    from tuner.runners import Runner
    from tuner.spec import Experiment

__all__ = ["ExperimentRun"]

logger = logging.getLogger(__name__)


class ExperimentRun:
    """A running Experiment: its controller, its runner, its thread (if threaded).

    Args:
        uid: The Experiment object's uid (a deleted and re-created Experiment differs).
        experiment: The validated document the run started from.
        controller: The controller, not started.
        runner: The controller's runner; closed once the run is over.
        on_change: Called (from the run's thread) when there is something new to write to
            ``.status``: new progress, or the end.
    """

    def __init__(
        self,
        *,
        uid: str,
        experiment: Experiment,
        controller: Controller,
        runner: Runner,
        on_change: Callable[[], None],
    ) -> None:
        self.uid = uid
        self.experiment = experiment
        self.controller = controller
        self.runner = runner
        self._on_change = on_change
        self._thread: threading.Thread | None = None
        self._result: ExperimentResult | None = None
        self._error: BaseException | None = None
        self._closed = False

    @property
    def progress(self) -> Progress:
        """The controller's latest snapshot."""
        return self.controller.progress

    @property
    def result(self) -> ExperimentResult | None:
        """How the controller ended; None while it runs (or if it raised)."""
        return self._result

    @property
    def error(self) -> BaseException | None:
        """What the controller raised, if it did."""
        return self._error

    @property
    def is_over(self) -> bool:
        """Whether the controller has returned or raised."""
        return self._result is not None or self._error is not None

    def start_thread(self, name: str) -> None:
        """Run the controller to its end in a new daemon thread."""
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def step(self) -> None:
        """Advance the controller by one pass in this thread (no thread of its own)."""
        if self.is_over:
            return
        try:
            result = self.controller.step()
        except Exception as error:
            logger.exception("experiment %s: the controller failed", self.experiment.name)
            self._error = error
            return
        if result is not None:
            self._result = result

    def join(self, timeout: float) -> bool:
        """Wait for the thread to end; whether it has (True when there is none)."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def close(self) -> None:
        """Close the runner (running Jobs are left alone); once."""
        if not self._closed:
            self._closed = True
            self.runner.close()

    def _run(self) -> None:
        try:
            self._result = self.controller.run()
        except Exception as error:
            logger.exception("experiment %s: the controller failed", self.experiment.name)
            self._error = error
        finally:
            self._on_change()
