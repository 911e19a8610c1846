"""Conversion between the model (``tuner.space``, ``tuner.config``, ``tuner.trial``) and protos.

The one place that knows both: the service and the client import it. ``*_to_proto``
never fails on a valid model object; ``*_from_proto`` validates through the model's own
constructors and raises :class:`~tuner.errors.InvalidArgumentError` whose field is the path
into the request (``config.space.parameters[1]``).
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar

from tuner._proto import service_pb2, study_pb2, trial_pb2
from tuner.config import (
    AlgorithmSpec,
    Direction,
    MetricStrategy,
    Objective,
    StudyConfig,
    StudyInfo,
    StudyState,
)
from tuner.errors import InvalidArgumentError
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
from tuner.trial import (
    CollectorDiagnostics,
    Measurement,
    StopDecision,
    Trial,
    TrialState,
    UnparseableLine,
)

__all__ = [
    "at_field",
    "config_from_proto",
    "config_to_proto",
    "diagnostics_from_proto",
    "diagnostics_to_proto",
    "measurement_from_proto",
    "measurement_to_proto",
    "parameters_from_proto",
    "parameters_to_proto",
    "stop_decision_from_proto",
    "stop_decision_to_proto",
    "study_from_proto",
    "study_state_from_proto",
    "study_state_to_proto",
    "study_to_proto",
    "trial_counts_from_proto",
    "trial_counts_to_proto",
    "trial_from_proto",
    "trial_state_from_proto",
    "trial_state_to_proto",
    "trial_states_from_proto",
    "trial_to_proto",
    "trials_to_proto",
]

_E = TypeVar("_E")
_P = TypeVar("_P", bound=int)


@contextlib.contextmanager
def at_field(path: str, *, nest: bool = True) -> Iterator[None]:
    """Prefix the field of an :class:`InvalidArgumentError` raised inside with ``path``.

    Args:
        path: Where the converted value sits in the request, as ``config.objective``.
        nest: Append the error's own field to ``path`` (``config.objective.goal``); when
            False the own field (a parameter name, say) stays in the message instead.
    """
    try:
        yield
    except InvalidArgumentError as error:
        if nest:
            field = f"{path}.{error.field}" if error.field else path
            raise InvalidArgumentError(error.message, field=field) from error
        raise InvalidArgumentError(str(error), field=path) from error
    except (TypeError, ValueError, OverflowError) as error:
        raise InvalidArgumentError(str(error), field=path) from error


def _lookup(table: Mapping[int, _E], value: int, field: str, kind: str) -> _E:
    try:
        return table[value]
    except KeyError:
        raise InvalidArgumentError(f"unknown or unspecified {kind} {value}", field=field) from None


def _invert(table: Mapping[_E, _P]) -> dict[int, _E]:
    return {int(v): k for k, v in table.items()}


_SCALES = {Scale.LINEAR: study_pb2.SCALE_LINEAR, Scale.LOG: study_pb2.SCALE_LOG}
_SCALES_BACK: dict[int, Scale] = {**_invert(_SCALES), study_pb2.SCALE_UNSPECIFIED: Scale.LINEAR}
_DIRECTIONS = {
    Direction.MINIMIZE: study_pb2.DIRECTION_MINIMIZE,
    Direction.MAXIMIZE: study_pb2.DIRECTION_MAXIMIZE,
}
_DIRECTIONS_BACK: dict[int, Direction] = {
    **_invert(_DIRECTIONS),
    study_pb2.DIRECTION_UNSPECIFIED: Direction.MINIMIZE,
}
_STRATEGIES = {
    MetricStrategy.MIN: study_pb2.METRIC_STRATEGY_MIN,
    MetricStrategy.MAX: study_pb2.METRIC_STRATEGY_MAX,
    MetricStrategy.LATEST: study_pb2.METRIC_STRATEGY_LATEST,
}
_STRATEGIES_BACK = _invert(_STRATEGIES)
_STUDY_STATES = {
    StudyState.ACTIVE: study_pb2.STUDY_STATE_ACTIVE,
    StudyState.COMPLETED: study_pb2.STUDY_STATE_COMPLETED,
    StudyState.FAILED: study_pb2.STUDY_STATE_FAILED,
}
_STUDY_STATES_BACK = _invert(_STUDY_STATES)
_TRIAL_STATES = {
    TrialState.REQUESTED: trial_pb2.TRIAL_STATE_REQUESTED,
    TrialState.ACTIVE: trial_pb2.TRIAL_STATE_ACTIVE,
    TrialState.STOPPING: trial_pb2.TRIAL_STATE_STOPPING,
    TrialState.SUCCEEDED: trial_pb2.TRIAL_STATE_SUCCEEDED,
    TrialState.FAILED: trial_pb2.TRIAL_STATE_FAILED,
    TrialState.INFEASIBLE: trial_pb2.TRIAL_STATE_INFEASIBLE,
    TrialState.EARLY_STOPPED: trial_pb2.TRIAL_STATE_EARLY_STOPPED,
}
_TRIAL_STATES_BACK = _invert(_TRIAL_STATES)


# --- enums -------------------------------------------------------------------------------


def study_state_to_proto(state: StudyState) -> study_pb2.StudyState.ValueType:
    """The proto value of a study state."""
    return _STUDY_STATES[state]


def study_state_from_proto(value: int, field: str = "state") -> StudyState:
    """The study state of a proto value; unspecified or unknown values are refused."""
    return _lookup(_STUDY_STATES_BACK, value, field, "study state")


def trial_state_to_proto(state: TrialState) -> trial_pb2.TrialState.ValueType:
    """The proto value of a trial state."""
    return _TRIAL_STATES[state]


def trial_state_from_proto(value: int, field: str = "state") -> TrialState:
    """The trial state of a proto value; unspecified or unknown values are refused."""
    return _lookup(_TRIAL_STATES_BACK, value, field, "trial state")


def trial_states_from_proto(values: Iterable[int], field: str = "states") -> list[TrialState]:
    """The trial states of proto values, in order."""
    return [trial_state_from_proto(v, f"{field}[{i}]") for i, v in enumerate(values)]


def trial_counts_to_proto(
    counts: Mapping[TrialState, int],
) -> list[service_pb2.TrialStateCount]:
    """The protos of per-state trial counts, in the order of ``counts``."""
    return [
        service_pb2.TrialStateCount(state=trial_state_to_proto(state), count=count)
        for state, count in counts.items()
    ]


def trial_counts_from_proto(
    messages: Iterable[service_pb2.TrialStateCount], field: str = "counts"
) -> dict[TrialState, int]:
    """Per-state trial counts: every trial state a key, in enum order, 0 where none is sent."""
    counts = dict.fromkeys(TrialState, 0)
    for i, message in enumerate(messages):
        counts[trial_state_from_proto(message.state, f"{field}[{i}].state")] += message.count
    return counts


# --- search space --------------------------------------------------------------------------


def _parameter_to_proto(parameter: Parameter) -> study_pb2.Parameter:
    message = study_pb2.Parameter(name=parameter.name)
    if isinstance(parameter, DoubleParameter):
        message.double_parameter.low = parameter.low
        message.double_parameter.high = parameter.high
        message.double_parameter.scale = _SCALES[parameter.scale]
        if parameter.step is not None:
            message.double_parameter.step = parameter.step
    elif isinstance(parameter, IntParameter):
        message.int_parameter.low = parameter.low
        message.int_parameter.high = parameter.high
        message.int_parameter.scale = _SCALES[parameter.scale]
        message.int_parameter.step = parameter.step
    elif isinstance(parameter, DiscreteParameter):
        message.discrete_parameter.values.extend(parameter.values)
    else:
        message.categorical_parameter.choices.extend(parameter.choices)
    return message


def _parameter_from_proto(message: study_pb2.Parameter, field: str) -> Parameter:
    kind = message.WhichOneof("kind")
    with at_field(field, nest=False):
        if kind == "double_parameter":
            double = message.double_parameter
            return DoubleParameter(
                name=message.name,
                low=double.low,
                high=double.high,
                scale=_lookup(_SCALES_BACK, double.scale, "scale", "scale"),
                step=double.step if double.HasField("step") else None,
            )
        if kind == "int_parameter":
            integer = message.int_parameter
            return IntParameter(
                name=message.name,
                low=integer.low,
                high=integer.high,
                scale=_lookup(_SCALES_BACK, integer.scale, "scale", "scale"),
                step=integer.step if integer.HasField("step") else 1,
            )
        if kind == "discrete_parameter":
            return DiscreteParameter(
                name=message.name, values=tuple(message.discrete_parameter.values)
            )
        if kind == "categorical_parameter":
            return CategoricalParameter(
                name=message.name, choices=tuple(message.categorical_parameter.choices)
            )
    raise InvalidArgumentError(
        f"parameter {message.name!r} has no kind (double, int, discrete or categorical)",
        field=field,
    )


def _space_to_proto(space: SearchSpace) -> study_pb2.SearchSpace:
    return study_pb2.SearchSpace(parameters=[_parameter_to_proto(p) for p in space])


def _space_from_proto(message: study_pb2.SearchSpace, field: str) -> SearchSpace:
    parameters = tuple(
        _parameter_from_proto(p, f"{field}.parameters[{i}]")
        for i, p in enumerate(message.parameters)
    )
    with at_field(field, nest=False):
        return SearchSpace(parameters)


# --- objective, algorithm, config, study ---------------------------------------------------


def _objective_to_proto(objective: Objective) -> study_pb2.Objective:
    message = study_pb2.Objective(
        metric_name=objective.metric_name,
        direction=_DIRECTIONS[objective.direction],
        additional_metric_names=list(objective.additional_metric_names),
    )
    if objective.goal is not None:
        message.goal = objective.goal
    for name, strategy in objective.metric_strategies.items():
        message.metric_strategies[name] = _STRATEGIES[strategy]
    return message


def _objective_from_proto(message: study_pb2.Objective, field: str) -> Objective:
    strategies = {
        name: _lookup(_STRATEGIES_BACK, value, f"{field}.metric_strategies.{name}", "strategy")
        for name, value in message.metric_strategies.items()
        if value != study_pb2.METRIC_STRATEGY_UNSPECIFIED
    }
    direction = _lookup(_DIRECTIONS_BACK, message.direction, f"{field}.direction", "direction")
    with at_field(field):
        return Objective(
            metric_name=message.metric_name,
            direction=direction,
            goal=message.goal if message.HasField("goal") else None,
            additional_metric_names=tuple(message.additional_metric_names),
            metric_strategies=strategies,
        )


def config_to_proto(config: StudyConfig) -> study_pb2.StudyConfig:
    """The proto of a study config."""
    message = study_pb2.StudyConfig(
        space=_space_to_proto(config.space),
        objective=_objective_to_proto(config.objective),
        algorithm=study_pb2.Algorithm(
            name=config.algorithm.name, settings=dict(config.algorithm.settings)
        ),
    )
    if config.seed is not None:
        message.seed = config.seed
    if config.early_stopping is not None:
        message.early_stopping.name = config.early_stopping.name
        message.early_stopping.settings.update(config.early_stopping.settings)
    return message


def config_from_proto(message: study_pb2.StudyConfig, field: str = "config") -> StudyConfig:
    """The study config of a proto.

    Raises:
        InvalidArgumentError: The space, objective or algorithm is missing or invalid.
    """
    if not message.HasField("space"):
        raise InvalidArgumentError("a study needs a search space", field=f"{field}.space")
    if not message.HasField("objective"):
        raise InvalidArgumentError("a study needs an objective", field=f"{field}.objective")
    space = _space_from_proto(message.space, f"{field}.space")
    objective = _objective_from_proto(message.objective, f"{field}.objective")
    algorithm = AlgorithmSpec()
    if message.HasField("algorithm"):
        with at_field(f"{field}.algorithm"):
            algorithm = AlgorithmSpec(
                name=message.algorithm.name, settings=dict(message.algorithm.settings)
            )
    early_stopping = None
    if message.HasField("early_stopping"):
        with at_field(f"{field}.early_stopping"):
            early_stopping = AlgorithmSpec(
                name=message.early_stopping.name, settings=dict(message.early_stopping.settings)
            )
    return StudyConfig(
        space=space,
        objective=objective,
        algorithm=algorithm,
        seed=message.seed if message.HasField("seed") else None,
        early_stopping=early_stopping,
    )


def study_to_proto(study: StudyInfo) -> study_pb2.Study:
    """The proto of a study."""
    return study_pb2.Study(
        name=study.name,
        config=config_to_proto(study.config),
        state=study_state_to_proto(study.state),
        reason=study.reason,
        created_at=study.created_at,
    )


def study_from_proto(message: study_pb2.Study) -> StudyInfo:
    """The study of a proto."""
    return StudyInfo(
        name=message.name,
        config=config_from_proto(message.config),
        state=study_state_from_proto(message.state),
        reason=message.reason,
        created_at=message.created_at,
    )


# --- trials --------------------------------------------------------------------------------


def _value_to_proto(name: str, value: ParameterValue) -> trial_pb2.ParameterValue:
    if isinstance(value, str):
        return trial_pb2.ParameterValue(name=name, string_value=value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return trial_pb2.ParameterValue(name=name, int_value=int(value))
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return trial_pb2.ParameterValue(name=name, double_value=float(value))
    raise InvalidArgumentError(
        f"a parameter value must be a number or a string, got {value!r}", field=name
    )


def parameters_to_proto(
    parameters: Mapping[str, ParameterValue],
) -> list[trial_pb2.ParameterValue]:
    """The protos of a parameter assignment, in its order.

    Raises:
        InvalidArgumentError: A value is neither a number nor a string.
    """
    return [_value_to_proto(name, value) for name, value in parameters.items()]


def parameters_from_proto(
    messages: Iterable[trial_pb2.ParameterValue], field: str = "parameters"
) -> dict[str, ParameterValue]:
    """The parameter assignment of protos, in their order.

    Raises:
        InvalidArgumentError: A name is empty or repeated, or a value is unset.
    """
    parameters: dict[str, ParameterValue] = {}
    for i, message in enumerate(messages):
        kind = message.WhichOneof("value")
        if not message.name:
            raise InvalidArgumentError("a parameter value needs a name", field=f"{field}[{i}]")
        if message.name in parameters:
            raise InvalidArgumentError(
                f"parameter {message.name!r} is given twice", field=f"{field}[{i}]"
            )
        if kind == "double_value":
            parameters[message.name] = message.double_value
        elif kind == "int_value":
            parameters[message.name] = message.int_value
        elif kind == "string_value":
            parameters[message.name] = message.string_value
        else:
            raise InvalidArgumentError(
                f"parameter {message.name!r} has no value", field=f"{field}[{i}]"
            )
    return parameters


def measurement_to_proto(measurement: Measurement) -> trial_pb2.Measurement:
    """The proto of a measurement; NaN and infinities pass unchanged."""
    return trial_pb2.Measurement(
        step=measurement.step,
        time=measurement.time,
        metrics=dict(measurement.metrics),
        report_id=measurement.report_id,
    )


def measurement_from_proto(message: trial_pb2.Measurement, field: str = "") -> Measurement:
    """The measurement of a proto.

    Raises:
        InvalidArgumentError: The step is negative or a metric name is empty.
    """
    with at_field(field) if field else contextlib.nullcontext():
        return Measurement(
            metrics=dict(message.metrics),
            step=message.step,
            time=message.time,
            report_id=message.report_id,
        )


def diagnostics_to_proto(diagnostics: CollectorDiagnostics) -> trial_pb2.CollectorDiagnostics:
    """The proto of a collector's diagnostics."""
    return trial_pb2.CollectorDiagnostics(
        n_unparseable=diagnostics.n_unparseable,
        unparseable_examples=[
            trial_pb2.UnparseableLine(source=e.source, line=e.line)
            for e in diagnostics.unparseable_examples
        ],
        n_dropped=diagnostics.n_dropped,
    )


def diagnostics_from_proto(
    message: trial_pb2.CollectorDiagnostics, field: str = ""
) -> CollectorDiagnostics:
    """The collector diagnostics of a proto.

    Raises:
        InvalidArgumentError: A count is negative.
    """
    with at_field(field) if field else contextlib.nullcontext():
        return CollectorDiagnostics(
            n_unparseable=message.n_unparseable,
            unparseable_examples=tuple(
                UnparseableLine(source=e.source, line=e.line) for e in message.unparseable_examples
            ),
            n_dropped=message.n_dropped,
        )


def trial_to_proto(trial: Trial) -> trial_pb2.Trial:
    """The proto of a trial."""
    message = trial_pb2.Trial(
        id=trial.id,
        study_name=trial.study_name,
        number=trial.number,
        parameters=parameters_to_proto(trial.parameters),
        state=trial_state_to_proto(trial.state),
        client_id=trial.client_id,
        measurements=[measurement_to_proto(m) for m in trial.measurements],
        reason=trial.reason,
        created_at=trial.created_at,
    )
    if not trial.diagnostics.is_empty:
        message.diagnostics.CopyFrom(diagnostics_to_proto(trial.diagnostics))
    if trial.final_measurement is not None:
        message.final_measurement.CopyFrom(measurement_to_proto(trial.final_measurement))
    if trial.completed_at is not None:
        message.completed_at = trial.completed_at
    return message


def trial_from_proto(message: trial_pb2.Trial) -> Trial:
    """The trial of a proto."""
    return Trial(
        id=message.id,
        study_name=message.study_name,
        number=message.number,
        parameters=parameters_from_proto(message.parameters),
        state=trial_state_from_proto(message.state),
        client_id=message.client_id,
        measurements=tuple(measurement_from_proto(m) for m in message.measurements),
        final_measurement=(
            measurement_from_proto(message.final_measurement)
            if message.HasField("final_measurement")
            else None
        ),
        reason=message.reason,
        created_at=message.created_at,
        completed_at=message.completed_at if message.HasField("completed_at") else None,
        diagnostics=diagnostics_from_proto(message.diagnostics),
    )


def stop_decision_to_proto(decision: StopDecision) -> trial_pb2.StopDecision:
    """The proto of a stop decision."""
    return trial_pb2.StopDecision(should_stop=decision.should_stop, reason=decision.reason)


def stop_decision_from_proto(message: trial_pb2.StopDecision) -> StopDecision:
    """The stop decision of a proto."""
    return StopDecision(should_stop=message.should_stop, reason=message.reason)


def trials_to_proto(trials: Iterable[Trial]) -> list[trial_pb2.Trial]:
    """The protos of trials, in order."""
    return [trial_to_proto(t) for t in trials]
