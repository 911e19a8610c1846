"""The TensorFlowEvent collector on event files written by real writers, without TensorFlow."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.collectors.conftest import Service
from tests.collectors.support import DEADLINE, RecordingSink, run_collector, wait_for

pytest.importorskip("tensorboard", reason="needs tuner[tfevents]")
tensorboardX = pytest.importorskip("tensorboardX", reason="needs tensorboardX (dev extra)")

from tensorboard.compat.proto import event_pb2  # noqa: E402
from tensorboard.summary import Writer  # noqa: E402
from tensorboard.summary.writer.event_file_writer import EventFileWriter  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

from tuner.collectors._tfevents import EventFilesSource  # noqa: E402


def event_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if "tfevents" in p.name)


def test_tensor_summaries_of_tensorboards_writer_are_read_as_written(
    tmp_path: Path, sink: RecordingSink
) -> None:
    source = EventFilesSource(str(tmp_path / "runs"), ["loss", "accuracy"])
    writer = Writer(str(tmp_path / "runs"))
    writer.add_scalar("loss", 0.5, step=1, wall_time=1700000000.5)
    writer.add_scalar("accuracy", 0.75, step=1, wall_time=1700000000.5)
    writer.add_scalar("lr", 0.1, step=1)
    writer.flush()

    source.poll(sink)
    assert sink.observations == [
        ("loss", 0.5, 1, 1700000000.5),
        ("accuracy", 0.75, 1, 1700000000.5),
    ]

    writer.add_scalar("loss", 0.25, step=2)
    writer.close()
    source.drain(sink)
    assert sink.values()[-1] == ("loss", 0.25, 2)
    assert sink.unparseable == []
    source.close()


def test_simple_values_of_tensorboardx_are_read(tmp_path: Path, sink: RecordingSink) -> None:
    source = EventFilesSource(str(tmp_path), ["train/loss"])
    writer = tensorboardX.SummaryWriter(str(tmp_path))
    for step in range(3):
        writer.add_scalar("train/loss", 1.0 / 2**step, step)
    writer.close()

    source.drain(sink)

    assert sink.values() == [
        ("train/loss", 1.0, 0),
        ("train/loss", 0.5, 1),
        ("train/loss", 0.25, 2),
    ]
    source.close()


def test_integer_and_double_tensors_are_numbers(tmp_path: Path, sink: RecordingSink) -> None:
    import numpy as np

    source = EventFilesSource(str(tmp_path), ["examples", "loss"])
    writer = EventFileWriter(str(tmp_path))
    event = event_pb2.Event(wall_time=1.0, step=4)
    event.summary.value.add(tag="examples", tensor=tensor_util.make_tensor_proto(np.int64(640)))
    event.summary.value.add(tag="loss", tensor=tensor_util.make_tensor_proto(np.float64(1e-300)))
    writer.add_event(event)
    writer.close()

    source.drain(sink)

    assert sink.values() == [("examples", 640.0, 4), ("loss", 1e-300, 4)]
    source.close()


def test_sub_directories_name_metrics_as_katib_does(tmp_path: Path, sink: RecordingSink) -> None:
    names = ["epoch_accuracy", "train/epoch_accuracy", "validation/epoch_accuracy"]
    source = EventFilesSource(str(tmp_path), names)
    for run, value in (("train", 0.875), ("validation", 0.75)):
        writer = tensorboardX.SummaryWriter(str(tmp_path / "fit" / run))
        writer.add_scalar("epoch_accuracy", value, 1)
        writer.add_scalar("epoch_accuracy_top5", 1.0, 1)  # Katib would take it for a prefix
        writer.close()

    source.drain(sink)

    assert sorted(sink.values()) == [
        ("epoch_accuracy", 0.75, 1),
        ("epoch_accuracy", 0.875, 1),
        ("train/epoch_accuracy", 0.875, 1),
        ("validation/epoch_accuracy", 0.75, 1),
    ]
    source.close()


def test_a_record_cut_short_waits_for_its_end(tmp_path: Path, sink: RecordingSink) -> None:
    written = tmp_path / "written"
    writer = Writer(str(written))
    for step in range(1, 4):
        writer.add_scalar("loss", float(step), step=step)
    writer.close()
    [original] = event_files(written)
    data = original.read_bytes()
    target = tmp_path / "read" / original.name
    source = EventFilesSource(str(target.parent), ["loss"])
    target.parent.mkdir()

    target.write_bytes(data[: len(data) - 7])  # the last record without its end
    source.poll(sink)
    assert sink.values() == [("loss", 1.0, 1), ("loss", 2.0, 2)]

    with target.open("ab") as out:
        out.write(data[len(data) - 7 :])
    source.poll(sink)
    assert sink.values() == [("loss", 1.0, 1), ("loss", 2.0, 2), ("loss", 3.0, 3)]
    assert sink.unparseable == []
    source.close()


def test_a_corrupt_record_is_counted_and_skipped(tmp_path: Path, sink: RecordingSink) -> None:
    written = tmp_path / "written"
    writer = Writer(str(written))
    for step in range(1, 4):
        writer.add_scalar("loss", float(step), step=step)
    writer.close()
    [original] = event_files(written)
    data = bytearray(original.read_bytes())
    target = tmp_path / "read" / original.name
    target.parent.mkdir()
    source = EventFilesSource(str(target.parent), ["loss"])
    data[-20] ^= 0xFF  # inside the data of the last record
    target.write_bytes(bytes(data))

    source.drain(sink)

    assert sink.values() == [("loss", 1.0, 1), ("loss", 2.0, 2)]
    assert len(sink.unparseable) == 1
    assert "fails its checksum" in sink.unparseable[0][1]
    source.close()


def test_event_files_of_an_earlier_run_are_skipped(tmp_path: Path, sink: RecordingSink) -> None:
    old = Writer(str(tmp_path))
    old.add_scalar("loss", 9.0, step=1)
    old.close()
    source = EventFilesSource(str(tmp_path), ["loss"])
    new = tensorboardX.SummaryWriter(str(tmp_path), filename_suffix=".new")
    new.add_scalar("loss", 0.5, 1)
    new.close()

    source.drain(sink)

    assert sink.values() == [("loss", 0.5, 1)]
    source.close()


def test_a_wanted_tag_that_is_no_number_is_counted(tmp_path: Path, sink: RecordingSink) -> None:
    import numpy as np

    source = EventFilesSource(str(tmp_path), ["weights"])
    histograms = tensorboardX.SummaryWriter(str(tmp_path / "x"))
    histograms.add_histogram("weights", np.arange(10.0), 1)
    histograms.close()
    tensors = EventFileWriter(str(tmp_path))
    event = event_pb2.Event(step=2)
    event.summary.value.add(tag="weights", tensor=tensor_util.make_tensor_proto(np.ones(2)))
    tensors.add_event(event)
    tensors.close()

    source.drain(sink)

    assert sink.values() == []
    assert len(sink.unparseable) == 2
    source.close()


def test_torch_summary_writer(tmp_path: Path, sink: RecordingSink) -> None:
    torch_tensorboard = pytest.importorskip(
        "torch.utils.tensorboard", reason="torch is not installed (tensorboardX covers its format)"
    )
    source = EventFilesSource(str(tmp_path), ["loss"])
    writer = torch_tensorboard.SummaryWriter(str(tmp_path))  # after the source: not stale
    writer.add_scalar("loss", 0.5, 3)
    writer.close()

    source.drain(sink)

    assert sink.values() == [("loss", 0.5, 3)]


# -- the collector as a process --------------------------------------------------------------

TRAIN = """
    import pathlib, sys, time
    from tensorboard.summary import Writer
    writer = Writer("logs/train")
    writer.add_scalar("accuracy", 0.5, step=1)
    writer.add_scalar("loss", 1.0, step=1)
    writer.flush()
    print("step 1 written", flush=True)
    go = pathlib.Path("go")
    while not go.exists():  # the test says when it saw step 1 in the store
        time.sleep(0.02)
    writer.add_scalar("accuracy", 0.75, step=2)
    writer.add_scalar("loss", 0.5, step=2)
    writer.close()
"""


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_values_reach_the_store_while_the_trial_runs(service: Service, tmp_path: Path) -> None:
    trial = service.new_trial()
    argv = [sys.executable, "-m", "tuner.collectors", "tfevents", "--dir=logs", "--interval=0.05"]
    argv += ["--metric=accuracy", "--metric=loss", "--metric=train/loss", "--"]
    argv += [sys.executable, "-c", textwrap.dedent(TRAIN)]
    process = subprocess.Popen(
        argv, env=service.environment(trial.id), cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: service.measurements(trial.id) != [])
        assert process.poll() is None  # the trial is still running
        assert service.measurements(trial.id) == [
            (1, {"accuracy": 0.5, "loss": 1.0, "train/loss": 1.0})
        ]
        (tmp_path / "go").touch()
        output, _ = process.communicate(timeout=DEADLINE)
    finally:
        process.kill()
        process.wait()

    assert process.returncode == 0
    assert "step 1 written" in output
    assert service.measurements(trial.id) == [
        (1, {"accuracy": 0.5, "loss": 1.0, "train/loss": 1.0}),
        (2, {"accuracy": 0.75, "loss": 0.5, "train/loss": 0.5}),
    ]


@pytest.mark.slow
def test_tfevents_collector_without_events_says_what_it_expected(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}

    result = run_collector(
        "tfevents", "--dir=logs", "--metric=loss", script="pass", env=env, cwd=tmp_path
    )

    assert result.returncode == 0
    assert "no value of loss in the event files in" in result.stderr
