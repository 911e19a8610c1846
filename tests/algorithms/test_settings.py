"""Settings dataclasses: parsing Katib's strings, checking types and ranges, describing."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pytest

from tuner.algorithms import SettingInfo, Settings, describe_settings, parse_settings, setting
from tuner.errors import InvalidArgumentError


class Strategy(enum.Enum):
    IPOP = "ipop"
    BIPOP = "bipop"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExampleSettings(Settings):
    n_startup_trials: int = setting(10, ge=0, description="Random trials first.")
    gamma: float = setting(0.25, gt=0.0, lt=1.0, description="Share of good trials.")
    sigma: float = setting(1.0, gt=0, le=10, description="Initial step size.")
    multivariate: bool = setting(False, description="Model parameters jointly.")
    name: str = setting("tuner", description="A free text.")
    # ruff cannot tell that setting() is a field specifier unless the type is immutable.
    restart_strategy: Strategy = setting(Strategy.IPOP, description="How to restart.")
    random_state: int | None = setting(None, ge=0, description="Seed.")


@dataclass(frozen=True, slots=True, kw_only=True)
class NoSettings(Settings):
    pass


def field_of(raw: dict[str, str], settings_type: type[Settings] = ExampleSettings) -> str:
    with pytest.raises(InvalidArgumentError) as error:
        parse_settings(settings_type, raw)
    return error.value.field


def test_defaults() -> None:
    assert parse_settings(ExampleSettings, {}) == ExampleSettings()


def test_every_type_parses() -> None:
    parsed = parse_settings(
        ExampleSettings,
        {
            "n_startup_trials": " 5 ",
            "gamma": "1e-1",
            "sigma": "3",
            "multivariate": "True",
            "name": "x y",
            "restart_strategy": "bipop",
            "random_state": "42",
        },
    )
    assert parsed == ExampleSettings(
        n_startup_trials=5,
        gamma=0.1,
        sigma=3.0,
        multivariate=True,
        name="x y",
        restart_strategy=Strategy.BIPOP,
        random_state=42,
    )
    assert type(parsed.sigma) is float


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("1", True), ("F", False), ("no", False)]
)
def test_booleans(text: str, value: bool) -> None:
    assert parse_settings(ExampleSettings, {"multivariate": text}).multivariate is value


def test_enums_by_value_or_name() -> None:
    assert (
        parse_settings(ExampleSettings, {"restart_strategy": "BIPOP"}).restart_strategy
        is Strategy.BIPOP
    )


def test_unknown_setting_lists_the_known_ones() -> None:
    with pytest.raises(InvalidArgumentError) as error:
        parse_settings(ExampleSettings, {"n_startup_trial": "3"})
    assert error.value.field == "algorithm.settings.n_startup_trial"
    assert "n_startup_trials" in error.value.message and "random_state" in error.value.message


def test_unknown_setting_of_an_algorithm_without_settings() -> None:
    with pytest.raises(InvalidArgumentError) as error:
        parse_settings(NoSettings, {"x": "1"})
    assert error.value.field == "algorithm.settings.x"
    assert "takes no settings" in error.value.message


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"n_startup_trials": "2.5"}, "n_startup_trials"),
        ({"n_startup_trials": ""}, "n_startup_trials"),
        ({"random_state": "forty-two"}, "random_state"),
        ({"gamma": "a quarter"}, "gamma"),
        ({"gamma": "nan"}, "gamma"),
        ({"sigma": "inf"}, "sigma"),
        ({"multivariate": "maybe"}, "multivariate"),
        ({"restart_strategy": "sometimes"}, "restart_strategy"),
    ],
)
def test_wrong_types(raw: dict[str, str], field: str) -> None:
    assert field_of(raw) == f"algorithm.settings.{field}"


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"n_startup_trials": "-1"}, "n_startup_trials", ">= 0"),
        ({"gamma": "0"}, "gamma", "> 0"),
        ({"gamma": "1"}, "gamma", "< 1"),
        ({"sigma": "10.5"}, "sigma", "<= 10"),
        ({"random_state": "-7"}, "random_state", ">= 0"),
    ],
)
def test_out_of_range(raw: dict[str, str], field: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as error:
        parse_settings(ExampleSettings, raw)
    assert error.value.field == f"algorithm.settings.{field}"
    assert message in error.value.message


def test_the_first_bad_setting_in_name_order_is_reported() -> None:
    assert field_of({"sigma": "-1", "gamma": "2"}) == "algorithm.settings.gamma"


def test_settings_built_directly_check_themselves() -> None:
    with pytest.raises(InvalidArgumentError) as error:
        ExampleSettings(n_startup_trials=-1)
    assert error.value.field == "algorithm.settings.n_startup_trials"
    with pytest.raises(InvalidArgumentError):
        ExampleSettings(n_startup_trials=True)
    with pytest.raises(InvalidArgumentError):
        ExampleSettings(restart_strategy="ipop")  # type: ignore[arg-type]
    assert ExampleSettings(gamma=0.5, sigma=2).sigma == 2.0


def test_describe() -> None:
    info = {item.name: item for item in describe_settings(ExampleSettings)}
    assert list(info) == [
        "n_startup_trials",
        "gamma",
        "sigma",
        "multivariate",
        "name",
        "restart_strategy",
        "random_state",
    ]
    assert info["gamma"] == SettingInfo(
        name="gamma",
        type="float",
        default="0.25",
        description="Share of good trials.",
        range="> 0.0, < 1.0",
    )
    assert info["restart_strategy"].type == "one of ipop, bipop"
    assert info["restart_strategy"].default == "ipop"
    assert info["random_state"].type == "int or None"


def test_declaring_a_setting_needs_a_description_and_a_known_type() -> None:
    with pytest.raises(TypeError):
        setting(1, description="")

    @dataclass(frozen=True, slots=True, kw_only=True)
    class ListSettings(Settings):
        values: list = setting(None, description="Unsupported.")  # type: ignore[type-arg]

    with pytest.raises(TypeError, match="unsupported"):
        parse_settings(ListSettings, {})
