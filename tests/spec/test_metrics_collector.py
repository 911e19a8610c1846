"""check_metrics_format: the regex rules of metricsFormat."""

from __future__ import annotations

import pytest

from tuner.spec._metrics_collector import check_metrics_format

KATIB_DEFAULT = r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"
KATIB_FILE_EXAMPLE = r"{metricName: ([\w|-]+), metricValue: ((-?\d+)(\.\d+)?)}"


@pytest.mark.parametrize(
    "pattern",
    [
        r"(\w+)=(\d+)",
        KATIB_DEFAULT,
        KATIB_FILE_EXAMPLE,
        r"(?P<name>\w+)=(?P<value>\d+) step (?P<step>\d+)",
        r"(?P<value>\d+) is (?P<name>\w+)",
        r"(?:epoch \d+ )?(\w+)=(\d+)",
        r"[(](\w+)[)]=(\d+)",
        r"\((\w+)\)=(\d+)",
        r"[]()](\w+)=(\d+)",
        r"(?i)(\w+)=(\d+)",
        r"(?x) (\w+) = (\d+)  # a comment with (parens)",
        r"(?<=: )(\w+)=(\d+)",
        r"(?P<name>\w+)=(\d+)",
    ],
)
def test_usable_formats(pattern: str) -> None:
    assert check_metrics_format(pattern) is None


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("(unclosed", "is not a valid regular expression: "),
        (
            r"\w+=\d+",
            "needs exactly two top-level capture groups, the metric name then its value, found 0",
        ),
        (
            r"(\w+)=(\d+)/(\d+)",
            "needs exactly two top-level capture groups, the metric name then its value, found 3",
        ),
        (
            r"((\w+)=(\d+))",
            "needs exactly two top-level capture groups, the metric name then its value, found 1",
        ),
        (r"((\w)\w*)=(\d+)", "the first capture group (the metric name) must not contain"),
        (r"(?x) (\w+) = \d+", "needs two capture groups (name, value), found 1"),
    ],
)
def test_unusable_formats(pattern: str, problem: str) -> None:
    message = check_metrics_format(pattern)

    assert message is not None
    assert message.startswith(problem)
