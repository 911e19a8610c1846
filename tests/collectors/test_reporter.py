"""MeasurementReporter: grouping by step, batching by size and time, retries, close.

A recording in-memory backend stands in for the service here; the collector's end-to-end
tests (test_wrapper.py) report to a real server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest

from tuner.collectors import MeasurementReporter
from tuner.collectors._spool import flush_spools
from tuner.errors import FailedPreconditionError, InvalidArgumentError, UnavailableError
from tuner.trial import CollectorDiagnostics, Measurement

if TYPE_CHECKING:
    from tuner.backend import Backend

DEADLINE = 10.0


@pytest.fixture(autouse=True)
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every reporter here spools under the test's own directory."""
    directory = tmp_path / "spool"
    monkeypatch.setenv("TUNER_SPOOL_DIR", str(directory))
    return directory


class RecordingBackend:
    """Records each ``report_measurements`` call; fails the first ``failures`` calls."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.calls: list[tuple[int, list[Measurement]]] = []
        self.tried: list[list[Measurement]] = []
        self.diagnostics: list[CollectorDiagnostics] = []
        self.attempts = 0
        self.failures = failures
        self.error = error or UnavailableError("down")
        self.gate = threading.Event()
        self.gate.set()
        self._lock = threading.Lock()

    def report_measurements(
        self,
        trial_id: int,
        measurements: Sequence[Measurement],
        *,
        diagnostics: CollectorDiagnostics | None = None,
    ) -> None:
        self.gate.wait()
        with self._lock:
            self.attempts += 1
            self.tried.append(list(measurements))
            if self.attempts <= self.failures:
                raise self.error
            self.calls.append((trial_id, list(measurements)))
            if diagnostics is not None:
                self.diagnostics.append(diagnostics)

    @property
    def measurements(self) -> list[Measurement]:
        with self._lock:
            return [m for _, batch in self.calls for m in batch]


def as_backend(recorder: RecordingBackend) -> Backend:
    """The recorder as a ``Backend``: the reporter calls only ``report_measurements``."""
    return cast("Backend", recorder)


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def summary(measurements: Sequence[Measurement]) -> list[tuple[int, dict[str, float]]]:
    return [(m.step, dict(m.metrics)) for m in measurements]


def test_metrics_at_one_step_make_one_measurement() -> None:
    backend = RecordingBackend()
    reporter = MeasurementReporter(as_backend(backend), 5, flush_interval=60)
    reporter.record("loss", 0.5, step=1)
    reporter.record("accuracy", 0.8, step=1)
    reporter.record("loss", 0.4, step=2)
    assert reporter.close()
    assert backend.calls[0][0] == 5
    assert summary(backend.measurements) == [
        (1, {"loss": 0.5, "accuracy": 0.8}),
        (2, {"loss": 0.4}),
    ]
    assert reporter.n_recorded == 3
    assert reporter.n_delivered == 2


def test_values_without_a_step_are_numbered_per_metric() -> None:
    backend = RecordingBackend()
    with MeasurementReporter(as_backend(backend), 1, flush_interval=60) as reporter:
        for epoch in range(3):
            reporter.record("loss", 1.0 / (epoch + 1))
            reporter.record("accuracy", epoch / 10)
    assert summary(backend.measurements) == [
        (1, {"loss": 1.0, "accuracy": 0.0}),
        (2, {"loss": 0.5, "accuracy": 0.1}),
        (3, {"loss": 1 / 3, "accuracy": 0.2}),
    ]


def test_a_repeated_metric_at_a_step_keeps_both_values() -> None:
    backend = RecordingBackend()
    with MeasurementReporter(as_backend(backend), 1, flush_interval=60) as reporter:
        reporter.record("loss", 0.9, step=1)
        reporter.record("loss", 0.8, step=1)
        reporter.record("accuracy", 0.5, step=1)
    assert summary(backend.measurements) == [
        (1, {"loss": 0.9}),
        (1, {"loss": 0.8, "accuracy": 0.5}),
    ]


def test_time_is_the_observation_time() -> None:
    backend = RecordingBackend()
    before = time.time()
    with MeasurementReporter(as_backend(backend), 1, flush_interval=60) as reporter:
        reporter.record("loss", 1.0, step=0)
        reporter.record("loss", 2.0, step=1, time=1234.5)
    after = time.time()
    first, second = backend.measurements
    assert before <= first.time <= after
    assert second.time == 1234.5


def test_nan_and_infinity_are_kept() -> None:
    backend = RecordingBackend()
    with MeasurementReporter(as_backend(backend), 1, flush_interval=60) as reporter:
        reporter.record("loss", float("nan"))
        reporter.record("accuracy", float("-inf"))
    [measurement] = backend.measurements
    assert measurement.metrics["loss"] != measurement.metrics["loss"]
    assert measurement.metrics["accuracy"] == float("-inf")


def test_a_full_batch_is_sent_without_waiting_for_the_interval() -> None:
    backend = RecordingBackend()
    reporter = MeasurementReporter(as_backend(backend), 1, batch_size=3, flush_interval=60)
    for step in range(7):
        reporter.record("loss", step, step=step)
    wait_for(lambda: len(backend.measurements) >= 6)
    assert [len(batch) for _, batch in backend.calls] == [3, 3]
    reporter.close()
    assert [len(batch) for _, batch in backend.calls] == [3, 3, 1]


def test_a_partial_batch_is_sent_after_the_interval() -> None:
    backend = RecordingBackend()
    reporter = MeasurementReporter(as_backend(backend), 1, batch_size=100, flush_interval=0.05)
    reporter.record("loss", 1.0)
    wait_for(lambda: len(backend.measurements) == 1)
    reporter.record("loss", 2.0)
    wait_for(lambda: len(backend.measurements) == 2)
    assert len(backend.calls) == 2
    reporter.close()


def test_record_does_not_wait_for_a_slow_service() -> None:
    backend = RecordingBackend()
    backend.gate.clear()  # every call blocks until the gate opens
    reporter = MeasurementReporter(as_backend(backend), 1, batch_size=1, flush_interval=0.01)
    for step in range(1000):
        reporter.record("loss", step, step=step)  # would hang if it waited for a send
    assert reporter.n_recorded == 1000
    backend.gate.set()
    assert reporter.close()
    assert [m.step for m in backend.measurements] == list(range(1000))


def test_unavailable_is_retried_with_backoff() -> None:
    backend = RecordingBackend(failures=2)
    reporter = MeasurementReporter(as_backend(backend), 1, flush_interval=60, retry_backoff=0.01)
    reporter.record("loss", 1.0)
    assert reporter.close()
    assert backend.attempts == 3
    assert summary(backend.measurements) == [(1, {"loss": 1.0})]


def test_after_repeated_failures_batches_go_to_the_spool_and_come_back_in_order(
    spool_dir: Path,
) -> None:
    backend = RecordingBackend(failures=4)
    reporter = MeasurementReporter(
        as_backend(backend), 1, flush_interval=0.05, retry_attempts=2, retry_backoff=0.01
    )
    reporter.record("loss", 1.0, step=1)
    wait_for(lambda: reporter.n_spooled == 1)
    assert reporter.spool_path is not None and reporter.spool_path.parent == spool_dir
    reporter.record("loss", 2.0, step=2)
    wait_for(lambda: len(backend.measurements) == 2)
    assert backend.attempts == 5
    assert summary(backend.measurements) == [(1, {"loss": 1.0}), (2, {"loss": 2.0})]
    assert reporter.close()
    assert list(spool_dir.iterdir()) == []  # an empty spool is removed


def test_a_retried_batch_keeps_its_report_ids() -> None:
    backend = RecordingBackend(failures=1)
    reporter = MeasurementReporter(as_backend(backend), 1, flush_interval=60, retry_backoff=0.01)
    reporter.record("loss", 1.0)
    reporter.record("loss", 2.0)
    assert reporter.close()
    failed, delivered = backend.tried
    ids = [m.report_id for m in delivered]
    assert [m.report_id for m in failed] == ids
    assert ids == [f"{reporter.reporter_id}:1", f"{reporter.reporter_id}:2"]


def test_close_leaves_the_rest_in_the_spool_for_a_later_flush(
    spool_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend = RecordingBackend(failures=10**9)
    reporter = MeasurementReporter(
        as_backend(backend),
        3,
        batch_size=2,
        flush_interval=60,
        retry_attempts=2,
        retry_backoff=0.001,
    )
    for step in range(5):
        reporter.record("loss", step, step=step)
    assert not reporter.close(timeout=0.2)
    assert reporter.n_lost == 0
    assert reporter.n_spooled == 5
    assert "5 measurements stay in" in caplog.text
    assert reporter.spool_path is not None and reporter.spool_path.exists()

    backend.failures = 0
    assert flush_spools(as_backend(backend), 3, spool_dir) == (5, 0)
    assert [m.step for m in backend.measurements] == [0, 1, 2, 3, 4]
    assert len({m.report_id for m in backend.measurements}) == 5
    assert list(spool_dir.iterdir()) == []
    assert flush_spools(as_backend(backend), 3, spool_dir) == (0, 0)


def test_the_next_reporter_of_the_trial_delivers_a_leftover_spool(spool_dir: Path) -> None:
    down = RecordingBackend(failures=10**9)
    first = MeasurementReporter(as_backend(down), 4, retry_attempts=1, flush_interval=60)
    first.record("loss", 1.0, step=1)
    first.close(timeout=0.1)
    assert first.n_spooled == 1
    up = RecordingBackend()
    second = MeasurementReporter(as_backend(up), 4, flush_interval=60)
    second.record("loss", 2.0, step=2)
    assert second.close()
    assert [(m.step, m.report_id.split(":")[0]) for m in up.measurements] == [
        (1, first.reporter_id),
        (2, second.reporter_id),
    ]


def test_a_living_reporters_spool_is_not_taken(spool_dir: Path) -> None:
    backend = RecordingBackend(failures=10**9)
    reporter = MeasurementReporter(as_backend(backend), 5, retry_attempts=1, flush_interval=0.02)
    reporter.record("loss", 1.0)
    wait_for(lambda: reporter.n_spooled == 1)
    assert flush_spools(as_backend(RecordingBackend()), 5, spool_dir) == (0, 0)
    reporter.close(timeout=0)


def test_a_full_spool_drops_the_oldest_and_says_so(
    spool_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend = RecordingBackend(failures=10**9)
    reporter = MeasurementReporter(
        as_backend(backend), 6, retry_attempts=1, flush_interval=0.02, spool_max_bytes=1000
    )
    for step in range(40):
        reporter.record("loss", 0.5, step=step)
    reporter.close(timeout=0.3)
    assert reporter.n_dropped > 0
    assert reporter.n_spooled + reporter.n_dropped == 40
    assert "is full; dropped the" in caplog.text
    backend.failures = 0
    delivered, _ = flush_spools(as_backend(backend), 6, spool_dir)
    steps = [m.step for m in backend.measurements]
    assert steps == list(range(40 - delivered, 40))  # the newest are kept
    assert reporter.diagnostics().n_dropped == reporter.n_dropped


def test_without_a_spool_the_undelivered_are_counted_lost(caplog: pytest.LogCaptureFixture) -> None:
    backend = RecordingBackend(failures=10**9)
    reporter = MeasurementReporter(
        as_backend(backend), 3, flush_interval=60, retry_backoff=0.001, spool_dir=None
    )
    for step in range(5):
        reporter.record("loss", step, step=step)
    assert not reporter.close(timeout=0.2)
    assert reporter.n_lost == 5
    assert "5 measurements were not delivered" in caplog.text


def test_diagnostics_go_with_the_next_call() -> None:
    backend = RecordingBackend()
    reporter = MeasurementReporter(as_backend(backend), 1, flush_interval=0.02)
    reporter.record_unparseable("loss=high", source="stdout")
    wait_for(lambda: len(backend.diagnostics) == 1)
    assert backend.diagnostics[0].n_unparseable == 1
    assert backend.measurements == []  # sent alone, with no measurement
    reporter.record("loss", 1.0)
    assert reporter.close()
    assert len(backend.diagnostics) == 1  # unchanged since: not sent again


def test_a_refused_batch_is_dropped_and_the_rest_still_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = RecordingBackend(failures=1, error=FailedPreconditionError("trial finished"))
    reporter = MeasurementReporter(as_backend(backend), 1, batch_size=2, flush_interval=60)
    for step in range(4):
        reporter.record("loss", step, step=step)
    assert not reporter.close()
    assert backend.attempts == 2  # no retry of a refusal
    assert reporter.n_lost == 2
    assert [m.step for m in backend.measurements] == [2, 3]
    assert "refused 2 measurements" in caplog.text


def test_record_after_close_raises() -> None:
    reporter = MeasurementReporter(as_backend(RecordingBackend()), 1)
    reporter.close()
    with pytest.raises(RuntimeError):
        reporter.record("loss", 1.0)


def test_close_with_nothing_recorded_returns_at_once() -> None:
    backend = RecordingBackend()
    assert MeasurementReporter(as_backend(backend), 1, flush_interval=60).close()
    assert backend.calls == []


@pytest.mark.timeout(10)
def test_close_spools_a_call_that_hangs_past_the_grace_period(spool_dir: Path) -> None:
    backend = RecordingBackend()
    backend.gate.clear()
    reporter = MeasurementReporter(as_backend(backend), 1, flush_interval=0.01)
    reporter.record("loss", 1.0)
    wait_for(lambda: reporter.n_recorded == 1 and backend.gate.is_set() is False)
    time.sleep(0.05)  # let the thread enter the hung call
    assert not reporter.close(timeout=0.05)
    assert reporter.n_spooled == 1
    backend.gate.set()


@pytest.mark.parametrize(
    "kwargs", [{"batch_size": 0}, {"flush_interval": 0}, {"retry_attempts": 0}]
)
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidArgumentError):
        MeasurementReporter(as_backend(RecordingBackend()), 1, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "step"), [("", None), ("loss", -1), ("loss", True)])
def test_bad_observations_are_refused(name: str, step: int | None) -> None:
    backend = RecordingBackend()
    reporter = MeasurementReporter(as_backend(backend), 1, flush_interval=60)
    with pytest.raises(InvalidArgumentError):
        reporter.record(name, 1.0, step=step)
    reporter.record("loss", 1.0)
    assert reporter.close()
    assert summary(backend.measurements) == [(1, {"loss": 1.0})]


def test_unparseable_lines_are_counted_with_the_first_examples() -> None:
    reporter = MeasurementReporter(as_backend(RecordingBackend()), 5, flush_interval=60)
    for i in range(8):
        reporter.record_unparseable(f"accuracy=high{i}\n", source="stdout" if i else "/tmp/m.log")
    assert reporter.n_unparseable == 8
    examples = reporter.unparseable_examples
    assert [e.source for e in examples] == ["/tmp/m.log", "stdout", "stdout", "stdout", "stdout"]
    assert [e.line for e in examples] == [f"accuracy=high{i}" for i in range(5)]
    reporter.close()


def test_observations_after_an_idle_interval_are_still_sent() -> None:
    backend = RecordingBackend()
    reporter = MeasurementReporter(as_backend(backend), 1, flush_interval=0.02)
    time.sleep(0.1)  # several intervals with nothing to send
    reporter.record("loss", 1.0)
    wait_for(lambda: len(backend.measurements) == 1)
    reporter.record("loss", 2.0)
    assert reporter.close()
    assert [m.metrics["loss"] for m in backend.measurements] == [1.0, 2.0]


def test_a_batch_failing_at_the_deadline_is_spooled_not_lost() -> None:
    backend = RecordingBackend(failures=10**9)
    backend.gate.clear()
    reporter = MeasurementReporter(as_backend(backend), 8, flush_interval=60, retry_attempts=50)
    reporter.record("loss", 1.0)
    reporter.record("loss", 2.0)
    threading.Timer(0.3, backend.gate.set).start()  # the call fails after the deadline
    assert not reporter.close(timeout=0.1)
    assert reporter.n_spooled == 2
    assert reporter.n_lost == 0
