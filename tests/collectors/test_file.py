"""The File collector: a file followed as it is written; a real trial reporting to a service."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.collectors.conftest import Service
from tests.collectors.support import DEADLINE, RecordingSink, run_collector, wait_for
from tuner.collectors import DEFAULT_FORMAT
from tuner.collectors._file import MetricsFileSource
from tuner.collectors._parse import MetricLineParser
from tuner.trial import TrialState

NAMES = ("accuracy", "loss")


def text_source(path: Path, *formats: str) -> MetricsFileSource:
    return MetricsFileSource(str(path), MetricLineParser(NAMES, formats or (DEFAULT_FORMAT,)))


def json_source(path: Path) -> MetricsFileSource:
    return MetricsFileSource(str(path), MetricLineParser(NAMES, json_lines=True))


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(text)


# -- following a file ------------------------------------------------------------------------


def test_a_file_that_appears_later_is_read_from_its_start(
    tmp_path: Path, sink: RecordingSink
) -> None:
    path = tmp_path / "metrics.log"
    source = text_source(path)
    source.poll(sink)
    assert sink.observations == []

    append(path, "epoch=1 loss=0.5 accuracy=0.6\n")
    source.poll(sink)

    assert sink.values() == [("loss", 0.5, 1), ("accuracy", 0.6, 1)]
    source.close()


def test_a_partial_last_line_waits_for_its_end(tmp_path: Path, sink: RecordingSink) -> None:
    path = tmp_path / "metrics.log"
    source = text_source(path)
    append(path, "loss=0.5\nloss=0.2")  # "0.2" may still become "0.25"
    source.poll(sink)
    assert sink.values() == [("loss", 0.5, None)]

    append(path, "5\nloss=")
    source.poll(sink)
    assert sink.values() == [("loss", 0.5, None), ("loss", 0.25, None)]

    append(path, "0.125")  # the trial exits without a last line end: drain reads it
    source.drain(sink)
    assert sink.values()[-1] == ("loss", 0.125, None)
    source.close()


def test_a_file_left_from_an_earlier_run_is_skipped(tmp_path: Path, sink: RecordingSink) -> None:
    path = tmp_path / "metrics.log"
    path.write_text("loss=9\nloss=8\n")
    source = text_source(path)

    append(path, "loss=0.5\n")
    source.poll(sink)

    assert sink.values() == [("loss", 0.5, None)]
    source.close()


def test_truncation_reads_again_from_the_start(tmp_path: Path, sink: RecordingSink) -> None:
    path = tmp_path / "metrics.log"
    source = text_source(path)
    append(path, "loss=0.5 accuracy=0.1 and some padding to make the file longer\n")
    source.poll(sink)

    path.write_text("loss=0.25\n")  # shorter than before
    source.poll(sink)

    assert sink.values()[-1] == ("loss", 0.25, None)
    source.close()


def test_a_rewrite_longer_than_before_is_noticed(tmp_path: Path, sink: RecordingSink) -> None:
    path = tmp_path / "metrics.log"
    path.write_text("loss=9\n")  # left from an earlier run
    source = text_source(path)

    path.write_text("epoch=1 loss=0.5\nepoch=2 loss=0.25\n")  # the trial opens it with "w"
    source.poll(sink)

    assert sink.values() == [("loss", 0.5, 1), ("loss", 0.25, 2)]
    source.close()


def test_rotation_reads_the_old_file_to_its_end_then_the_new_one(
    tmp_path: Path, sink: RecordingSink
) -> None:
    path = tmp_path / "metrics.log"
    source = text_source(path)
    append(path, "loss=1\n")
    source.poll(sink)
    append(path, "loss=2\nloss=3")
    path.rename(tmp_path / "metrics.log.1")
    append(path, "loss=4\n")

    source.poll(sink)

    assert [value for _, value, _ in sink.values()] == [1.0, 2.0, 3.0, 4.0]
    source.close()


def test_a_deleted_file_is_still_read_through_its_open_handle(
    tmp_path: Path, sink: RecordingSink
) -> None:
    path = tmp_path / "metrics.log"
    source = text_source(path)
    with path.open("w", encoding="utf-8") as writer:
        writer.write("loss=1\n")
        writer.flush()
        source.poll(sink)
        path.unlink()
        writer.write("loss=2\n")
        writer.flush()
        source.drain(sink)

    assert [value for _, value, _ in sink.values()] == [1.0, 2.0]
    source.close()


def test_custom_text_format(tmp_path: Path, sink: RecordingSink) -> None:
    path = tmp_path / "metrics.log"
    source = text_source(path, r"{metricName: ([\w|-]+), metricValue: ((-?\d+)(\.\d+)?)}")
    append(path, "{metricName: accuracy, metricValue: 0.875}\nloss=1\n")

    source.drain(sink)

    assert sink.values() == [("accuracy", 0.875, None)]
    source.close()


def test_unparseable_values_and_lines_are_reported(tmp_path: Path, sink: RecordingSink) -> None:
    text, js = tmp_path / "metrics.log", tmp_path / "metrics.json"
    text_reader, json_reader = text_source(text), json_source(js)
    append(text, "loss=high accuracy=0.5\nno metrics here\n")
    append(js, '{"loss": "high"}\nnot json at all\n\n[1, 2]\n{"other": 1}\n')

    text_reader.drain(sink)
    json_reader.drain(sink)

    assert sink.values() == [("accuracy", 0.5, None)]
    assert sink.unparseable == [
        (str(text), "loss=high accuracy=0.5\n"),
        (str(js), '{"loss": "high"}\n'),
        (str(js), "not json at all\n"),
        (str(js), "[1, 2]\n"),
    ]
    text_reader.close()
    json_reader.close()


def test_json_lines_with_steps_and_katib_timestamps(tmp_path: Path, sink: RecordingSink) -> None:
    path = tmp_path / "metrics.json"
    source = json_source(path)
    lines = [
        {"epoch": 0, "loss": "0.5", "timestamp": "2021-12-02T14:27:51Z"},
        {"epoch": 1, "loss": 0.25, "accuracy": "0.75", "timestamp": 1638455272.5},
    ]
    append(path, "".join(json.dumps(line) + "\n" for line in lines))

    source.drain(sink)

    assert sink.observations == [
        ("loss", 0.5, 0, 1638455271.0),
        ("loss", 0.25, 1, 1638455272.5),
        ("accuracy", 0.75, 1, 1638455272.5),
    ]
    source.close()


# -- the collector as a process --------------------------------------------------------------

WRITER = """
    import json, os, sys, time
    path = sys.argv[1] if len(sys.argv) > 1 else "metrics.log"
    with open(path, "w") as out:
        for epoch in range(1, 4):
            out.write(f"epoch={epoch} loss={1 / epoch:.4f} accuracy={0.5 + epoch / 10:.2f}\\n")
            out.flush()
            print("epoch", epoch, "done")
        out.write("step=10 accuracy=0.95")  # no line end: read after the trial exits
    sys.exit(3)
"""


@pytest.mark.slow
def test_file_collector_reports_to_the_service(service: Service, tmp_path: Path) -> None:
    trial = service.new_trial()

    result = run_collector(
        "file",
        "--path=metrics.log",
        "--metric=accuracy",
        "--metric=loss",
        "--interval=0.05",
        script=textwrap.dedent(WRITER),
        env=service.environment(trial.id),
        cwd=tmp_path,
    )

    assert result.returncode == 3, result.stderr
    assert "epoch 3 done" in result.stdout  # the trial's output goes through
    assert service.measurements(trial.id) == [
        (1, {"loss": 1.0, "accuracy": 0.6}),
        (2, {"loss": 0.5, "accuracy": 0.7}),
        (3, {"loss": 0.3333, "accuracy": 0.8}),
        (10, {"accuracy": 0.95}),
    ]
    assert f"the file {tmp_path / 'metrics.log'}" in result.stderr


@pytest.mark.slow
def test_file_collector_without_the_file_says_what_it_expected(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}

    result = run_collector(
        "file", "--path=missing.log", "--metric=loss", script="pass", env=env, cwd=tmp_path
    )

    assert result.returncode == 0
    assert "no value of loss in the file" in result.stderr


@pytest.mark.slow
def test_a_trial_that_exits_0_without_its_objective_fails_naming_the_file(
    service: Service, tmp_path: Path
) -> None:
    trial = service.new_trial()

    result = run_collector(
        "file",
        "--path=metrics.log",
        "--metric=accuracy",
        "--metric=loss",
        script="open('metrics.log', 'w').write('loss=0.5\\n')",
        env=service.environment(trial.id),
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    stored = service.core.get_trial(trial.id)
    assert stored.state is TrialState.FAILED
    assert stored.reason == (
        "exited 0 but the collector found no value of the objective metric 'accuracy' in the "
        f"file {tmp_path / 'metrics.log'} (expected lines matching the metrics format (by "
        "default name=value pairs))"
    )


STOPPABLE = """
    import signal, sys, time
    out = open("metrics.log", "w")
    def on_term(signum, frame):
        out.write("step=2 accuracy=0.9")  # the last words, without a line end
        out.close()
        sys.exit(0)
    signal.signal(signal.SIGTERM, on_term)
    out.write("step=1 accuracy=0.5\\n")
    out.flush()
    print("running", flush=True)
    time.sleep(60)
"""


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_sigterm_reaches_the_trial_and_its_last_values_are_kept(
    service: Service, tmp_path: Path
) -> None:
    trial = service.new_trial()
    argv = [sys.executable, "-m", "tuner.collectors", "file", "--path=metrics.log"]
    argv += ["--metric=accuracy", "--", sys.executable, "-c", textwrap.dedent(STOPPABLE)]
    # A session of its own, and the signal to the collector's pid only, as a container
    # runtime signals PID 1: the collector must forward it.
    process = subprocess.Popen(
        argv,
        env=service.environment(trial.id),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"running\n"
        wait_for(lambda: service.measurements(trial.id) != [])
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE) == 0
    finally:
        process.kill()
        process.wait()

    assert service.measurements(trial.id) == [(1, {"accuracy": 0.5}), (2, {"accuracy": 0.9})]
