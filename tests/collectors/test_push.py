"""The Push collector: ``tuner.report`` and ``tuner report`` from real trial processes."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tuner.collectors import parse_metric_assignments
from tuner.errors import InvalidArgumentError
from tuner.local import run_experiment
from tuner.store import open_store
from tuner.trial import TrialState

EXPERIMENT = """\
apiVersion: tuner.dev/v1beta1
kind: Experiment
metadata:
  name: pushed
spec:
  objective:
    type: minimize
    objectiveMetricName: loss
    additionalMetricNames: [accuracy]
  algorithm:
    algorithmName: random
  parallelTrialCount: 2
  maxTrialCount: 2
  maxFailedTrialCount: 0
  parameters:
    - name: x
      parameterType: double
      feasibleSpace: {{min: "0.1", max: "1"}}
  metricsCollectorSpec:
    collector:
      kind: Push
  trialTemplate:
    primaryContainerName: main
    trialParameters:
      - name: x
        reference: x
    trialSpec:
      apiVersion: batch/v1
      kind: Job
      spec:
        template:
          spec:
            restartPolicy: Never
            containers:
              - name: main
                image: unused-locally
                command: {command}
"""

PYTHON_TRIAL = """\
import sys
import tuner

x = float(sys.argv[1])
for epoch in range(5):
    tuner.report(step=epoch, loss=x / (epoch + 1), accuracy=0.1 * epoch)
tuner.report(accuracy=float("nan"))  # no step: the 6th value of accuracy, step 6
print("done")  # Push reads no output
"""


def _run(tmp_path: Path, command: list[str], *, succeeded: int = 2) -> str:
    path = tmp_path / "experiment.yaml"
    path.write_text(EXPERIMENT.format(command=command))
    store = f"sqlite:///{tmp_path / 'tuner.db'}"
    result = run_experiment(path, store=store, workdir=tmp_path / "work", poll_interval=0.05)
    assert result.progress.succeeded == succeeded, result
    return store


@pytest.mark.timeout(60)
def test_tuner_report_from_a_python_trial(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(PYTHON_TRIAL)
    store_url = _run(tmp_path, [sys.executable, str(script), "${trialParameters.x}"])
    store = open_store(store_url)
    try:
        for trial in store.list_trials("pushed"):
            assert trial.state is TrialState.SUCCEEDED
            x = float(trial.parameters["x"])  # type: ignore[arg-type]
            steps = [(m.step, sorted(m.metrics)) for m in trial.measurements]
            assert steps == [(e, ["accuracy", "loss"]) for e in range(5)] + [(6, ["accuracy"])]
            assert [m.metrics["loss"] for m in trial.measurements[:5]] == [
                x / (e + 1) for e in range(5)
            ]
            assert math.isnan(trial.measurements[-1].metrics["accuracy"])
            assert all(m.report_id for m in trial.measurements)
            assert trial.final_measurement is not None
            assert trial.final_measurement.metrics["loss"] == pytest.approx(x / 5)
    finally:
        store.close()


@pytest.mark.timeout(60)
def test_a_trial_that_never_reports_fails_saying_how_it_should_have(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "print('loss=0.1')", "${trialParameters.x}"]
    store_url = _run(tmp_path, command, succeeded=0)
    store = open_store(store_url)
    try:
        trials = store.list_trials("pushed")
    finally:
        store.close()
    assert trials
    for trial in trials:
        assert trial.state is TrialState.FAILED
        assert trial.reason.startswith("exited 0 but reported no value of the objective metric")
        assert "with the Push collector the trial reports its metrics itself" in trial.reason
        assert "`tuner report NAME=VALUE`" in trial.reason


@pytest.mark.timeout(60)
def test_tuner_report_from_a_shell_trial(tmp_path: Path) -> None:
    report = f"{sys.executable} -m tuner.cli report"
    script = (
        f"{report} --step 1 loss=$1 accuracy=0.5 && "
        f"{report} loss=0.01 && {report} loss=0.02"  # no --step: 1, then 2
    )
    store_url = _run(tmp_path, ["sh", "-c", script, "trial", "${trialParameters.x}"])
    store = open_store(store_url)
    try:
        for trial in store.list_trials("pushed"):
            x = float(trial.parameters["x"])  # type: ignore[arg-type]
            assert [(m.step, dict(m.metrics)) for m in trial.measurements] == [
                (1, {"loss": x, "accuracy": 0.5}),
                (1, {"loss": 0.01}),
                (2, {"loss": 0.02}),
            ]
            assert trial.state is TrialState.SUCCEEDED
    finally:
        store.close()


def test_without_an_endpoint_report_warns_once_and_does_nothing(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import tuner
        for step in range(3):
            tuner.report(step=step, loss=0.5)
        print("ok")
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_SERVICE")}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
    assert result.stderr.count("TUNER_SERVICE_ENDPOINT is not set") == 1


def test_the_cli_refuses_a_bad_assignment_naming_it() -> None:
    env = {**os.environ, "TUNER_SERVICE_ENDPOINT": "127.0.0.1:1", "TUNER_TRIAL_ID": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "tuner.cli", "report", "loss=0.5", "accuracy=high"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "metrics[1]" in result.stderr
    assert "'accuracy=high'" in result.stderr


@pytest.mark.parametrize("argument", ["loss", "=1", "loss=", "loss=1_0", "loss=abc"])
def test_parse_metric_assignments_refuses(argument: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        parse_metric_assignments(["ok=1", argument])
    assert caught.value.field == "metrics[1]"
