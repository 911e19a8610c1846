"""Turn lines of a trial's output into metric observations."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import NamedTuple

from tuner.errors import InvalidArgumentError

__all__ = ["DEFAULT_FORMAT", "MetricLineParser", "Observation", "UnparseableValue"]

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_SPECIAL = r"[+-]?(?i:inf(?:inity)?|nan)"
_NAME = r"[\w][\w./-]*"
_NOT_AFTER_NAME = r"(?<![\w./-])"

DEFAULT_FORMAT = (
    rf"{_NOT_AFTER_NAME}({_NAME})\s*=\s*"
    rf"((?>{_NUMBER}|{_SPECIAL})(?!\w|\.\d)|[^\s,;|]*)"
)
"""``name=value`` pairs, anywhere in a line, several per line (Katib's default format, fixed).

Group 1 is the metric name: letters, digits, ``_``, ``-``, ``.`` and ``/`` (``val-loss``,
``val/accuracy``), not preceded by one of those (``train/loss=1`` is ``train/loss``, never
``loss``). Group 2 is the value: a signed decimal with an optional exponent (``-1.5``,
``.5``, ``1e-3``, ``2.5E+02``), ``inf``/``-inf``/``nan`` in any case, or else the token up
to the next blank, ``,``, ``;`` or ``|``, which the parser counts as unparseable. A number
may be followed by punctuation (``accuracy=0.9.`` or ``(loss=0.5)``) but not by a letter
(``loss=0.5abc`` is unparseable).

Katib's own default, ``([\\w|-]+)\\s*=\\s*([+-]?\\d*(\\.\\d+)?([Ee][+-]?\\d+)?)``, accepts
no ``inf``/``nan``, silently turns ``accuracy=high`` into an empty value and reads
``val/accuracy=0.5`` as a value of ``accuracy``; it still works as a custom format.
"""

_NUMBER_RE = re.compile(rf"(?>{_NUMBER}|{_SPECIAL})")
_ANSI_RE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_STEP_RE = re.compile(rf"{_NOT_AFTER_NAME}(?i:(step|epoch))\s*=\s*(\d+)(?![\w.])")
_STEP_KEYS = ("step", "epoch")
_TIME_KEY = "timestamp"
_MAX_EXAMPLES = 5


class Observation(NamedTuple):
    """One value of one metric read from a line of output."""

    name: str
    value: float
    step: int | None
    """The step the line gave explicitly, or None when it gave none."""
    time: float | None = None
    """When it was observed (seconds since the epoch), if the line said; None means now."""


class UnparseableValue(NamedTuple):
    """A value of a wanted metric that is not a number."""

    name: str
    text: str


def parse_number(text: str) -> float | None:
    """The number ``text`` spells, or None: decimals, exponents, ``inf``, ``-inf``, ``nan``.

    Stricter than :func:`float`, which also reads ``1_000`` and surrounding blanks.

    Examples:
        >>> parse_number("2.5E+02"), parse_number("-inf"), parse_number("high")
        (250.0, -inf, None)
    """
    if _NUMBER_RE.fullmatch(text) is None:
        return None
    return float(text)


def strip_ansi(line: str) -> str:
    """``line`` without ANSI escape sequences (colours, cursor moves, terminal titles)."""
    return _ANSI_RE.sub("", line)


class _Format:
    """A compiled metric format and which of its groups hold the name, value and step."""

    __slots__ = ("name_group", "pattern", "step_group", "value_group")

    def __init__(self, index: int, regex: str) -> None:
        field = f"formats[{index}]"
        try:
            self.pattern = re.compile(regex)
        except re.error as error:
            raise InvalidArgumentError(
                f"not a valid regular expression: {error}", field=field
            ) from None
        groups = self.pattern.groupindex
        self.name_group: int | str
        self.value_group: int | str
        if "name" in groups and "value" in groups:
            self.name_group, self.value_group = "name", "value"
        elif self.pattern.groups >= 2:
            self.name_group, self.value_group = 1, 2
        else:
            raise InvalidArgumentError(
                "a metric format needs two groups, the metric name and its value "
                f"(or groups named 'name' and 'value'); {regex!r} has {self.pattern.groups}",
                field=field,
            )
        self.step_group = "step" if "step" in groups else None


class MetricLineParser:
    """Reads the values of the wanted metrics from lines of a trial's output.

    A line is read after its ANSI escape sequences are removed. With ``json_lines`` each
    line is one JSON object (``{"epoch": 2, "accuracy": 0.9}``): numbers and numeric strings
    are read, lines that are not a JSON object are ignored. Otherwise every match of every
    format is read; a format has two groups, the metric name and its value (or groups named
    ``name`` and ``value``, and optionally ``step``), as Katib's ``metricsFormat``.

    A JSON line may also give the time of its values with a ``timestamp`` key, as Katib's
    JSON metrics files do: seconds since the epoch (a number or a numeric string) or an
    RFC 3339 string (``2024-05-01T12:00:00.5Z``; no zone means UTC); any other value
    leaves :attr:`Observation.time` None.

    A line gives the step of its values with a ``step`` (or else ``epoch``) key in JSON,
    a ``step=N`` (or else ``epoch=N``) pair in text, or a ``step`` group of its format.
    Without one, :attr:`Observation.step` is None and whoever numbers measurements
    (:class:`~tuner.collectors.MeasurementReporter`) counts the values of each metric.

    Values of wanted metrics that are not numbers are counted in
    :attr:`n_unparseable`, and the first few are kept in :attr:`unparseable_examples`.

    Args:
        metric_names: The metrics to read; every other name is ignored.
        formats: Regular expressions, each with a name group and a value group.
        json_lines: Read lines as JSON objects instead (``formats`` is then unused).

    Raises:
        InvalidArgumentError: No metric names, or a format that does not compile or
            lacks its two groups (field ``formats[i]``).

    Examples:
        >>> parser = MetricLineParser(["accuracy", "loss"])
        >>> for observation in parser.parse("12:00:01 INFO epoch=3 loss=1e-3 accuracy=0.9 lr=1"):
        ...     print(observation)
        Observation(name='loss', value=0.001, step=3, time=None)
        Observation(name='accuracy', value=0.9, step=3, time=None)
        >>> parser.parse("accuracy=high")
        []
        >>> parser.n_unparseable, parser.unparseable_examples
        (1, [UnparseableValue(name='accuracy', text='high')])
        >>> MetricLineParser(["loss"], json_lines=True).parse('{"step": 7, "loss": "nan"}')
        [Observation(name='loss', value=nan, step=7, time=None)]
    """

    def __init__(
        self,
        metric_names: Iterable[str],
        formats: Iterable[str] = (DEFAULT_FORMAT,),
        json_lines: bool = False,
    ) -> None:
        self._metric_names = frozenset(metric_names)
        if not self._metric_names or not all(self._metric_names):
            raise InvalidArgumentError(
                "at least one non-empty metric name is needed", field="metric_names"
            )
        self._json_lines = json_lines
        self._formats = tuple(_Format(i, regex) for i, regex in enumerate(formats))
        if not self._formats and not json_lines:
            raise InvalidArgumentError("at least one metric format is needed", field="formats")
        self._needs_equals = all(f.pattern.pattern == DEFAULT_FORMAT for f in self._formats)
        self.n_unparseable = 0
        """How many values of wanted metrics were not numbers."""
        self.unparseable_examples: list[UnparseableValue] = []
        """The first few of those values."""

    @property
    def metric_names(self) -> frozenset[str]:
        """The metrics this parser reads."""
        return self._metric_names

    @property
    def is_json_lines(self) -> bool:
        """Whether lines are read as JSON objects."""
        return self._json_lines

    def parse(self, line: str) -> list[Observation]:
        """The observations of wanted metrics in one line, in the order they appear.

        Args:
            line: One line of output, with or without its line ending.

        Returns:
            One observation per value read; empty when the line has none.
        """
        line = strip_ansi(line)
        if self._json_lines:
            return self._parse_json(line)
        return self._parse_text(line)

    def _parse_text(self, line: str) -> list[Observation]:
        if self._needs_equals and "=" not in line:
            return []
        line_step = _text_step(line)
        found: list[tuple[int, Observation]] = []
        taken: set[tuple[int, int]] = set()
        for fmt in self._formats:
            for match in fmt.pattern.finditer(line):
                name = match.group(fmt.name_group)
                if name not in self._metric_names:
                    continue
                span = match.span(fmt.value_group)
                if span in taken:  # two formats read the same text
                    continue
                taken.add(span)
                text = match.group(fmt.value_group) or ""
                value = parse_number(text.strip())
                if value is None:
                    self._count_unparseable(name, text)
                    continue
                step = line_step
                if fmt.step_group is not None and match.group(fmt.step_group):
                    step = _int_step(match.group(fmt.step_group))
                found.append((span[0], Observation(name, value, step)))
        found.sort(key=lambda item: item[0])
        return [observation for _, observation in found]

    def _parse_json(self, line: str) -> list[Observation]:
        line = line.strip()
        if not line.startswith("{"):
            return []
        try:
            document = json.loads(line)
        except ValueError:
            return []
        if not isinstance(document, dict):
            return []
        step = None
        for key in _STEP_KEYS:
            if key in document:
                step = _json_step(document[key])
                if step is not None:
                    break
        observed_at = _json_time(document.get(_TIME_KEY))
        observations = []
        for name, raw in document.items():
            if name not in self._metric_names:
                continue
            value = _json_number(raw)
            if value is None:
                self._count_unparseable(name, json.dumps(raw))
                continue
            observations.append(Observation(name, value, step, observed_at))
        return observations

    def _count_unparseable(self, name: str, text: str) -> None:
        self.n_unparseable += 1
        if len(self.unparseable_examples) < _MAX_EXAMPLES:
            self.unparseable_examples.append(UnparseableValue(name, text))


def _text_step(line: str) -> int | None:
    steps: dict[str, int] = {}
    for match in _STEP_RE.finditer(line):
        steps.setdefault(match.group(1).lower(), int(match.group(2)))
    for key in _STEP_KEYS:
        if key in steps:
            return steps[key]
    return None


def _int_step(text: str) -> int | None:
    value = parse_number(text.strip())
    if value is None or not math.isfinite(value) or value < 0 or value != int(value):
        return None
    return int(value)


def _json_step(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if raw >= 0 else None
    if isinstance(raw, float):
        return _int_step(repr(raw)) if math.isfinite(raw) else None
    if isinstance(raw, str):
        return _int_step(raw)
    return None


def _json_time(raw: object) -> float | None:
    if isinstance(raw, str):
        number = parse_number(raw.strip())
        if number is None:
            try:
                parsed = datetime.fromisoformat(raw.strip())
            except ValueError:
                return None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.timestamp()
        raw = number
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    seconds = float(raw)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _json_number(raw: object) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        return parse_number(raw.strip())
    return None
