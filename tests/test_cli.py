"""The ``tuner`` command: study and trial listings, the server."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rich.console import Console
from rich.text import Text

import tuner
from tuner import cli
from tuner.cli import main
from tuner.client import Client


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as wide as they need, so no cell is cut (pytest's stdout is not a terminal)."""
    monkeypatch.setattr(cli.console, "width", 300)


@pytest.fixture
def store_with_study(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'tuner.db'}"
    with tuner.Study.create(
        "demo",
        parameters=[tuner.DoubleParameter(name="lr", low=1e-4, high=1.0, scale=tuner.Scale.LOG)],
        objective="accuracy",
        direction="maximize",
        store=url,
    ) as study:
        study.optimize(lambda trial: 0.5 + float(trial.parameters["lr"]) / 4, n_trials=4)
        trial = study.suggest()
        study.report(trial, step=1, accuracy=0.1)
    return url


def test_study_list_show_and_trials(
    store_with_study: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["study", "list", "--store", store_with_study]) == 0
    listing = capsys.readouterr().out
    assert "demo" in listing and "ACTIVE" in listing and "maximize accuracy" in listing

    assert main(["study", "show", "demo", "--store", store_with_study]) == 0
    shown = capsys.readouterr().out
    assert "4 succeeded" in shown and "1 active" in shown
    assert "Best trial: accuracy" in shown

    assert main(["trials", "demo", "--store", store_with_study]) == 0
    trials = capsys.readouterr().out
    assert trials.count("SUCCEEDED") == 4 and "ACTIVE" in trials


def test_study_list_counts_every_trial_of_each_study(
    store_with_study: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with tuner.Study.create(
        "second",
        parameters=[tuner.DoubleParameter(name="lr", low=0.0, high=1.0)],
        objective="loss",
        store=store_with_study,
    ) as study:
        study.fail(study.suggest(), "crash")
        study.suggest()
    assert main(["study", "list", "--store", store_with_study]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    # name, state, algorithm, objective (two words), trials, created
    assert rows["demo"][5] == "5"
    assert rows["second"][5] == "2"

    assert main(["study", "show", "second", "--store", store_with_study]) == 0
    shown = capsys.readouterr().out
    assert "1 failed, 1 active" in shown
    assert "Best trial" not in shown


def test_errors_exit_2_with_the_message(
    store_with_study: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["study", "show", "nope", "--store", store_with_study]) == 2
    assert "nope" in capsys.readouterr().err


def test_study_delete(store_with_study: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["study", "delete", "demo", "--store", store_with_study]) == 0
    assert main(["study", "show", "demo", "--store", store_with_study]) == 2


def test_server_serves_the_api_and_health(store_with_study: str, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tuner.cli",
            "server",
            "--store",
            store_with_study,
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            deadline = time.monotonic() + 30
            while True:
                try:
                    reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    break
                except grpc.RpcError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        with Client(f"127.0.0.1:{port}") as client:
            assert [s.name for s in client.list_studies()] == ["demo"]
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output


@pytest.fixture
def study_with_a_failure(tmp_path: Path) -> str:
    """Three parameters, two metrics, one failed trial with a long reason."""
    url = f"sqlite:///{tmp_path / 'tuner.db'}"
    with tuner.Study.create(
        "wide",
        parameters=[
            tuner.DoubleParameter(name="alpha", low=1e-6, high=1e-2, scale=tuner.Scale.LOG),
            tuner.DoubleParameter(name="eta0", low=1e-3, high=1.0, scale=tuner.Scale.LOG),
            tuner.CategoricalParameter(
                name="learning_rate", choices=("constant", "optimal", "invscaling")
            ),
        ],
        objective=tuner.Objective(
            metric_name="accuracy",
            direction=tuner.Direction.MAXIMIZE,
            additional_metric_names=("loss",),
        ),
        store=url,
    ) as study:
        study.optimize(lambda trial: {"accuracy": 0.912345678, "loss": 0.123456789}, n_trials=3)
        study.fail(study.suggest(), "exited 1: " + "a long traceback line " * 8)
    return url


def _terminal(monkeypatch: pytest.MonkeyPatch, width: int) -> io.StringIO:
    output = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=output, width=width, force_terminal=True))
    return output


def test_the_trials_table_fits_80_columns_and_cuts_no_value(
    study_with_a_failure: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = _terminal(monkeypatch, 80)
    assert main(["trials", "wide", "--store", study_with_a_failure]) == 0
    text = Text.from_ansi(output.getvalue()).plain
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "…" not in text
    assert "learning_rate" in text and "0.9123" in text and "0.1235" in text
    assert text.count("SUCCEEDED") == 3 and "FAILED" in text
    assert "trial 4: exited 1: a long traceback line" in " ".join(text.split())


def test_a_listing_into_a_pipe_is_as_wide_as_it_needs(
    store_with_study: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=output, width=40))  # not a terminal
    assert main(["study", "list", "--store", store_with_study]) == 0
    assert "maximize accuracy" in output.getvalue() and "…" not in output.getvalue()
