"""Send a trial's observations to the service in batches, from a background thread."""

from __future__ import annotations

import logging
import math
import os
import sqlite3
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Final

from tuner.collectors._environment import TOKEN_ENV
from tuner.collectors._spool import (
    Spool,
    default_spool_dir,
    default_spool_max_bytes,
    flush_spools,
    spool_path,
)
from tuner.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    TunerError,
    UnauthenticatedError,
)
from tuner.trial import (
    MAX_UNPARSEABLE_EXAMPLES,
    CollectorDiagnostics,
    Measurement,
    UnparseableLine,
)

if TYPE_CHECKING:
    from types import TracebackType

    from tuner.backend import Backend

__all__ = [
    "DEFAULT_GRACE_PERIOD",
    "FROM_ENV",
    "GRACE_PERIOD_ENV",
    "REFUSALS",
    "MeasurementReporter",
    "default_grace_period",
]

logger = logging.getLogger(__name__)

GRACE_PERIOD_ENV = "TUNER_REPORT_GRACE_PERIOD"
"""Seconds a closing reporter keeps trying to deliver (default 30); the rest is spooled."""
DEFAULT_GRACE_PERIOD = 30.0


class _FromEnv:
    def __repr__(self) -> str:
        return "FROM_ENV"


FROM_ENV: Final = _FromEnv()
"""The default spool directory: ``$TUNER_SPOOL_DIR``, else ``.tuner-spool`` here."""

REFUSALS = (InvalidArgumentError, NotFoundError, FailedPreconditionError, AlreadyExistsError)
"""Errors that mean the service will never take the batch: it is dropped, not retried."""

_MAX_EXAMPLE_CHARS = 200
_MAX_BACKOFF = 5.0
_CLOSE_SLACK = 1.0
"""Seconds past the grace period that close waits for a call in flight before spooling it."""


def default_grace_period() -> float:
    """``$TUNER_REPORT_GRACE_PERIOD`` when it is a number >= 0, else 30 seconds."""
    raw = os.environ.get(GRACE_PERIOD_ENV, "").strip()
    if raw:
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if value >= 0 and math.isfinite(value):
            return value
        logger.warning("%s=%r is not a number of seconds; using the default", GRACE_PERIOD_ENV, raw)
    return DEFAULT_GRACE_PERIOD


class _Pending:
    """A measurement being assembled: the metrics seen at one step so far."""

    __slots__ = ("metrics", "report_id", "step", "time")

    def __init__(self, step: int, observed_at: float) -> None:
        self.step = step
        self.time = observed_at
        self.metrics: dict[str, float] = {}
        self.report_id = ""  # given when it leaves the buffer; fixed from then on

    def to_measurement(self) -> Measurement:
        return Measurement(
            metrics=self.metrics, step=self.step, time=self.time, report_id=self.report_id
        )


class MeasurementReporter:
    """Groups a trial's observations into measurements and reports them in batches.

    :meth:`record` only appends to a buffer and returns at once: it never waits for the
    network or the disk. A background thread sends the buffer with
    ``backend.report_measurements`` once it holds ``batch_size`` measurements, or
    ``flush_interval`` seconds after the last send, whichever comes first.

    Observations at the same step merge into one measurement while it waits to be sent,
    stamped with the time of its latest observation. A second value of a metric at a step
    that already has one starts a new measurement of that step, so no value is lost (a
    metric's min or max strategy sees them all). Observations without a step are numbered
    per metric: the k-th value of a metric gets step k (1, 2, ...).

    **Exactly once, in order.** Each measurement gets a ``report_id``, this reporter's
    random id and a sequence number (``<uuid>:<n>``), when it leaves the buffer; the
    service skips ids it has, so sending a batch again (after a lost answer, a restart of
    the service, a spool delivered twice) stores it once. Batches go out in the order
    recorded.

    **Outages.** ``UnavailableError`` (and any other failure but a refusal, such as a
    call cancelled by a stopping server) is retried with exponential backoff from
    ``retry_backoff`` seconds (at most 5 s apart). After ``retry_attempts`` failures in a
    row the service counts as down: the batch and everything recorded after it go to the
    spool, a bounded SQLite file on disk (see ``tuner.collectors._spool``: the oldest
    measurements are dropped when it is full, counted in ``n_dropped``), and are delivered
    from there, oldest first, once the service answers again. Without a spool directory
    they wait in memory instead. A refusal (:data:`REFUSALS`: the trial is finished or
    gone, a value is invalid) is final: the batch is logged, counted in ``n_lost`` and
    dropped. A refused token (``UnauthenticatedError``) counts as the service being down
    at once, and :meth:`close` then spends no grace period on it: the measurements stay in
    the spool for ``tuner report --flush`` with the right ``$TUNER_SERVICE_TOKEN``.

    **Closing.** :meth:`close` keeps delivering for at most a grace period, then leaves
    what is left in the spool file, which the next reporter of the same trial (a restarted
    collector, ``tuner report``) or ``tuner report --flush`` delivers. On start, the
    reporter delivers such leftover spool files of its trial first.

    **Diagnostics.** :meth:`record_unparseable` counts lines that could not be read; the
    counts and the first examples go with the next call (``diagnostics=``) and appear as
    the trial's :class:`~tuner.trial.CollectorDiagnostics`, with the spool's drop count.

    Args:
        backend: Where to report: a :class:`tuner.client.Client` or the service core.
        trial_id: The trial the observations belong to.
        batch_size: Most measurements per call, and the buffer size that triggers a send.
        flush_interval: Seconds a measurement may wait in the buffer before it is sent.
        retry_attempts: Failed attempts in a row after which batches go to the spool.
        retry_backoff: Seconds before the second attempt; each further wait doubles.
        spool_dir: The spool directory; None keeps undelivered measurements in memory
            only. Default: ``$TUNER_SPOOL_DIR``, else ``.tuner-spool`` in the working
            directory (created only when needed).
        spool_max_bytes: Most bytes the spool file holds (default
            ``$TUNER_SPOOL_MAX_BYTES`` or 64 MiB).
        grace_period: Seconds :meth:`close` keeps delivering when given no timeout
            (default ``$TUNER_REPORT_GRACE_PERIOD`` or 30).

    Raises:
        InvalidArgumentError: A setting is out of range.

    Examples:
        >>> class Printer:
        ...     def report_measurements(self, trial_id, measurements, *, diagnostics=None):
        ...         print(trial_id, [(m.step, dict(m.metrics)) for m in measurements])
        >>> with MeasurementReporter(Printer(), 7, spool_dir=None) as reporter:
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
        spool_dir: str | os.PathLike[str] | _FromEnv | None = FROM_ENV,
        spool_max_bytes: int | None = None,
        grace_period: float | None = None,
    ) -> None:
        if batch_size < 1:
            raise InvalidArgumentError(f"must be >= 1, got {batch_size}", field="batch_size")
        if not flush_interval > 0:
            raise InvalidArgumentError(f"must be > 0, got {flush_interval}", field="flush_interval")
        if retry_attempts < 1:
            raise InvalidArgumentError(
                f"must be >= 1, got {retry_attempts}", field="retry_attempts"
            )
        if spool_max_bytes is not None and spool_max_bytes < 1:
            raise InvalidArgumentError(
                f"must be >= 1, got {spool_max_bytes}", field="spool_max_bytes"
            )
        if grace_period is not None and not grace_period >= 0:
            raise InvalidArgumentError(f"must be >= 0, got {grace_period}", field="grace_period")
        self._backend = backend
        self._trial_id = trial_id
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._retry_attempts = retry_attempts
        self._retry_backoff = retry_backoff
        self._grace_period = default_grace_period() if grace_period is None else grace_period
        self.reporter_id = uuid.uuid4().hex
        """This reporter's random id, the prefix of its measurements' ``report_id``."""
        directory = default_spool_dir() if isinstance(spool_dir, _FromEnv) else spool_dir
        self._spool_dir = None if directory is None else Path(directory)
        self._spool: Spool | None = None
        if self._spool_dir is not None:
            self._spool = Spool(
                spool_path(self._spool_dir, trial_id, self.reporter_id),
                default_spool_max_bytes() if spool_max_bytes is None else spool_max_bytes,
            )
        self._lock = threading.Condition()
        self._pending: deque[_Pending] = deque()
        self._open: dict[int, _Pending] = {}  # step -> its newest pending measurement
        self._counters: dict[str, int] = {}
        self._seq = 0
        self._closing = False
        self._deadline = math.inf  # monotonic time the closing reporter stops trying
        self._failures = 0  # failed attempts in a row
        self._is_unauthenticated = False  # the service refused our token: no use waiting
        self._n_recorded = 0
        self._n_delivered = 0
        self._n_lost = 0
        self._in_flight: list[Measurement] = []
        self._in_flight_is_spooled = False
        self._is_abandoned = False  # close timed out: the thread's results no longer count
        self._n_unparseable = 0
        self._unparseable_examples: list[UnparseableLine] = []
        self._diagnostics_version = 0
        self._diagnostics_sent = 0
        self._thread = threading.Thread(
            target=self._run, name=f"tuner-reporter-{trial_id}", daemon=True
        )
        self._thread.start()

    # -- counts ----------------------------------------------------------------------------

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
        """Measurements the backend refused, plus those dropped from a full spool."""
        with self._lock:
            return self._n_lost + self.n_dropped

    @property
    def n_dropped(self) -> int:
        """Measurements dropped because the spool was full (the oldest go first)."""
        return 0 if self._spool is None else self._spool.n_dropped

    @property
    def n_spooled(self) -> int:
        """Measurements waiting in the spool file."""
        return 0 if self._spool is None else len(self._spool)

    @property
    def spool_path(self) -> Path | None:
        """This reporter's spool file (it exists only while something is spooled)."""
        return None if self._spool is None else self._spool.path

    @property
    def metric_names(self) -> frozenset[str]:
        """The metrics recorded at least once."""
        with self._lock:
            return frozenset(self._counters)

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

    def diagnostics(self) -> CollectorDiagnostics:
        """What this reporter tells the trial about collection problems, so far."""
        with self._lock:
            return CollectorDiagnostics(
                n_unparseable=self._n_unparseable,
                unparseable_examples=tuple(self._unparseable_examples),
                n_dropped=self.n_dropped,
            )

    # -- recording -------------------------------------------------------------------------

    def record_unparseable(self, line: str, *, source: str) -> None:
        """Count a line that held a wanted metric whose value could not be read.

        The count and the first :data:`~tuner.trial.MAX_UNPARSEABLE_EXAMPLES` lines (with
        their source) reach the trial's diagnostics. Never waits for the network.

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
            self._diagnostics_version += 1

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

    # -- closing ---------------------------------------------------------------------------

    def close(self, timeout: float | None = None) -> bool:
        """Deliver what is buffered for at most ``timeout`` seconds, then stop.

        What is still undelivered then stays in the spool file for a later delivery (or,
        without a spool, is counted lost). A call still in flight at the deadline is given
        one more second, then its batch is spooled too (delivering it twice is harmless).

        Args:
            timeout: Most seconds to keep delivering; None means the grace period.

        Returns:
            Whether every recorded observation was delivered.
        """
        limit = self._grace_period if timeout is None else max(timeout, 0.0)
        with self._lock:
            if not self._closing:
                self._closing = True
                self._deadline = _monotonic() + limit
            self._lock.notify_all()
        self._thread.join(limit + _CLOSE_SLACK)
        if self._thread.is_alive():
            self._abandon()
        if self._spool is not None:
            self._spool.close()
        with self._lock:
            lost = self._n_lost + self.n_dropped
            left = self.n_spooled
        if lost:
            logger.error("trial %d: %d measurements were not delivered", self._trial_id, lost)
        return lost == 0 and left == 0 and not self._is_abandoned

    def __enter__(self) -> MeasurementReporter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _abandon(self) -> None:
        """The thread is stuck in a call past the deadline: spool what it and the buffer hold."""
        with self._lock:
            self._is_abandoned = True
            rest = [] if self._in_flight_is_spooled else list(self._in_flight)
            rest += [m.to_measurement() for m in self._take(len(self._pending))]
        logger.warning(
            "trial %d: the service did not answer within the grace period", self._trial_id
        )
        self._keep(rest)

    # -- the sending thread ----------------------------------------------------------------

    def _run(self) -> None:
        self._flush_leftovers()
        while True:
            with self._lock:
                if not self._wait_for_work():
                    break
                take_from_spool = self.n_spooled > 0
                batch = [] if take_from_spool else self._take(self._batch_size)
                self._in_flight = [m.to_measurement() for m in batch]
                self._in_flight_is_spooled = take_from_spool
                diagnostics = self._unsent_diagnostics()
                closing = self._closing
            if take_from_spool:
                delivered = self._send_from_spool(diagnostics)
            elif batch or diagnostics is not None:
                delivered = self._send(self._in_flight, diagnostics)
            elif closing:
                break  # nothing is left
            else:
                continue  # the interval passed with nothing to send
            with self._lock:
                measurements, self._in_flight = self._in_flight, []
                if self._is_abandoned:
                    return
                if delivered:
                    continue
                self._failures += 1
                is_down = self._failures >= self._retry_attempts
                out_of_time = self._closing and _monotonic() >= self._deadline
                if not take_from_spool and not (is_down and self._spool is not None):
                    for pending in reversed(batch):
                        self._pending.appendleft(pending)  # first in line, same ids
            if not take_from_spool and is_down and self._spool is not None:
                self._spool_from(measurements)
            if out_of_time:
                break
        self._finish()

    def _wait_for_work(self) -> bool:
        """Wait (holding the lock) until there is something to do; False to stop."""
        if self._failures:
            delay = min(self._retry_backoff * 2 ** (self._failures - 1), _MAX_BACKOFF)
            if self._failures >= self._retry_attempts:
                delay = max(delay, self._flush_interval)
        else:
            delay = self._flush_interval
        wake_at = _monotonic() + delay
        while True:
            now = _monotonic()
            if self._closing and self._is_unauthenticated:
                return False  # no grace period: the token will not change meanwhile
            if self._closing:
                if now >= self._deadline:
                    return not self._failures and not self._pending and self.n_spooled == 0
                    # (True only to send the last diagnostics; the loop ends right after)
                if not self._failures or now >= wake_at:
                    return True
                self._lock.wait(min(wake_at, self._deadline) - now)
                continue
            if now >= wake_at:
                return True
            if not self._failures and (
                len(self._pending) >= self._batch_size or self.n_spooled > 0
            ):
                return True  # a full batch, or a spool to drain now the service answers
            self._lock.wait(wake_at - now)

    def _take(self, count: int) -> list[_Pending]:
        """Up to ``count`` buffered measurements, oldest first, with their ids given."""
        batch: list[_Pending] = []
        while self._pending and len(batch) < count:
            pending = self._pending.popleft()
            if self._open.get(pending.step) is pending:
                del self._open[pending.step]  # later values of its step start a new one
            if not pending.report_id:
                self._seq += 1
                pending.report_id = f"{self.reporter_id}:{self._seq}"
            batch.append(pending)
        return batch

    def _unsent_diagnostics(self) -> CollectorDiagnostics | None:
        dropped = self.n_dropped
        if self._diagnostics_version == self._diagnostics_sent and not dropped:
            return None
        diagnostics = CollectorDiagnostics(
            n_unparseable=self._n_unparseable,
            unparseable_examples=tuple(self._unparseable_examples),
            n_dropped=dropped,
        )
        return None if diagnostics.is_empty else diagnostics

    def _send(
        self, measurements: list[Measurement], diagnostics: CollectorDiagnostics | None
    ) -> bool:
        """One attempt; True when it is settled (delivered, or refused and dropped)."""
        version = self._diagnostics_version
        try:
            if diagnostics is None:
                self._backend.report_measurements(self._trial_id, measurements)
            else:
                self._backend.report_measurements(
                    self._trial_id, measurements, diagnostics=diagnostics
                )
        except REFUSALS as error:
            logger.error(
                "trial %d: the service refused %d measurements; dropping them: %s",
                self._trial_id,
                len(measurements),
                error,
            )
            with self._lock:
                self._n_lost += len(measurements)
                self._failures = 0
            return True
        except UnauthenticatedError as error:
            if not self._is_unauthenticated:
                logger.error(
                    "trial %d: the service refused this trial's token (%s): set %s to the "
                    "service's token; %s",
                    self._trial_id,
                    error,
                    TOKEN_ENV,
                    "measurements are kept in the spool for `tuner report --flush`"
                    if self._spool is not None
                    else "measurements not delivered are lost at exit (no spool)",
                )
            with self._lock:
                self._is_unauthenticated = True
                self._failures = max(self._failures, self._retry_attempts - 1)  # down now
            return False
        except TunerError as error:
            # Unavailable, or a call cut short (a server stopping cancels its calls): not
            # delivered yet. Report ids make sending it again safe.
            logger.debug("trial %d: not delivered: %s", self._trial_id, error)
            if self._failures + 1 == self._retry_attempts:
                logger.warning(
                    "trial %d: the service is unavailable (%s); %s until it is back",
                    self._trial_id,
                    error,
                    "spooling measurements" if self._spool is not None else "buffering",
                )
            return False
        except Exception:
            logger.exception(
                "trial %d: reporting %d measurements failed; dropping them",
                self._trial_id,
                len(measurements),
            )
            with self._lock:
                self._n_lost += len(measurements)
                self._failures = 0
            return True
        with self._lock:
            if self._failures >= self._retry_attempts:
                logger.info("trial %d: the service is back", self._trial_id)
            self._failures = 0
            self._n_delivered += len(measurements)
            if diagnostics is not None:
                self._diagnostics_sent = version
        return True

    def _send_from_spool(self, diagnostics: CollectorDiagnostics | None) -> bool:
        assert self._spool is not None
        self._spool_from([m.to_measurement() for m in self._take_all()])
        rows = self._spool.head(self._batch_size)
        if not self._send([m for _, m in rows], diagnostics):
            return False
        self._spool.remove([seq for seq, _ in rows])
        return True

    def _take_all(self) -> list[_Pending]:
        with self._lock:
            return self._take(len(self._pending))

    def _spool_from(self, measurements: list[Measurement]) -> None:
        """Move measurements (and everything buffered after them) to the spool, in order."""
        rest = [m.to_measurement() for m in self._take_all()]
        self._keep(measurements + rest)

    def _keep(self, measurements: list[Measurement]) -> None:
        """Append to the spool; without one (or when it fails), count them lost."""
        if not measurements:
            return
        if self._spool is not None:
            try:
                dropped = self._spool.append(measurements)
            except (OSError, sqlite3.Error) as error:
                logger.error(
                    "trial %d: cannot write the spool %s: %s",
                    self._trial_id,
                    self._spool.path,
                    error,
                )
            else:
                if dropped:
                    logger.warning(
                        "trial %d: the spool %s is full; dropped the %d oldest measurements "
                        "(%d so far; raise $TUNER_SPOOL_MAX_BYTES to keep more)",
                        self._trial_id,
                        self._spool.path,
                        dropped,
                        self._spool.n_dropped,
                    )
                return
        with self._lock:
            self._n_lost += len(measurements)

    def _finish(self) -> None:
        """The thread's end: spool what could not be delivered in time."""
        with self._lock:
            rest = [m.to_measurement() for m in self._take(len(self._pending))]
        if self._spool is None:
            if rest:
                with self._lock:
                    self._n_lost += len(rest)
            return
        self._keep(rest)

    def _flush_leftovers(self) -> None:
        """Deliver spool files earlier reporters of this trial left behind."""
        if self._spool_dir is None or not self._spool_dir.is_dir():
            return
        try:
            delivered, _ = flush_spools(
                self._backend,
                self._trial_id,
                self._spool_dir,
                batch_size=self._batch_size,
                exclude=self.spool_path,
            )
        except TunerError as error:
            logger.info("trial %d: leftover spools wait: %s", self._trial_id, error)
        except Exception:
            logger.exception("trial %d: cannot deliver leftover spools", self._trial_id)
        else:
            if delivered:
                logger.info(
                    "trial %d: delivered %d measurements left by an earlier collector",
                    self._trial_id,
                    delivered,
                )

    # -- after the trial -------------------------------------------------------------------

    def fail_if_objective_missing(self, *, where: str, expectation: str = "") -> str | None:
        """Fail the trial if neither this reporter nor anyone else reported its objective.

        Call it once the trial's command has exited 0 (and after :meth:`close`): the
        trial then gets a reason naming the metric and where the collector looked,
        instead of the controller's generic one. Does nothing when the trial is finished,
        when any of its measurements holds the objective metric, or when the service
        cannot be reached (the controller then fails the trial itself).

        Args:
            where: Where the collector looked: ``"stdout"``, ``"the file /x/metrics.log"``.
            expectation: What it looked for there, for the reason.

        Returns:
            The reason the trial was failed with, or None.
        """
        try:
            trial = self._backend.get_trial(self._trial_id)
            if trial.state.is_finished:
                return None
            metric = self._backend.get_study(trial.study_name).config.objective.metric_name
            if metric in self.metric_names or any(metric in m.metrics for m in trial.measurements):
                return None
            reason = (
                f"exited 0 but the collector found no value of the objective metric "
                f"{metric!r} in {where}"
            )
            if expectation:
                reason += f" (expected {expectation})"
            self._backend.fail_trial(self._trial_id, reason)
        except TunerError as error:
            logger.info("trial %d: cannot check the objective: %s", self._trial_id, error)
            return None
        logger.warning("trial %d failed: %s", self._trial_id, reason)
        return reason


def _now() -> float:
    return time.time()


def _monotonic() -> float:
    return time.monotonic()
