"""A trial that serves its metrics on /metrics, each epoch until scraped (best at x=2)."""

import argparse
import threading

from prometheus_client import REGISTRY, Gauge, start_http_server
from prometheus_client.registry import Collector


class ScrapeCounter(Collector):
    """Counts scrapes; registered last, so a scrape has read the gauges when it counts."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def collect(self):  # type: ignore[no-untyped-def]
        with self.changed:
            self.count += 1
            self.changed.notify_all()
        return []

    def wait_for_a_scrape(self) -> None:
        """Wait for a whole scrape that began after the last change."""
        with self.changed:
            target = self.count + 2
            assert self.changed.wait_for(lambda: self.count >= target, timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=float, required=True)
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    step = Gauge("step", "")
    accuracy = Gauge("accuracy", "")
    loss = Gauge("loss", "")
    scrapes = ScrapeCounter()
    REGISTRY.register(scrapes)
    start_http_server(options.port, addr="127.0.0.1")
    for epoch in (1, 2):
        value = epoch / 2 - (options.x - 2) ** 2 / 8
        step.set(epoch)
        accuracy.set(value)
        loss.set(1 - value)
        scrapes.wait_for_a_scrape()


if __name__ == "__main__":
    main()
