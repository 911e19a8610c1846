"""Send a trial's observations to the service in batches, from a background thread."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from tuner.errors import InvalidArgumentError, UnavailableError
from tuner.trial import MAX_UNPARSEABLE_EXAMPLES, Measurement, UnparseableLine

if TYPE_CHECKING:
    from types import TracebackType

    from tuner.backend import Backend

__all__ = ["MeasurementReporter"]

logger = logging.getLogger(__name__)

_MAX_EXAMPLE_CHARS = 200


class _Pending:
    """A measurement being assembled: the metrics seen at one step so far."""

    __slots__ = ("metrics", "step", "time")

    def __init__(self, step: int, observed_at: float) -> None:
        self.step = step
        self.time = observed_at
        self.metrics: dict[str, float] = {}

    def to_measurement(self) -> Measurement:
        return Measurement(metrics=self.metrics, step=self.step, time=self.time)


class MeasurementReporter:
    """Groups a trial's observations into measurements and reports them in batches.

    :meth:`record` only appends to a buffer and returns at once; a background thread sends
    the buffer with ``backend.report_measurements`` once it holds ``batch_size``
    measurements, or ``flush_interval`` seconds after the last send, whichever comes
    first. :meth:`close` sends everything still buffered.

    Observations at the same step merge into one measurement while it waits to be sent,
    stamped with the time of its latest observation. A second value of a metric at a step
    that already has one starts a new measurement of that step, so no value is lost (a
    metric's min or max strategy sees them all). Observations without a step are numbered
    per metric: the k-th value of a metric gets step k (1, 2, ...).

    Delivery is at least once. ``UnavailableError`` is retried ``retry_attempts`` times
    with exponential backoff starting at ``retry_backoff`` seconds; a batch that still
    fails stays at the front of the buffer and is tried again after the next interval.
    Any other error means the service refuses the batch (say, the trial is already
    finished): it is logged and dropped. Measurements that cannot be delivered when the
    reporter closes are logged with their count (the hook for an on-disk spool is
    ``_give_up``).

    Args:
        backend: Where to report: a :class:`tuner.client.Client` or the service core.
        trial_id: The trial the observations belong to.
        batch_size: Most measurements per call, and the buffer size that triggers a send.
        flush_interval: Seconds a measurement may wait in the buffer before it is sent.
        retry_attempts: Attempts per batch while the service is unavailable.
        retry_backoff: Seconds before the second attempt; each further wait doubles.

    Raises:
        InvalidArgumentError: A setting is out of range.

    Examples:
        >>> class Printer:
        ...     def report_measurements(self, trial_id, measurements):
        ...         print(trial_id, [(m.step, dict(m.metrics)) for m in measurements])
        >>> with MeasurementReporter(Printer(), 7) as reporter:
        ...     reporter.record("loss", 0.5)
        ...     reporter.record("accuracy", 0.8)
        ...     reporter.record("loss", 0.25, step=10)
        7 [(1, {'loss': 0.5, 'accuracy': 0.8}), (10, {'loss': 0.25})]
    """

    def __init__(
        self,
        backend: Backend,
        trial_id: int,
        *,
        batch_size: int = 100,
        flush_interval: float = 1.0,
        retry_attempts: int = 5,
        retry_backoff: float = 0.2,
    ) -> None:
        if batch_size < 1:
            raise InvalidArgumentError(f"must be >= 1, got {batch_size}", field="batch_size")
        if not flush_interval > 0:
            raise InvalidArgumentError(f"must be > 0, got {flush_interval}", field="flush_interval")
        if retry_attempts < 1:
            raise InvalidArgumentError(
                f"must be >= 1, got {retry_attempts}", field="retry_attempts"
            )
        self._backend = backend
        self._trial_id = trial_id
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._retry_attempts = retry_attempts
        self._retry_backoff = retry_backoff
        self._lock = threading.Condition()
        self._pending: deque[_Pending] = deque()
        self._open: dict[int, _Pending] = {}  # step -> its newest pending measurement
        self._counters: dict[str, int] = {}
        self._closing = False
        self._is_backing_off = False  # the last send failed: wait a full interval
        self._n_recorded = 0
        self._n_delivered = 0
        self._n_lost = 0
        self._n_in_flight = 0
        self._n_unparseable = 0
        self._unparseable_examples: list[UnparseableLine] = []
        self._is_abandoned = False  # close timed out: what the thread still does is not counted
        self._thread = threading.Thread(
            target=self._run, name=f"tuner-reporter-{trial_id}", daemon=True
        )
        self._thread.start()

    @property
    def n_recorded(self) -> int:
        """Observations recorded so far."""
        with self._lock:
            return self._n_recorded

    @property
    def n_delivered(self) -> int:
        """Measurements the backend accepted so far."""
        with self._lock:
            return self._n_delivered

    @property
    def n_lost(self) -> int:
        """Measurements dropped: refused by the backend, or undeliverable at close."""
        with self._lock:
            return self._n_lost

    @property
    def n_unparseable(self) -> int:
        """Lines recorded with :meth:`record_unparseable` so far."""
        with self._lock:
            return self._n_unparseable

    @property
    def unparseable_examples(self) -> list[UnparseableLine]:
        """The first few of those lines, with their sources."""
        with self._lock:
            return list(self._unparseable_examples)

    def record_unparseable(self, line: str, *, source: str) -> None:
        """Count a line that held a wanted metric whose value could not be read.

        The count and the first :data:`MAX_UNPARSEABLE_EXAMPLES` lines (with their source)
        reach the trial's diagnostics. Never waits for the network.

        Args:
            line: The line as read (its end and surrounding blanks are dropped; long lines
                are cut).
            source: Where the line came from: ``"stdout"``, a file path, an endpoint.
        """
        with self._lock:
            self._n_unparseable += 1
            if len(self._unparseable_examples) < MAX_UNPARSEABLE_EXAMPLES:
                text = line.strip()[:_MAX_EXAMPLE_CHARS]
                self._unparseable_examples.append(UnparseableLine(source=source, line=text))

    def record(
        self, name: str, value: float, *, step: int | None = None, time: float | None = None
    ) -> None:
        """Buffer one observation; never waits for the network.

        Args:
            name: The metric.
            value: Its value; NaN and infinities are kept.
            step: The step it was observed at; None numbers the metric's values 1, 2, ...
            time: When it was observed, in seconds since the epoch; None means now.

        Raises:
            InvalidArgumentError: An empty name or a negative step.
            RuntimeError: The reporter is closed.
        """
        if not name:
            raise InvalidArgumentError("metric names must not be empty", field="name")
        if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
            raise InvalidArgumentError(f"step must be an integer >= 0, got {step!r}", field="step")
        value = float(value)
        observed_at = _now() if time is None else time
        with self._lock:
            if self._closing:
                raise RuntimeError("the reporter is closed")
            count = self._counters.get(name, 0) + 1
            self._counters[name] = count
            if step is None:
                step = count
            pending = self._open.get(step)
            if pending is None or name in pending.metrics:
                pending = _Pending(step, observed_at)
                self._open[step] = pending
                self._pending.append(pending)
            pending.metrics[name] = value
            pending.time = max(pending.time, observed_at)
            self._n_recorded += 1
            if len(self._pending) >= self._batch_size:
                self._lock.notify_all()

    def close(self, timeout: float | None = None) -> bool:
        """Send everything buffered and stop the thread.

        Args:
            timeout: Most seconds to wait for the last sends; None waits until they end
                (each batch is bounded by the retries).

        Returns:
            Whether every recorded observation was delivered.
        """
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        self._thread.join(timeout)
        with self._lock:
            if self._thread.is_alive():
                unsent = len(self._pending) + self._n_in_flight
                self._n_lost += unsent
                self._is_abandoned = True
                logger.error(
                    "trial %d: %d measurements still unsent after %.1f s; giving up on them",
                    self._trial_id,
                    unsent,
                    timeout,
                )
                return False
            return self._n_lost == 0

    def __enter__(self) -> MeasurementReporter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- the sending thread ----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                deadline = _monotonic() + self._flush_interval
                while not self._closing:
                    if len(self._pending) >= self._batch_size and not self._is_backing_off:
                        break
                    remaining = deadline - _monotonic()
                    if remaining <= 0:
                        break
                    self._lock.wait(remaining)
                closing = self._closing
                batch = self._take_batch()
                self._n_in_flight = len(batch)
            if not batch:
                if closing:
                    return
                continue
            delivered = self._send(batch)
            with self._lock:
                self._n_in_flight = 0
                self._is_backing_off = not delivered
                if not delivered and not closing:
                    self._pending.extendleft(reversed(batch))  # first in line next time
                    continue
            if not delivered:
                self._give_up(batch + self._take_all())
                return

    def _take_batch(self) -> list[_Pending]:
        batch: list[_Pending] = []
        while self._pending and len(batch) < self._batch_size:
            pending = self._pending.popleft()
            if self._open.get(pending.step) is pending:
                del self._open[pending.step]  # later values of its step start a new one
            batch.append(pending)
        return batch

    def _take_all(self) -> list[_Pending]:
        with self._lock:
            rest = list(self._pending)
            self._pending.clear()
            self._open.clear()
            return rest

    def _send(self, batch: list[_Pending]) -> bool:
        """Deliver one batch; False if the service stayed unavailable through the retries."""
        measurements = [pending.to_measurement() for pending in batch]
        delay = self._retry_backoff
        for attempt in range(1, self._retry_attempts + 1):
            try:
                self._backend.report_measurements(self._trial_id, measurements)
            except UnavailableError as error:
                if attempt == self._retry_attempts:
                    logger.warning(
                        "trial %d: service unavailable, %d measurements not sent yet: %s",
                        self._trial_id,
                        len(measurements),
                        error,
                    )
                    return False
                logger.debug("trial %d: attempt %d failed: %s", self._trial_id, attempt, error)
                time.sleep(delay)
                delay *= 2
            except Exception:
                logger.exception(
                    "trial %d: the service refused %d measurements; dropping them",
                    self._trial_id,
                    len(measurements),
                )
                with self._lock:
                    self._n_lost += len(measurements)
                return True
            else:
                with self._lock:
                    self._n_delivered += len(measurements)
                return True
        return False  # pragma: no cover - the loop always returns

    def _give_up(self, batch: list[_Pending]) -> None:
        """Called with what cannot be delivered at close; an on-disk spool will keep it."""
        count = len(batch)
        with self._lock:
            if self._is_abandoned:
                return
            self._n_lost += count
        logger.error(
            "trial %d: the service is unavailable; %d measurements were not delivered",
            self._trial_id,
            count,
        )


def _now() -> float:
    return time.time()


def _monotonic() -> float:
    return time.monotonic()
