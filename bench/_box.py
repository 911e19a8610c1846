"""What the single-designer quick scripts share: our designers in-process on BBOB's box.

``bench.gp_quick`` and ``bench.tpe_quick`` compare one designer with its peers through
plain ask/tell callables on ``[-5, 5]^d``, without the service; this is their common part.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from bench._problems import bbob_problem
from tuner.algorithms import make_designer
from tuner.config import AlgorithmSpec, Objective, StudyConfig
from tuner.space import DoubleParameter, SearchSpace
from tuner.trial import Measurement, Trial, TrialState

Ask = Callable[[], np.ndarray]
Tell = Callable[[np.ndarray, float], None]
AskTell = Callable[[int, int], tuple[Ask, Tell]]
"""Builds an optimizer's ask and tell for a dimension and a seed."""

BOUND = 5.0
"""BBOB's search box is ``[-BOUND, BOUND]`` in every dimension."""


def box_config(d: int, seed: int, algorithm: str) -> StudyConfig:
    """A study of ``d`` doubles on the BBOB box, minimising ``f``."""
    space = SearchSpace(
        tuple(DoubleParameter(name=f"x{i}", low=-BOUND, high=BOUND) for i in range(d))
    )
    return StudyConfig(
        space=space,
        objective=Objective(metric_name="f"),
        algorithm=AlgorithmSpec(name=algorithm),
        seed=seed,
    )


def designer_ask_tell(d: int, seed: int, algorithm: str) -> tuple[Ask, Tell]:
    """One of our designers in-process, fed each told point as a succeeded trial."""
    designer = make_designer(box_config(d, seed, algorithm))
    count = [0]

    def ask() -> np.ndarray:
        [point] = designer.suggest(1)
        return np.array([point[f"x{i}"] for i in range(d)], dtype=float)

    def tell(x: np.ndarray, y: float) -> None:
        n = count[0]
        count[0] += 1
        trial = Trial(
            id=n,
            study_name="bench",
            number=n,
            parameters={f"x{i}": float(v) for i, v in enumerate(x)},
            state=TrialState.SUCCEEDED,
            final_measurement=Measurement(metrics={"f": y}),
        )
        designer.update([trial], [])

    return ask, tell


def problems(dims: list[int], functions: list[int]) -> list[tuple[Any, float]]:
    """BBOB problems (instance 1) with their optimal values."""
    return [bbob_problem(function, d) for d in dims for function in functions]


def log_regret(make: AskTell, problem: Any, f_opt: float, seed: int) -> float:
    """log10 of the best regret after 20·d ask/tell rounds (floored at 1e-8)."""
    ask, tell = make(problem.dimension, seed)
    best = math.inf
    for _ in range(20 * problem.dimension):
        x = ask()
        y = float(problem(x))
        best = min(best, y)
        tell(x, y)
    return math.log10(max(best - f_opt, 1e-8))
