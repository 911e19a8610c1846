"""MetricLineParser: Katib's name=value lines done right, custom formats, JSON lines, steps."""

from __future__ import annotations

import math
import re

import pytest

from tuner.collectors import (
    DEFAULT_FORMAT,
    MetricLineParser,
    Observation,
    UnparseableValue,
    parse_number,
    strip_ansi,
)
from tuner.errors import InvalidArgumentError

KATIB_DEFAULT = r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"


def values(parser: MetricLineParser, line: str) -> dict[str, float]:
    return {o.name: o.value for o in parser.parse(line)}


@pytest.fixture
def parser() -> MetricLineParser:
    return MetricLineParser(["accuracy", "loss", "val-loss", "val/accuracy"])


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("accuracy=0.9", {"accuracy": 0.9}),
        ("accuracy = 0.9", {"accuracy": 0.9}),
        ("loss=-1.5", {"loss": -1.5}),
        ("loss=+2", {"loss": 2.0}),
        ("loss=.5", {"loss": 0.5}),
        ("loss=3.", {"loss": 3.0}),
        ("loss=1e-3", {"loss": 1e-3}),
        ("loss=2.5E+02", {"loss": 250.0}),
        ("loss=-4.2e1", {"loss": -42.0}),
        ("accuracy=0.9 loss=0.1", {"accuracy": 0.9, "loss": 0.1}),
        ("accuracy=0.9, loss=0.1;", {"accuracy": 0.9, "loss": 0.1}),
        ("accuracy=0.9|loss=0.1", {"accuracy": 0.9, "loss": 0.1}),
        ("val-loss=0.25", {"val-loss": 0.25}),
        ("val/accuracy=0.5 train/accuracy=0.7", {"val/accuracy": 0.5}),
        ("train.loss=0.3", {}),
        ("2024-01-01T00:00:00Z INFO accuracy=0.9", {"accuracy": 0.9}),
        ("[2024-01-01 00:00:00,123] INFO train: loss=0.5", {"loss": 0.5}),
        ("INFO:root:accuracy=0.75", {"accuracy": 0.75}),
        ("(loss=0.5)", {"loss": 0.5}),
        ("done: accuracy=0.9.", {"accuracy": 0.9}),
        ("accuracy=95%", {"accuracy": 95.0}),
        ("lr=1e-3 momentum=0.9", {}),
        ("no metrics here", {}),
        ("", {}),
    ],
)
def test_default_format(parser: MetricLineParser, line: str, expected: dict[str, float]) -> None:
    assert values(parser, line) == expected
    assert parser.n_unparseable == 0


@pytest.mark.parametrize(
    ("line", "name", "sign"),
    [
        ("accuracy=inf", "accuracy", 1),
        ("accuracy=+Inf", "accuracy", 1),
        ("loss=-inf", "loss", -1),
        ("loss=-Infinity", "loss", -1),
        ("loss=INF", "loss", 1),
    ],
)
def test_infinities(parser: MetricLineParser, line: str, name: str, sign: int) -> None:
    [observation] = parser.parse(line)
    assert observation.name == name
    assert observation.value == sign * math.inf


@pytest.mark.parametrize("text", ["nan", "NaN", "-nan", "NAN"])
def test_nan(parser: MetricLineParser, text: str) -> None:
    [observation] = parser.parse(f"loss={text}")
    assert math.isnan(observation.value)


def test_ansi_colour_codes_are_stripped(parser: MetricLineParser) -> None:
    line = "\x1b[32mINFO\x1b[0m \x1b[1maccuracy\x1b[0m=\x1b[33m0.9\x1b[0m \x1b]0;title\x07loss=1"
    assert values(parser, line) == {"accuracy": 0.9, "loss": 1.0}
    assert strip_ansi("\x1b[1;31mred\x1b[0m") == "red"


def test_order_of_a_line_is_kept(parser: MetricLineParser) -> None:
    names = [o.name for o in parser.parse("loss=1 accuracy=2 loss=3")]
    assert names == ["loss", "accuracy", "loss"]


def test_line_endings_are_ignored(parser: MetricLineParser) -> None:
    assert values(parser, "accuracy=0.5\r\n") == {"accuracy": 0.5}


@pytest.mark.parametrize(
    ("line", "text"),
    [
        ("accuracy=high", "high"),
        ("accuracy=", ""),
        ("loss=0.5abc", "0.5abc"),
        ("loss=1.2.3", "1.2.3"),
        ("loss=1e", "1e"),
        ("loss=information", "information"),
        ("loss=tensor(0.5)", "tensor(0.5)"),
    ],
)
def test_unparseable_values_are_counted(parser: MetricLineParser, line: str, text: str) -> None:
    assert parser.parse(line) == []
    assert parser.n_unparseable == 1
    assert parser.unparseable_examples == [UnparseableValue(line.split("=")[0], text)]


def test_unparseable_values_of_other_metrics_are_not_counted(parser: MetricLineParser) -> None:
    assert parser.parse("status=running lr=fast") == []
    assert parser.n_unparseable == 0


def test_only_the_first_examples_are_kept(parser: MetricLineParser) -> None:
    for i in range(20):
        parser.parse(f"loss=bad{i} accuracy=0.5")
    assert parser.n_unparseable == 20
    assert [e.text for e in parser.unparseable_examples] == [f"bad{i}" for i in range(5)]


def test_a_bad_value_does_not_hide_the_good_ones(parser: MetricLineParser) -> None:
    assert values(parser, "loss=oops accuracy=0.5") == {"accuracy": 0.5}


# -- steps -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "step"),
    [
        ("loss=1", None),
        ("step=7 loss=1", 7),
        ("loss=1 step=7", 7),
        ("epoch=3 loss=1", 3),
        ("Epoch = 3 loss=1", 3),
        ("epoch=3 step=120 loss=1", 120),
        ("step=120 epoch=3 loss=1", 120),
        ("global_step=9 loss=1", None),
        ("step=-1 loss=1", None),
        ("step=1.5 loss=1", None),
    ],
)
def test_step_from_the_line(parser: MetricLineParser, line: str, step: int | None) -> None:
    [observation] = parser.parse(line)
    assert observation == Observation("loss", 1.0, step)


def test_step_can_itself_be_a_metric() -> None:
    parser = MetricLineParser(["epoch", "loss"])
    assert parser.parse("epoch=2 loss=0.5") == [
        Observation("epoch", 2.0, 2),
        Observation("loss", 0.5, 2),
    ]


# -- custom formats --------------------------------------------------------------------------


def test_katib_documented_custom_format() -> None:
    katib = r"{metricName: ([\w|-]+), metricValue: ((-?\d+)(\.\d+)?)}"
    parser = MetricLineParser(["accuracy"], formats=[katib])
    line = "{metricName: accuracy, metricValue: 0.8123}{metricName: loss, metricValue: 0.3}"
    assert parser.parse(line) == [Observation("accuracy", 0.8123, None)]


def test_custom_format_without_equals() -> None:
    parser = MetricLineParser(["accuracy", "loss"], formats=[r"(\w+):\s*(\S+)"])
    assert values(parser, "Epoch 3/10 - loss: 0.25 - accuracy: 0.875") == {
        "loss": 0.25,
        "accuracy": 0.875,
    }


def test_katib_default_regex_as_custom_format() -> None:
    parser = MetricLineParser(["accuracy"], formats=[KATIB_DEFAULT])
    assert values(parser, "accuracy=1e-3") == {"accuracy": 1e-3}
    assert parser.parse("accuracy=high") == []
    assert parser.n_unparseable == 1  # Katib would have read an empty value


def test_named_groups_with_a_step() -> None:
    regex = r"\[(?P<step>\d+)\] (?P<value>\S+) is the (?P<name>\w+)"
    parser = MetricLineParser(["loss"], formats=[regex])
    assert parser.parse("[12] 0.5 is the loss") == [Observation("loss", 0.5, 12)]


def test_several_formats_do_not_read_the_same_value_twice() -> None:
    parser = MetricLineParser(["loss"], formats=[DEFAULT_FORMAT, r"(loss)=(\S+)"])
    assert parser.parse("loss=0.5") == [Observation("loss", 0.5, None)]


def test_several_formats_each_read_their_lines() -> None:
    parser = MetricLineParser(["loss", "accuracy"], formats=[DEFAULT_FORMAT, r"(\w+) is (\S+)"])
    assert values(parser, "loss=0.5") == {"loss": 0.5}
    assert values(parser, "accuracy is 0.7") == {"accuracy": 0.7}


@pytest.mark.parametrize(
    ("formats", "message"),
    [
        ([r"(unclosed"], "not a valid regular expression"),
        ([r"loss=(\d+)"], "two groups"),
        ([], "at least one metric format"),
    ],
)
def test_bad_formats_are_refused(formats: list[str], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        MetricLineParser(["loss"], formats=formats)
    assert caught.value.field.startswith("formats")


def test_metric_names_are_required() -> None:
    with pytest.raises(InvalidArgumentError, match="metric name"):
        MetricLineParser([])
    with pytest.raises(InvalidArgumentError, match="metric name"):
        MetricLineParser([""])


def test_default_format_has_two_groups() -> None:
    assert re.compile(DEFAULT_FORMAT).groups == 2


# -- JSON lines ------------------------------------------------------------------------------


@pytest.fixture
def json_parser() -> MetricLineParser:
    return MetricLineParser(["accuracy", "loss"], json_lines=True)


def test_json_numbers_and_numeric_strings(json_parser: MetricLineParser) -> None:
    line = '{"accuracy": 0.9, "loss": "1e-3", "lr": 0.1, "note": "x"}'
    assert values(json_parser, line) == {"accuracy": 0.9, "loss": 1e-3}


def test_json_integers(json_parser: MetricLineParser) -> None:
    assert json_parser.parse('{"loss": 3}') == [Observation("loss", 3.0, None)]


def test_json_special_values(json_parser: MetricLineParser) -> None:
    got = values(json_parser, '{"accuracy": NaN, "loss": -Infinity}')
    assert math.isnan(got["accuracy"])
    assert got["loss"] == -math.inf
    assert values(json_parser, '{"loss": "inf"}') == {"loss": math.inf}


@pytest.mark.parametrize(
    ("line", "step"),
    [
        ('{"step": 4, "loss": 1}', 4),
        ('{"epoch": 2, "loss": 1}', 2),
        ('{"epoch": 2, "step": 40, "loss": 1}', 40),
        ('{"step": "5", "loss": 1}', 5),
        ('{"step": 6.0, "loss": 1}', 6),
        ('{"step": 6.5, "loss": 1}', None),
        ('{"step": -1, "loss": 1}', None),
        ('{"step": true, "loss": 1}', None),
        ('{"step": null, "epoch": 3, "loss": 1}', 3),
    ],
)
def test_json_steps(json_parser: MetricLineParser, line: str, step: int | None) -> None:
    assert json_parser.parse(line) == [Observation("loss", 1.0, step)]


@pytest.mark.parametrize(
    "line",
    [
        "loss=0.5",
        "Epoch 1 starting",
        "[1, 2, 3]",
        '"loss"',
        "{not json",
        '2024-01-01 {"loss": 1}',
        "",
    ],
)
def test_json_mode_ignores_other_lines(json_parser: MetricLineParser, line: str) -> None:
    assert json_parser.parse(line) == []
    assert json_parser.n_unparseable == 0


@pytest.mark.parametrize("raw", ['"high"', "true", "null", "[1]", '{"a": 1}'])
def test_json_unparseable_values_are_counted(json_parser: MetricLineParser, raw: str) -> None:
    assert json_parser.parse(f'{{"loss": {raw}, "accuracy": 0.5}}') == [
        Observation("accuracy", 0.5, None)
    ]
    assert json_parser.n_unparseable == 1
    assert json_parser.unparseable_examples[0].name == "loss"


def test_json_with_colours_and_blanks(json_parser: MetricLineParser) -> None:
    assert values(json_parser, '  \x1b[36m{"loss": 0.5}\x1b[0m \n') == {"loss": 0.5}


# -- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["1_000", " 1", "1 ", "0x10", "1e", "e5", "+", "", "--1"])
def test_parse_number_is_strict(text: str) -> None:
    assert parse_number(text) is None


# -- edge cases together (issue #5) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("1717171717.25 accuracy=0.9", {"accuracy": 0.9}),
        ("ts=2024-01-01T00:00:00+02:00 loss=-1E-2", {"loss": -0.01}),
        ("12:00:01.5 val-loss=+3.5e+1 accuracy=-0", {"val-loss": 35.0, "accuracy": 0.0}),
        (
            "\x1b[2m2024-01-01 00:00:00\x1b[0m \x1b[32mval-loss\x1b[0m=\x1b[1m1e3\x1b[0m "
            "\x1b[32maccuracy\x1b[0m=\x1b[1m.25\x1b[0m",
            {"val-loss": 1000.0, "accuracy": 0.25},
        ),
    ],
)
def test_timestamps_signs_exponents_dashes_and_colours_together(
    parser: MetricLineParser, line: str, expected: dict[str, float]
) -> None:
    assert values(parser, line) == expected
    assert parser.n_unparseable == 0


def test_inf_and_nan_among_several_metrics_on_one_line(parser: MetricLineParser) -> None:
    got = parser.parse("step=3 loss=-Infinity val-loss=NaN accuracy=inf")

    assert [(o.name, o.step) for o in got] == [("loss", 3), ("val-loss", 3), ("accuracy", 3)]
    assert got[0].value == -math.inf
    assert math.isnan(got[1].value)
    assert got[2].value == math.inf


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("1638422847.5", 1638422847.5),
        ('"1638422847.5"', 1638422847.5),
        ('"2021-12-02T05:27:27.5Z"', 1638422847.5),
        ('"2021-12-02T05:27:27.500000123Z"', 1638422847.5),
        ('"2021-12-02T07:27:27.5+02:00"', 1638422847.5),
        ('"2021-12-02T05:27:27.5"', 1638422847.5),
        ('"yesterday"', None),
        ("-5", None),
        ("true", None),
        ("null", None),
    ],
)
def test_json_timestamp_is_the_time_of_the_values(
    json_parser: MetricLineParser, raw: str, seconds: float | None
) -> None:
    [observation] = json_parser.parse(f'{{"timestamp": {raw}, "loss": "0.5"}}')

    assert observation == Observation("loss", 0.5, None, seconds)
