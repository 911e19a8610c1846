"""Looking up a registered name, with a hint when it is misspelt."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TypeVar

from tuner.errors import InvalidArgumentError

__all__ = ["look_up"]

V = TypeVar("V")


def look_up(table: Mapping[str, V], name: str, *, kind: str, field: str) -> V:
    """``table[name]``, or an error naming the closest registered name and all of them.

    Args:
        table: The registry, by name.
        name: The name asked for.
        kind: What the names are, for the message (``"algorithm"``).
        field: Where the name was given, for the error.

    Raises:
        InvalidArgumentError: ``name`` is not in ``table``.

    Examples:
        >>> registry = {"grid": 1, "random": 2}
        >>> look_up(registry, "randon", kind="algorithm", field="name")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        tuner.errors.InvalidArgumentError: name: unknown algorithm 'randon'; did you mean ...
    """
    value = table.get(name)
    if value is None:
        close = difflib.get_close_matches(name.lower(), table, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InvalidArgumentError(
            f"unknown {kind} {name!r}; {hint}the registered ones are: " + ", ".join(sorted(table)),
            field=field,
        )
    return value
