"""What every wrapping collector does around its command: start it, map exit codes, summarise."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

import pytest

from tuner.collectors._supervise import (
    EXIT_NOT_EXECUTABLE,
    EXIT_NOT_FOUND,
    SignalForwarder,
    exit_code_of,
    log_summary,
    start_command,
)


def test_a_missing_command_gives_127(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with SignalForwarder() as forwarder:
        started = start_command(
            [str(tmp_path / "absent")], dict(os.environ), forwarder, exit_with_parent=False
        )
    assert started == EXIT_NOT_FOUND == 127
    assert "cannot run" in caplog.text and "absent" in caplog.text


def test_a_file_that_cannot_run_gives_126(tmp_path: Path) -> None:
    script = tmp_path / "train.sh"
    script.write_text("echo loss=1\n")  # not executable
    with SignalForwarder() as forwarder:
        started = start_command([str(script)], dict(os.environ), forwarder, exit_with_parent=False)
    assert started == EXIT_NOT_EXECUTABLE == 126


def test_a_signal_before_the_start_keeps_the_command_from_starting(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]
    with SignalForwarder() as forwarder:
        os.kill(os.getpid(), signal.SIGTERM)  # handled by the forwarder: held, not fatal
        started = start_command(command, dict(os.environ), forwarder, exit_with_parent=False)
    assert started == 128 + signal.SIGTERM
    assert not marker.exists()


def test_a_held_signal_reaches_the_command_once_it_starts() -> None:
    command = [sys.executable, "-c", "import time; time.sleep(30)"]
    with SignalForwarder() as forwarder:
        os.kill(os.getpid(), signal.SIGTERM)  # held: it came between the check and the start
        forwarder.received.clear()  # (as if it came just after start_command's check)
        process = start_command(command, dict(os.environ), forwarder, exit_with_parent=False)
        assert not isinstance(process, int)
        forwarder.attach(process)  # attaching again forwards nothing twice
        assert exit_code_of(process.wait(30)) == 128 + signal.SIGTERM


def test_output_can_be_captured_into_one_pipe() -> None:
    command = [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr)"]
    with SignalForwarder() as forwarder:
        process = start_command(
            command, dict(os.environ), forwarder, exit_with_parent=False, capture_output=True
        )
        assert not isinstance(process, int) and process.stdout is not None
        output = process.stdout.read()
        process.wait(30)
    assert sorted(output.split()) == [b"err", b"out"]


@pytest.mark.parametrize(("returncode", "expected"), [(0, 0), (3, 3), (-9, 137), (-15, 143)])
def test_exit_codes_read_as_a_shell_reads_them(returncode: int, expected: int) -> None:
    assert exit_code_of(returncode) == expected


def test_the_summary_names_what_was_read_missed_and_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="tuner.collectors")
    log_summary(
        where="the file /logs/m.log",
        counts={"loss": 3},
        metric_names=("loss", "accuracy"),
        expectation="name=value lines",
        reporter=None,
        delivered=True,
        skipped="1 lines or records could not be read and were skipped, e.g. x",
    )
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "metric values read from the file /logs/m.log: loss: 3 (reported nowhere)",
        "no value of accuracy in the file /logs/m.log; expected name=value lines",
        "1 lines or records could not be read and were skipped, e.g. x",
    ]
