"""The store contract (``tuner.store.Store``), checked on every backend.

Every test runs on SQLite, PostgreSQL and MariaDB through the ``store`` / ``store_url``
fixtures of ``tests/conftest.py``.
"""

from __future__ import annotations

import collections
import logging
import math
import multiprocessing
import queue
import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tuner.config import (
    AlgorithmSpec,
    Direction,
    MetricStrategy,
    Objective,
    StudyConfig,
    StudyState,
)
from tuner.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from tuner.space import (
    CategoricalParameter,
    DiscreteParameter,
    DoubleParameter,
    IntParameter,
    ParameterValue,
    Scale,
    SearchSpace,
)
from tuner.store import Store, SuggestionContext, open_store
from tuner.trial import CollectorDiagnostics, Measurement, Trial, TrialState, UnparseableLine

RUNNING = frozenset({TrialState.ACTIVE, TrialState.STOPPING})
ODD_FLOATS = (
    math.nan,
    math.inf,
    -math.inf,
    -0.0,
    0.0,
    5e-324,
    -2.2250738585072014e-308,
    1.7976931348623157e308,
    0.1,
    1 / 3,
    -123456.789e-7,
)


def int_config(direction: Direction = Direction.MINIMIZE) -> StudyConfig:
    return StudyConfig(
        space=SearchSpace((IntParameter(name="x", low=0, high=1_000_000),)),
        objective=Objective(metric_name="loss", direction=direction),
    )


def full_config() -> StudyConfig:
    return StudyConfig(
        space=SearchSpace(
            (
                DoubleParameter(name="lr", low=1e-5, high=0.1, scale=Scale.LOG),
                DoubleParameter(name="momentum", low=0.0, high=0.99, step=0.01),
                DoubleParameter(name="bounds_as_ints", low=0, high=1),
                IntParameter(name="layers", low=1, high=64, scale=Scale.LOG),
                IntParameter(name="units", low=16, high=512, step=16),
                DiscreteParameter(name="batch", values=(128, 32.0, 64)),
                CategoricalParameter(name="optimizer", choices=("adam", "sgd", "ünïcode ✓")),
            )
        ),
        objective=Objective(
            metric_name="accuracy",
            direction=Direction.MAXIMIZE,
            goal=0.995,
            additional_metric_names=("loss", "latency"),
            metric_strategies={"loss": MetricStrategy.MIN},
        ),
        algorithm=AlgorithmSpec(name="tpe", settings={"n_startup_trials": "10", "gamma": "0.25"}),
        seed=2**40 + 7,
    )


def counting_generator(context: SuggestionContext, count: int) -> list[dict[str, ParameterValue]]:
    """A point derived from what the context shows: unique only if suggestions serialise."""
    seen = len(context.active_trials()) + len(context.finished_trials())
    return [{"x": seen + i} for i in range(count)]


class RecordingGenerator:
    """Counts its calls and hands out x = 1000, 1001, ..."""

    def __init__(self) -> None:
        self.counts: list[int] = []
        self.next_x = 1000

    def __call__(self, context: SuggestionContext, count: int) -> list[dict[str, ParameterValue]]:
        self.counts.append(count)
        points: list[dict[str, ParameterValue]] = []
        for _ in range(count):
            points.append({"x": self.next_x})
            self.next_x += 1
        return points


def never_called(context: SuggestionContext, count: int) -> list[dict[str, ParameterValue]]:
    raise AssertionError("the generator must not be called")


def complete(store: Store, trial: Trial, value: float, metric: str = "loss") -> Trial:
    return store.update_trial(
        trial.id,
        TrialState.SUCCEEDED,
        allowed_from=RUNNING,
        final_measurement=Measurement(metrics={metric: value}, step=9),
        objective_value=value,
    )


def bits(value: float) -> bytes:
    return struct.pack("<d", value)


def same_float(a: float, b: float) -> bool:
    """Equal bit for bit, except that any NaN equals any NaN."""
    return (math.isnan(a) and math.isnan(b)) or bits(a) == bits(b)


def suggest_in_process(
    url: str,
    study: str,
    rounds: int,
    barrier: threading.Barrier,
    results: multiprocessing.Queue[list[tuple[int, int, ParameterValue]]],
) -> None:
    """A worker process: its own store on the shared database, suggesting after the barrier."""
    store = open_store(url)
    try:
        barrier.wait()
        got = []
        for _ in range(rounds):
            for trial in store.suggest_trials(study, 1, "", counting_generator):
                got.append((trial.id, trial.number, trial.parameters["x"]))
        results.put(got)
    finally:
        store.close()


def open_and_create_in_process(
    url: str, name: str, barrier: threading.Barrier, results: multiprocessing.Queue[str]
) -> None:
    """A worker process opening a database that may have no schema yet."""
    barrier.wait()
    store = open_store(url)
    try:
        store.create_study(name, int_config())
        results.put(name)
    finally:
        store.close()


def run_processes(target: Callable[..., None], args: Sequence[tuple[Any, ...]]) -> list[Any]:
    """Run one spawned process per args tuple; each gets a shared barrier and result queue."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(args))
    results = context.Queue()
    processes = [context.Process(target=target, args=(*a, barrier, results)) for a in args]
    for process in processes:
        process.start()
    collected: list[Any] = []
    try:
        while len(collected) < len(processes):
            try:
                collected.append(results.get(timeout=1))
            except queue.Empty:
                if all(not p.is_alive() for p in processes) and results.empty():
                    pytest.fail("a worker process died without a result; see its stderr")
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    assert [p.exitcode for p in processes] == [0] * len(processes)
    return collected


class TestStore:
    """One conformance suite; the fixtures run it on every backend."""

    # Studies

    def test_create_study_returns_an_active_study(self, store: Store) -> None:
        info = store.create_study("s", int_config())
        assert info.name == "s"
        assert info.config == int_config()
        assert info.state is StudyState.ACTIVE
        assert info.reason == ""
        assert info.created_at > 0
        assert store.get_study("s") == info

    def test_list_studies_oldest_first(self, store: Store) -> None:
        assert store.list_studies() == []
        for name in ("b", "c", "a"):
            store.create_study(name, int_config())
        assert [s.name for s in store.list_studies()] == ["b", "c", "a"]

    def test_duplicate_name_is_refused_and_changes_nothing(self, store: Store) -> None:
        first = store.create_study("s", int_config())
        with pytest.raises(AlreadyExistsError, match="'s'"):
            store.create_study("s", full_config())
        assert store.list_studies() == [first]

    def test_concurrent_creates_of_one_name_let_exactly_one_win(self, store: Store) -> None:
        barrier = threading.Barrier(4)

        def create() -> str:
            barrier.wait()
            try:
                store.create_study("race", int_config())
            except AlreadyExistsError:
                return "exists"
            return "created"

        with ThreadPoolExecutor(4) as pool:
            outcomes = sorted(pool.map(lambda _: create(), range(4)))
        assert outcomes == ["created", "exists", "exists", "exists"]
        assert [s.name for s in store.list_studies()] == ["race"]

    def test_names_are_compared_exactly(self, store: Store) -> None:
        names = ["Study", "study", "study ", "stüdy", "study✓"]
        for name in names:
            store.create_study(name, int_config())
        assert [s.name for s in store.list_studies()] == names
        for name in names:
            assert store.get_study(name).name == name
        with pytest.raises(NotFoundError):
            store.get_study("STUDY")

    @pytest.mark.parametrize("name", ["", "x" * 256])
    def test_invalid_study_name_is_refused(self, store: Store, name: str) -> None:
        with pytest.raises(InvalidArgumentError):
            store.create_study(name, int_config())
        assert store.list_studies() == []

    def test_longest_study_name_fits(self, store: Store) -> None:
        name = "é" * 255
        store.create_study(name, int_config())
        assert store.get_study(name).name == name

    def test_config_round_trips_exactly(self, store: Store) -> None:
        config = full_config()
        store.create_study("full", config)
        loaded = store.get_study("full").config
        assert loaded == config
        assert loaded.objective.metric_strategies == {
            "accuracy": MetricStrategy.MAX,
            "loss": MetricStrategy.MIN,
            "latency": MetricStrategy.LATEST,
        }
        assert loaded.seed == 2**40 + 7
        bounds = loaded.space["bounds_as_ints"]
        assert isinstance(bounds, DoubleParameter)
        assert type(bounds.low) is int
        assert [p.name for p in loaded.space] == [p.name for p in config.space]

    def test_set_study_state(self, store: Store) -> None:
        store.create_study("s", int_config())
        info = store.set_study_state("s", StudyState.COMPLETED, "goal reached")
        assert (info.state, info.reason) == (StudyState.COMPLETED, "goal reached")
        assert store.get_study("s") == info
        assert store.set_study_state("s", StudyState.ACTIVE).state is StudyState.ACTIVE

    def test_delete_study_removes_its_trials_and_measurements(self, store: Store) -> None:
        store.create_study("gone", int_config())
        store.create_study("kept", int_config())
        old = store.suggest_trials("gone", 2, "", counting_generator)
        store.add_measurements(old[0].id, [Measurement(metrics={"loss": 1.0})])
        complete(store, old[1], 0.5)
        kept = store.suggest_trials("kept", 1, "", counting_generator)
        store.delete_study("gone")
        with pytest.raises(NotFoundError):
            store.get_study("gone")
        for trial in old:
            with pytest.raises(NotFoundError):
                store.get_trial(trial.id)
        assert store.list_trials("kept") == kept
        store.create_study("gone", int_config())
        assert store.list_trials("gone") == []
        (new,) = store.suggest_trials("gone", 1, "", counting_generator)
        assert new.number == 0
        assert new.id > max(t.id for t in old + kept), "trial ids are never reused"

    # Missing objects

    @pytest.mark.parametrize(
        "call",
        [
            lambda s: s.get_study("nope"),
            lambda s: s.delete_study("nope"),
            lambda s: s.set_study_state("nope", StudyState.COMPLETED),
            lambda s: s.suggest_trials("nope", 1, "", never_called),
            lambda s: s.add_trial("nope", {"x": 1}),
            lambda s: s.list_trials("nope"),
            lambda s: s.list_optimal_trials("nope"),
            lambda s: s.count_trials("nope"),
        ],
        ids=["get", "delete", "set_state", "suggest", "add_trial", "list", "optimal", "count"],
    )
    def test_missing_study_raises_not_found_naming_it(
        self, store: Store, call: Callable[[Store], object]
    ) -> None:
        store.create_study("other", int_config())
        with pytest.raises(NotFoundError, match="'nope'"):
            call(store)

    @pytest.mark.parametrize(
        "call",
        [
            lambda s: s.get_trial(987654),
            lambda s: s.add_measurements(987654, [Measurement(metrics={"loss": 1.0})]),
            lambda s: s.update_trial(987654, TrialState.FAILED, allowed_from=RUNNING),
        ],
        ids=["get", "add_measurements", "update"],
    )
    def test_missing_trial_raises_not_found_naming_it(
        self, store: Store, call: Callable[[Store], object]
    ) -> None:
        with pytest.raises(NotFoundError, match="987654"):
            call(store)

    # Suggestions

    def test_suggest_inserts_generated_trials_as_active(self, store: Store) -> None:
        store.create_study("s", int_config())
        generator = RecordingGenerator()
        trials = store.suggest_trials("s", 3, "worker-1", generator)
        assert generator.counts == [3]
        assert [t.number for t in trials] == [0, 1, 2]
        assert [t.parameters for t in trials] == [{"x": 1000}, {"x": 1001}, {"x": 1002}]
        assert all(t.state is TrialState.ACTIVE for t in trials)
        assert all(t.client_id == "worker-1" and t.study_name == "s" for t in trials)
        assert all(t.created_at > 0 and t.completed_at is None for t in trials)
        assert store.list_trials("s") == trials

    def test_requested_trials_are_handed_out_first(self, store: Store) -> None:
        store.create_study("s", int_config())
        queued = [store.add_trial("s", {"x": x}) for x in (7, 8)]
        generator = RecordingGenerator()
        trials = store.suggest_trials("s", 3, "w", generator)
        assert generator.counts == [1]
        assert [t.id for t in trials[:2]] == [t.id for t in queued]
        assert [t.number for t in trials] == [0, 1, 2]
        assert [t.parameters["x"] for t in trials] == [7, 8, 1000]
        assert all(t.state is TrialState.ACTIVE and t.client_id == "w" for t in trials)

    def test_enough_requested_trials_need_no_generator(self, store: Store) -> None:
        store.create_study("s", int_config())
        queued = [store.add_trial("s", {"x": x}) for x in (1, 2, 3)]
        trials = store.suggest_trials("s", 2, "", never_called)
        assert [t.id for t in trials] == [t.id for t in queued[:2]]
        assert [t.state for t in store.list_trials("s")] == [
            TrialState.ACTIVE,
            TrialState.ACTIVE,
            TrialState.REQUESTED,
        ]

    def test_a_client_gets_its_running_trials_back(self, store: Store) -> None:
        store.create_study("s", int_config())
        mine = store.suggest_trials("s", 2, "a", counting_generator)
        assert store.suggest_trials("s", 5, "a", never_called) == mine
        store.update_trial(mine[0].id, TrialState.STOPPING, allowed_from=RUNNING)
        again = store.suggest_trials("s", 1, "a", never_called)
        assert [t.id for t in again] == [t.id for t in mine]
        assert again[0].state is TrialState.STOPPING
        others = store.suggest_trials("s", 1, "b", counting_generator)
        assert others[0].id not in {t.id for t in mine}
        anonymous = store.suggest_trials("s", 1, "", counting_generator)
        assert store.suggest_trials("s", 1, "", counting_generator) != anonymous
        for trial in mine:
            complete(store, trial, 1.0)
        fresh = store.suggest_trials("s", 1, "a", counting_generator)
        assert fresh[0].id not in {t.id for t in mine}

    def test_a_raising_generator_changes_nothing(self, store: Store) -> None:
        store.create_study("s", int_config())
        store.add_trial("s", {"x": 5})
        before = store.list_trials("s")

        def broken(context: SuggestionContext, count: int) -> list[dict[str, ParameterValue]]:
            assert context.active_trials()[0].state is TrialState.ACTIVE
            raise RuntimeError("designer crashed")

        with pytest.raises(RuntimeError, match="designer crashed"):
            store.suggest_trials("s", 2, "w", broken)
        assert store.list_trials("s") == before

    def test_generator_may_return_fewer_but_not_more(self, store: Store) -> None:
        store.create_study("s", int_config())
        assert store.suggest_trials("s", 2, "", lambda context, count: []) == []
        trials = store.suggest_trials("s", 2, "", lambda c, n: [{"x": i} for i in range(5)])
        assert [t.parameters for t in trials] == [{"x": 0}, {"x": 1}]
        assert len(store.list_trials("s")) == 2

    @pytest.mark.parametrize("state", [StudyState.COMPLETED, StudyState.FAILED])
    def test_suggest_is_refused_unless_the_study_is_active(
        self, store: Store, state: StudyState
    ) -> None:
        store.create_study("s", int_config())
        store.add_trial("s", {"x": 1})
        store.set_study_state("s", state)
        before = store.list_trials("s")
        with pytest.raises(FailedPreconditionError, match=state.value):
            store.suggest_trials("s", 1, "", never_called)
        assert store.list_trials("s") == before

    def test_suggest_needs_a_positive_count(self, store: Store) -> None:
        store.create_study("s", int_config())
        with pytest.raises(InvalidArgumentError):
            store.suggest_trials("s", 0, "", never_called)

    def test_the_context_shows_the_study_as_of_the_transaction(self, store: Store) -> None:
        info = store.create_study("s", int_config())
        done = store.suggest_trials("s", 2, "", counting_generator)
        complete(store, done[0], 3.0)
        store.update_trial(done[1].id, TrialState.FAILED, allowed_from=RUNNING, reason="oom")
        running = store.suggest_trials("s", 1, "", counting_generator)
        store.update_trial(running[0].id, TrialState.STOPPING, allowed_from=RUNNING)
        queued = store.add_trial("s", {"x": 99})
        seen: dict[str, Any] = {}

        def spy(context: SuggestionContext, count: int) -> list[dict[str, ParameterValue]]:
            seen["study"] = context.study
            seen["active"] = context.active_trials()
            seen["finished"] = context.finished_trials()
            seen["unseen"] = context.finished_trials(exclude={done[0].id})
            seen["context"] = context
            return [{"x": 500}]

        store.suggest_trials("s", 2, "w", spy)
        assert seen["study"] == info
        assert [t.id for t in seen["active"]] == [running[0].id, queued.id]
        assert [t.state for t in seen["active"]] == [TrialState.STOPPING, TrialState.ACTIVE]
        assert [t.id for t in seen["finished"]] == [t.id for t in done]
        assert seen["finished"][0].final_measurement == Measurement(metrics={"loss": 3.0}, step=9)
        assert [t.id for t in seen["unseen"]] == [done[1].id]
        with pytest.raises(FailedPreconditionError):
            seen["context"].active_trials()

    # Trials

    def test_add_trial_queues_a_requested_trial(self, store: Store) -> None:
        store.create_study("full", full_config())
        parameters: dict[str, ParameterValue] = {
            "lr": 0.001,
            "momentum": 0.5,
            "bounds_as_ints": 1.0,
            "layers": 4,
            "units": 32,
            "batch": 64,
            "optimizer": "ünïcode ✓",
        }
        trial = store.add_trial("full", parameters)
        assert trial.state is TrialState.REQUESTED
        assert (trial.number, trial.client_id, trial.study_name) == (0, "", "full")
        assert store.get_trial(trial.id) == trial
        loaded = store.get_trial(trial.id).parameters
        assert loaded == parameters
        assert {k: type(v) for k, v in loaded.items()} == {
            k: type(v) for k, v in parameters.items()
        }
        assert store.add_trial("full", parameters).number == 1

    @pytest.mark.parametrize(
        ("parameters", "field"),
        [({"x": -1}, "parameters.x"), ({"x": 1, "y": 2}, "parameters.y"), ({}, "parameters.x")],
    )
    def test_add_trial_outside_the_space_is_refused(
        self, store: Store, parameters: Mapping[str, ParameterValue], field: str
    ) -> None:
        store.create_study("s", int_config())
        with pytest.raises(InvalidArgumentError) as caught:
            store.add_trial("s", parameters)
        assert caught.value.field == field
        assert store.list_trials("s") == []

    def test_measurements_round_trip_exactly(self, store: Store) -> None:
        store.create_study("s", int_config())
        (trial,) = store.suggest_trials("s", 1, "", counting_generator)
        reported = [
            Measurement(metrics={"loss": value, "other": -value}, step=i, time=value)
            for i, value in enumerate(ODD_FLOATS)
        ]
        reported.append(Measurement(metrics={}, step=2**63 - 1, time=1_700_000_000.123456))
        store.add_measurements(trial.id, reported[:4])
        store.add_measurements(trial.id, [])
        store.add_measurements(trial.id, reported[4:])
        loaded = store.get_trial(trial.id).measurements
        assert len(loaded) == len(reported)
        for got, want in zip(loaded, reported, strict=True):
            assert got.step == want.step
            assert same_float(got.time, want.time)
            assert got.metrics.keys() == want.metrics.keys()
            for name, value in want.metrics.items():
                assert same_float(got.metrics[name], value), (name, value, got.metrics[name])

    def test_measurements_are_refused_on_a_finished_trial(self, store: Store) -> None:
        store.create_study("s", int_config())
        (trial,) = store.suggest_trials("s", 1, "", counting_generator)
        finished = complete(store, trial, 1.0)
        with pytest.raises(FailedPreconditionError, match=rf"{trial.id}.*SUCCEEDED"):
            store.add_measurements(trial.id, [Measurement(metrics={"loss": 0.0})])
        assert store.get_trial(trial.id) == finished

    def test_a_measurement_is_stored_once_per_report_id(self, store: Store) -> None:
        store.create_study("s", int_config())
        (trial,) = store.suggest_trials("s", 1, "", counting_generator)
        first = [
            Measurement(metrics={"loss": float(i)}, step=i, report_id=f"r-{i}") for i in range(3)
        ]
        store.add_measurements(trial.id, first[:2])
        # A retry of the first batch with the next one, a repeat inside a call, and
        # measurements without an id (always appended).
        plain = Measurement(metrics={"loss": 9.0}, step=9)
        store.add_measurements(trial.id, [*first, first[2], plain, plain])
        loaded = store.get_trial(trial.id).measurements
        assert [(m.step, m.report_id) for m in loaded] == [
            (0, "r-0"),
            (1, "r-1"),
            (2, "r-2"),
            (9, ""),
            (9, ""),
        ]

    def test_concurrent_batches_keep_each_measurement_with_its_values(self, store: Store) -> None:
        store.create_study("s", int_config())
        one, two = store.suggest_trials("s", 2, "", counting_generator)

        def report(trial: Trial, worker: int) -> None:
            for batch in range(4):
                store.add_measurements(
                    trial.id,
                    [
                        Measurement(
                            metrics={"loss": float(step), "worker": float(worker)},
                            step=step,
                            report_id=f"w{worker}:{step}",
                        )
                        for step in range(batch * 10, batch * 10 + 10)
                    ],
                )

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(report, [one, one, two, two], [0, 1, 2, 3]))
        for trial, workers in ((one, (0, 1)), (two, (2, 3))):
            loaded = store.get_trial(trial.id).measurements
            assert len(loaded) == 80
            for measurement in loaded:
                assert measurement.metrics["loss"] == measurement.step
                assert measurement.report_id == (
                    f"w{int(measurement.metrics['worker'])}:{measurement.step}"
                )
            for worker in workers:
                mine = [m.step for m in loaded if m.metrics["worker"] == worker]
                assert mine == list(range(40))  # in order

    def test_report_ids_are_per_trial(self, store: Store) -> None:
        store.create_study("s", int_config())
        one, two = store.suggest_trials("s", 2, "", counting_generator)
        same = Measurement(metrics={"loss": 1.0}, report_id="shared")
        store.add_measurements(one.id, [same])
        store.add_measurements(two.id, [same])
        assert len(store.get_trial(two.id).measurements) == 1

    def test_a_repeat_to_a_finished_trial_succeeds_and_changes_nothing(self, store: Store) -> None:
        store.create_study("s", int_config())
        (trial,) = store.suggest_trials("s", 1, "", counting_generator)
        sent = Measurement(metrics={"loss": 1.0}, step=1, report_id="a-1")
        store.add_measurements(trial.id, [sent])
        finished = complete(store, trial, 1.0)
        assert finished.final_measurement is not None
        assert finished.final_measurement.report_id == ""
        store.add_measurements(trial.id, [sent])
        assert store.get_trial(trial.id) == finished
        with pytest.raises(FailedPreconditionError):
            store.add_measurements(trial.id, [Measurement(metrics={"loss": 0.5}, report_id="a-2")])
        assert store.get_trial(trial.id) == finished

    def test_diagnostics_merge_and_round_trip(self, store: Store) -> None:
        store.create_study("s", int_config())
        (trial,) = store.suggest_trials("s", 1, "", counting_generator)
        assert store.get_trial(trial.id).diagnostics.is_empty
        line = UnparseableLine(source="/tmp/ü.log", line="accuracy=hoch ✓")
        report = CollectorDiagnostics(n_unparseable=3, unparseable_examples=(line,))
        store.add_measurements(trial.id, [], diagnostics=report)
        store.add_measurements(trial.id, [], diagnostics=CollectorDiagnostics(n_unparseable=1))
        store.add_measurements(trial.id, [], diagnostics=CollectorDiagnostics(n_dropped=7))
        assert store.get_trial(trial.id).diagnostics == CollectorDiagnostics(
            n_unparseable=3, unparseable_examples=(line,), n_dropped=7
        )
        finished = complete(store, trial, 1.0)
        store.add_measurements(trial.id, [], diagnostics=report)  # nothing new
        with pytest.raises(FailedPreconditionError):
            store.add_measurements(trial.id, [], diagnostics=CollectorDiagnostics(n_dropped=8))
        assert store.get_trial(trial.id) == finished

    def test_a_too_long_report_id_is_refused_before_writing(self, store: Store) -> None:
        store.create_study("s", int_config())
        (trial,) = store.suggest_trials("s", 1, "", counting_generator)
        longest = Measurement(metrics={"ok": 1.0}, report_id="é" * 255)
        store.add_measurements(trial.id, [longest])
        assert store.get_trial(trial.id).measurements == (longest,)
        with pytest.raises(InvalidArgumentError):
            Measurement(metrics={"ok": 1.0}, report_id="r" * 256)

    def test_a_too_long_metric_name_is_refused_before_writing(self, store: Store) -> None:
        store.create_study("s", int_config())
        (trial,) = store.suggest_trials("s", 1, "", counting_generator)
        batch = [Measurement(metrics={"ok": 1.0}), Measurement(metrics={"m" * 256: 1.0})]
        with pytest.raises(InvalidArgumentError):
            store.add_measurements(trial.id, batch)
        assert store.get_trial(trial.id).measurements == ()

    def test_update_trial_through_stopping_to_early_stopped(self, store: Store) -> None:
        store.create_study("s", int_config())
        (trial,) = store.suggest_trials("s", 1, "w", counting_generator)
        store.add_measurements(trial.id, [Measurement(metrics={"loss": 2.0}, step=1)])
        stopping = store.update_trial(trial.id, TrialState.STOPPING, allowed_from=RUNNING)
        assert stopping.state is TrialState.STOPPING
        assert stopping.completed_at is None
        final = Measurement(metrics={"loss": 1.5, "acc": -0.0}, step=2, time=12.5)
        done = store.update_trial(
            trial.id,
            TrialState.EARLY_STOPPED,
            allowed_from={TrialState.STOPPING},
            final_measurement=final,
            objective_value=1.5,
            reason="median rule",
        )
        assert done.state is TrialState.EARLY_STOPPED
        assert done.reason == "median rule"
        assert done.final_measurement == final
        assert math.copysign(1.0, done.final_measurement.metrics["acc"]) == -1.0
        assert done.measurements == (Measurement(metrics={"loss": 2.0}, step=1),)
        assert done.completed_at is not None and done.completed_at >= done.created_at
        assert done.objective_value("loss") == 1.5
        assert store.get_trial(trial.id) == done

    def test_update_from_a_state_not_allowed_is_refused(self, store: Store) -> None:
        store.create_study("s", int_config())
        queued = store.add_trial("s", {"x": 1})
        with pytest.raises(FailedPreconditionError) as caught:
            store.update_trial(
                queued.id,
                TrialState.SUCCEEDED,
                allowed_from=RUNNING,
                final_measurement=Measurement(metrics={"loss": 1.0}),
                objective_value=1.0,
            )
        message = str(caught.value)
        for part in (str(queued.id), "REQUESTED", "SUCCEEDED", "ACTIVE", "STOPPING"):
            assert part in message
        assert store.get_trial(queued.id) == queued

    @pytest.mark.parametrize(
        "state",
        [
            TrialState.SUCCEEDED,
            TrialState.FAILED,
            TrialState.INFEASIBLE,
            TrialState.EARLY_STOPPED,
        ],
    )
    def test_a_finished_trial_never_changes(self, store: Store, state: TrialState) -> None:
        store.create_study("s", int_config())
        (trial,) = store.suggest_trials("s", 1, "", counting_generator)
        finished = store.update_trial(
            trial.id,
            state,
            allowed_from=RUNNING,
            final_measurement=Measurement(metrics={"loss": 4.0}),
            objective_value=4.0,
            reason="why",
        )
        for target in TrialState:
            with pytest.raises(FailedPreconditionError, match=rf"{trial.id}.*{state.value}"):
                store.update_trial(trial.id, target, allowed_from=set(TrialState))
        assert store.get_trial(trial.id) == finished

    def test_list_trials_by_number_with_a_state_filter(self, store: Store) -> None:
        store.create_study("s", int_config())
        store.create_study("other", int_config())
        a, b, c = store.suggest_trials("s", 3, "", counting_generator)
        store.suggest_trials("other", 2, "", counting_generator)
        d = store.add_trial("s", {"x": 42})
        complete(store, b, 1.0)
        store.update_trial(c.id, TrialState.FAILED, allowed_from=RUNNING, reason="crash")
        assert [t.number for t in store.list_trials("s")] == [0, 1, 2, 3]
        assert [t.id for t in store.list_trials("s", [TrialState.ACTIVE])] == [a.id]
        finished = store.list_trials("s", {TrialState.SUCCEEDED, TrialState.FAILED})
        assert [t.id for t in finished] == [b.id, c.id]
        assert [t.id for t in store.list_trials("s", (TrialState.REQUESTED,))] == [d.id]
        assert store.list_trials("s", []) == []

    def test_list_trials_leaves_out_excluded_ids(self, store: Store) -> None:
        store.create_study("s", int_config())
        store.create_study("other", int_config())
        a, b, c, d = store.suggest_trials("s", 4, "", counting_generator)
        (elsewhere,) = store.suggest_trials("other", 1, "", counting_generator)
        e = store.add_trial("s", {"x": 42})
        store.add_measurements(a.id, [Measurement(metrics={"loss": 2.0}, step=1)])
        store.add_measurements(b.id, [Measurement(metrics={"loss": 1.0}, step=1)])
        complete(store, b, 1.0)
        store.update_trial(c.id, TrialState.FAILED, allowed_from=RUNNING, reason="crash")
        everything = store.list_trials("s")
        by_id = {t.id: t for t in everything}

        # Everything else comes back whole (measurements included), by number.
        assert store.list_trials("s", exclude_ids={b.id, c.id}) == [
            by_id[a.id],
            by_id[d.id],
            by_id[e.id],
        ]
        assert store.list_trials("s", exclude_ids=[d.id, a.id]) == [
            by_id[b.id],
            by_id[c.id],
            by_id[e.id],
        ]
        # Ids of another study's trial, or of no trial, change nothing.
        assert store.list_trials("s", exclude_ids=(elsewhere.id, e.id + 1000)) == everything
        assert store.list_trials("s", exclude_ids=()) == everything
        assert store.list_trials("s", exclude_ids=[t.id for t in everything]) == []
        # With states: those states, less the excluded ids.
        finished = {TrialState.SUCCEEDED, TrialState.FAILED}
        assert store.list_trials("s", finished, exclude_ids={b.id}) == [by_id[c.id]]
        assert store.list_trials("s", RUNNING, exclude_ids={b.id}) == [by_id[a.id], by_id[d.id]]
        assert store.list_trials("s", [], exclude_ids={a.id}) == []
        assert store.list_trials("other", exclude_ids={a.id, b.id}) == [
            store.get_trial(elsewhere.id)
        ]
        with pytest.raises(NotFoundError, match="nope"):
            store.list_trials("nope", exclude_ids={a.id})

    def test_excluding_the_finished_trials_read_leaves_the_new_and_unfinished(
        self, store: Store
    ) -> None:
        """What a caller keeping finished trials reads: after it, nothing is missing."""
        store.create_study("s", int_config())
        trials = store.suggest_trials("s", 6, "", counting_generator)
        for trial in trials[:3]:
            complete(store, trial, 1.0)
        kept = {t.id: t for t in store.list_trials("s", [s for s in TrialState if s.is_finished])}
        complete(store, trials[3], 2.0)
        store.update_trial(trials[4].id, TrialState.STOPPING, allowed_from=RUNNING)

        rest = store.list_trials("s", exclude_ids=kept.keys())

        assert [t.id for t in rest] == [t.id for t in trials[3:]]
        assert sorted([*kept.values(), *rest], key=lambda t: t.number) == store.list_trials("s")

    def test_count_trials_counts_each_state_with_zeros(self, store: Store) -> None:
        store.create_study("s", int_config())
        store.create_study("other", int_config())
        empty = store.count_trials("s")
        assert list(empty) == list(TrialState)
        assert set(empty.values()) == {0}

        a, b, c, d, _ = store.suggest_trials("s", 5, "", counting_generator)
        store.suggest_trials("other", 3, "", counting_generator)
        store.add_trial("s", {"x": 42})
        store.add_trial("s", {"x": 43})
        complete(store, a, 1.0)
        complete(store, b, 2.0)
        store.update_trial(c.id, TrialState.FAILED, allowed_from=RUNNING, reason="crash")
        store.update_trial(d.id, TrialState.STOPPING, allowed_from=RUNNING)
        counts = store.count_trials("s")
        assert list(counts) == list(TrialState)
        assert counts == {
            TrialState.REQUESTED: 2,
            TrialState.ACTIVE: 1,
            TrialState.STOPPING: 1,
            TrialState.SUCCEEDED: 2,
            TrialState.FAILED: 1,
            TrialState.INFEASIBLE: 0,
            TrialState.EARLY_STOPPED: 0,
        }
        tally = collections.Counter(t.state for t in store.list_trials("s"))
        assert counts == {state: tally[state] for state in TrialState}
        assert store.count_trials("other")[TrialState.ACTIVE] == 3
        assert store.count_trials("other")[TrialState.SUCCEEDED] == 0

    def test_trial_ids_are_unique_across_studies(self, store: Store) -> None:
        ids = []
        for name in ("a", "b", "c"):
            store.create_study(name, int_config())
            ids += [t.id for t in store.suggest_trials(name, 2, "", counting_generator)]
            ids.append(store.add_trial(name, {"x": 3}).id)
        assert len(set(ids)) == len(ids)
        for name in ("a", "b", "c"):
            assert [t.number for t in store.list_trials(name)] == [0, 1, 2]

    # Ranking

    @pytest.mark.parametrize(
        ("direction", "best"), [(Direction.MINIMIZE, -2.5), (Direction.MAXIMIZE, 7.0)]
    )
    def test_optimal_trials_are_the_best_finite_ones_with_ties(
        self, store: Store, direction: Direction, best: float
    ) -> None:
        store.create_study("s", int_config(direction))
        values = [math.nan, 1.0, best, math.inf, -math.inf, best, 0.5, -0.0]
        trials = store.suggest_trials("s", len(values), "", counting_generator)
        for trial, value in zip(trials, values, strict=True):
            complete(store, trial, value)
        optimal = store.list_optimal_trials("s")
        assert [t.id for t in optimal] == [trials[2].id, trials[5].id]
        assert all(t.objective_value("loss") == best for t in optimal)

    def test_only_succeeded_trials_with_a_value_are_optimal(self, store: Store) -> None:
        store.create_study("s", int_config())
        assert store.list_optimal_trials("s") == []
        a, b, c, d = store.suggest_trials("s", 4, "", counting_generator)
        store.update_trial(a.id, TrialState.FAILED, allowed_from=RUNNING, objective_value=-9.0)
        store.update_trial(b.id, TrialState.SUCCEEDED, allowed_from=RUNNING)
        complete(store, c, math.nan)
        assert store.list_optimal_trials("s") == []
        best = complete(store, d, 3.0)
        assert store.list_optimal_trials("s") == [best]

    def test_zero_and_negative_zero_tie(self, store: Store) -> None:
        store.create_study("s", int_config())
        a, b, c = store.suggest_trials("s", 3, "", counting_generator)
        complete(store, a, 0.0)
        complete(store, b, -0.0)
        complete(store, c, 5e-324)
        assert [t.id for t in store.list_optimal_trials("s")] == [a.id, b.id]

    # Concurrency and schema

    def test_threads_suggesting_at_once_never_share_a_trial(self, store: Store) -> None:
        store.create_study("s", int_config())
        n_threads, rounds = 4, 5
        barrier = threading.Barrier(n_threads)

        def work(_: int) -> list[Trial]:
            barrier.wait()
            got = []
            for _ in range(rounds):
                got += store.suggest_trials("s", 1, "", counting_generator)
            return got

        with ThreadPoolExecutor(n_threads) as pool:
            handed = [t for batch in pool.map(work, range(n_threads)) for t in batch]
        self._assert_serialised(store, [(t.id, t.number, t.parameters["x"]) for t in handed])

    def test_processes_suggesting_at_once_never_share_a_trial(
        self, store: Store, store_url: str
    ) -> None:
        store.create_study("s", int_config())
        results = run_processes(suggest_in_process, [(store_url, "s", 4)] * 3)
        self._assert_serialised(store, [item for batch in results for item in batch])

    @staticmethod
    def _assert_serialised(store: Store, handed: list[tuple[int, int, ParameterValue]]) -> None:
        n = len(handed)
        assert len({trial_id for trial_id, _, _ in handed}) == n
        assert sorted(number for _, number, _ in handed) == list(range(n))
        assert sorted(x for _, _, x in handed) == list(range(n))
        assert [t.number for t in store.list_trials("s")] == list(range(n))

    def test_processes_opening_one_new_database_at_once(self, store_url: str) -> None:
        names = [f"study-{i}" for i in range(3)]
        created = run_processes(open_and_create_in_process, [(store_url, n) for n in names])
        assert sorted(created) == names
        store = open_store(store_url)
        try:
            assert sorted(s.name for s in store.list_studies()) == names
        finally:
            store.close()

    def test_reopening_keeps_the_data_and_migrates_nothing(
        self, store: Store, store_url: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        info = store.create_study("s", full_config())
        store.close()
        with caplog.at_level(logging.DEBUG):
            reopened = open_store(store_url)
        try:
            assert reopened.list_studies() == [info]
        finally:
            reopened.close()
        migrating = [r for r in caplog.records if r.name.startswith(("alembic", "tuner.store"))]
        assert [r.getMessage() for r in migrating if "upgrad" in r.getMessage().lower()] == []

    def test_migrations_build_exactly_the_schema(self, store: Store, store_url: str) -> None:
        import sqlalchemy as sa
        from alembic.autogenerate import compare_metadata
        from alembic.runtime.migration import MigrationContext

        from tuner.store._engine import normalise_url
        from tuner.store._migrate import head_revision
        from tuner.store._schema import VERSION_TABLE, metadata

        engine = sa.create_engine(normalise_url(store_url))
        try:
            with engine.connect() as connection:
                context = MigrationContext.configure(
                    connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
                )
                assert context.get_current_revision() == head_revision()
                assert compare_metadata(context, metadata) == []
        finally:
            engine.dispose()
