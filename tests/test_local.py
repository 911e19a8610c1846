"""``tuner run`` as users run it: a real CLI process, killed and run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tuner.store import open_store
from tuner.trial import TrialState

SCRIPT = Path(__file__).parent / "controller" / "trial_script.py"

EXPERIMENT = """\
apiVersion: tuner.dev/v1beta1
kind: Experiment
metadata:
  name: resumable
spec:
  objective:
    type: minimize
    objectiveMetricName: loss
  algorithm:
    algorithmName: random
  parallelTrialCount: 2
  maxTrialCount: {max_trials}
  maxFailedTrialCount: 0
  parameters:
    - name: x
      parameterType: double
      feasibleSpace: {{min: "-1", max: "1"}}
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
                command: [python, {script}, "--x=${{trialParameters.x}}", "--sleep={sleep}"]
"""


def _write_experiment(tmp_path: Path, *, max_trials: int, sleep: float) -> Path:
    path = tmp_path / "experiment.yaml"
    path.write_text(EXPERIMENT.format(max_trials=max_trials, script=SCRIPT, sleep=sleep))
    return path


def _tuner_run(experiment: Path, store: str, tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tuner.cli", "run", str(experiment), "--store", store],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def test_sigkill_then_rerun_loses_no_trial_and_finishes_the_budget(tmp_path: Path) -> None:
    experiment = _write_experiment(tmp_path, max_trials=8, sleep=0.5)
    store_url = f"sqlite:///{tmp_path / 'tuner.db'}"
    first = _tuner_run(experiment, store_url, tmp_path)
    store = None
    try:

        def mid_run() -> bool:
            """Whether some trials have succeeded while others are running."""
            nonlocal store
            if store is None:
                if not (tmp_path / "tuner.db").exists():
                    return False
                store = open_store(store_url)
            try:
                states = [t.state for t in store.list_trials("resumable")]
            except Exception:  # the study is not created yet
                return False
            return states.count(TrialState.SUCCEEDED) >= 3 and TrialState.ACTIVE in states

        _wait_for(mid_run)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
        assert store is not None
        before = {
            t.id: t for t in store.list_trials("resumable") if t.state is TrialState.SUCCEEDED
        }
        assert len(before) >= 3

        second = _tuner_run(experiment, store_url, tmp_path)
        output, _ = second.communicate(timeout=120)
        assert second.returncode == 0, output
        assert "resuming with" in output
        assert "Succeeded" in output

        after = store.list_trials("resumable")
        assert len(after) == 8
        assert all(t.state is TrialState.SUCCEEDED for t in after)
        for trial_id, trial in before.items():  # kept exactly as they were
            again = next(t for t in after if t.id == trial_id)
            assert again.final_measurement == trial.final_measurement
            assert again.completed_at == trial.completed_at
    finally:
        if first.poll() is None:
            first.kill()
        if store is not None:
            store.close()


def test_an_invalid_document_changes_nothing_and_names_every_field(tmp_path: Path) -> None:
    bad = EXPERIMENT.format(max_trials=0, script=SCRIPT, sleep=0).replace(
        'min: "-1", max: "1"', 'min: "2", max: "1"'
    )
    experiment = tmp_path / "bad.yaml"
    experiment.write_text(bad)
    run = _tuner_run(experiment, f"sqlite:///{tmp_path / 'tuner.db'}", tmp_path)
    output, _ = run.communicate(timeout=60)
    assert run.returncode == 2
    assert "spec.maxTrialCount" in output
    assert "spec.parameters[0].feasibleSpace" in output
    assert not (tmp_path / "tuner.db").exists()


def test_a_trial_left_running_by_a_killed_run_stops_with_it(tmp_path: Path) -> None:
    experiment = _write_experiment(tmp_path, max_trials=2, sleep=300)
    run = _tuner_run(experiment, f"sqlite:///{tmp_path / 'tuner.db'}", tmp_path)
    try:
        logs = tmp_path / ".tuner" / "logs" / "resumable"
        _wait_for(lambda: len(list(logs.glob("*.log"))) == 2)
        _wait_for(lambda: all("starting" in p.read_text() for p in logs.glob("*.log")))
        trial_pids = _trial_pids(tmp_path)
        assert len(trial_pids) == 2
    finally:
        run.kill()
        run.communicate(timeout=30)
    _wait_for(lambda: not set(_trial_pids(tmp_path)) & set(trial_pids), timeout=30)


def test_ctrl_c_stops_the_trials_and_keeps_them_for_the_next_run(tmp_path: Path) -> None:
    experiment = _write_experiment(tmp_path, max_trials=4, sleep=300)
    store_url = f"sqlite:///{tmp_path / 'tuner.db'}"
    run = _tuner_run(experiment, store_url, tmp_path)
    try:
        logs = tmp_path / ".tuner" / "logs" / "resumable"
        _wait_for(lambda: len(list(logs.glob("*.log"))) == 2)
        _wait_for(lambda: all("starting" in p.read_text() for p in logs.glob("*.log")))
        run.send_signal(signal.SIGINT)
        output, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, output
    assert "Interrupted" in output
    assert _trial_pids(tmp_path) == []
    store = open_store(store_url)
    try:
        trials = store.list_trials("resumable")
    finally:
        store.close()
    assert [t.state for t in trials] == [TrialState.ACTIVE] * 2


def _trial_pids(cwd: Path) -> list[int]:
    """The test script's processes (not their collectors) running in ``cwd``."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or os.readlink(entry / "cwd") != str(cwd):
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if len(argv) > 1 and argv[1].endswith(SCRIPT.name.encode()):
            pids.append(int(entry.name))
    return pids


pytestmark = pytest.mark.slow
