"""Many threads and several processes suggesting at once: no trial is handed out twice.

One server on one SQLite file, called by threads sharing a client and by spawned processes
each with its own client; and service replicas (one ServiceCore per process) sharing the
file, whose suggestions only the store's database lock serialises.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tuner.client import Client
from tuner.config import StudyConfig
from tuner.service import ServiceCore
from tuner.space import CategoricalParameter, IntParameter, SearchSpace
from tuner.trial import TrialState

N_THREADS = 8
N_PROCESSES = 3
N_CALLS = 5
COUNT = 2

_Handed = list[tuple[int, tuple[tuple[str, Any], ...]]]


def _suggest(suggest: Callable[[], Any], n_calls: int) -> tuple[_Handed, int]:
    handed: _Handed = []
    exhausted = 0
    for _ in range(n_calls):
        suggestions = suggest()
        exhausted += suggestions.is_exhausted
        handed.extend((t.id, tuple(sorted(t.parameters.items()))) for t in suggestions.trials)
    return handed, exhausted


def _client_process(endpoint: str, study: str, start: Any, results: Any) -> None:
    """In a spawned process: suggest through its own client."""
    with Client(endpoint, timeout=60.0) as client:
        client.get_study(study)  # connected before the start
        start.wait(60)
        results.put(_suggest(lambda: client.suggest_trials(study, COUNT), N_CALLS))


def _replica_process(store_url: str, study: str, start: Any, results: Any) -> None:
    """In a spawned process: suggest through its own ServiceCore (a service replica)."""
    from tuner.store import open_store

    store = open_store(store_url)
    try:
        core = ServiceCore(store)
        core.get_study(study)
        start.wait(60)
        results.put(_suggest(lambda: core.suggest_trials(study, COUNT), N_CALLS))
    finally:
        store.close()


def _run_all(
    target: Callable[..., None], target_arg: str, suggest: Callable[[], Any], study: str
) -> tuple[_Handed, int]:
    """Start the processes and the threads together; gather what each was handed."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(N_PROCESSES + 1)  # the processes are ready, then all go
    results = context.Queue()
    processes = [
        context.Process(target=target, args=(target_arg, study, start, results))
        for _ in range(N_PROCESSES)
    ]
    for process in processes:
        process.start()
    gathered: list[tuple[_Handed, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(N_THREADS + 1)

    def thread_main() -> None:
        barrier.wait()
        result = _suggest(suggest, N_CALLS)
        with lock:
            gathered.append(result)

    threads = [threading.Thread(target=thread_main) for _ in range(N_THREADS)]
    for thread in threads:
        thread.start()
    start.wait(60)
    barrier.wait()
    for thread in threads:
        thread.join(timeout=90)
    gathered.extend(results.get(timeout=90) for _ in processes)
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    assert len(gathered) == N_THREADS + N_PROCESSES
    handed = [item for items, _ in gathered for item in items]
    return handed, sum(exhausted for _, exhausted in gathered)


def _assert_handed_once(handed: _Handed, expected: int) -> None:
    ids = [trial_id for trial_id, _ in handed]
    parameters = [values for _, values in handed]
    assert len(ids) == expected
    assert len(set(ids)) == expected, "a trial was handed out twice"
    assert len(set(parameters)) == expected, "two active trials have the same parameters"


DEMAND = (N_THREADS + N_PROCESSES) * N_CALLS * COUNT


@pytest.mark.slow
def test_server_hands_out_each_trial_once(
    client: Client, endpoint: str, core: ServiceCore, grid_config: StudyConfig
) -> None:
    big = dataclasses.replace(
        grid_config,
        space=SearchSpace(
            (
                IntParameter(name="n", low=0, high=59),
                CategoricalParameter(name="kind", choices=("a", "b", "c")),
            )
        ),
    )
    assert DEMAND < 180
    client.create_study("big", big)
    handed, exhausted = _run_all(
        _client_process, endpoint, lambda: client.suggest_trials("big", COUNT), "big"
    )
    _assert_handed_once(handed, DEMAND)
    assert exhausted == 0
    stored = core.list_trials("big")
    assert len(stored) == DEMAND
    assert {t.state for t in stored} == {TrialState.ACTIVE}


@pytest.mark.slow
def test_server_exhausts_a_small_grid_exactly_once(
    client: Client, endpoint: str, core: ServiceCore, grid_config: StudyConfig
) -> None:
    client.create_study("small", grid_config)
    assert DEMAND > 30
    handed, exhausted = _run_all(
        _client_process, endpoint, lambda: client.suggest_trials("small", COUNT), "small"
    )
    _assert_handed_once(handed, 30)
    assert exhausted > 0
    assert len(core.list_trials("small")) == 30


@pytest.mark.slow
def test_replicas_on_one_database_hand_out_each_trial_once(
    sqlite_url: str, core: ServiceCore, grid_config: StudyConfig
) -> None:
    core.create_study("small", grid_config)
    handed, exhausted = _run_all(
        _replica_process, sqlite_url, lambda: core.suggest_trials("small", COUNT), "small"
    )
    _assert_handed_once(handed, 30)
    assert exhausted > 0
    assert len(core.list_trials("small")) == 30
