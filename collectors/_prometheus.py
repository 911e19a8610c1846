"""The PrometheusMetric collector's source: scrape the trial's /metrics while it runs."""

from __future__ import annotations

import logging
import math
import re
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuner.collectors._watch import MetricSink
from tuner.errors import InvalidArgumentError

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

__all__ = ["DEFAULT_SCRAPE_TIMEOUT", "PrometheusSource"]

logger = logging.getLogger(__name__)

DEFAULT_SCRAPE_TIMEOUT = 5.0
"""Most seconds one scrape may take."""
_STEP_NAMES = ("step", "epoch")
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


@dataclass(frozen=True, slots=True)
class _Selector:
    """Which sample a metric name stands for: a sample name and labels it must have."""

    metric_name: str
    sample_name: str
    labels: Mapping[str, str]

    def matches(self, family: Metric, sample_name: str, labels: Mapping[str, str]) -> bool:
        if sample_name != self.sample_name and not (
            family.type == "counter"
            and family.name == self.sample_name
            and sample_name == f"{family.name}_total"
        ):
            return False
        return all(labels.get(key) == value for key, value in self.labels.items())


def _selector(name: str) -> _Selector:
    match = _SELECTOR.fullmatch(name)
    if match is None:
        raise ValueError(
            'is not a Prometheus metric name: letters, digits, _ and :, then maybe {label="value"}'
        )
    labels: dict[str, str] = {}
    text = match.group(2) or ""
    position = 0
    while position < len(text.rstrip()):
        label = _LABEL.match(text, position)
        if label is None:
            raise ValueError(f'has label matchers that are not label="value" pairs: {text!r}')
        value = re.sub(r'\\[\\"n]', lambda m: _ESCAPES[m.group(0)], label.group(2))
        labels[label.group(1)] = value
        position = label.end()
    return _Selector(name, match.group(1), labels)


class PrometheusSource:
    """Scrapes the trial's metrics endpoint (Prometheus text format) while it runs.

    A metric name names a sample: ``accuracy`` is the sample ``accuracy`` (a gauge, or
    an untyped sample); a counter is read by its family name or its sample name
    (``examples`` or ``examples_total``); a histogram or summary only by an explicit
    sample name (``loss_sum``, ``loss_count``, ``loss_bucket{le="0.5"}``,
    ``loss{quantile="0.5"}``). Label matchers in braces pick one sample among several;
    when more than one sample still matches, the metric is skipped with a warning.

    A value is recorded when it differs from the one recorded before (so an idle trial
    does not repeat its last value every scrape). Its step is the value of a ``step``
    (or else ``epoch``) sample, when the endpoint has one, so a value that stays the same
    over two steps is recorded at both; without one the reporter counts the values.

    Connection errors are normal while the trial starts its server, and after it stops:
    they are retried at the next poll without a word. :meth:`drain` tries one last
    scrape, which finds nothing when the trial's server ended with it, so a trial should
    keep serving until its final values have been scraped once (or push them instead).

    Args:
        port: The port on ``127.0.0.1`` that the trial serves its metrics on.
        path: The URL path of the metrics.
        metric_names: The metrics to read.
        timeout: Most seconds one scrape may take.

    Raises:
        InvalidArgumentError: No metric names, a name that is no Prometheus metric name,
            a port out of range or a path not starting with ``/``.
    """

    def __init__(
        self,
        port: int,
        path: str,
        metric_names: Iterable[str],
        *,
        timeout: float = DEFAULT_SCRAPE_TIMEOUT,
    ) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        self._parse = text_string_to_metric_families
        if not 0 < port < 65536:
            raise InvalidArgumentError(f"must be in 1..65535, got {port}", field="port")
        if not path.startswith("/"):
            raise InvalidArgumentError(f"must start with '/', got {path!r}", field="path")
        names = tuple(metric_names)
        if not names:
            raise InvalidArgumentError("at least one metric name is needed", field="metric_names")
        selectors = []
        for index, name in enumerate(names):
            try:
                selectors.append(_selector(name))
            except ValueError as error:
                raise InvalidArgumentError(
                    f"{name!r} {error}", field=f"metric_names[{index}]"
                ) from None
        self._selectors = tuple(selectors)
        self._url = f"http://127.0.0.1:{port}{path}"
        self._timeout = timeout
        self._last: dict[str, tuple[float, int | None]] = {}
        self._warned: set[str] = set()
        self._n_scrapes = 0

    @property
    def description(self) -> str:
        return self._url

    @property
    def expectation(self) -> str:
        return (
            f"samples with those names ({self._n_scrapes} successful scrapes; "
            "the endpoint must stay up until its last values are scraped)"
        )

    def poll(self, sink: MetricSink) -> None:
        """Scrape once and record the values that changed; quiet when nobody answers."""
        text = self._scrape()
        if text is not None:
            self._read(text, sink)

    def drain(self, sink: MetricSink) -> None:
        """One last scrape, which usually finds the trial's server gone."""
        self.poll(sink)

    def close(self) -> None:
        pass

    def _scrape(self) -> str | None:
        try:
            with urllib.request.urlopen(self._url, timeout=self._timeout) as response:
                body: bytes = response.read()
        except urllib.error.HTTPError as error:
            self._warn_once(
                f"HTTP {error.code}", "%s answers HTTP %d %s", self._url, error.code, error.reason
            )
            return None
        except (OSError, ValueError) as error:  # refused, reset, timed out, not HTTP
            logger.debug("cannot scrape %s yet: %s", self._url, error)
            return None
        self._n_scrapes += 1
        return body.decode("utf-8", errors="replace")

    def _read(self, text: str, sink: MetricSink) -> None:
        try:
            families = list(self._parse(text))
        except ValueError as error:
            sink.record_unparseable(f"not Prometheus text format: {error}", source=self._url)
            return
        step = _step(families)
        for selector in self._selectors:
            found = [
                sample
                for family in families
                for sample in family.samples
                if selector.matches(family, sample.name, sample.labels)
            ]
            if not found:
                continue
            if len(found) > 1:
                self._warn_once(
                    f"ambiguous {selector.metric_name}",
                    "%s: %d samples match %r, e.g. %s; add label matchers to pick one",
                    self._url,
                    len(found),
                    selector.metric_name,
                    ", ".join(f"{s.name}{s.labels}" for s in found[:3]),
                )
                continue
            [sample] = found
            value = float(sample.value)
            last = self._last.get(selector.metric_name)
            if last is not None and last[1] == step and _same(last[0], value):
                continue
            self._last[selector.metric_name] = (value, step)
            observed_at = None if sample.timestamp is None else float(sample.timestamp)
            sink.record(selector.metric_name, value, step=step, time=observed_at)

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message, *args)


def _step(families: list[Metric]) -> int | None:
    for name in _STEP_NAMES:
        for family in families:
            for sample in family.samples:
                if sample.name == name and not sample.labels:
                    value = float(sample.value)
                    if math.isfinite(value) and value >= 0 and value == int(value):
                        return int(value)
    return None


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))
