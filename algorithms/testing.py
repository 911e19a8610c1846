"""Hypothesis strategies for testing designers: search spaces, points and trial histories.

Shared by the designer tests, so every designer, present and future, is checked against
the same spaces and histories: all four parameter types, linear and log scales, steps
(including double steps that do not divide the range), and histories with NaN and
infinite metrics, failed and infeasible trials, and trials repeating a point.

Needs hypothesis (``pip install 'tuner[dev]'``); ``import tuner.algorithms`` does not load it.
"""

from __future__ import annotations

import decimal
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

try:
    from hypothesis import strategies as st
except ImportError as error:  # pragma: no cover
    raise ImportError(
        "tuner.algorithms.testing needs hypothesis: pip install 'tuner[dev]'"
    ) from error

from tuner.config import AlgorithmSpec, Direction, Objective, StudyConfig
from tuner.space import (
    CategoricalParameter,
    DiscreteParameter,
    DoubleParameter,
    IntParameter,
    Parameter,
    ParameterValue,
    Scale,
    SearchSpace,
)
from tuner.trial import Measurement, Trial, TrialState

__all__ = [
    "METRIC_NAME",
    "History",
    "grid_size",
    "histories",
    "is_on_grid",
    "parameter_values",
    "parameters",
    "point_key",
    "points",
    "required_settings",
    "search_spaces",
    "study_config",
]

METRIC_NAME = "objective"
"""The objective metric of :func:`study_config` and :func:`histories`."""
STUDY_NAME = "study"

_metric_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0]),
)


@st.composite
def _int_parameters(draw: st.DrawFn, name: str, max_points: int | None) -> IntParameter:
    scale = draw(st.sampled_from(Scale))
    low = draw(st.integers(1, 1000) if scale is Scale.LOG else st.integers(-1000, 1000))
    step = draw(st.integers(1, 5))
    n_steps = draw(st.integers(0, (max_points or 200) - 1))
    high = low + n_steps * step + draw(st.integers(0, step - 1))
    return IntParameter(name=name, low=low, high=high, scale=scale, step=step)


@st.composite
def _stepped_doubles(draw: st.DrawFn, name: str, max_points: int | None) -> DoubleParameter:
    """A stepped double written as a user would (``0.1`` to ``0.7`` by ``0.2``)."""
    scale = draw(st.sampled_from(Scale))
    exponent = draw(st.integers(-4, 2))
    low_units = draw(st.integers(1, 50) if scale is Scale.LOG else st.integers(-50, 50))
    step_units = draw(st.integers(1, 9))
    n_steps = draw(st.integers(0, (max_points or 40) - 1))
    slack = draw(st.sampled_from(["0", "0.5"]))  # a step that does not divide the range
    unit = decimal.Decimal(1).scaleb(exponent)
    low = low_units * unit
    step = step_units * unit
    high = low + (n_steps + decimal.Decimal(slack)) * step
    return DoubleParameter(
        name=name, low=float(low), high=float(high), scale=scale, step=float(step)
    )


@st.composite
def _ranged_doubles(draw: st.DrawFn, name: str, *, has_step: bool) -> DoubleParameter:
    """A double with arbitrary bounds, and an arbitrary step if ``has_step``."""
    scale = draw(st.sampled_from(Scale))
    if scale is Scale.LOG:
        low = draw(st.floats(1e-8, 1e6))
        high = low * draw(st.floats(1.0, 1e8))
    else:
        low = draw(st.floats(-1e6, 1e6))
        high = low + draw(st.floats(0.0, 1e6))
    step = draw(st.floats(1e-3, 1e3)) if has_step else None
    return DoubleParameter(name=name, low=low, high=high, scale=scale, step=step)


def parameters(
    name: str, *, finite: bool = False, max_points: int | None = None
) -> st.SearchStrategy[Parameter]:
    """Parameters of every type named ``name``.

    Args:
        name: The parameter name.
        finite: Only parameters with finitely many values (no double without ``step``).
        max_points: At most this many values per parameter with a grid; None also allows
            doubles with arbitrary bounds and steps (grids up to ~1e9 values).
    """
    doubles = [_stepped_doubles(name, max_points)]
    if not finite:
        doubles.append(_ranged_doubles(name, has_step=False))
    if max_points is None:
        doubles.append(_ranged_doubles(name, has_step=True))
    n_values = max_points or 8
    discrete = st.lists(
        st.integers(-100, 100) | st.floats(-1e3, 1e3), min_size=1, max_size=n_values, unique=True
    ).filter(lambda values: len(set(map(float, values))) == len(values))
    categorical = st.lists(
        st.text(min_size=1, max_size=5), min_size=1, max_size=n_values, unique=True
    )
    return st.one_of(
        _int_parameters(name, max_points),
        *doubles,
        discrete.map(lambda values: DiscreteParameter(name=name, values=tuple(values))),
        categorical.map(lambda choices: CategoricalParameter(name=name, choices=tuple(choices))),
    )


@st.composite
def search_spaces(
    draw: st.DrawFn,
    *,
    finite: bool = False,
    max_parameters: int = 3,
    max_points: int | None = None,
) -> SearchSpace:
    """Search spaces of 1 to ``max_parameters`` parameters (see :func:`parameters`)."""
    n_parameters = draw(st.integers(1, max_parameters))
    return SearchSpace(
        tuple(
            draw(parameters(f"p{i}", finite=finite, max_points=max_points))
            for i in range(n_parameters)
        )
    )


def _double_grid_value(parameter: DoubleParameter, index: int, offset: float = 0.0) -> float:
    assert parameter.step is not None
    return min(parameter.low + (index + offset) * parameter.step, parameter.high)


def _double_grid_size(parameter: DoubleParameter) -> int:
    assert parameter.step is not None
    return math.floor((parameter.high - parameter.low) / parameter.step + 1e-9) + 1


def parameter_values(parameter: Parameter) -> st.SearchStrategy[ParameterValue]:
    """Values of ``parameter`` a trial may hold: on its grid, or (doubles) off it, as a trial
    a user added may be."""
    if isinstance(parameter, IntParameter):
        size = (parameter.high - parameter.low) // parameter.step + 1
        return st.integers(0, size - 1).map(lambda k: parameter.low + k * parameter.step)
    if isinstance(parameter, DoubleParameter):
        if parameter.step is None:
            return st.floats(parameter.low, parameter.high)
        indices = st.integers(0, _double_grid_size(parameter) - 1)
        on_grid = indices.map(lambda k: _double_grid_value(parameter, k))
        # Off the grid by a quarter step or more, so whether a value is on it is never moot.
        off_grid = st.tuples(indices, st.floats(0.25, 0.75)).map(
            lambda kf: _double_grid_value(parameter, kf[0], kf[1])
        )
        return on_grid | off_grid
    if isinstance(parameter, DiscreteParameter):
        return st.sampled_from(parameter.values)
    return st.sampled_from(parameter.choices)


def points(space: SearchSpace) -> st.SearchStrategy[dict[str, ParameterValue]]:
    """Parameter assignments inside ``space``."""
    return st.fixed_dictionaries({p.name: parameter_values(p) for p in space})


@dataclass(frozen=True, slots=True, kw_only=True)
class History:
    """Trials of a study: those finished, in batches as a service would report them, and
    those active now."""

    completed_batches: tuple[tuple[Trial, ...], ...]
    active: tuple[Trial, ...]

    @property
    def completed(self) -> tuple[Trial, ...]:
        """Every finished trial, in order."""
        return tuple(trial for batch in self.completed_batches for trial in batch)

    @property
    def trials(self) -> tuple[Trial, ...]:
        """Every trial, by number."""
        return tuple(sorted((*self.completed, *self.active), key=lambda trial: trial.number))


@st.composite
def histories(draw: st.DrawFn, space: SearchSpace, *, max_trials: int = 12) -> History:
    """Trial histories in ``space``: any states (``REQUESTED``, ``ACTIVE`` and ``STOPPING``
    are active), NaN and infinite or missing final metrics, points repeated."""
    distinct = draw(st.lists(points(space), min_size=1, max_size=max_trials))
    chosen = draw(st.lists(st.sampled_from(distinct), max_size=max_trials))
    trials = []
    for number, parameters in enumerate(chosen):
        state = draw(st.sampled_from(TrialState))
        final = None
        if state.is_finished and draw(st.booleans()):
            final = Measurement(metrics={METRIC_NAME: draw(_metric_values)})
        trials.append(
            Trial(
                id=1000 + number,
                study_name=STUDY_NAME,
                number=number,
                parameters=parameters,
                state=state,
                final_measurement=final,
            )
        )
    completed = [trial for trial in trials if trial.state.is_finished]
    cuts = sorted(draw(st.lists(st.integers(0, len(completed)), max_size=3)))
    bounds = [0, *cuts, len(completed)]
    batches = tuple(tuple(completed[a:b]) for a, b in itertools.pairwise(bounds))
    return History(
        completed_batches=batches,
        active=tuple(trial for trial in trials if not trial.state.is_finished),
    )


def study_config(
    space: SearchSpace,
    algorithm: str,
    *,
    seed: int | None = 0,
    settings: Mapping[str, str] | None = None,
    direction: Direction = Direction.MINIMIZE,
) -> StudyConfig:
    """A study config optimising :data:`METRIC_NAME` over ``space`` with ``algorithm``."""
    return StudyConfig(
        space=space,
        objective=Objective(metric_name=METRIC_NAME, direction=direction),
        algorithm=AlgorithmSpec(name=algorithm, settings=dict(settings or {})),
        seed=seed,
    )


def required_settings(algorithm: str, space: SearchSpace) -> dict[str, str] | None:
    """Settings ``algorithm`` cannot run without, chosen to fit ``space``.

    The shared designer tests build every algorithm with these. Most algorithms need none
    (``{}``); ``hyperband`` needs a resource: the first int or double parameter with min > 0.
    None means that no choice fits the space, and the tests skip the algorithm for it.
    """
    if algorithm != "hyperband":
        return {}
    for parameter in space:
        if isinstance(parameter, IntParameter | DoubleParameter) and parameter.low > 0:
            return {"resource_name": parameter.name}
    return None


def point_key(space: SearchSpace, values: Mapping[str, ParameterValue]) -> tuple[object, ...]:
    """What identifies a point: the grid index of a stepped double on its grid, the value
    otherwise.

    Computed independently of the designers' own grids, so tests can check them.
    """
    key: list[object] = []
    for parameter in space:
        value = values[parameter.name]
        if isinstance(parameter, DoubleParameter) and parameter.step is not None:
            assert isinstance(value, int | float)
            index = round((value - parameter.low) / parameter.step)
            on_grid = (
                0 <= index < _double_grid_size(parameter)
                and abs(value - (parameter.low + index * parameter.step)) <= 1e-6 * parameter.step
            )
            key.append(("index", index) if on_grid else ("value", value))
        else:
            key.append(value)
    return tuple(key)


def is_on_grid(key: tuple[object, ...]) -> bool:
    """Whether a :func:`point_key` is a point of the space's grid (no off-grid double)."""
    return not any(isinstance(part, tuple) and part[0] == "value" for part in key)


def grid_size(space: SearchSpace) -> int | None:
    """How many points ``space`` has, or None when it has a double without ``step``."""
    size = 1
    for parameter in space:
        if isinstance(parameter, IntParameter):
            size *= (parameter.high - parameter.low) // parameter.step + 1
        elif isinstance(parameter, DoubleParameter):
            if parameter.step is None:
                return None
            size *= _double_grid_size(parameter)
        elif isinstance(parameter, DiscreteParameter):
            size *= len(parameter.values)
        else:
            size *= len(parameter.choices)
    return size
