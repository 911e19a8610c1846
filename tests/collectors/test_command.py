"""collector_command: one entry point that wraps a trial's command for any collector kind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuner.collectors import collector_command
from tuner.errors import InvalidArgumentError
from tuner.spec import CollectorKind, FileFormat, MetricsCollector

ARGV = ("python", "train.py", "--lr=0.1")
NAMES = ("accuracy", "loss")
PREFIX = ("python", "-m", "tuner.collectors")


def command(collector: MetricsCollector | None, **options: object) -> tuple[str, ...]:
    return collector_command(
        ARGV,
        collector=collector,
        metric_names=options.pop("names", NAMES),  # type: ignore[arg-type]
        python="python",
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("collector", [None, MetricsCollector(kind=CollectorKind.NONE)])
def test_no_collector_leaves_the_command(collector: MetricsCollector | None) -> None:
    assert command(collector) == ARGV


def test_push_leaves_the_command_since_the_trial_reports_itself() -> None:
    assert command(MetricsCollector(kind=CollectorKind.PUSH), exit_with_parent=True) == ARGV


def test_stdout() -> None:
    collector = MetricsCollector(kind=CollectorKind.STDOUT, metrics_format=(r"(\w+)=(\S+)",))

    assert command(collector, exit_with_parent=True) == (
        *PREFIX,
        "stdout",
        "--metric=accuracy",
        "--metric=loss",
        r"--format=(\w+)=(\S+)",
        "--exit-with-parent",
        "--",
        *ARGV,
    )


def test_file_text_and_json() -> None:
    text = MetricsCollector(
        kind=CollectorKind.FILE,
        file_path="logs/metrics.log",
        file_format=FileFormat.TEXT,
        metrics_format=(r"(\w+): (\S+)",),
    )
    json = MetricsCollector(
        kind=CollectorKind.FILE, file_path="/var/log/m.json", file_format=FileFormat.JSON
    )

    assert command(text) == (
        *PREFIX,
        "file",
        "--path=logs/metrics.log",
        "--metric=accuracy",
        "--metric=loss",
        r"--format=(\w+): (\S+)",
        "--",
        *ARGV,
    )
    assert command(json, exit_with_parent=True) == (
        *PREFIX,
        "file",
        "--path=/var/log/m.json",
        "--metric=accuracy",
        "--metric=loss",
        "--json",
        "--exit-with-parent",
        "--",
        *ARGV,
    )


def test_tensorflow_event() -> None:
    collector = MetricsCollector(kind=CollectorKind.TENSORFLOW_EVENT, directory="/logs/tb")

    assert command(collector, names=["train/accuracy"]) == (
        *PREFIX,
        "tfevents",
        "--dir=/logs/tb",
        "--metric=train/accuracy",
        "--",
        *ARGV,
    )


def test_prometheus() -> None:
    collector = MetricsCollector(
        kind=CollectorKind.PROMETHEUS_METRIC, http_port=9100, http_path="/stats"
    )

    assert command(collector, names=['accuracy{split="val"}']) == (
        *PREFIX,
        "prometheus",
        "--port=9100",
        "--path=/stats",
        '--metric=accuracy{split="val"}',
        "--",
        *ARGV,
    )


def test_this_interpreter_by_default() -> None:
    collector = MetricsCollector(kind=CollectorKind.FILE, file_path="m.log")

    wrapped = collector_command(ARGV, collector=collector, metric_names=NAMES)

    assert wrapped[0] == sys.executable


@pytest.mark.parametrize(
    ("collector", "names", "field"),
    [
        (MetricsCollector(kind=CollectorKind.CUSTOM), NAMES, "kind"),
        (MetricsCollector(kind=CollectorKind.FILE), NAMES, "file_path"),
        (
            MetricsCollector(kind=CollectorKind.FILE, file_path="m", metrics_format=("(x",)),
            NAMES,
            "formats[0]",
        ),
        (
            MetricsCollector(
                kind=CollectorKind.FILE,
                file_path="m",
                file_format=FileFormat.JSON,
                metrics_format=(r"(\w+)=(\S+)",),
            ),
            NAMES,
            "metrics_format",
        ),
        (MetricsCollector(kind=CollectorKind.TENSORFLOW_EVENT), NAMES, "directory"),
        (MetricsCollector(kind=CollectorKind.PROMETHEUS_METRIC), NAMES, "http_port"),
        (
            MetricsCollector(kind=CollectorKind.PROMETHEUS_METRIC, http_port=80),
            ("loss", "val-loss"),
            "metric_names[1]",
        ),
        (MetricsCollector(kind=CollectorKind.STDOUT), (), "metric_names"),
    ],
)
def test_settings_that_cannot_work_are_refused(
    collector: MetricsCollector, names: tuple[str, ...], field: str
) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        collector_command(ARGV, collector=collector, metric_names=names)
    assert raised.value.field == field


def test_an_empty_command_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="the command is empty"):
        collector_command((), collector=None, metric_names=NAMES)


# -- the command line ------------------------------------------------------------------------


def collectors(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    return subprocess.run(
        [sys.executable, "-m", "tuner.collectors", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_help_lists_every_kind(tmp_path: Path) -> None:
    result = collectors("--help", cwd=tmp_path)

    assert result.returncode == 0
    for kind in ("stdout", "file", "tfevents", "prometheus"):
        assert kind in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("file", "--metric=loss", "--", "true"), "the following arguments are required: --path"),
        (("prometheus", "--port=1", "--metric=loss"), "the command to run is missing"),
        (("tfevents", "--dir=x", "--", "true"), "the following arguments are required: --metric"),
        (
            ("file", "--path=m", "--metric=loss", "--json", "--format=(a)(b)", "--", "true"),
            "not allowed with argument",
        ),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...], message: str, tmp_path: Path) -> None:
    result = collectors(*args, cwd=tmp_path)

    assert result.returncode == 2
    assert message in result.stderr


def test_a_bad_setting_exits_2_without_running_the_command(tmp_path: Path) -> None:
    result = collectors(
        "prometheus", "--port=8080", "--metric=val-loss", "--", "touch", "ran", cwd=tmp_path
    )

    assert result.returncode == 2
    assert "is not a Prometheus metric name" in result.stderr
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize(
    "kind", ["file --path=m.log", "tfevents --dir=logs", "prometheus --port=1"]
)
def test_the_exit_code_of_the_command_is_kept(kind: str, tmp_path: Path) -> None:
    result = collectors(*kind.split(), "--metric=loss", "--", "sh", "-c", "exit 7", cwd=tmp_path)

    assert result.returncode == 7
