"""Nothing lost: a service outage mid-trial, collection problems on the trial's status.

Real collector processes report to a real server over loopback; the outage stops the
server (the store stays) and starts a new one on the same port.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.collectors.support import DEADLINE, stdout_collector_argv, wait_for
from tuner.client import Client
from tuner.config import AlgorithmSpec, Objective, StudyConfig
from tuner.service import ServiceCore, create_server
from tuner.space import DoubleParameter, SearchSpace
from tuner.store import open_store
from tuner.study import Study
from tuner.trial import TrialState

pytestmark = pytest.mark.slow

CONFIG = StudyConfig(
    space=SearchSpace((DoubleParameter(name="x", low=0.0, high=1.0),)),
    objective=Objective(metric_name="loss", additional_metric_names=("accuracy",)),
    algorithm=AlgorithmSpec(name="random"),
    seed=3,
)


class Service:
    """A server over a SQLite file that can be stopped and started again on its port."""

    def __init__(self, directory: Path) -> None:
        self.core = ServiceCore(open_store(f"sqlite:///{directory / 'tuner.db'}"))
        self.core.create_study("s", CONFIG)
        self.server, self.port = create_server(self.core, host="127.0.0.1", port=0)
        self.server.start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop(None).wait()

    def start_again(self) -> None:
        self.server, port = create_server(self.core, host="127.0.0.1", port=self.port)
        assert port == self.port
        self.server.start()

    def close(self) -> None:
        self.stop()
        self.core.close()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    running = Service(tmp_path)
    try:
        yield running
    finally:
        running.close()


def start_collector(
    script: str, service: Service, trial_id: int, *metrics: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TUNER_SERVICE_ENDPOINT": service.endpoint,
        "TUNER_TRIAL_ID": str(trial_id),
    }
    argv = stdout_collector_argv(script, metrics=metrics or ("loss",))
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


# A trial that prints a metric line every 2 ms until told to stop, then prints 200 more.
FAST_TRIAL = """
    import os, sys, time
    stop = sys.argv[1]
    step = 0
    while True:
        step += 1
        print(f"step={step} loss={1 / step:.6g}", flush=True)
        time.sleep(0.002)
        if os.path.exists(stop):
            break
    for _ in range(200):
        step += 1
        print(f"step={step} loss={1 / step:.6g}", flush=True)
"""


@pytest.mark.timeout(90)
def test_a_service_outage_loses_and_duplicates_nothing(service: Service, tmp_path: Path) -> None:
    [trial] = service.core.suggest_trials("s", 1).trials
    stop_file = tmp_path / "stop"
    script = FAST_TRIAL.replace("sys.argv[1]", repr(str(stop_file)))
    process = start_collector(script, service, trial.id)
    try:

        def stored() -> int:
            return len(service.core.get_trial(trial.id).measurements)

        wait_for(lambda: stored() >= 100)
        service.stop()
        during = stored()
        time.sleep(3.0)  # the outage: the trial keeps printing, the collector keeps trying
        service.start_again()
        wait_for(lambda: stored() > during + 1000)  # it delivers what it held
        stop_file.touch()
        _, stderr = process.communicate(timeout=DEADLINE)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr.decode()
    measurements = service.core.get_trial(trial.id).measurements
    steps = [m.step for m in measurements]
    assert steps == list(range(1, len(steps) + 1))  # every one, once, in order
    assert [m.metrics["loss"] for m in measurements] == [float(f"{1 / step:.6g}") for step in steps]
    assert len({m.report_id for m in measurements}) == len(measurements)
    assert len(measurements) > during + 1200


def test_unparseable_lines_reach_the_trial_status(service: Service) -> None:
    [trial] = service.core.suggest_trials("s", 1).trials
    script = """
        for i in range(7):
            print(f"step={i} loss=bad{i}")
        print("step=9 loss=0.5")
    """
    process = start_collector(script, service, trial.id)
    _, stderr = process.communicate(timeout=DEADLINE)
    assert process.returncode == 0, stderr.decode()
    with Client(service.endpoint) as client:
        got = client.get_trial(trial.id)
    assert got.diagnostics.n_unparseable == 7
    assert [(e.source, e.line) for e in got.diagnostics.unparseable_examples] == [
        ("stdout", f"step={i} loss=bad{i}") for i in range(5)
    ]
    assert "7 unparseable lines (stdout: 'step=0 loss=bad0'" in got.diagnostics.summary()
    assert got.state is TrialState.ACTIVE  # the objective was found: the controller completes it

    # The Study API (in-process here) and `tuner trials` show the same.
    [listed] = Study("s", service.core).trials
    assert listed.diagnostics == got.diagnostics
    table = subprocess.run(
        [sys.executable, "-m", "tuner.cli", "trials", "s", "--server", service.endpoint],
        env={**os.environ, "COLUMNS": "400"},
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=True,
    ).stdout
    assert "collector" in table
    assert "7 unparseable lines" in table


def test_a_trial_that_exits_0_without_the_objective_fails_saying_where(
    service: Service,
) -> None:
    [trial] = service.core.suggest_trials("s", 1).trials
    process = start_collector("print('accuracy=0.9')", service, trial.id, "loss", "accuracy")
    _, stderr = process.communicate(timeout=DEADLINE)
    assert process.returncode == 0, stderr.decode()
    failed = service.core.get_trial(trial.id)
    assert failed.state is TrialState.FAILED
    assert failed.reason == (
        "exited 0 but the collector found no value of the objective metric 'loss' in the "
        "trial's output (stdout and stderr) (expected lines matching the metrics format "
        "(by default name=value pairs))"
    )


def test_a_failing_trial_is_left_to_the_controller(service: Service) -> None:
    [trial] = service.core.suggest_trials("s", 1).trials
    process = start_collector("import sys; sys.exit(3)", service, trial.id)
    process.communicate(timeout=DEADLINE)
    assert process.returncode == 3
    assert service.core.get_trial(trial.id).state is TrialState.ACTIVE


def test_the_stopping_server_cancels_a_call_that_is_retried_not_dropped(
    service: Service,
) -> None:
    """A call cut short by ``server.stop`` comes back CANCELLED or UNAVAILABLE, never refused."""
    [trial] = service.core.suggest_trials("s", 1).trials
    with Client(service.endpoint, timeout=2.0) as client:
        service.stop()
        with pytest.raises(Exception) as caught:
            client.get_trial(trial.id)
    from tuner.collectors._reporter import REFUSALS

    assert not isinstance(caught.value, REFUSALS)
    assert not isinstance(caught.value, grpc.RpcError)
    service.start_again()


@pytest.mark.timeout(60)
def test_an_outage_longer_than_the_retries_goes_through_the_spool(
    service: Service, tmp_path: Path
) -> None:
    """A reporter over a real client: batches spooled to disk come back in order, once."""
    from tuner.collectors import MeasurementReporter

    [trial] = service.core.suggest_trials("s", 1).trials
    client = Client(service.endpoint, timeout=0.3, max_attempts=1, wait_for_ready=False)
    reporter = MeasurementReporter(
        client,
        trial.id,
        batch_size=50,
        flush_interval=0.05,
        retry_attempts=2,
        retry_backoff=0.05,
        spool_dir=tmp_path / "spool",
    )
    try:
        step = 0

        def record(count: int) -> None:
            nonlocal step
            for _ in range(count):
                step += 1
                reporter.record("loss", 1 / step, step=step)
                time.sleep(0.0005)

        record(200)
        service.stop()
        record(400)
        wait_for(lambda: reporter.n_spooled > 0)  # the retries ran out: on disk
        service.start_again()
        record(400)
        assert reporter.close(timeout=20)
    finally:
        client.close()
    measurements = service.core.get_trial(trial.id).measurements
    assert [m.step for m in measurements] == list(range(1, 1001))
    assert len({m.report_id for m in measurements}) == 1000
    assert not (tmp_path / "spool").exists() or list((tmp_path / "spool").iterdir()) == []


@pytest.mark.timeout(60)
def test_a_refused_token_keeps_the_measurements_and_spends_no_grace_period(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong ``$TUNER_SERVICE_TOKEN`` is no outage: close returns at once, the spool keeps all."""
    from tuner.collectors import MeasurementReporter, flush_spools
    from tuner.errors import UnauthenticatedError

    core = ServiceCore(open_store(f"sqlite:///{tmp_path / 'tuner.db'}"))
    core.create_study("s", CONFIG)
    server, port = create_server(core, host="127.0.0.1", port=0, token="right")
    server.start()
    endpoint = f"127.0.0.1:{port}"
    [trial] = core.suggest_trials("s", 1).trials
    try:
        with Client(endpoint, token="wrong", timeout=5.0) as client:
            with pytest.raises(UnauthenticatedError):
                client.get_trial(trial.id)
            reporter = MeasurementReporter(
                client,
                trial.id,
                flush_interval=0.05,
                retry_backoff=0.05,
                spool_dir=tmp_path / "spool",
                grace_period=3600,  # spent in full if a refused token counted as an outage
            )
            for step in range(1, 4):
                reporter.record("loss", 1 / step, step=step)
            assert not reporter.close()
        assert (reporter.n_spooled, reporter.n_lost) == (3, 0)
        assert "TUNER_SERVICE_TOKEN" in caplog.text
        assert core.get_trial(trial.id).measurements == ()

        with Client(endpoint, token="right", timeout=5.0) as client:
            assert flush_spools(client, trial.id, tmp_path / "spool") == (3, 0)
        assert [m.step for m in core.get_trial(trial.id).measurements] == [1, 2, 3]
    finally:
        server.stop(None).wait()
        core.close()
