"""The resource of multi-fidelity algorithms: the parameter that is a trial's budget, its rungs.

Kept apart from the designers that use it so that the checks and the rung arithmetic can be
read and tested alone.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from tuner.algorithms._axes import axis_of
from tuner.errors import InvalidArgumentError
from tuner.space import DoubleParameter, IntParameter

if TYPE_CHECKING:
    from tuner.algorithms._algorithm_settings import HyperbandSettings
    from tuner.space import ParameterValue, SearchSpace

__all__ = ["resource_parameter", "resource_rungs", "rung_index"]

_RESOURCE_FIELD = "algorithm.settings.resource_name"
_REL_TOL = 1e-9
"""Relative tolerance of resource arithmetic done in floating point."""


def resource_parameter(
    space: SearchSpace, settings: HyperbandSettings
) -> tuple[int, IntParameter | DoubleParameter]:
    """The resource parameter named by ``settings.resource_name``, and its index in the space.

    Args:
        space: The search space.
        settings: The settings naming the resource (``resource_name``, ``r_l``).

    Returns:
        The index of the resource in ``space`` and the parameter.

    Raises:
        InvalidArgumentError: With ``field`` ``algorithm.settings.resource_name`` (missing,
            unknown, or not an int or double parameter), ``space.parameters[<index>].low``
            (the resource's min is not > 0) or ``algorithm.settings.r_l`` (outside the
            resource's range).
    """
    numeric = [p.name for p in space if isinstance(p, IntParameter | DoubleParameter)]
    candidates = (
        f"the int and double parameters are: {', '.join(numeric)}"
        if numeric
        else "the search space has no int or double parameter"
    )
    name = settings.resource_name
    if not name:
        raise InvalidArgumentError(
            "hyperband needs resource_name, the parameter that is a trial's budget "
            f"(such as epochs); {candidates}",
            field=_RESOURCE_FIELD,
        )
    if name not in space.names:
        raise InvalidArgumentError(
            f"no parameter is named {name!r}; {candidates}", field=_RESOURCE_FIELD
        )
    index = space.names.index(name)
    parameter = space[name]
    if not isinstance(parameter, IntParameter | DoubleParameter):
        raise InvalidArgumentError(
            f"the resource must be an int or double parameter, and {name!r} is "
            f"{parameter.type.value}; {candidates}",
            field=_RESOURCE_FIELD,
        )
    if parameter.low <= 0:
        raise InvalidArgumentError(
            f"the resource {name!r} needs min > 0 (rungs are min * eta**k), got {parameter.low}",
            field=f"space.parameters[{index}].low",
        )
    if settings.r_l is not None and not parameter.low <= settings.r_l <= parameter.high:
        raise InvalidArgumentError(
            f"must be within the range of {name!r}, [{parameter.low}, {parameter.high}], "
            f"got {settings.r_l}",
            field="algorithm.settings.r_l",
        )
    return index, parameter


def resource_rungs(
    parameter: IntParameter | DoubleParameter, eta: int, r_l: float | None = None
) -> tuple[int | float, ...]:
    """The resources of the rungs: ``min * eta**k`` for ``k < s_max``, then the max resource.

    The max resource is ``r_l`` when given, else the parameter's max, moved down onto its
    grid (``low + k * step``); ``s_max = floor(log_eta(max / min))`` as in Hyperband, so the
    top rung is ``min * eta**s_max`` when ``max / min`` is a power of ``eta``, and up to
    ``eta`` times more otherwise. On a grid each rung is rounded to the nearest grid value,
    and rungs that round to the same value are merged.

    Args:
        parameter: The resource parameter; its min must be > 0.
        eta: The growth factor between rungs (>= 2).
        r_l: The max resource, inside the parameter's range; None for the parameter's max.

    Returns:
        Strictly increasing resources, ints for an int parameter.

    Examples:
        >>> resource_rungs(IntParameter(name="epochs", low=1, high=100), eta=3)
        (1, 3, 9, 27, 100)
        >>> resource_rungs(DoubleParameter(name="data", low=0.125, high=1.0), eta=2)
        (0.125, 0.25, 0.5, 1.0)
    """
    low = parameter.low
    top: int | float = parameter.high if r_l is None else r_l
    axis = axis_of(parameter)
    top_index = 0
    if axis is not None:
        assert parameter.step is not None
        top_index = min(math.floor((top - low) / parameter.step + _REL_TOL), axis.size - 1)
        top = _number(axis.value(top_index))
    # Hyperband's s_max, with a tolerance for max / min computed in floating point.
    raws = [float(low)]
    while raws[-1] <= (top / eta) * (1.0 + _REL_TOL):
        raws.append(raws[-1] * eta)
    rungs: list[int | float] = []
    for k, raw in enumerate(raws[:-1]):
        if axis is None:
            rung: int | float = raw
        else:
            assert parameter.step is not None
            exact = low * eta**k if isinstance(parameter, IntParameter) else raw
            index = min(round((exact - low) / parameter.step), top_index)
            rung = _number(axis.value(index))
        if rung < top and (not rungs or rung > rungs[-1]):
            rungs.append(rung)
    rungs.append(top)
    return tuple(rungs)


def rung_index(rungs: tuple[int | float, ...], value: ParameterValue) -> int | None:
    """The index of the rung whose resource is ``value`` (up to rounding), or None.

    Examples:
        >>> rung_index((1, 3, 9), 3), rung_index((1, 3, 9), 2)
        (1, None)
        >>> rung_index((0.1, 0.3), 0.30000000000000004)
        1
    """
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    for index, resource in enumerate(rungs):
        if value == resource or math.isclose(value, resource, rel_tol=_REL_TOL):
            return index
    return None


def _number(value: ParameterValue) -> int | float:
    assert isinstance(value, int | float)
    return value
