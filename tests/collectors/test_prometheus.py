"""The PrometheusMetric collector against real HTTP endpoints: prometheus_client's own server."""

from __future__ import annotations

import contextlib
import http.server
import logging
import math
import socket
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from tests.collectors.conftest import Service
from tests.collectors.support import RecordingSink, run_collector
from tuner.collectors._prometheus import PrometheusSource
from tuner.errors import InvalidArgumentError


class Endpoint:
    """A /metrics endpoint on a free loopback port, with its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.server, self.thread = start_http_server(0, addr="127.0.0.1", registry=self.registry)
        self.port = self.server.server_port

    def source(self, *names: str, path: str = "/metrics") -> PrometheusSource:
        return PrometheusSource(self.port, path, names, timeout=5.0)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    served = Endpoint()
    try:
        yield served
    finally:
        served.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_nobody_listening_is_quietly_retried(
    sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    source = PrometheusSource(free_port(), "/metrics", ["accuracy"])
    with caplog.at_level(logging.INFO, logger="tuner"):
        source.poll(sink)
        source.drain(sink)

    assert sink.observations == []
    assert sink.unparseable == []
    assert caplog.records == []


def test_gauges_are_recorded_when_they_change(endpoint: Endpoint, sink: RecordingSink) -> None:
    accuracy = Gauge("accuracy", "", registry=endpoint.registry)
    source = endpoint.source("accuracy", "loss")
    accuracy.set(0.5)

    source.poll(sink)
    source.poll(sink)  # unchanged: not again
    accuracy.set(0.75)
    source.poll(sink)

    assert sink.values() == [("accuracy", 0.5, None), ("accuracy", 0.75, None)]


def test_a_step_gauge_gives_the_step(endpoint: Endpoint, sink: RecordingSink) -> None:
    step = Gauge("step", "", registry=endpoint.registry)
    loss = Gauge("loss", "", registry=endpoint.registry)
    source = endpoint.source("loss")
    step.set(1)
    loss.set(0.5)
    source.poll(sink)
    step.set(2)  # the same loss at the next step is a new value
    source.poll(sink)
    loss.set(float("nan"))
    source.poll(sink)
    source.poll(sink)  # NaN equals NaN here: not again

    assert sink.values()[:2] == [("loss", 0.5, 1), ("loss", 0.5, 2)]
    assert len(sink.values()) == 3
    name, value, at = sink.values()[2]
    assert (name, at) == ("loss", 2) and math.isnan(value)


def test_counters_by_family_or_sample_name(endpoint: Endpoint, sink: RecordingSink) -> None:
    examples = Counter("examples", "", registry=endpoint.registry)
    examples.inc(640)
    source = endpoint.source("examples", "examples_total")

    source.poll(sink)

    assert sink.values() == [("examples", 640.0, None), ("examples_total", 640.0, None)]


def test_histograms_by_explicit_sample_names(endpoint: Endpoint, sink: RecordingSink) -> None:
    loss = Histogram("loss", "", buckets=(0.5, 1.0), registry=endpoint.registry)
    for value in (0.25, 0.75, 2.0):
        loss.observe(value)
    source = endpoint.source("loss", "loss_sum", "loss_count", 'loss_bucket{le="0.5"}')

    source.poll(sink)

    assert sink.values() == [
        ("loss_sum", 3.0, None),
        ("loss_count", 3.0, None),
        ('loss_bucket{le="0.5"}', 1.0, None),
    ]


def test_labels_pick_one_sample_and_ambiguity_is_refused(
    endpoint: Endpoint, sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    accuracy = Gauge("accuracy", "", ["split"], registry=endpoint.registry)
    accuracy.labels(split="train").set(0.875)
    accuracy.labels(split="validation").set(0.75)
    source = endpoint.source('accuracy{split="validation"}', "accuracy")

    with caplog.at_level(logging.WARNING, logger="tuner"):
        source.poll(sink)
        source.poll(sink)

    assert sink.values() == [('accuracy{split="validation"}', 0.75, None)]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "2 samples match 'accuracy'" in warnings[0]


@contextlib.contextmanager
def answering(status: int, body: bytes) -> Iterator[int]:
    """An HTTP server on a free loopback port that answers every GET so; its port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_an_http_error_is_said_once(sink: RecordingSink, caplog: pytest.LogCaptureFixture) -> None:
    with answering(404, b"no metrics here\n") as port:
        source = PrometheusSource(port, "/metrics", ["accuracy"])
        with caplog.at_level(logging.WARNING, logger="tuner"):
            source.poll(sink)
            source.poll(sink)

    assert sink.observations == []
    assert [r.getMessage() for r in caplog.records] == [
        f"http://127.0.0.1:{port}/metrics answers HTTP 404 Not Found"
    ]


def test_a_body_that_is_not_the_text_format_is_counted(sink: RecordingSink) -> None:
    with answering(200, b"accuracy{{{ 1\n") as port:
        source = PrometheusSource(port, "/metrics", ["accuracy"])
        source.poll(sink)

    assert sink.observations == []
    assert [source for source, _ in sink.unparseable] == [f"http://127.0.0.1:{port}/metrics"]


@pytest.mark.parametrize(
    ("port", "path", "names", "field"),
    [
        (0, "/metrics", ["loss"], "port"),
        (8080, "metrics", ["loss"], "path"),
        (8080, "/metrics", [], "metric_names"),
        (8080, "/metrics", ["loss", "val-loss"], "metric_names[1]"),
        (8080, "/metrics", ["loss{split=val}"], "metric_names[0]"),
    ],
)
def test_bad_settings_are_refused(port: int, path: str, names: list[str], field: str) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        PrometheusSource(port, path, names)
    assert raised.value.field == field


# -- the collector as a process --------------------------------------------------------------

TRAIN = """
    import sys, threading
    from prometheus_client import REGISTRY, Gauge, start_http_server
    from prometheus_client.registry import Collector

    scrapes = threading.Condition()
    count = 0

    class ScrapeCounter(Collector):
        # Registered last, so a scrape has read the gauges by the time it counts.
        def collect(self):
            global count
            with scrapes:
                count += 1
                scrapes.notify_all()
            return []

    def wait_for_a_scrape():
        with scrapes:
            target = count + 2  # one scrape that began after the change
            assert scrapes.wait_for(lambda: count >= target, timeout=20), "never scraped"

    step = Gauge("step", "")
    accuracy = Gauge("accuracy", "")
    loss = Gauge("loss", "")
    REGISTRY.register(ScrapeCounter())
    start_http_server(int(sys.argv[1]), addr="127.0.0.1")
    print("serving", flush=True)
    for epoch in range(1, 4):
        step.set(epoch)
        accuracy.set(0.5 + epoch / 8)
        loss.set(1 / 2**epoch)
        wait_for_a_scrape()
"""


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_prometheus_collector_reports_to_the_service(service: Service, tmp_path: Path) -> None:
    trial = service.new_trial()
    port = free_port()

    result = run_collector(
        "prometheus",
        f"--port={port}",
        "--metric=accuracy",
        "--metric=loss",
        "--interval=0.05",
        script=textwrap.dedent(TRAIN) + "\n",
        env=service.environment(trial.id),
        cwd=tmp_path,
        args=(str(port),),
    )

    assert result.returncode == 0, result.stderr
    assert "serving" in result.stdout
    assert service.measurements(trial.id) == [
        (1, {"accuracy": 0.625, "loss": 0.5}),
        (2, {"accuracy": 0.75, "loss": 0.25}),
        (3, {"accuracy": 0.875, "loss": 0.125}),
    ]
