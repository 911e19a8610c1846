"""Reading sources: paths or text, positions of paths in the text, duplicate keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuner.spec._source import read_source

TEXT = """\
apiVersion: tuner.dev/v1beta1
spec:
  parameters:
    - name: lr
      feasibleSpace:
        min: "0.1"
"""


def test_text_positions() -> None:
    source = read_source(TEXT)

    assert source.name is None
    assert source.position(()) == (1, 1)
    assert source.position(("spec",)) == (2, 1)
    assert source.position(("spec", "parameters", 0)) == (4, 7)
    assert source.position(("spec", "parameters", 0, "feasibleSpace", "min")) == (6, 9)
    # Missing parts: the nearest ancestor that exists.
    assert source.position(("spec", "parameters", 0, "feasibleSpace", "max")) == (5, 7)
    assert source.position(("spec", "parameters", 5)) == (3, 3)


def test_mapping_has_no_positions() -> None:
    source = read_source({"spec": {"parameters": ({"name": "a"},)}})

    assert source.position(("spec",)) is None
    assert source.data == {"spec": {"parameters": [{"name": "a"}]}}


def test_one_line_string_naming_a_file_is_a_path(tmp_path: Path) -> None:
    path = tmp_path / "experiment"
    path.write_text(TEXT)

    source = read_source(str(path))

    assert source.name == str(path)
    assert source.data["apiVersion"] == "tuner.dev/v1beta1"


@pytest.mark.parametrize("text", ["kind: Experiment", "{kind: Experiment}"])
def test_one_line_yaml_is_text(text: str) -> None:
    assert read_source(text).data == {"kind": "Experiment"}


def test_duplicate_keys() -> None:
    source = read_source("a: 1\nb:\n  - {c: 1, c: 2}\na: 3\n")

    assert list(source.duplicate_keys()) == [("b", 0, "c"), ("a",)]


def test_yaml_is_loaded_safely() -> None:
    with pytest.raises(Exception, match="could not determine a constructor"):
        read_source("!!python/object/apply:os.system ['true']")
