"""Model objects to and from what the database columns hold.

A study config is stored as JSON text (Python's ``json`` writes the shortest string that
reads back as the same float, keeps ints apart from floats, and spells NaN and infinities,
so the round trip is exact). Trial parameters are JSON text too. Floats that sit in DOUBLE
columns go through :func:`encode_float` and :func:`decode_float`.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from typing import Any

from tuner.config import AlgorithmSpec, Direction, MetricStrategy, Objective, StudyConfig
from tuner.errors import InvalidArgumentError
from tuner.space import (
    CategoricalParameter,
    DiscreteParameter,
    DoubleParameter,
    IntParameter,
    Parameter,
    ParameterType,
    ParameterValue,
    Scale,
    SearchSpace,
)
from tuner.store._schema import MAX_NAME_LENGTH
from tuner.trial import CollectorDiagnostics, UnparseableLine

__all__ = [
    "FloatKind",
    "check_name",
    "config_from_dict",
    "config_to_dict",
    "decode_float",
    "dump_config",
    "dump_diagnostics",
    "dump_parameters",
    "encode_float",
    "load_config",
    "load_diagnostics",
    "load_parameters",
]

_CONFIG_FORMAT = 1
_MAX_BIGINT = 2**63 - 1


class FloatKind(enum.IntEnum):
    """What a DOUBLE column cannot say on every database, stored beside it."""

    FINITE = 0
    NAN = 1
    POSITIVE_INFINITY = 2
    NEGATIVE_INFINITY = 3
    NEGATIVE_ZERO = 4
    """MySQL and SQLite store ``-0.0`` as ``0.0``."""


def encode_float(value: float) -> tuple[float | None, FloatKind]:
    """Split a float into a DOUBLE column value (None unless finite) and its kind.

    Finite values, negative zero included, keep a numeric column value, so SQL can rank
    them; non-finite ones have NULL.

    Examples:
        >>> encode_float(float("-inf"))
        (None, <FloatKind.NEGATIVE_INFINITY: 3>)
        >>> encode_float(-0.0)
        (0.0, <FloatKind.NEGATIVE_ZERO: 4>)
    """
    if math.isnan(value):
        return None, FloatKind.NAN
    if math.isinf(value):
        return None, FloatKind.POSITIVE_INFINITY if value > 0 else FloatKind.NEGATIVE_INFINITY
    if value == 0.0 and math.copysign(1.0, value) < 0:
        return 0.0, FloatKind.NEGATIVE_ZERO
    return float(value), FloatKind.FINITE


def decode_float(value: float | None, kind: int) -> float:
    """The float that :func:`encode_float` split into ``value`` and ``kind``."""
    match FloatKind(kind):
        case FloatKind.FINITE:
            if value is None:
                raise ValueError("a finite float column holds NULL")
            return float(value)
        case FloatKind.NAN:
            return math.nan
        case FloatKind.POSITIVE_INFINITY:
            return math.inf
        case FloatKind.NEGATIVE_INFINITY:
            return -math.inf
        case FloatKind.NEGATIVE_ZERO:
            return -0.0


def check_name(value: str, field: str, *, allow_empty: bool = False) -> None:
    """Refuse a name the schema cannot hold exactly."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"must be a string, got {value!r}", field=field)
    if not value and not allow_empty:
        raise InvalidArgumentError("must not be empty", field=field)
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidArgumentError(
            f"must be at most {MAX_NAME_LENGTH} characters, got {len(value)}", field=field
        )


def check_step(step: int) -> None:
    """Refuse a measurement step that does not fit a BIGINT."""
    if step > _MAX_BIGINT:
        raise InvalidArgumentError(f"step must be at most {_MAX_BIGINT}, got {step}", field="step")


def dump_parameters(parameters: Mapping[str, ParameterValue]) -> str:
    """JSON text of a parameter assignment; ``InvalidArgumentError`` for a value of another type."""
    if not isinstance(parameters, Mapping):
        raise InvalidArgumentError(
            f"must be a mapping of names to values, got {parameters!r}", field="parameters"
        )
    for name, value in parameters.items():
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(
                f"parameter names must be non-empty strings, got {name!r}", field="parameters"
            )
        if not isinstance(value, int | float | str) or isinstance(value, bool):
            raise InvalidArgumentError(
                f"value must be an int, a float or a string, got {value!r}",
                field=f"parameters.{name}",
            )
    return json.dumps(dict(parameters), ensure_ascii=False)


def load_parameters(text: str) -> dict[str, ParameterValue]:
    """The parameter assignment :func:`dump_parameters` wrote."""
    parameters: dict[str, ParameterValue] = json.loads(text)
    return parameters


def _parameter_to_dict(parameter: Parameter) -> dict[str, Any]:
    match parameter:
        case DoubleParameter():
            return {
                "name": parameter.name,
                "type": parameter.type.value,
                "low": parameter.low,
                "high": parameter.high,
                "scale": parameter.scale.value,
                "step": parameter.step,
            }
        case IntParameter():
            return {
                "name": parameter.name,
                "type": parameter.type.value,
                "low": parameter.low,
                "high": parameter.high,
                "scale": parameter.scale.value,
                "step": parameter.step,
            }
        case DiscreteParameter():
            return {
                "name": parameter.name,
                "type": parameter.type.value,
                "values": list(parameter.values),
            }
        case CategoricalParameter():
            return {
                "name": parameter.name,
                "type": parameter.type.value,
                "choices": list(parameter.choices),
            }


def _parameter_from_dict(data: Mapping[str, Any]) -> Parameter:
    match ParameterType(data["type"]):
        case ParameterType.DOUBLE:
            return DoubleParameter(
                name=data["name"],
                low=data["low"],
                high=data["high"],
                scale=Scale(data["scale"]),
                step=data["step"],
            )
        case ParameterType.INT:
            return IntParameter(
                name=data["name"],
                low=data["low"],
                high=data["high"],
                scale=Scale(data["scale"]),
                step=data["step"],
            )
        case ParameterType.DISCRETE:
            return DiscreteParameter(name=data["name"], values=tuple(data["values"]))
        case ParameterType.CATEGORICAL:
            return CategoricalParameter(name=data["name"], choices=tuple(data["choices"]))


def _algorithm_to_dict(algorithm: AlgorithmSpec) -> dict[str, Any]:
    return {"name": algorithm.name, "settings": dict(algorithm.settings)}


def _algorithm_from_dict(data: Mapping[str, Any]) -> AlgorithmSpec:
    return AlgorithmSpec(name=data["name"], settings=data["settings"])


def config_to_dict(config: StudyConfig) -> dict[str, Any]:
    """A JSON-able dict holding every field of ``config``.

    Examples:
        >>> config = StudyConfig(
        ...     space=SearchSpace((IntParameter(name="depth", low=1, high=8),)),
        ...     objective=Objective(metric_name="loss"),
        ...     seed=7,
        ... )
        >>> config_from_dict(config_to_dict(config)) == config
        True
    """
    objective = config.objective
    return {
        "format": _CONFIG_FORMAT,
        "space": [_parameter_to_dict(p) for p in config.space],
        "objective": {
            "metric_name": objective.metric_name,
            "direction": objective.direction.value,
            "goal": objective.goal,
            "additional_metric_names": list(objective.additional_metric_names),
            "metric_strategies": {k: v.value for k, v in objective.metric_strategies.items()},
        },
        "algorithm": _algorithm_to_dict(config.algorithm),
        "seed": config.seed,
        "early_stopping": (
            None if config.early_stopping is None else _algorithm_to_dict(config.early_stopping)
        ),
    }


def config_from_dict(data: Mapping[str, Any]) -> StudyConfig:
    """The config :func:`config_to_dict` described."""
    if data.get("format") != _CONFIG_FORMAT:
        raise ValueError(f"unknown study config format {data.get('format')!r}")
    objective = data["objective"]
    return StudyConfig(
        space=SearchSpace(tuple(_parameter_from_dict(p) for p in data["space"])),
        objective=Objective(
            metric_name=objective["metric_name"],
            direction=Direction(objective["direction"]),
            goal=objective["goal"],
            additional_metric_names=tuple(objective["additional_metric_names"]),
            metric_strategies={
                k: MetricStrategy(v) for k, v in objective["metric_strategies"].items()
            },
        ),
        algorithm=_algorithm_from_dict(data["algorithm"]),
        seed=data["seed"],
        # Configs stored before early stopping existed have no key: they have none.
        early_stopping=(
            None
            if data.get("early_stopping") is None
            else _algorithm_from_dict(data["early_stopping"])
        ),
    )


def dump_config(config: StudyConfig) -> str:
    """JSON text of a study config."""
    return json.dumps(config_to_dict(config), ensure_ascii=False)


def load_config(text: str) -> StudyConfig:
    """The study config :func:`dump_config` wrote."""
    return config_from_dict(json.loads(text))


def dump_diagnostics(diagnostics: CollectorDiagnostics) -> str | None:
    """A trial's collector diagnostics as JSON text; None when there are none."""
    if diagnostics.is_empty:
        return None
    return json.dumps(
        {
            "n_unparseable": diagnostics.n_unparseable,
            "unparseable_examples": [[e.source, e.line] for e in diagnostics.unparseable_examples],
            "n_dropped": diagnostics.n_dropped,
        }
    )


def load_diagnostics(text: str | None) -> CollectorDiagnostics:
    """The diagnostics :func:`dump_diagnostics` wrote (empty ones for None)."""
    if not text:
        return CollectorDiagnostics()
    data = json.loads(text)
    return CollectorDiagnostics(
        n_unparseable=data.get("n_unparseable", 0),
        unparseable_examples=tuple(
            UnparseableLine(source=source, line=line)
            for source, line in data.get("unparseable_examples", ())
        ),
        n_dropped=data.get("n_dropped", 0),
    )
