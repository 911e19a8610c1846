"""The controller over the real stack: service core on SQLite, gRPC, local processes."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tuner.collectors import wrap_with_stdout_collector
from tuner.config import AlgorithmSpec, Budget, Direction, Objective, StudyConfig, StudyState
from tuner.controller import (
    Controller,
    ExperimentEnd,
    ExperimentOutcome,
    ExperimentResult,
    Progress,
)
from tuner.runners import LocalRunner, ProcessCommand
from tuner.service import ServiceCore, create_server
from tuner.space import DoubleParameter, IntParameter, SearchSpace
from tuner.store import open_store
from tuner.trial import Trial, TrialState

SCRIPT = Path(__file__).with_name("trial_script.py")

CONFIG = StudyConfig(
    space=SearchSpace((DoubleParameter(name="x", low=-1.0, high=1.0),)),
    objective=Objective(metric_name="loss", direction=Direction.MINIMIZE),
    algorithm=AlgorithmSpec(name="random"),
    seed=3,
)


@dataclass
class Stack:
    core: ServiceCore
    endpoint: str
    log_dir: Path

    def runner(self, *extra_args: str) -> LocalRunner:
        """A runner whose trials run the test script with ``extra_args``, wrapped."""

        def command_for(trial: Trial) -> ProcessCommand:
            argv = [sys.executable, str(SCRIPT), f"--x={trial.parameters['x']}", *extra_args]
            wrapped = wrap_with_stdout_collector(argv, metric_names=("loss",))
            return ProcessCommand(argv=tuple(wrapped))

        return LocalRunner(
            command_for=command_for,
            log_dir=self.log_dir,
            service_endpoint=self.endpoint,
            grace_period=2.0,
        )

    def controller(
        self,
        runner: LocalRunner,
        budget: Budget,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> Controller:
        return Controller(
            self.core,
            runner,
            study_name="study",
            budget=budget,
            poll_interval=0.05,
            on_progress=on_progress,
        )


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    core = ServiceCore(open_store(f"sqlite:///{tmp_path / 'tuner.db'}"))
    server, port = create_server(core)
    server.start()
    try:
        yield Stack(core=core, endpoint=f"127.0.0.1:{port}", log_dir=tmp_path / "logs")
    finally:
        server.stop(grace=None)
        core.close()


def _states(trials: Sequence[Trial]) -> list[TrialState]:
    return [trial.state for trial in trials]


def test_runs_the_budget_keeping_parallel_trials_running(stack: Stack) -> None:
    stack.core.create_study("study", CONFIG)
    snapshots: list[Progress] = []
    runner = stack.runner("--sleep=0.3")
    result = stack.controller(
        runner, Budget(max_trial_count=6, parallel_trial_count=3), snapshots.append
    ).run()
    runner.close()

    assert result.outcome is ExperimentOutcome.SUCCEEDED, result.reason
    assert "maxTrialCount" in result.reason
    trials = stack.core.list_trials("study")
    assert _states(trials) == [TrialState.SUCCEEDED] * 6
    for trial in trials:  # the objective is reduced by min over the two reported steps
        assert trial.objective_value("loss") == pytest.approx((trial.parameters["x"] - 0.3) ** 2)
    assert max(s.running for s in snapshots) == 3
    assert result.progress.succeeded == 6
    best = min(trials, key=lambda t: t.objective_value("loss") or 0.0)
    assert result.progress.best_trial is not None
    assert result.progress.best_trial.id == best.id
    assert stack.core.get_study("study").state is StudyState.COMPLETED


def test_fails_the_experiment_after_too_many_failed_trials(stack: Stack) -> None:
    stack.core.create_study("study", CONFIG)
    runner = stack.runner("--exit-code=3")
    result = stack.controller(
        runner, Budget(max_trial_count=10, max_failed_trial_count=1, parallel_trial_count=1)
    ).run()
    runner.close()

    assert result.outcome is ExperimentOutcome.FAILED
    assert "more than maxFailedTrialCount (1)" in result.reason
    trials = stack.core.list_trials("study")
    assert _states(trials) == [TrialState.FAILED, TrialState.FAILED]
    assert all("exit code 3" in trial.reason for trial in trials)
    assert stack.core.get_study("study").state is StudyState.FAILED


def test_a_trial_that_exits_0_without_its_objective_fails_with_that_reason(stack: Stack) -> None:
    stack.core.create_study("study", CONFIG)
    runner = stack.runner("--silent")
    result = stack.controller(runner, Budget(max_trial_count=1, parallel_trial_count=1)).run()
    runner.close()

    (trial,) = stack.core.list_trials("study")
    assert trial.state is TrialState.FAILED
    # the StdOut collector fails it first, naming where it looked; else the controller does
    assert "exited 0 but" in trial.reason
    assert "no value of the objective metric 'loss'" in trial.reason
    assert result.progress.failed == 1


def test_reaching_the_goal_ends_the_experiment_early(stack: Stack) -> None:
    config = StudyConfig(
        space=CONFIG.space,
        objective=Objective(metric_name="loss", goal=10.0),  # every trial meets it
        seed=1,
    )
    stack.core.create_study("study", config)
    runner = stack.runner()
    result = stack.controller(runner, Budget(max_trial_count=50, parallel_trial_count=2)).run()
    runner.close()

    assert result.outcome is ExperimentOutcome.SUCCEEDED
    assert "reached the goal" in result.reason
    trials = stack.core.list_trials("study")
    assert len(trials) <= 2
    assert all(trial.state.is_finished for trial in trials)


def test_an_exhausted_grid_ends_the_experiment(stack: Stack) -> None:
    config = StudyConfig(
        space=SearchSpace((IntParameter(name="x", low=0, high=3),)),
        objective=Objective(metric_name="loss"),
        algorithm=AlgorithmSpec(name="grid"),
        seed=0,
    )
    stack.core.create_study("study", config)
    runner = stack.runner()
    result = stack.controller(runner, Budget(max_trial_count=10, parallel_trial_count=3)).run()
    runner.close()

    assert result.outcome is ExperimentOutcome.SUCCEEDED
    assert "no more points" in result.reason
    trials = stack.core.list_trials("study")
    assert sorted(trial.parameters["x"] for trial in trials) == [0, 1, 2, 3]
    assert _states(trials) == [TrialState.SUCCEEDED] * 4


def test_an_interrupted_experiment_resumes_relaunching_its_running_trials(stack: Stack) -> None:
    stack.core.create_study("study", CONFIG)
    budget = Budget(max_trial_count=4, parallel_trial_count=2)
    slow = stack.runner("--sleep=60")
    controllers: list[Controller] = []

    def stop_when_full(progress: Progress) -> None:
        if progress.running == 2:
            threading.Thread(target=controllers[0].request_stop).start()

    controllers.append(stack.controller(slow, budget, stop_when_full))
    interrupted = controllers[0].run()
    slow.close()
    assert interrupted.outcome is ExperimentOutcome.INTERRUPTED
    left_running = stack.core.list_trials("study")
    assert _states(left_running) == [TrialState.ACTIVE] * 2

    fast = stack.runner()
    resumed = stack.controller(fast, budget).run()
    fast.close()
    assert resumed.outcome is ExperimentOutcome.SUCCEEDED
    trials = stack.core.list_trials("study")
    assert _states(trials) == [TrialState.SUCCEEDED] * 4
    assert {t.id for t in left_running} <= {t.id for t in trials}


# -- early stopping ----------------------------------------------------------------------------

STEPPED = StudyConfig(
    space=SearchSpace(
        (
            DoubleParameter(name="x", low=-1.0, high=1.0),
            IntParameter(name="steps", low=1, high=100_000),
        )
    ),
    objective=Objective(metric_name="loss"),
    early_stopping=AlgorithmSpec(
        name="medianstop", settings={"min_trials_required": "3", "start_step": "4"}
    ),
    seed=5,
)
"""Trials print ``loss = (x - 0.3)**2 + 1/step`` for ``steps`` steps."""

DEADLINE = 60.0
"""Seconds after which a test gives up waiting (a hang, not a timing assertion)."""


def _wait_until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def _stepped_runner(stack: Stack, pid_dir: Path) -> LocalRunner:
    pid_dir.mkdir(exist_ok=True)

    def command_for(trial: Trial) -> ProcessCommand:
        argv = [
            sys.executable,
            str(SCRIPT),
            f"--x={trial.parameters['x']}",
            f"--steps={trial.parameters['steps']}",
            "--step-sleep=0.05",
            f"--pid-file={pid_dir / f'{trial.id}.pid'}",
        ]
        return ProcessCommand(argv=wrap_with_stdout_collector(argv, metric_names=("loss",)))

    return LocalRunner(
        command_for=command_for,
        log_dir=stack.log_dir,
        service_endpoint=stack.endpoint,
        grace_period=2.0,
    )


def _run_with_deadline(controller: Controller) -> ExperimentResult:
    watchdog = threading.Timer(DEADLINE, controller.request_stop)
    watchdog.start()
    try:
        return controller.run()
    finally:
        watchdog.cancel()


def _is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_bad_trial_is_stopped_early_and_the_good_ones_complete(
    stack: Stack, tmp_path: Path
) -> None:
    stack.core.create_study("study", STEPPED)
    good, bad = {"x": 0.3, "steps": 6}, {"x": -1.0, "steps": 100_000}
    for parameters in (good, good, good, bad, {"x": 0.35, "steps": 6}):
        stack.core.add_trial("study", parameters)  # handed out in this order
    runner = _stepped_runner(stack, tmp_path / "pids")
    controller = stack.controller(runner, Budget(max_trial_count=5, parallel_trial_count=1))
    result = _run_with_deadline(controller)
    runner.close()

    assert result.outcome is ExperimentOutcome.SUCCEEDED, result.reason
    assert "maxTrialCount" in result.reason
    trials = stack.core.list_trials("study")
    assert _states(trials) == [TrialState.SUCCEEDED] * 3 + [
        TrialState.EARLY_STOPPED,
        TrialState.SUCCEEDED,
    ]
    stopped = trials[3]
    assert "worse than the median" in stopped.reason
    assert 4 <= len(stopped.measurements) < 100_000
    losses = [m.metrics["loss"] for m in stopped.measurements]
    assert stopped.objective_value("loss") == min(losses)
    pid = int((tmp_path / "pids" / f"{stopped.id}.pid").read_text())
    _wait_until(lambda: _is_gone(pid), f"process {pid} of the stopped trial to end")
    assert result.progress.early_stopped == 1
    assert result.progress.failed == 0
    assert result.progress.succeeded == 4


def test_a_trial_stopped_by_anyone_is_stopped_by_the_controller(
    stack: Stack, tmp_path: Path
) -> None:
    stack.core.create_study("study", replace(STEPPED, early_stopping=None))
    stack.core.add_trial("study", {"x": 0.5, "steps": 100_000})
    runner = _stepped_runner(stack, tmp_path / "pids")
    controller = stack.controller(runner, Budget(max_trial_count=1, parallel_trial_count=1))

    def stop_once_it_reports() -> None:
        def reported() -> bool:
            trials = stack.core.list_trials("study", states=[TrialState.ACTIVE])
            return bool(trials and trials[0].measurements)

        _wait_until(reported, "the trial to report a measurement")
        [trial] = stack.core.list_trials("study")
        stack.core.stop_trial(trial.id)

    stopper = threading.Thread(target=stop_once_it_reports)
    stopper.start()
    result = _run_with_deadline(controller)
    stopper.join()
    runner.close()

    assert result.outcome is ExperimentOutcome.SUCCEEDED, result.reason
    [trial] = stack.core.list_trials("study")
    assert trial.state is TrialState.EARLY_STOPPED
    assert result.progress.early_stopped == 1


# -- driving from outside: step, budget updates, detaching ---------------------------------------


def test_stepping_by_hand_runs_the_experiment_as_run_does(stack: Stack) -> None:
    stack.core.create_study("study", CONFIG)
    runner = stack.runner()
    controller = stack.controller(runner, Budget(max_trial_count=3, parallel_trial_count=2))
    deadline = time.monotonic() + DEADLINE
    result = None
    while result is None and time.monotonic() < deadline:
        result = controller.step()
        time.sleep(0.02)
    runner.close()
    assert result is not None, "gave up stepping"
    assert result.outcome is ExperimentOutcome.SUCCEEDED
    assert result.end is ExperimentEnd.MAX_TRIALS_REACHED
    assert _states(stack.core.list_trials("study")) == [TrialState.SUCCEEDED] * 3


def test_a_budget_updated_while_running_takes_effect(stack: Stack) -> None:
    stack.core.create_study("study", CONFIG)
    runner = stack.runner("--sleep=0.2")
    snapshots: list[Progress] = []
    controllers: list[Controller] = []
    bigger = Budget(max_trial_count=5, parallel_trial_count=2)

    def grow(progress: Progress) -> None:
        snapshots.append(progress)
        if progress.finished >= 1 and controllers[0].budget != bigger:
            controllers[0].update_budget(bigger)

    controller = stack.controller(runner, Budget(max_trial_count=2, parallel_trial_count=1), grow)
    controllers.append(controller)
    result = _run_with_deadline(controller)
    runner.close()
    assert result.outcome is ExperimentOutcome.SUCCEEDED, result.reason
    assert result.progress.finished == 5
    assert max(s.running for s in snapshots) == 2
    assert all(s.running <= 1 for s in snapshots if s.finished == 0)


def test_a_lowered_max_trial_count_ends_the_experiment(stack: Stack) -> None:
    stack.core.create_study("study", CONFIG)
    runner = stack.runner("--sleep=0.2")
    controllers: list[Controller] = []

    def shrink(progress: Progress) -> None:
        if progress.finished >= 1:
            controllers[0].update_budget(Budget(max_trial_count=1, parallel_trial_count=1))

    budget = Budget(max_trial_count=50, parallel_trial_count=1)
    controller = stack.controller(runner, budget, shrink)
    controllers.append(controller)
    result = _run_with_deadline(controller)
    runner.close()
    assert result.end is ExperimentEnd.MAX_TRIALS_REACHED
    # the trial launched before the update is stopped by the end, not left running
    assert result.progress.succeeded == 1
    assert result.progress.running == 0
    assert not stack.core.list_trials("study", states=(TrialState.ACTIVE,))


class _CountingRunner(LocalRunner):
    stops = 0

    def stop(self, trial_id: int) -> None:
        self.stops += 1
        super().stop(trial_id)


def test_a_stop_that_keeps_trials_leaves_them_running_and_active(stack: Stack) -> None:
    stack.core.create_study("study", CONFIG)
    runner = _CountingRunner(
        command_for=lambda trial: ProcessCommand(
            argv=(sys.executable, str(SCRIPT), f"--x={trial.parameters['x']}", "--sleep=60")
        ),
        log_dir=stack.log_dir,
        service_endpoint=stack.endpoint,
        grace_period=2.0,
    )
    controllers: list[Controller] = []

    def detach_when_full(progress: Progress) -> None:
        if progress.running == 2:
            controllers[0].request_stop(stop_trials=False)

    budget = Budget(max_trial_count=4, parallel_trial_count=2)
    controllers.append(stack.controller(runner, budget, detach_when_full))
    result = _run_with_deadline(controllers[0])
    runner.close()
    assert result.outcome is ExperimentOutcome.INTERRUPTED
    assert "detached" in result.reason
    assert runner.stops == 0
    assert _states(stack.core.list_trials("study")) == [TrialState.ACTIVE] * 2
