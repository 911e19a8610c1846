"""Field paths and the text of ExperimentError."""

from __future__ import annotations

import pytest

from tuner.errors import InvalidArgumentError
from tuner.spec import ExperimentError, FieldError
from tuner.spec._errors import ErrorSink, format_loc, parse_loc


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("spec", "parameters", 1, "feasibleSpace", "min"), "spec.parameters[1].feasibleSpace.min"),
        (
            ("metadata", "labels", "app.kubernetes.io/name"),
            'metadata.labels["app.kubernetes.io/name"]',
        ),
        (("a", 'say "hi"'), 'a["say \\"hi\\""]'),
        (("spec", "parameters", 0, "num-layers"), "spec.parameters[0].num-layers"),
        ((), ""),
    ],
)
def test_format_and_parse_loc(loc: tuple[str | int, ...], path: str) -> None:
    assert format_loc(loc) == path
    assert parse_loc(path) == loc


@pytest.mark.parametrize("path", [".a", "a..b", "a[x]", "a[1"])
def test_parse_loc_refuses_other_text(path: str) -> None:
    assert parse_loc(path) is None


def test_error_text_lists_every_error_with_the_file() -> None:
    error = ExperimentError(
        [
            FieldError("spec.maxTrialCount", "must be >= 1, got 0", line=9, column=3),
            FieldError("spec.objective", "is required"),
        ],
        source="exp.yaml",
    )

    assert str(error) == (
        "exp.yaml: 2 errors in the Experiment:\n"
        "exp.yaml:9:3: spec.maxTrialCount: must be >= 1, got 0\n"
        "exp.yaml: spec.objective: is required"
    )
    assert isinstance(error, InvalidArgumentError)
    assert error.field == ""


def test_error_text_without_a_file() -> None:
    error = ExperimentError([FieldError("", "invalid YAML: x", line=2, column=4)])

    assert str(error) == "1 error in the Experiment:\nline 2, column 4: invalid YAML: x"


def test_error_sink() -> None:
    sink = ErrorSink()
    assert not sink

    sink.add(("spec", "parameters", 0, "name"), "bad")

    assert sink.has_under(("spec", "parameters"))
    assert not sink.has_under(("spec", "objective"))
    assert len(sink) == 1
