"""Quick comparison of tuner's ``tpe`` with Optuna's ``TPESampler``: regret and latency.

Regret: mean log10 regret (best ``f - f_opt`` after ``20 * d`` evaluations, floored at
1e-8) on BBOB functions, instance 1, over seeds, for tuner's ``tpe`` and
``multivariate-tpe`` and Optuna's TPE (its default, multivariate since Optuna 5, and
``multivariate=False``), with random search as the floor.

Latency: seconds per trial (suggest + complete) at n = 100, 500 and 1000 trials, the median
of the 20 round trips before each n, on a 5-d sphere:

- ``designer``: tuner's ``tpe`` designer in-process (``update`` + ``suggest``);
- ``core``: ``ServiceCore`` over a SQLite file, no gRPC (the in-process backend);
- ``service``: the real service: ``ServiceCore`` over a SQLite file, ``create_server`` on
  loopback and ``tuner.client.Client`` (``suggest_trials`` + ``complete_trial``);
- ``optuna``: Optuna's ``TPESampler`` ``ask`` + ``tell`` on its in-memory storage.

Run: ``OPENBLAS_NUM_THREADS=1 python -m bench.tpe_quick`` (``--no-regret``/``--no-latency``).
Needs ``optuna`` and ``coco-experiment``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from bench._box import (
    BOUND,
    Ask,
    Tell,
    box_config,
    designer_ask_tell,
    log_regret,
    problems,
)
from tuner.trial import Measurement


def optuna_tpe(d: int, seed: int, multivariate: bool | None = None) -> tuple[Ask, Tell]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=multivariate)
    study = optuna.create_study(sampler=sampler)
    distributions = {
        f"x{i}": optuna.distributions.FloatDistribution(-BOUND, BOUND) for i in range(d)
    }
    pending: list[Any] = []

    def ask() -> np.ndarray:
        trial = study.ask(distributions)
        pending.append(trial)
        return np.array([trial.params[f"x{i}"] for i in range(d)], dtype=float)

    def tell(x: np.ndarray, y: float) -> None:
        study.tell(pending.pop(0), y)

    return ask, tell


OPTIMIZERS: dict[str, Callable[[int, int], tuple[Ask, Tell]]] = {
    "tpe": lambda d, seed: designer_ask_tell(d, seed, "tpe"),
    "mv-tpe": lambda d, seed: designer_ask_tell(d, seed, "multivariate-tpe"),
    "optuna": optuna_tpe,
    "optuna-uv": lambda d, seed: optuna_tpe(d, seed, multivariate=False),
    "random": lambda d, seed: designer_ask_tell(d, seed, "random"),
}


def sphere(x: np.ndarray) -> float:
    return float(np.sum((x - 1.0) ** 2))


def times_in_process(ask: Ask, tell: Tell, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        x = ask()
        tell(x, sphere(x))
        times.append(time.perf_counter() - start)
    return times


@contextmanager
def service(d: int, seed: int, *, remote: bool) -> Iterator[tuple[Ask, Tell]]:
    """The service over a SQLite file, through gRPC (``remote``) or its core directly."""
    from tuner.client import Client
    from tuner.service import ServiceCore, create_server
    from tuner.store import open_store

    with tempfile.TemporaryDirectory() as directory:
        core = ServiceCore(open_store(f"sqlite:///{directory}/bench.db"))
        server = client = None
        backend: Any = core
        if remote:
            server, port = create_server(core)
            server.start()
            client = backend = Client(f"127.0.0.1:{port}")
        backend.create_study("bench", box_config(d, seed, "tpe"))
        ids: list[int] = []

        def ask() -> np.ndarray:
            [trial] = backend.suggest_trials("bench", 1).trials
            ids.append(trial.id)
            return np.array([trial.parameters[f"x{i}"] for i in range(d)], dtype=float)

        def tell(x: np.ndarray, y: float) -> None:
            backend.complete_trial(ids.pop(0), Measurement(metrics={"f": y}))

        try:
            yield ask, tell
        finally:
            if client is not None:
                client.close()
            if server is not None:
                server.stop(None)
            core.close()


def latency_table(d: int, checkpoints: tuple[int, ...], modes: list[str]) -> None:
    print(f"\nseconds per trial (suggest + complete), median of the 20 before n; d={d}")
    last = max(checkpoints)
    columns: dict[str, list[float]] = {}
    for mode in modes:
        if mode in ("service", "core"):
            with service(d, 0, remote=mode == "service") as (ask, tell):
                times = times_in_process(ask, tell, last)
        elif mode == "designer":
            times = times_in_process(*designer_ask_tell(d, 0, "tpe"), last)
        else:
            times = times_in_process(*optuna_tpe(d, 0), last)
        columns[mode] = [statistics.median(times[n - 20 : n]) for n in checkpoints]
    print(f"{'n':>5} " + " ".join(f"{mode:>9}" for mode in modes) + "  service/optuna")
    for i, n in enumerate(checkpoints):
        cells = " ".join(f"{columns[mode][i]:9.4f}" for mode in modes)
        ratio = ""
        if "service" in columns and "optuna" in columns:
            ratio = f"  {columns['service'][i] / columns['optuna'][i]:6.2f}"
        print(f"{n:>5} {cells}{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 5])
    parser.add_argument("--functions", type=int, nargs="+", default=[1, 8, 21])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--optimizers", nargs="+", default=list(OPTIMIZERS))
    parser.add_argument("--latency-dim", type=int, default=5)
    parser.add_argument(
        "--latency-modes", nargs="+", default=["designer", "core", "service", "optuna"]
    )
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--no-regret", action="store_true")
    parser.add_argument("--no-latency", action="store_true")
    args = parser.parse_args()

    if not args.no_regret:
        print(f"mean log10 regret, budget 20*d, BBOB f{args.functions} instance 1, ", end="")
        print(f"{args.seeds} seeds (lower is better)")
        print(f"{'d':>3} " + " ".join(f"{name:>9}" for name in args.optimizers))
        for d in args.dims:
            per_function: dict[str, list[float]] = {}
            cells = []
            for name in args.optimizers:
                regrets = []
                for problem, f_opt in problems([d], args.functions):
                    values = [
                        log_regret(OPTIMIZERS[name], problem, f_opt, s) for s in range(args.seeds)
                    ]
                    per_function.setdefault(name, []).append(statistics.mean(values))
                    regrets.extend(values)
                cells.append(f"{statistics.mean(regrets):9.3f}")
            print(f"{d:>3} " + " ".join(cells))
            for name, values in per_function.items():
                print(f"    {name:>9} per function: " + " ".join(f"{v:6.2f}" for v in values))

    if not args.no_latency:
        latency_table(args.latency_dim, tuple(args.checkpoints), args.latency_modes)


if __name__ == "__main__":
    main()
