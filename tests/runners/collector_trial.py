"""The trial of tests/runners/test_kubernetes_collectors.py: two epochs, reported per collector.

``python collector_trial.py KIND X [--out PATH] [--port PORT] [--hold MARKER]``, where KIND is
how the metrics leave the trial: ``text`` (``epoch=1 accuracy=... loss=...`` lines appended to
the file ``--out``), ``json`` (JSON lines to ``--out``), ``tfevents`` (TensorBoard event files
under the directory ``--out``/train), ``prometheus`` (gauges on 127.0.0.1:``--port``/metrics,
each epoch until scraped) or ``push`` (``tuner.report``). Epoch ``e`` has
``accuracy = e / 2 - (X - 2) ** 2 / 8`` and ``loss = 1 - accuracy``. With ``--hold``, the trial
waits after epoch 1 until the file MARKER exists (so a test sees it running with one epoch
reported).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

EPOCHS = (1, 2)
_HOLD_TIMEOUT = 30.0


def accuracy(epoch: int, x: float) -> float:
    """The accuracy of ``epoch`` (best at x = 2)."""
    return epoch / 2 - (x - 2) ** 2 / 8


def _hold(marker: str | None) -> None:
    if marker is None:
        return
    deadline = time.monotonic() + _HOLD_TIMEOUT
    while not Path(marker).exists():
        if time.monotonic() >= deadline:
            raise SystemExit(f"{marker} did not appear within {_HOLD_TIMEOUT} s")
        time.sleep(0.02)


def _lines(out: str, x: float, marker: str | None, line: Callable[[int, float], str]) -> None:
    with open(out, "a") as stream:
        for epoch in EPOCHS:
            stream.write(line(epoch, accuracy(epoch, x)) + "\n")
            stream.flush()
            if epoch == EPOCHS[0]:
                _hold(marker)


def _text(epoch: int, value: float) -> str:
    return f"epoch={epoch} accuracy={value} loss={1 - value}"


def _json(epoch: int, value: float) -> str:
    return json.dumps({"epoch": epoch, "accuracy": value, "loss": str(1 - value)})


def _tfevents(out: str, x: float, marker: str | None) -> None:
    from tensorboard.summary import Writer

    writer = Writer(str(Path(out) / "train"))
    for epoch in EPOCHS:
        value = accuracy(epoch, x)
        writer.add_scalar("accuracy", value, step=epoch)
        writer.add_scalar("loss", 1 - value, step=epoch)
        writer.flush()
        if epoch == EPOCHS[0]:
            _hold(marker)
    writer.close()


def _prometheus(port: int, x: float, marker: str | None) -> None:
    from prometheus_client import REGISTRY, Gauge, start_http_server
    from prometheus_client.registry import Collector

    class ScrapeCounter(Collector):
        """Counts scrapes; registered last, so a scrape has read the gauges when it counts."""

        def __init__(self) -> None:
            self.count = 0
            self.changed = threading.Condition()

        def collect(self) -> Iterable[Any]:
            with self.changed:
                self.count += 1
                self.changed.notify_all()
            return []

        def wait_for_a_scrape(self) -> None:
            """Wait for a whole scrape that began after the last change."""
            with self.changed:
                target = self.count + 2
                if not self.changed.wait_for(lambda: self.count >= target, timeout=30):
                    raise SystemExit("no scrape within 30 s")

    step, value, loss = Gauge("step", ""), Gauge("accuracy", ""), Gauge("loss", "")
    scrapes = ScrapeCounter()
    REGISTRY.register(scrapes)
    start_http_server(port, addr="127.0.0.1")
    for epoch in EPOCHS:
        step.set(epoch)
        value.set(accuracy(epoch, x))
        loss.set(1 - accuracy(epoch, x))
        scrapes.wait_for_a_scrape()
        if epoch == EPOCHS[0]:
            _hold(marker)


def _push(x: float, marker: str | None) -> None:
    import tuner

    for epoch in EPOCHS:
        value = accuracy(epoch, x)
        tuner.report(step=epoch, accuracy=value, loss=1 - value)
        if epoch == EPOCHS[0]:
            _hold(marker)


def main() -> None:
    """Run the trial (see the module docstring)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["text", "json", "tfevents", "prometheus", "push"])
    parser.add_argument("x", type=float)
    parser.add_argument("--out")
    parser.add_argument("--port", type=int)
    parser.add_argument("--hold")
    options = parser.parse_args()
    x, marker = options.x, options.hold
    print(f"starting {options.kind} x={x}", flush=True)
    if options.kind in ("text", "json"):
        _lines(options.out, x, marker, _text if options.kind == "text" else _json)
    elif options.kind == "tfevents":
        _tfevents(options.out, x, marker)
    elif options.kind == "prometheus":
        _prometheus(options.port, x, marker)
    else:
        _push(x, marker)


if __name__ == "__main__":
    main()
