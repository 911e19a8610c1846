"""Reading a document: a YAML file, YAML text or a mapping; and where a path sits in the text."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tuner.spec._errors import ExperimentError, FieldError, Loc

__all__ = ["Source", "read_source"]

_YAML_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True, slots=True)
class Source:
    """A document as read: its data, its file name and its YAML node tree (from text)."""

    data: Any
    name: str | None = None
    node: yaml.Node | None = None

    def position(self, loc: Loc) -> tuple[int, int] | None:
        """The 1-based (line, column) of ``loc`` in the text, or of its nearest ancestor."""
        node = self.node
        if node is None:
            return None
        mark = node.start_mark
        for part in loc:
            child = _child(node, part)
            if child is None:
                break
            key_node, node = child
            mark = (key_node or node).start_mark
        return mark.line + 1, mark.column + 1

    def duplicate_keys(self) -> Iterator[Loc]:
        """Where a mapping repeats a key (YAML would silently keep only the last one)."""
        if self.node is not None:
            yield from _duplicates(self.node, ())


def read_source(source: str | os.PathLike[str] | Mapping[str, Any]) -> Source:
    """Read ``source``: a path to a YAML file, YAML text, or an already-parsed mapping.

    A string is a path when it is one line naming an existing file or ending in
    ``.yaml``, ``.yml`` or ``.json``; otherwise it is YAML text.

    Raises:
        ExperimentError: The file cannot be read, or the text is not valid YAML.
        TypeError: ``source`` is none of the above.
    """
    if isinstance(source, Mapping):
        return Source(_plain(source))
    name: str | None = None
    if isinstance(source, os.PathLike) or (isinstance(source, str) and _is_path(source)):
        name = os.fspath(source)
        try:
            text = Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ExperimentError(
                [FieldError("", f"cannot read the file: {reason}")], source=name
            ) from exc
    elif isinstance(source, str):
        text = source
    else:
        raise TypeError(f"expected a path, YAML text or a mapping, got {type(source).__name__}")
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ExperimentError([_yaml_error(exc)], source=name) from exc
    return Source(data, name, node)


def _is_path(text: str) -> bool:
    if "\n" in text or not text.strip():
        return False
    return text.endswith(_YAML_SUFFIXES) or Path(text).is_file()


def _plain(value: Any) -> Any:
    """A deep copy made of dicts and lists, so the caller's objects stay untouched."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _yaml_error(exc: yaml.YAMLError) -> FieldError:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    if mark is None:
        return FieldError("", message)
    return FieldError("", message, line=mark.line + 1, column=mark.column + 1)


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key_node, value_node in reversed(node.value):
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
                return key_node, value_node
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return None, node.value[part]
    return None


def _duplicates(node: yaml.Node, loc: Loc) -> Iterator[Loc]:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key != "<<":
                if key in seen:
                    yield (*loc, key)
                seen.add(key)
            yield from _duplicates(value_node, (*loc, key if key is not None else "?"))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicates(item, (*loc, index))
