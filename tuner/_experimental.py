"""Marking public API that may still change: :func:`experimental` and its warning."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import ParamSpec, TypeVar

__all__ = ["ExperimentalWarning", "experimental"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


class ExperimentalWarning(UserWarning):
    """Warns that an API is experimental: it may change in any release, without a warning.

    Silence it with ``warnings.filterwarnings("ignore", category=tuner.ExperimentalWarning)``.
    """


def experimental(since: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Mark a public function as experimental; calling it warns :class:`ExperimentalWarning`.

    The warning names the function and the release that added it. Python shows it once
    per calling line, so a notebook sees it once. Removing or changing an experimental
    function needs no deprecation period; once it is stable, the decorator goes.

    Args:
        since: The release that added the function, e.g. ``"0.1.0"``.

    Examples:
        >>> import warnings
        >>> @experimental("0.1.0")
        ... def plot() -> int:
        ...     return 1
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     plot()
        1
        >>> str(caught[0].message)
        'plot is experimental (added in 0.1.0): it may change in any release'
    """

    def mark(function: Callable[_P, _R]) -> Callable[_P, _R]:
        message = (
            f"{function.__qualname__} is experimental (added in {since}): "
            "it may change in any release"
        )

        @functools.wraps(function)
        def warn_then_call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            warnings.warn(message, ExperimentalWarning, stacklevel=2)
            return function(*args, **kwargs)

        return warn_then_call

    return mark
