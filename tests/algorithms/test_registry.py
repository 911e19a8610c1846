"""The registry: names, settings checked with field paths, designers imported lazily."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

import tuner.algorithms
from tuner.algorithms import (
    Designer,
    check_algorithm,
    describe_settings,
    make_designer,
    registered_algorithms,
    settings_class,
)
from tuner.algorithms._registry import designer_class
from tuner.algorithms.testing import required_settings, study_config
from tuner.errors import InvalidArgumentError
from tuner.space import (
    CategoricalParameter,
    DoubleParameter,
    IntParameter,
    SearchSpace,
)

SPACE = SearchSpace(
    (
        IntParameter(name="depth", low=1, high=4),
        CategoricalParameter(name="kernel", choices=("rbf", "linear")),
        DoubleParameter(name="lr", low=0.0, high=1.0, step=0.25),
    )
)
UNSTEPPED = SearchSpace((*SPACE.parameters, DoubleParameter(name="momentum", low=0.0, high=1.0)))


def refusal(algorithm: str, space: SearchSpace = SPACE, **settings: str) -> InvalidArgumentError:
    config = study_config(space, algorithm, settings=settings)
    with pytest.raises(InvalidArgumentError) as checked:
        check_algorithm(config)
    with pytest.raises(InvalidArgumentError) as made:
        make_designer(config)
    assert str(made.value) == str(checked.value)
    return checked.value


def test_katib_names_are_registered() -> None:
    assert {
        "cmaes",
        "grid",
        "hyperband",
        "multivariate-tpe",
        "random",
        "sobol",
        "tpe",
    } <= set(registered_algorithms())


@pytest.mark.parametrize("algorithm", registered_algorithms())
def test_every_algorithm_builds_with_default_settings(algorithm: str) -> None:
    required = required_settings(algorithm, SPACE)
    check_algorithm(study_config(SPACE, algorithm, settings=required))
    designer = make_designer(study_config(SPACE, algorithm, seed=None, settings=required))
    assert isinstance(designer, Designer)
    assert isinstance(designer, designer_class(algorithm))  # type: ignore[arg-type]
    settings = settings_class(algorithm)()
    for info in describe_settings(type(settings)):
        assert info.description
    assert dataclasses.is_dataclass(settings)


def test_unknown_algorithm_lists_the_registered_ones() -> None:
    error = refusal("bayesian")
    assert error.field == "algorithm.name"
    assert ", ".join(registered_algorithms()) in error.message
    assert "did you mean" not in error.message
    assert "did you mean 'random'" in refusal("Random").message
    with pytest.raises(InvalidArgumentError) as error_info:
        settings_class("nope")
    assert error_info.value.field == "algorithm.name"


@pytest.mark.parametrize("algorithm", registered_algorithms())
def test_unknown_setting(algorithm: str) -> None:
    error = refusal(algorithm, seed="1")
    assert error.field == "algorithm.settings.seed"
    assert "random_state" in error.message


@pytest.mark.parametrize("algorithm", registered_algorithms())
@pytest.mark.parametrize("value", ["abc", "4.2", "-1"])
def test_bad_random_state(algorithm: str, value: str) -> None:
    assert refusal(algorithm, random_state=value).field == "algorithm.settings.random_state"


def test_random_state_is_accepted_by_every_katib_algorithm() -> None:
    for algorithm in registered_algorithms():
        required = required_settings(algorithm, SPACE)
        assert required is not None
        check_algorithm(study_config(SPACE, algorithm, settings={**required, "random_state": "42"}))


def test_grid_refuses_a_double_without_step() -> None:
    error = refusal("grid", UNSTEPPED)
    assert error.field == "space.parameters[3].step"
    assert "'momentum'" in error.message
    assert "add a step" in error.message and "another algorithm" in error.message
    check_algorithm(study_config(UNSTEPPED, "random"))


def test_settings_are_checked_before_the_space() -> None:
    assert refusal("grid", UNSTEPPED, random_state="x").field == "algorithm.settings.random_state"


def test_importing_the_package_imports_no_designer() -> None:
    code = (
        "import sys, tuner.algorithms; "
        "loaded = [m for m in ('tuner.algorithms._random', 'tuner.algorithms._grid', "
        "'tuner.algorithms.testing', 'scipy', 'hypothesis') if m in sys.modules]; "
        "print(loaded)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert output.strip() == "[]"


def test_public_names() -> None:
    for name in tuner.algorithms.__all__:
        assert getattr(tuner.algorithms, name).__doc__, name
