"""Quick comparison of ``bayesianoptimization`` with scikit-optimize's and Optuna's GPs on BBOB.

Prints, per dimension and optimiser, the mean log10 regret (best ``f - f_opt`` after a budget
of ``20 * d`` evaluations, floored at 1e-8) over BBOB functions and seeds, and the median
time per suggestion after 20, 50 and 100 observed trials. Needs the benchmark extras:
``coco-experiment``, ``scikit-optimize``, ``optuna`` and ``torch`` (for Optuna's GPSampler).

Run: ``OPENBLAS_NUM_THREADS=1 python -m bench.gp_quick --dims 2 5 --functions 1 2 8 15 21``
(one BLAS thread for every optimiser: the matrices are small and threads only contend).
The peers are deterministic for a seed, so ``--cache FILE`` keeps their regrets (JSON) and
later runs read them instead of rerunning the peers; ``tuner`` is always rerun.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench._box import Ask, Tell, designer_ask_tell, log_regret, problems


def skopt_gp(d: int, seed: int) -> tuple[Ask, Tell]:
    import skopt

    optimizer = skopt.Optimizer(
        [(-5.0, 5.0)] * d, base_estimator="GP", n_initial_points=10, random_state=seed
    )
    return (
        lambda: np.array(optimizer.ask(), dtype=float),
        lambda x, y: optimizer.tell(list(map(float, x)), y),
    )


def optuna_gp(d: int, seed: int) -> tuple[Ask, Tell]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=seed))
    distributions = {f"x{i}": optuna.distributions.FloatDistribution(-5.0, 5.0) for i in range(d)}
    trials: list[Any] = []

    def ask() -> np.ndarray:
        trial = study.ask(distributions)
        trials.append(trial)
        return np.array([trial.params[f"x{i}"] for i in range(d)], dtype=float)

    def tell(x: np.ndarray, y: float) -> None:
        study.tell(trials.pop(), y)

    return ask, tell


OPTIMIZERS: dict[str, Callable[[int, int], tuple[Ask, Tell]]] = {
    "tuner": lambda d, seed: designer_ask_tell(d, seed, "bayesianoptimization"),
    "random": lambda d, seed: designer_ask_tell(d, seed, "random"),
    "skopt": skopt_gp,
    "optuna": optuna_gp,
}


def suggestion_time(name: str, d: int, n: int, seed: int) -> float:
    """Median seconds of three ask-and-tell rounds after ``n`` random observations of a sphere.

    Ask and tell together: scikit-optimize fits its model and picks the next point in tell.
    """
    ask, tell = OPTIMIZERS[name](d, seed)
    rng = np.random.default_rng(seed)
    for _ in range(n):
        ask()  # optimisers that pair ask with tell need the ask
        x = rng.uniform(-5.0, 5.0, d)
        tell(x, float(np.sum((x - 1.0) ** 2)))
    times = []
    for _ in range(3):
        start = time.perf_counter()
        x = ask()
        tell(x, float(np.sum((x - 1.0) ** 2)))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class _Cache:
    """Regrets of the peers by (optimizer, function, dimension, seed), kept in a JSON file."""

    def __init__(self, path: str | None) -> None:
        self._path = path
        self._values: dict[str, float] = {}
        if path is not None and os.path.exists(path):
            with open(path) as file:
                self._values = json.load(file)

    def regret(self, name: str, problem: Any, f_opt: float, seed: int) -> float:
        if self._path is None or name == "tuner":
            return log_regret(OPTIMIZERS[name], problem, f_opt, seed)
        key = f"{name}/{problem.id_function}/{problem.dimension}/{seed}"
        if key not in self._values:
            self._values[key] = log_regret(OPTIMIZERS[name], problem, f_opt, seed)
            with open(self._path, "w") as file:
                json.dump(self._values, file, indent=0, sort_keys=True)
        return self._values[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 5])
    parser.add_argument("--functions", type=int, nargs="+", default=[1, 2, 8, 10, 15, 21])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--optimizers", nargs="+", default=list(OPTIMIZERS))
    parser.add_argument("--timing-dim", type=int, default=5)
    parser.add_argument("--timing-n", type=int, nargs="+", default=[20, 50, 100])
    parser.add_argument("--no-regret", action="store_true")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--cache", help="JSON file of the peers' regrets, read and extended")
    args = parser.parse_args()
    cache = _Cache(args.cache)

    if not args.no_regret:
        print(f"mean log10 regret, budget 20*d, BBOB f{args.functions} instance 1, ", end="")
        print(f"{args.seeds} seeds (lower is better)")
        print(f"{'d':>3} " + " ".join(f"{name:>8}" for name in args.optimizers))
        for d in args.dims:
            cells = []
            per_function: dict[str, list[float]] = {}
            for name in args.optimizers:
                regrets = []
                for problem, f_opt in problems([d], args.functions):
                    values = [cache.regret(name, problem, f_opt, s) for s in range(args.seeds)]
                    per_function.setdefault(name, []).append(statistics.mean(values))
                    regrets.extend(values)
                cells.append(f"{statistics.mean(regrets):8.3f}")
            print(f"{d:>3} " + " ".join(cells))
            for name, values in per_function.items():
                print(f"      {name:>8} per function: " + " ".join(f"{v:6.2f}" for v in values))

    if not args.no_timing:
        print(f"\nmedian seconds per suggestion, d={args.timing_dim}")
        print(f"{'n':>4} " + " ".join(f"{name:>8}" for name in args.optimizers))
        for n in args.timing_n:
            cells = [
                f"{suggestion_time(name, args.timing_dim, n, 0):8.3f}" for name in args.optimizers
            ]
            print(f"{n:>4} " + " ".join(cells))


if __name__ == "__main__":
    main()
