"""MeasurementReporter: grouping by step, batching by size and time, retries, close.

A recording in-memory backend stands in for the service here; the collector's end-to-end
tests (test_wrapper.py) report to a real server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

import pytest

from tuner.collectors import MeasurementReporter
from tuner.errors import FailedPreconditionError, InvalidArgumentError, UnavailableError
from tuner.trial import Measurement

if TYPE_CHECKING:
    from tuner.backend import Backend

DEADLINE = 10.0


class RecordingBackend:
    """Records each ``report_measurements`` call; fails the first ``failures`` calls."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.calls: list[tuple[int, list[Measurement]]] = []
        self.attempts = 0
        self.failures = failures
        self.error = error or UnavailableError("down")
        self.gate = threading.Event()
        self.gate.set()
        self._lock = threading.Lock()

    def report_measurements(self, trial_id: int, measurements: Sequence[Measurement]) -> None:
        self.gate.wait()
        with self._lock:
            self.attempts += 1
            if self.attempts <= self.failures:
                raise self.error
            self.calls.append((trial_id, list(measurements)))

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


def test_a_batch_that_keeps_failing_waits_for_the_next_interval() -> None:
    backend = RecordingBackend(failures=4)
    reporter = MeasurementReporter(
        as_backend(backend), 1, flush_interval=0.05, retry_attempts=2, retry_backoff=0.01
    )
    reporter.record("loss", 1.0, step=1)
    reporter.record("loss", 2.0, step=2)
    wait_for(lambda: len(backend.measurements) == 2)  # third round of attempts succeeds
    assert backend.attempts == 5
    assert summary(backend.measurements) == [(1, {"loss": 1.0}), (2, {"loss": 2.0})]
    assert reporter.close()


def test_close_gives_up_when_the_service_stays_down(caplog: pytest.LogCaptureFixture) -> None:
    backend = RecordingBackend(failures=10**9)
    reporter = MeasurementReporter(
        as_backend(backend),
        3,
        batch_size=2,
        flush_interval=60,
        retry_attempts=3,
        retry_backoff=0.001,
    )
    for step in range(5):
        reporter.record("loss", step, step=step)
    assert not reporter.close()
    assert reporter.n_lost == 5
    assert backend.attempts == 3  # one bounded round, then the rest is given up with it
    assert "5 measurements were not delivered" in caplog.text


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


def test_close_times_out_on_a_hung_service() -> None:
    backend = RecordingBackend()
    backend.gate.clear()
    reporter = MeasurementReporter(as_backend(backend), 1, flush_interval=60)
    reporter.record("loss", 1.0)
    assert not reporter.close(timeout=0.05)
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
