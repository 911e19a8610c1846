"""``python -m tuner.collectors KIND [options] -- COMMAND [ARG ...]``: one subcommand per kind."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from tuner.collectors._environment import ENDPOINT_ENV, TRIAL_ID_ENV
from tuner.collectors._supervise import DEFAULT_FLUSH_TIMEOUT
from tuner.collectors._wrapper import run_stdout_collector
from tuner.errors import InvalidArgumentError

__all__ = ["DEFAULT_POLL_INTERVAL", "DEFAULT_SCRAPE_INTERVAL", "main"]

logger = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL = 0.5
"""Seconds between two reads of a metrics file or an event directory."""
DEFAULT_SCRAPE_INTERVAL = 1.0
"""Seconds between two scrapes of a Prometheus endpoint."""
_EXIT_USAGE = 2
_REPORTS = (
    f"and report the values of the metrics for trial ${TRIAL_ID_ENV} to the service at "
    f"${ENDPOINT_ENV} (unset: only read them). Exits with COMMAND's exit code."
)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tuner.collectors",
        description="Run a trial's command and report the metrics it produces.",
    )
    kinds = parser.add_subparsers(dest="collector", required=True, metavar="COLLECTOR")
    stdout = _add_kind(
        kinds,
        "stdout",
        "read metric lines from the command's stdout and stderr",
        f"Run COMMAND, copy its output to stdout, read the metric lines in it {_REPORTS}",
    )
    _add_line_formats(stdout)
    file = _add_kind(
        kinds,
        "file",
        "follow a metrics file the command writes",
        "Run COMMAND and follow the metrics file it writes, as it grows (Katib's File "
        f"collector), {_REPORTS}",
        "--path PATH",
    )
    file.add_argument(
        "--path",
        required=True,
        metavar="PATH",
        help="the metrics file (relative: to the working directory); it may appear later",
    )
    _add_line_formats(file)
    _add_interval(file, DEFAULT_POLL_INTERVAL, "between two reads of the file")
    tfevents = _add_kind(
        kinds,
        "tfevents",
        "read scalar summaries from TensorBoard event files the command writes",
        "Run COMMAND and read the scalar summaries of the TensorBoard event files it "
        "writes under a directory, as they are written (Katib's TensorFlowEvent "
        "collector); a metric 'dir/tag' is the tag 'tag' in files under a directory "
        f"'dir'. Then {_REPORTS} Needs tuner[tfevents].",
        "--dir DIR",
    )
    tfevents.add_argument(
        "--dir",
        dest="directory",
        required=True,
        metavar="DIR",
        help="the directory of the event files (relative: to the working directory)",
    )
    _add_interval(tfevents, DEFAULT_POLL_INTERVAL, "between two reads of the directory")
    prometheus = _add_kind(
        kinds,
        "prometheus",
        "scrape the metrics endpoint the command serves",
        "Run COMMAND and scrape the Prometheus metrics it serves on 127.0.0.1 while it "
        f"runs (Katib's PrometheusMetric collector), {_REPORTS}",
        "--port PORT",
    )
    prometheus.add_argument(
        "--port", type=int, required=True, metavar="PORT", help="the port on 127.0.0.1"
    )
    prometheus.add_argument(
        "--path",
        default="/metrics",
        metavar="URL_PATH",
        help="the path of the metrics (default: %(default)s)",
    )
    _add_interval(prometheus, DEFAULT_SCRAPE_INTERVAL, "between two scrapes")
    return parser


def _add_kind(
    kinds: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str,
    required: str = "",
) -> argparse.ArgumentParser:
    """A subcommand with the options every kind has: metrics, flush timeout, parent watch."""
    usage = f"python -m tuner.collectors {name} {required + ' ' if required else ''}"
    parser = kinds.add_parser(
        name,
        usage=f"{usage}--metric NAME [options] -- COMMAND [ARG ...]",
        help=summary,
        description=description,
    )
    parser.add_argument(
        "--metric",
        dest="metric_names",
        action="append",
        required=True,
        metavar="NAME",
        help="a metric to collect; repeat for several",
    )
    parser.add_argument(
        "--flush-timeout",
        type=float,
        default=DEFAULT_FLUSH_TIMEOUT,
        metavar="SECONDS",
        help=(
            "most seconds to spend delivering the last measurements after COMMAND exits "
            "(default: %(default)s)"
        ),
    )
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop COMMAND when the process that started this collector dies",
    )
    return parser


def _add_line_formats(parser: argparse.ArgumentParser) -> None:
    style = parser.add_mutually_exclusive_group()
    style.add_argument(
        "--format",
        dest="formats",
        action="append",
        default=[],
        metavar="REGEX",
        help=(
            "a metric line format: a regular expression with two groups, the name and the "
            "value (default: name=value pairs); repeat for several"
        ),
    )
    style.add_argument(
        "--json", dest="json_lines", action="store_true", help="read each line as a JSON object"
    )


def _add_interval(parser: argparse.ArgumentParser, default: float, what: str) -> None:
    parser.add_argument(
        "--interval",
        type=float,
        default=default,
        metavar="SECONDS",
        help=f"seconds {what} (default: %(default)s)",
    )


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("tuner.collectors: %(levelname)s: %(message)s"))
    root = logging.getLogger("tuner")
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tuner.collectors KIND [options] -- COMMAND [ARG ...]``.

    Args:
        argv: The arguments after the program name; None means ``sys.argv[1:]``.

    Returns:
        The exit code: the command's, or 2 for a usage error.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    options, command = args, []
    if "--" in args:
        split = args.index("--")
        options, command = args[:split], args[split + 1 :]
    parser = _build_parser()
    namespace = parser.parse_args(options)
    if not command:
        parser.error("the command to run is missing: add '-- COMMAND [ARG ...]'")
    _configure_logging()
    try:
        return _run(namespace, command)
    except InvalidArgumentError as error:
        logger.error("%s", error)
        return _EXIT_USAGE
    except ImportError as error:
        logger.error("%s", error)
        return _EXIT_USAGE


def _run(namespace: argparse.Namespace, command: list[str]) -> int:
    names: list[str] = namespace.metric_names
    if namespace.collector == "stdout":
        return run_stdout_collector(
            command,
            metric_names=names,
            formats=namespace.formats,
            json_lines=namespace.json_lines,
            flush_timeout=namespace.flush_timeout,
            exit_with_parent=namespace.exit_with_parent,
        )
    from tuner.collectors._watch import MetricSource, run_watching_collector

    source: MetricSource
    if namespace.collector == "file":
        from tuner.collectors._file import MetricsFileSource
        from tuner.collectors._parse import DEFAULT_FORMAT, MetricLineParser

        formats = tuple(namespace.formats) or (DEFAULT_FORMAT,)
        parser = MetricLineParser(names, formats, namespace.json_lines)
        source = MetricsFileSource(namespace.path, parser)
    elif namespace.collector == "tfevents":
        from tuner.collectors._tfevents import EventFilesSource

        source = EventFilesSource(namespace.directory, names)
    else:
        from tuner.collectors._prometheus import PrometheusSource

        source = PrometheusSource(namespace.port, namespace.path, names)
    return run_watching_collector(
        command,
        source,
        metric_names=names,
        interval=namespace.interval,
        flush_timeout=namespace.flush_timeout,
        exit_with_parent=namespace.exit_with_parent,
    )
