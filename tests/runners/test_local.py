"""LocalRunner with real subprocesses: exit codes, logs, environment, stop, bad commands."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tuner.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from tuner.runners import LocalRunner, ProcessCommand, Runner, RunPhase, RunStatus
from tuner.trial import Trial

DEADLINE = 20.0
ENDPOINT = "127.0.0.1:4242"


def make_trial(trial_id: int = 11, number: int = 3, study: str = "mnist") -> Trial:
    return Trial(id=trial_id, study_name=study, number=number, parameters={"lr": 0.1})


def python(script: str, **env: str) -> Callable[[Trial], ProcessCommand]:
    """A command_for running ``script`` with ``python -c``."""
    code = textwrap.dedent(script)
    return lambda trial: ProcessCommand(argv=("python", "-c", code), env=env)


def wait_until_finished(runner: LocalRunner, trial_id: int) -> RunStatus:
    deadline = time.monotonic() + DEADLINE
    while (status := runner.poll(trial_id)).phase is RunPhase.RUNNING:
        assert time.monotonic() < deadline, "the trial did not finish in time"
        time.sleep(0.01)
    return status


def wait_for_log(path: Path, text: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not (path.exists() and text in path.read_text(errors="replace")):
        assert time.monotonic() < deadline, f"{text!r} never appeared in {path}"
        time.sleep(0.01)


@pytest.fixture
def make_runner(tmp_path: Path) -> Iterator[Callable[..., LocalRunner]]:
    runners: list[LocalRunner] = []

    def make(command_for: Callable[[Trial], ProcessCommand], **kwargs: float) -> LocalRunner:
        runner = LocalRunner(
            command_for=command_for,
            log_dir=tmp_path / "logs",
            service_endpoint=ENDPOINT,
            **kwargs,
        )
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.close()


def test_it_is_a_runner(make_runner: Callable[..., LocalRunner]) -> None:
    runner: Runner = make_runner(python("pass"))
    assert runner.adopt(make_trial()) is False


def test_success_and_log(make_runner: Callable[..., LocalRunner], tmp_path: Path) -> None:
    runner = make_runner(
        python("import sys; print('hello out'); print('hello err', file=sys.stderr)")
    )
    trial = make_trial()
    runner.launch(trial)
    status = wait_until_finished(runner, trial.id)
    assert status == RunStatus(phase=RunPhase.SUCCEEDED, exit_code=0)
    log = tmp_path / "logs" / "mnist" / "trial-3-11.log"
    assert runner.log_path(trial) == log
    assert log.read_text().splitlines() == ["hello out", "hello err"]
    assert runner.poll(trial.id) == status  # stays settled


def test_non_zero_exit_gives_the_code_and_the_last_lines(
    make_runner: Callable[..., LocalRunner],
) -> None:
    script = """
        import sys
        for i in range(20):
            print(f"line {i}")
        print("\\x1b[31mTraceback: boom\\x1b[0m", file=sys.stderr)
        sys.exit(3)
    """
    runner = make_runner(python(script))
    runner.launch(make_trial())
    status = wait_until_finished(runner, 11)
    assert status.phase is RunPhase.FAILED
    assert status.exit_code == 3
    assert status.reason.startswith("exit code 3; last output:\n")
    lines = status.reason.splitlines()[1:]
    assert lines == ["  line 16", "  line 17", "  line 18", "  line 19", "  Traceback: boom"]


def test_killed_by_a_signal(make_runner: Callable[..., LocalRunner]) -> None:
    runner = make_runner(
        python("import os, signal; print('bye'); os.kill(os.getpid(), signal.SIGKILL)")
    )
    runner.launch(make_trial())
    status = wait_until_finished(runner, 11)
    assert status.phase is RunPhase.FAILED
    assert status.exit_code == 128 + signal.SIGKILL
    assert status.reason.startswith("killed by signal SIGKILL")
    assert status.reason.endswith("\n  bye")


def test_exit_code_above_128_names_the_likely_signal(
    make_runner: Callable[..., LocalRunner],
) -> None:
    runner = make_runner(python("import sys; sys.exit(137)"))
    runner.launch(make_trial())
    status = wait_until_finished(runner, 11)
    assert status.exit_code == 137
    assert status.reason == "exit code 137 (128 + SIGKILL: likely killed by that signal)"


def test_environment(
    make_runner: Callable[..., LocalRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_RUNNER_ENV", "inherited")
    monkeypatch.setenv("OVERRIDDEN", "by-os")
    script = """
        import os
        for name in ("TUNER_TRIAL_ID", "TUNER_STUDY_NAME", "TUNER_SERVICE_ENDPOINT",
                     "FROM_RUNNER_ENV", "OVERRIDDEN", "FROM_CONTAINER"):
            print(f"{name}={os.environ.get(name)}")
    """
    runner = make_runner(
        python(script, OVERRIDDEN="by-container", FROM_CONTAINER="x", TUNER_TRIAL_ID="999")
    )
    trial = make_trial(trial_id=42, study="cifar")
    runner.launch(trial)
    assert wait_until_finished(runner, 42).phase is RunPhase.SUCCEEDED
    assert runner.log_path(trial).read_text().splitlines() == [
        "TUNER_TRIAL_ID=42",
        "TUNER_STUDY_NAME=cifar",
        f"TUNER_SERVICE_ENDPOINT={ENDPOINT}",
        "FROM_RUNNER_ENV=inherited",
        "OVERRIDDEN=by-container",
        "FROM_CONTAINER=x",
    ]


@pytest.mark.parametrize("name", ["python", "python3"])
def test_python_is_this_interpreter(make_runner: Callable[..., LocalRunner], name: str) -> None:
    script = "import sys; print(sys.executable)"
    runner = make_runner(lambda trial: ProcessCommand(argv=(name, "-c", script)))
    trial = make_trial()
    runner.launch(trial)
    assert wait_until_finished(runner, trial.id).phase is RunPhase.SUCCEEDED
    assert runner.log_path(trial).read_text().strip() == sys.executable


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="not running in a virtual environment")
def test_python_inside_a_wrapper_finds_this_interpreter_too(
    make_runner: Callable[..., LocalRunner],
) -> None:
    argv = ("sh", "-c", 'python -c "import sys; print(sys.executable)"')
    runner = make_runner(lambda trial: ProcessCommand(argv=argv))
    trial = make_trial()
    runner.launch(trial)
    assert wait_until_finished(runner, trial.id).phase is RunPhase.SUCCEEDED
    found = Path(runner.log_path(trial).read_text().strip())
    assert found.parent == Path(sys.executable).parent


def test_cwd(make_runner: Callable[..., LocalRunner], tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    code = "import os; print(os.getcwd())"
    runner = make_runner(lambda trial: ProcessCommand(argv=("python", "-c", code), cwd=str(work)))
    trial = make_trial()
    runner.launch(trial)
    assert wait_until_finished(runner, trial.id).phase is RunPhase.SUCCEEDED
    assert runner.log_path(trial).read_text().strip() == str(work)


def test_stop_sends_sigterm_to_the_group(make_runner: Callable[..., LocalRunner]) -> None:
    script = """
        import signal, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        def on_term(signum, frame):
            print("got SIGTERM", flush=True)
            child.wait()  # the group signal reaches the grandchild too
            print(f"child ended {child.returncode}", flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, on_term)
        print("ready", flush=True)
        time.sleep(60)
    """
    runner = make_runner(python(script), grace_period=DEADLINE)
    trial = make_trial()
    runner.launch(trial)
    wait_for_log(runner.log_path(trial), "ready")
    runner.stop(trial.id)
    status = runner.poll(trial.id)
    assert status.phase is RunPhase.SUCCEEDED  # it handled SIGTERM and exited 0
    log = runner.log_path(trial).read_text()
    assert "got SIGTERM" in log
    assert f"child ended {-signal.SIGTERM}" in log


def test_stop_kills_a_process_ignoring_sigterm(make_runner: Callable[..., LocalRunner]) -> None:
    script = """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(60)
    """
    runner = make_runner(python(script), grace_period=0.2)
    trial = make_trial()
    runner.launch(trial)
    wait_for_log(runner.log_path(trial), "ready")
    started = time.monotonic()
    runner.stop(trial.id)
    assert time.monotonic() - started < DEADLINE
    status = runner.poll(trial.id)
    assert status.phase is RunPhase.FAILED
    assert status.reason.startswith("killed by signal SIGKILL")


def test_stop_of_a_finished_trial_is_a_no_op(make_runner: Callable[..., LocalRunner]) -> None:
    runner = make_runner(python("pass"))
    runner.launch(make_trial())
    status = wait_until_finished(runner, 11)
    runner.stop(11)
    assert runner.poll(11) == status


def test_missing_executable_is_a_failed_trial(
    make_runner: Callable[..., LocalRunner],
) -> None:
    runner = make_runner(lambda trial: ProcessCommand(argv=("no-such-program-xyz", "--flag")))
    trial = make_trial()
    runner.launch(trial)
    status = runner.poll(trial.id)
    assert status.phase is RunPhase.FAILED
    assert status.exit_code is None
    assert "no-such-program-xyz" in status.reason
    assert "No such file or directory" in status.reason
    assert status.reason in runner.log_path(trial).read_text()
    runner.stop(trial.id)  # nothing to stop
    runner.release(trial.id)


def test_missing_working_directory_is_a_failed_trial(
    make_runner: Callable[..., LocalRunner], tmp_path: Path
) -> None:
    missing = str(tmp_path / "missing")
    runner = make_runner(lambda trial: ProcessCommand(argv=("python", "-V"), cwd=missing))
    runner.launch(make_trial())
    status = runner.poll(11)
    assert status.phase is RunPhase.FAILED
    assert missing in status.reason


def test_not_executable_is_a_failed_trial(
    make_runner: Callable[..., LocalRunner], tmp_path: Path
) -> None:
    script = tmp_path / "train.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    runner = make_runner(lambda trial: ProcessCommand(argv=(str(script),)))
    runner.launch(make_trial())
    status = runner.poll(11)
    assert status.phase is RunPhase.FAILED
    assert "Permission denied" in status.reason


def test_unknown_trials(make_runner: Callable[..., LocalRunner]) -> None:
    runner = make_runner(python("pass"))
    with pytest.raises(NotFoundError):
        runner.poll(1)
    with pytest.raises(NotFoundError):
        runner.stop(1)
    runner.release(1)  # forgetting what is not known is fine


def test_release_forgets_and_allows_a_new_launch(make_runner: Callable[..., LocalRunner]) -> None:
    runner = make_runner(python("print('run')"))
    trial = make_trial()
    runner.launch(trial)
    with pytest.raises(FailedPreconditionError):
        runner.launch(trial)
    wait_until_finished(runner, trial.id)
    runner.release(trial.id)
    with pytest.raises(NotFoundError):
        runner.poll(trial.id)
    runner.launch(trial)  # launched again: the log is appended to
    wait_until_finished(runner, trial.id)
    assert runner.log_path(trial).read_text() == "run\nrun\n"


def test_close_stops_everything(make_runner: Callable[..., LocalRunner]) -> None:
    script = """
        import os, time
        print(f"ready {os.getpid()}", flush=True)
        time.sleep(60)
    """
    runner = make_runner(python(script), grace_period=DEADLINE)
    trials = [make_trial(trial_id=i, number=i) for i in range(3)]
    for trial in trials:
        runner.launch(trial)
    pids = []
    for trial in trials:
        wait_for_log(runner.log_path(trial), "ready")
        pids.append(int(runner.log_path(trial).read_text().split()[1]))
    started = time.monotonic()
    runner.close()
    assert time.monotonic() - started < DEADLINE  # SIGTERM ended them, no SIGKILL needed
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # ended and reaped
    with pytest.raises(NotFoundError):
        runner.poll(0)


def test_study_names_cannot_escape_the_log_dir(
    make_runner: Callable[..., LocalRunner], tmp_path: Path
) -> None:
    runner = make_runner(python("pass"))
    path = runner.log_path(make_trial(study="../../etc"))
    assert path.parent.parent == tmp_path / "logs"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"argv": ()},
        {"argv": ("",)},
        {"argv": ("python",), "env": {"A=B": "c"}},
        {"argv": ("python",), "env": {"A": 1}},
    ],
)
def test_bad_commands_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgumentError):
        ProcessCommand(**kwargs)  # type: ignore[arg-type]


def test_process_command_copies_its_inputs() -> None:
    env = {"A": "1"}
    command = ProcessCommand(argv=["python", "x.py"], env=env)  # type: ignore[arg-type]
    env["A"] = "2"
    assert command.argv == ("python", "x.py")
    assert command.env == {"A": "1"}


def test_trial_runs_in_its_own_session(make_runner: Callable[..., LocalRunner]) -> None:
    runner = make_runner(python("import os; print(os.getsid(0), os.getpid())"))
    trial = make_trial()
    runner.launch(trial)
    wait_until_finished(runner, trial.id)
    session, pid = runner.log_path(trial).read_text().split()
    assert session == pid  # the trial leads its own session...
    assert int(session) != os.getsid(0)  # ...which is not ours (ours may be 0 under CI)
