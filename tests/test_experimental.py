"""``experimental``: the marked API warns once per call site and otherwise works unchanged."""

from __future__ import annotations

import inspect
import subprocess
import sys
import warnings

import pytest

import tuner
from tuner._experimental import experimental


def test_a_call_warns_naming_the_function_and_release() -> None:
    @experimental("9.9")
    def add(a: int, b: int = 1) -> int:
        """Add."""
        return a + b

    with pytest.warns(tuner.ExperimentalWarning, match=r"add is experimental \(added in 9\.9\)"):
        assert add(2, b=3) == 5
    assert add.__doc__ == "Add." and add.__name__ == "add"
    assert list(inspect.signature(add).parameters) == ["a", "b"]


def test_the_plots_are_marked() -> None:
    pytest.importorskip("matplotlib")
    from tuner import visualization

    for name in visualization.__all__:
        function = getattr(visualization, name)
        assert hasattr(function, "__wrapped__"), name  # the experimental wrapper
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(AttributeError):
                function(object())  # not a study: fails after the warning
        assert [type(w.message) for w in caught] == [tuner.ExperimentalWarning], name


def test_a_notebook_sees_it_once_per_line() -> None:
    code = (
        "from tuner._experimental import experimental\n"
        "f = experimental('0.1.0')(lambda: None)\n"
        "for _ in range(3):\n"
        "    f()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stderr.count("ExperimentalWarning") == 1
