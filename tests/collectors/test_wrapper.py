"""The StdOut collector end to end: real processes reporting to a real server over loopback."""

from __future__ import annotations

import logging
import math
import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.collectors.conftest import STUDY, Service
from tests.collectors.support import DEADLINE, stdout_collector_argv, wait_for
from tuner.collectors import run_stdout_collector, wrap_with_stdout_collector
from tuner.errors import InvalidArgumentError
from tuner.runners import LocalRunner, ProcessCommand, RunPhase
from tuner.trial import Measurement, Trial, TrialState

pytestmark = pytest.mark.slow


def summary(measurements: tuple[Measurement, ...]) -> list[tuple[int, dict[str, float]]]:
    return [(m.step, dict(m.metrics)) for m in measurements]


def environment(endpoint: str | None, trial_id: int | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    env["TUNER_SPOOL_DIR"] = os.environ["TUNER_SPOOL_DIR"]  # the test's own (conftest.py)
    env.pop("PYTHONUNBUFFERED", None)
    if endpoint is not None:
        env["TUNER_SERVICE_ENDPOINT"] = endpoint
    if trial_id is not None:
        env["TUNER_TRIAL_ID"] = str(trial_id)
    return env


def run(argv: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, env=env, capture_output=True, timeout=DEADLINE, check=False)


def read_until(process: subprocess.Popen[bytes], text: bytes) -> bytes:
    """Read the process's stdout until ``text`` appears; everything read so far."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + DEADLINE
    while text not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{text!r} never appeared; got {seen!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            assert chunk, f"output ended before {text!r}; got {seen!r}"
            seen += chunk
    return seen


# -- reporting -------------------------------------------------------------------------------

TRAIN = """
    import sys
    print("starting")
    for epoch in range(1, 4):
        print(f"epoch={epoch} loss={1 / epoch:.4f} accuracy={0.5 + epoch / 10:.2f}")
    print("\\x1b[32maccuracy=0.95\\x1b[0m step=10", file=sys.stderr)
    print("done")
"""


def test_measurements_with_steps_arrive_in_the_store(service: Service) -> None:
    trial = service.new_trial()
    started = time.time()
    result = run(stdout_collector_argv(TRAIN), environment(service.endpoint, trial.id))
    assert result.returncode == 0, result.stderr.decode()
    assert service.measurements(trial.id) == [
        (1, {"loss": 1.0, "accuracy": 0.6}),
        (2, {"loss": 0.5, "accuracy": 0.7}),
        (3, {"loss": 0.3333, "accuracy": 0.8}),
        (10, {"accuracy": 0.95}),
    ]
    for measurement in service.core.get_trial(trial.id).measurements:
        assert started <= measurement.time <= time.time()
    completed = service.core.complete_trial(trial.id)
    assert completed.state is TrialState.SUCCEEDED
    assert completed.objective_value("accuracy") == 0.95


def test_output_still_appears_on_stdout(service: Service) -> None:
    trial = service.new_trial()
    result = run(stdout_collector_argv(TRAIN), environment(service.endpoint, trial.id))
    assert result.stdout == (
        b"starting\n"
        b"epoch=1 loss=1.0000 accuracy=0.60\n"
        b"epoch=2 loss=0.5000 accuracy=0.70\n"
        b"epoch=3 loss=0.3333 accuracy=0.80\n"
        b"\x1b[32maccuracy=0.95\x1b[0m step=10\n"
        b"done\n"
    )
    log = result.stderr.decode()
    assert f"reporting metrics of trial {trial.id} to {service.endpoint}" in log
    assert "accuracy: 4, loss: 3; 4 measurements delivered" in log


def test_values_without_steps_are_numbered_per_metric(service: Service) -> None:
    script = """
        for i in range(3):
            print(f"loss={i}")
            print("some log line")
            print(f"accuracy={i / 10}")
        print("loss=nan")
        print("accuracy=-inf", end="")  # no line end before exit
    """
    trial = service.new_trial()
    result = run(stdout_collector_argv(script), environment(service.endpoint, trial.id))
    assert result.returncode == 0, result.stderr.decode()
    got = service.measurements(trial.id)
    assert got[:3] == [
        (1, {"loss": 0.0, "accuracy": 0.0}),
        (2, {"loss": 1.0, "accuracy": 0.1}),
        (3, {"loss": 2.0, "accuracy": 0.2}),
    ]
    [(step, last)] = got[3:]
    assert step == 4
    assert math.isnan(last["loss"])
    assert last["accuracy"] == -math.inf


def test_json_lines(service: Service) -> None:
    script = """
        import json
        print("not json")
        print(json.dumps({"epoch": 1, "accuracy": 0.5, "loss": "0.25", "lr": 0.1}))
        print(json.dumps({"epoch": 2, "accuracy": "high"}))
    """
    argv = wrap_with_stdout_collector(
        [sys.executable, "-c", textwrap.dedent(script)],
        metric_names=["accuracy", "loss"],
        json_lines=True,
    )
    trial = service.new_trial()
    result = run(list(argv), environment(service.endpoint, trial.id))
    assert result.returncode == 0, result.stderr.decode()
    assert service.measurements(trial.id) == [(1, {"accuracy": 0.5, "loss": 0.25})]
    assert "1 values were not numbers and were skipped, e.g. accuracy='\"high\"'" in (
        result.stderr.decode()
    )


def test_custom_format(service: Service) -> None:
    script = 'print("Epoch 1/2 - loss: 0.5 - accuracy: 0.75")'
    argv = wrap_with_stdout_collector(
        [sys.executable, "-c", script],
        metric_names=["accuracy", "loss"],
        formats=[r"-?\s*(\w+):\s*([-+\d.eE]+)"],
    )
    trial = service.new_trial()
    assert run(list(argv), environment(service.endpoint, trial.id)).returncode == 0
    assert service.measurements(trial.id) == [(1, {"loss": 0.5, "accuracy": 0.75})]


def test_metrics_arrive_while_the_command_still_runs(service: Service, tmp_path: Path) -> None:
    go_on = tmp_path / "go-on"
    script = f"""
        import os, time
        print("accuracy=0.5")  # no flush: the collector makes Python unbuffered
        while not os.path.exists({str(go_on)!r}):
            time.sleep(0.01)
        print("accuracy=0.6")
    """
    trial = service.new_trial()
    process = subprocess.Popen(
        stdout_collector_argv(script),
        env=environment(service.endpoint, trial.id),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: service.measurements(trial.id) == [(1, {"accuracy": 0.5})])
        go_on.touch()
        assert process.wait(DEADLINE) == 0
    finally:
        process.kill()
    assert service.measurements(trial.id) == [(1, {"accuracy": 0.5}), (2, {"accuracy": 0.6})]


def test_many_lines_in_batches(service: Service) -> None:
    script = """
        for step in range(2000):
            print(f"step={step} loss={step / 1000} padding={'x' * 50}")
    """
    trial = service.new_trial()
    result = run(stdout_collector_argv(script), environment(service.endpoint, trial.id))
    assert result.returncode == 0, result.stderr.decode()
    got = service.measurements(trial.id)
    assert [step for step, _ in got] == list(range(2000))
    assert got[1234] == (1234, {"loss": 1.234})
    assert len(result.stdout.splitlines()) == 2000


def test_progress_bars_with_carriage_returns(service: Service) -> None:
    script = """
        import sys
        for i in range(1, 4):
            sys.stdout.write(f"\\r{i * 33}% loss={1 / i:.2f}")
        sys.stdout.write("\\n")
    """
    trial = service.new_trial()
    result = run(stdout_collector_argv(script), environment(service.endpoint, trial.id))
    assert result.returncode == 0
    assert [m["loss"] for _, m in service.measurements(trial.id)] == [1.0, 0.5, 0.33]
    assert result.stdout == b"\r33% loss=1.00\r66% loss=0.50\r99% loss=0.33\n"


# -- exit codes and signals ------------------------------------------------------------------


def test_exit_code_passes_through_after_the_measurements(service: Service) -> None:
    script = """
        import sys
        print("loss=0.5 accuracy=0.1")
        sys.exit(3)
    """
    trial = service.new_trial()
    result = run(stdout_collector_argv(script), environment(service.endpoint, trial.id))
    assert result.returncode == 3
    assert service.measurements(trial.id) == [(1, {"loss": 0.5, "accuracy": 0.1})]


def test_killed_command_gives_128_plus_the_signal(service: Service) -> None:
    script = """
        import os, signal
        print("loss=0.5", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """
    trial = service.new_trial()
    result = run(stdout_collector_argv(script), environment(service.endpoint, trial.id))
    assert result.returncode == 128 + signal.SIGKILL
    assert service.measurements(trial.id) == [(1, {"loss": 0.5})]


def test_sigterm_is_forwarded_to_the_command(service: Service) -> None:
    script = """
        import signal, sys, time
        def on_term(signum, frame):
            print("got SIGTERM; accuracy=0.9")
            sys.exit(5)
        signal.signal(signal.SIGTERM, on_term)
        print("ready")
        time.sleep(60)
    """
    trial = service.new_trial()
    # A session of its own, and the signal to the wrapper's pid only: the command gets it
    # only if the wrapper forwards it (as in a container, where only PID 1 is signalled).
    process = subprocess.Popen(
        stdout_collector_argv(script),
        env=environment(service.endpoint, trial.id),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        read_until(process, b"ready\n")
        process.send_signal(signal.SIGTERM)
        rest = read_until(process, b"got SIGTERM")
        assert process.wait(DEADLINE) == 5
    finally:
        process.kill()
    assert b"accuracy=0.9" in rest
    assert service.measurements(trial.id) == [(1, {"accuracy": 0.9})]


def test_sigterm_ends_a_command_without_a_handler(service: Service) -> None:
    script = """
        import time
        print("ready")
        time.sleep(60)
    """
    process = subprocess.Popen(
        stdout_collector_argv(script),
        env=environment(service.endpoint, service.new_trial().id),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        read_until(process, b"ready\n")
        process.send_signal(signal.SIGTERM)
        assert process.wait(DEADLINE) == 128 + signal.SIGTERM
    finally:
        process.kill()


def test_sigint_is_forwarded_too() -> None:
    script = """
        import time
        try:
            print("ready")
            time.sleep(60)
        except KeyboardInterrupt:
            print("interrupted")
            raise SystemExit(9)
    """
    process = subprocess.Popen(
        stdout_collector_argv(script),
        env=environment(None),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        read_until(process, b"ready\n")
        process.send_signal(signal.SIGINT)
        read_until(process, b"interrupted")
        assert process.wait(DEADLINE) == 9
    finally:
        process.kill()


def test_the_command_runs_in_the_wrapper_process_group() -> None:
    script = "import os; print(os.getpgid(0) == os.getpgid(os.getppid()))"
    result = run(stdout_collector_argv(script), environment(None))
    assert result.stdout == b"True\n"


# -- without a service -----------------------------------------------------------------------


def test_without_an_endpoint_it_only_tees_and_parses() -> None:
    script = """
        import sys
        print("loss=0.5 accuracy=oops")
        sys.exit(4)
    """
    result = run(stdout_collector_argv(script), environment(None))
    assert result.returncode == 4
    assert result.stdout == b"loss=0.5 accuracy=oops\n"
    log = result.stderr.decode()
    assert "TUNER_SERVICE_ENDPOINT is not set: metrics are parsed but reported nowhere" in log
    assert "metric values read from the output: loss: 1 (reported nowhere)" in log
    assert "no value of accuracy in the output" in log
    assert "1 values were not numbers and were skipped, e.g. accuracy='oops'" in log


def test_an_unreachable_service_does_not_change_the_exit_code() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nobody listens there
    script = """
        import sys
        print("loss=0.5")
        sys.exit(6)
    """
    argv = stdout_collector_argv(script, "--flush-timeout=0.5")
    result = run(argv, environment(f"127.0.0.1:{port}", 1))
    assert result.returncode == 6
    assert result.stdout == b"loss=0.5\n"
    assert "1 measurements stay in" in result.stderr.decode()  # spooled for later


def test_an_endpoint_needs_a_trial_id() -> None:
    result = run(stdout_collector_argv("print('never runs')"), environment("127.0.0.1:1", None))
    assert result.returncode == 2
    assert result.stdout == b""
    assert "TUNER_TRIAL_ID must be a trial id" in result.stderr.decode()


def test_a_missing_command_exits_127() -> None:
    argv = [sys.executable, "-m", "tuner.collectors", "stdout", "--metric=loss", "--"]
    result = run([*argv, "no-such-program-xyz"], environment(None))
    assert result.returncode == 127
    assert "cannot run 'no-such-program-xyz'" in result.stderr.decode()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["stdout", "--metric=loss"], "the command to run is missing"),
        (["stdout", "--", "true"], "--metric"),
        (["stdout", "--metric=loss", "--format=(x", "--", "true"], "not a valid regular"),
        (["stdout", "--metric=a", "--json", "--format=(a)=(b)", "--", "true"], "not allowed"),
        (["nope", "--", "true"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2(options: list[str], message: str) -> None:
    result = run([sys.executable, "-m", "tuner.collectors", *options], environment(None))
    assert result.returncode == 2
    assert message in result.stderr.decode()


def test_wrap_with_stdout_collector() -> None:
    argv = wrap_with_stdout_collector(
        ["python", "train.py", "--lr=0.1"],
        metric_names=["accuracy", "loss"],
        formats=[r"-(\w+)=(\S+)"],
    )
    assert argv == (
        sys.executable,
        "-m",
        "tuner.collectors",
        "stdout",
        "--metric=accuracy",
        "--metric=loss",
        r"--format=-(\w+)=(\S+)",
        "--",
        "python",
        "train.py",
        "--lr=0.1",
    )
    with pytest.raises(InvalidArgumentError):
        wrap_with_stdout_collector([], metric_names=["loss"])
    with pytest.raises(InvalidArgumentError):
        wrap_with_stdout_collector(["x"], metric_names=[])
    with pytest.raises(InvalidArgumentError):
        wrap_with_stdout_collector(["x"], metric_names=["a"], formats=["(a)(b)"], json_lines=True)
    with pytest.raises(InvalidArgumentError):
        wrap_with_stdout_collector(["x"], metric_names=["a"], formats=["(a)"])


# -- under the local runner, as `tuner run` uses it ------------------------------------------


def test_local_runner_with_the_collector(service: Service, tmp_path: Path) -> None:
    script = """
        import os, sys
        lr = float(sys.argv[1])
        for epoch in range(1, 3):
            print(f"epoch={epoch} loss={lr * epoch} accuracy={epoch / 4}")
        print("study", os.environ["TUNER_STUDY_NAME"])
    """

    def command_for(trial: Trial) -> ProcessCommand:
        argv = ["python", "-c", textwrap.dedent(script), str(trial.parameters["lr"])]
        wrapped = wrap_with_stdout_collector(argv, metric_names=["accuracy", "loss"])
        return ProcessCommand(argv=wrapped)

    runner = LocalRunner(
        command_for=command_for, log_dir=tmp_path / "logs", service_endpoint=service.endpoint
    )
    try:
        trial = service.new_trial()
        runner.launch(trial)
        wait_for(lambda: runner.poll(trial.id).phase is not RunPhase.RUNNING)
        assert runner.poll(trial.id).phase is RunPhase.SUCCEEDED
        lr = float(trial.parameters["lr"])
        assert service.measurements(trial.id) == [
            (1, {"loss": lr, "accuracy": 0.25}),
            (2, {"loss": lr * 2, "accuracy": 0.5}),
        ]
        log = runner.log_path(trial).read_text()
        assert "epoch=2" in log
        assert f"study {STUDY}" in log
        assert "measurements delivered" in log  # the collector's own log, on stderr
        assert service.core.complete_trial(trial.id).objective_value("accuracy") == 0.5
    finally:
        runner.close()


def test_local_runner_stops_a_collected_trial(service: Service, tmp_path: Path) -> None:
    script = """
        import signal, sys, time
        def on_term(signum, frame):
            # The group's SIGTERM comes once directly and once forwarded by the collector:
            # a handler that acts once, as most do, sees one.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("loss=0.125", flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, on_term)
        print("ready", flush=True)
        time.sleep(60)
    """
    argv = wrap_with_stdout_collector(
        ["python", "-c", textwrap.dedent(script)], metric_names=["loss"]
    )
    runner = LocalRunner(
        command_for=lambda trial: ProcessCommand(argv=argv),
        log_dir=tmp_path / "logs",
        service_endpoint=service.endpoint,
        grace_period=DEADLINE,
    )
    try:
        trial = service.new_trial()
        runner.launch(trial)
        wait_for(lambda: "ready" in runner.log_path(trial).read_text())
        runner.stop(trial.id)
        assert runner.poll(trial.id).phase is RunPhase.SUCCEEDED
        assert service.measurements(trial.id) == [(1, {"loss": 0.125})]
    finally:
        runner.close()


def test_a_descendant_holding_the_output_open_does_not_hold_the_collector(
    monkeypatch: pytest.MonkeyPatch,
    capfdbinary: pytest.CaptureFixture[bytes],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tuner.collectors import _wrapper

    monkeypatch.setattr(_wrapper, "_DRAIN_TIMEOUT", 0.2)
    caplog.set_level(logging.INFO, logger="tuner")
    command = ["sh", "-c", 'sleep 30 & echo "pid=$!"; echo loss=1; exit 3']
    exit_code = run_stdout_collector(command, metric_names=["loss"], environ=environment(None))
    output = capfdbinary.readouterr().out
    os.kill(int(output.split(b"pid=")[1].split()[0]), signal.SIGKILL)
    assert exit_code == 3
    assert b"loss=1\n" in output
    assert "its output is still open" in caplog.text
    assert "metric values read from the output: loss: 1 (reported nowhere)" in caplog.text
