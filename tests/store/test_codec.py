"""The codec: floats in DOUBLE columns, parameters and study configs as JSON text."""

from __future__ import annotations

import json
import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuner.config import AlgorithmSpec, Direction, Objective, StudyConfig
from tuner.errors import InvalidArgumentError
from tuner.space import (
    CategoricalParameter,
    DiscreteParameter,
    DoubleParameter,
    IntParameter,
    Scale,
    SearchSpace,
)
from tuner.store._codec import (
    FloatKind,
    config_from_dict,
    config_to_dict,
    decode_float,
    dump_config,
    dump_parameters,
    encode_float,
    load_config,
    load_parameters,
)


def _bits(value: float) -> bytes:
    return struct.pack("<d", value)


@given(st.floats(allow_nan=False))
def test_every_non_nan_float_round_trips_bit_for_bit(value: float) -> None:
    column, kind = encode_float(value)
    assert _bits(decode_float(column, kind)) == _bits(value)
    # The column holds a number exactly when the value is finite, so SQL can rank it.
    assert (column is not None) == math.isfinite(value)
    if column is not None:
        assert column == value


def test_non_finite_floats_have_their_own_kinds() -> None:
    assert encode_float(math.nan) == (None, FloatKind.NAN)
    assert encode_float(math.inf) == (None, FloatKind.POSITIVE_INFINITY)
    assert encode_float(-math.inf) == (None, FloatKind.NEGATIVE_INFINITY)
    assert math.isnan(decode_float(None, FloatKind.NAN))


def test_a_finite_kind_without_a_value_is_corrupt() -> None:
    with pytest.raises(ValueError, match="NULL"):
        decode_float(None, FloatKind.FINITE)


@given(
    st.dictionaries(
        st.text(min_size=1),
        st.one_of(st.integers(), st.floats(), st.text()),
    )
)
def test_parameters_keep_their_types(parameters: dict[str, int | float | str]) -> None:
    loaded = load_parameters(dump_parameters(parameters))
    assert loaded.keys() == parameters.keys()
    for name, value in parameters.items():
        assert type(loaded[name]) is type(value)
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(loaded[name])  # type: ignore[arg-type]
        else:
            assert loaded[name] == value


@pytest.mark.parametrize("bad", [{"x": True}, {"x": None}, {"x": [1]}, {"": 1}, {1: 1}])
def test_parameters_of_other_types_are_refused(bad: dict[object, object]) -> None:
    with pytest.raises(InvalidArgumentError, match="parameters"):
        dump_parameters(bad)  # type: ignore[arg-type]


def test_a_config_round_trips_through_json_text() -> None:
    config = StudyConfig(
        space=SearchSpace(
            (
                DoubleParameter(name="a", low=0.1, high=0.30000000000000004, scale=Scale.LOG),
                DoubleParameter(name="b", low=-1, high=1, step=0.25),
                IntParameter(name="c", low=1, high=2**40, scale=Scale.LOG, step=1),
                DiscreteParameter(name="d", values=(3, 1.5, -2.0)),
                CategoricalParameter(name="e", choices=('"quoted"', "\\", "")),
            )
        ),
        objective=Objective(
            metric_name="m", direction=Direction.MAXIMIZE, goal=-0.0, additional_metric_names=("n",)
        ),
        algorithm=AlgorithmSpec(name="random", settings={}),
        seed=None,
    )
    assert load_config(dump_config(config)) == config
    assert config_from_dict(json.loads(json.dumps(config_to_dict(config)))) == config


def test_an_unknown_config_format_is_refused() -> None:
    data = config_to_dict(
        StudyConfig(
            space=SearchSpace((IntParameter(name="x", low=0, high=1),)),
            objective=Objective(metric_name="m"),
        )
    )
    data["format"] = 99
    with pytest.raises(ValueError, match="99"):
        config_from_dict(data)


def test_early_stopping_round_trips_and_old_configs_have_none() -> None:
    config = StudyConfig(
        space=SearchSpace((IntParameter(name="x", low=0, high=1),)),
        objective=Objective(metric_name="m"),
        early_stopping=AlgorithmSpec(name="medianstop", settings={"start_step": "2"}),
    )
    assert load_config(dump_config(config)) == config
    data = config_to_dict(config)
    del data["early_stopping"]  # as stored before early stopping existed
    assert config_from_dict(data).early_stopping is None
    data["early_stopping"] = None
    assert config_from_dict(data).early_stopping is None
