"""The ``tuner`` command: each subcommand parses its arguments, calls the library, renders."""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from tuner.errors import TunerError

if TYPE_CHECKING:
    from tuner.backend import Backend
    from tuner.config import StudyInfo
    from tuner.controller import ExperimentResult
    from tuner.controller import Progress as ExperimentProgress
    from tuner.local import RunStarted
    from tuner.trial import Trial

console = Console()
errors = Console(stderr=True)

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tuner`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        code: int = args.handler(args)
    except TunerError as error:
        errors.print(f"[bold red]error:[/] {error}", highlight=False)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tuner", description="Hyperparameter tuning service.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run an Experiment YAML on this machine")
    run.add_argument("experiment", help="path to the Experiment YAML")
    run.add_argument("--store", help="study store URL (default: sqlite:///tuner.db)")
    run.add_argument("--workdir", default=".tuner", help="where trial logs go (default: .tuner)")
    run.set_defaults(handler=_run)

    server = commands.add_parser("server", help="serve the gRPC API")
    server.add_argument("--store", help="study store URL (default: sqlite:///tuner.db)")
    server.add_argument("--host", default="127.0.0.1", help="address to bind (default: localhost)")
    server.add_argument("--port", type=int, default=None, help="port (default: 6789)")
    server.add_argument("--token", help="require this bearer token (or $TUNER_TOKEN)")
    server.set_defaults(handler=_server)

    study = commands.add_parser("study", help="list, show or delete studies")
    study_commands = study.add_subparsers(required=True, metavar="ACTION")
    study_list = study_commands.add_parser("list", help="list studies")
    _add_backend_options(study_list)
    study_list.set_defaults(handler=_study_list)
    study_show = study_commands.add_parser("show", help="show a study and its best trial")
    study_show.add_argument("name")
    _add_backend_options(study_show)
    study_show.set_defaults(handler=_study_show)
    study_delete = study_commands.add_parser("delete", help="delete a study and its trials")
    study_delete.add_argument("name")
    _add_backend_options(study_delete)
    study_delete.set_defaults(handler=_study_delete)

    trials = commands.add_parser("trials", help="list a study's trials")
    trials.add_argument("name")
    _add_backend_options(trials)
    trials.set_defaults(handler=_trials)

    operator = commands.add_parser(
        "operator", help="run Experiment custom resources on Kubernetes, each trial a Job"
    )
    scope = operator.add_mutually_exclusive_group()
    scope.add_argument("--namespace", help="watch only this namespace (default: all)")
    scope.add_argument(
        "--all-namespaces", action="store_true", help="watch every namespace (the default)"
    )
    service = operator.add_mutually_exclusive_group(required=True)
    service.add_argument("--service", metavar="ADDR", help="the tuner service (host:port)")
    service.add_argument("--store", metavar="URL", help="host the service here, over this store")
    operator.add_argument(
        "--listen",
        default="127.0.0.1:6789",
        metavar="ADDR",
        help="with --store: the host:port its service binds (default: 127.0.0.1:6789)",
    )
    operator.add_argument(
        "--kubeconfig", help="kubeconfig file (default: in-cluster, then ~/.kube)"
    )
    operator.add_argument(
        "--trial-service-endpoint",
        metavar="ADDR",
        help="the service as the trials' pods reach it (default: --service, or --listen)",
    )
    operator.add_argument("--token", help="the service's bearer token (or $TUNER_TOKEN)")
    operator.add_argument(
        "--trial-token-secret",
        metavar="NAME[:KEY]",
        help="the Secret (and key, default: token) holding the service's bearer token, which "
        "the trial pods get as $TUNER_SERVICE_TOKEN; it must exist in each namespace that "
        "runs Experiments",
    )
    operator.add_argument(
        "--pod-start-timeout",
        type=float,
        metavar="SECONDS",
        help="fail a trial (deleting its Job) whose pod has waited this long unable to start, "
        "whatever the reason (an image that cannot be pulled, a missing Secret, ...); "
        "default: 300 for image pulls (ErrImagePull, ImagePullBackOff), 60 for the others "
        "(CreateContainerConfigError, CreateContainerError, InvalidImageName, "
        "ErrImageNeverPull, ImageInspectError)",
    )
    operator.add_argument(
        "--poll-interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between polls of each experiment's Jobs (default: 1)",
    )
    operator.set_defaults(handler=_operator)

    report = commands.add_parser(
        "report",
        help="report metrics of the running trial (shell trials with the Push collector)",
        description=(
            "Report one measurement for the trial $TUNER_TRIAL_ID to the service at "
            "$TUNER_SERVICE_ENDPOINT, as tuner.report() does from Python."
        ),
    )
    report.add_argument("metrics", nargs="*", metavar="NAME=VALUE", help="metric values")
    report.add_argument("--step", type=int, help="the step (default: count per metric)")
    report.add_argument(
        "--grace-period",
        type=float,
        metavar="SECONDS",
        help="most seconds to try delivering; the rest is spooled ($TUNER_REPORT_GRACE_PERIOD)",
    )
    report.add_argument(
        "--flush", action="store_true", help="deliver measurements spooled by earlier reporters"
    )
    report.set_defaults(handler=_report)
    return parser


def _add_backend_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--store", help="study store URL (default: sqlite:///tuner.db)")
    where.add_argument("--server", help="address of a tuner server (host:port)")
    parser.add_argument("--token", help="the server's bearer token (or $TUNER_TOKEN)")


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = RichHandler(console=errors, show_path=False, rich_tracebacks=False)
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler])


def _connect(args: argparse.Namespace) -> Backend:
    import os

    from tuner.study import connect

    token = args.token or os.environ.get("TUNER_TOKEN")
    return connect(store=args.store, server=args.server, token=token)


# -- tuner run -----------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    from tuner.controller import ExperimentOutcome
    from tuner.local import run_experiment

    # Counts and time are never cut; the bar and then the best value give way to them.
    bar = Progress(
        TextColumn("[bold]{task.description}", table_column=Column(no_wrap=True, max_width=30)),
        BarColumn(bar_width=None, table_column=Column(ratio=1, min_width=5)),
        MofNCompleteColumn(table_column=Column(no_wrap=True)),
        TextColumn("{task.fields[counts]}", table_column=Column(no_wrap=True)),
        TextColumn("{task.fields[best]}", table_column=Column(no_wrap=True, ratio=4)),
        TimeElapsedColumn(table_column=Column(no_wrap=True)),
        console=console,
        expand=True,
    )
    task = bar.add_task("trials", total=None, counts="", best="")

    metric: list[str] = []

    def started(run: RunStarted) -> None:
        metric.append(run.experiment.objective.metric_name)
        budget = run.experiment.budget
        bar.update(task, description=run.experiment.name, total=budget.max_trial_count)
        console.print(
            f"experiment [bold]{run.experiment.name}[/]: store {run.store_url}, "
            f"service {run.service_endpoint}, logs in {run.log_dir}"
            + (
                f", resuming with {run.resumed_trials} finished trials"
                if run.resumed_trials
                else ""
            )
        )

    def progressed(progress: ExperimentProgress) -> None:
        counts = (
            f"{progress.succeeded} ok {progress.failed} failed {progress.running} running"
            + (f" {progress.infeasible} infeasible" if progress.infeasible else "")
            + (f" {progress.early_stopped} stopped" if progress.early_stopped else "")
        )
        best = _best_text(progress.best_trial, metric=metric[0]) if metric else ""
        bar.update(task, completed=progress.finished, counts=counts, best=best)

    with bar:
        result = run_experiment(
            args.experiment,
            store=args.store,
            workdir=args.workdir,
            on_start=started,
            on_progress=progressed,
        )
    _print_result(result, metric[0] if metric else "")
    if result.outcome is ExperimentOutcome.SUCCEEDED:
        return 0
    return EXIT_INTERRUPTED if result.outcome is ExperimentOutcome.INTERRUPTED else EXIT_FAILED


def _best_text(trial: Trial | None, *, metric: str) -> str:
    if trial is None:
        return ""
    return f"best {metric}={_number(trial.objective_value(metric))} (trial {trial.id})"


def _print_result(result: ExperimentResult, metric: str) -> None:
    colour = {"Succeeded": "green", "Failed": "red"}.get(result.outcome.value, "yellow")
    console.print(f"[bold {colour}]{result.outcome.value}[/]: {result.reason}")
    best = result.progress.best_trial
    if best is None:
        console.print("no trial succeeded")
        return
    console.print(
        _trial_detail(best, title=f"Best trial: {metric} = {_number(best.objective_value(metric))}")
    )


# -- tuner operator ------------------------------------------------------------------------


def _operator(args: argparse.Namespace) -> int:
    import os

    from tuner.operator import OperatorStarted, run_operator
    from tuner.runners import SecretKeySelector

    def started(info: OperatorStarted) -> None:
        where = f"namespace {info.namespace}" if info.namespace else "all namespaces"
        console.print(
            f"operator watching Experiments in {where}; service {info.service_endpoint}, "
            f"trials reach it at {info.trial_service_endpoint}"
        )

    run_operator(
        namespace=args.namespace,
        service=args.service,
        store=args.store,
        listen=args.listen,
        kubeconfig=args.kubeconfig,
        trial_service_endpoint=args.trial_service_endpoint,
        token=args.token or os.environ.get("TUNER_TOKEN"),
        trial_token_secret=(
            SecretKeySelector.parse(args.trial_token_secret) if args.trial_token_secret else None
        ),
        pod_start_timeout=args.pod_start_timeout,
        poll_interval=args.poll_interval,
        on_start=started,
    )
    return 0


# -- tuner server --------------------------------------------------------------------------


def _server(args: argparse.Namespace) -> int:
    import os

    from tuner.service import DEFAULT_PORT, serve
    from tuner.study import DEFAULT_STORE

    serve(
        args.store or DEFAULT_STORE,
        host=args.host,
        port=DEFAULT_PORT if args.port is None else args.port,
        token=args.token or os.environ.get("TUNER_TOKEN"),
    )
    return 0


# -- tuner study / trials ------------------------------------------------------------------


def _study_list(args: argparse.Namespace) -> int:
    backend = _connect(args)
    table = _listing(
        "name", "state", "algorithm", "objective", "trials", "created", wrapping="objective"
    )
    for study in backend.list_studies():
        n_trials = sum(backend.count_trials(study.name).values())
        table.add_row(
            study.name,
            study.state.value,
            study.config.algorithm.name,
            _objective_text(study),
            str(n_trials),
            _time(study.created_at),
        )
    _print_listing(table)
    return 0


def _study_show(args: argparse.Namespace) -> int:
    backend = _connect(args)
    study = backend.get_study(args.name)
    config = study.config
    table = Table.grid(padding=(0, 2))
    table.add_row("name", study.name)
    table.add_row("state", study.state.value + (f" ({study.reason})" if study.reason else ""))
    table.add_row("objective", _objective_text(study))
    settings = ", ".join(f"{k}={v}" for k, v in config.algorithm.settings.items())
    table.add_row("algorithm", config.algorithm.name + (f" ({settings})" if settings else ""))
    table.add_row("seed", str(config.seed))
    for parameter in config.space:
        table.add_row(f"parameter {parameter.name}", _parameter_text(parameter))
    # Finished states first, as in "4 succeeded, 1 active"; the enum's order within each.
    counts = sorted(backend.count_trials(args.name).items(), key=lambda c: not c[0].is_finished)
    table.add_row("trials", ", ".join(f"{n} {s.value.lower()}" for s, n in counts if n) or "none")
    console.print(table)
    optimal = backend.list_optimal_trials(args.name)
    if optimal:
        metric = config.objective.metric_name
        best = optimal[0]
        console.print(
            _trial_detail(
                best, title=f"Best trial: {metric} = {_number(best.objective_value(metric))}"
            )
        )
    return 0


def _study_delete(args: argparse.Namespace) -> int:
    _connect(args).delete_study(args.name)
    console.print(f"deleted study {args.name}")
    return 0


def _trials(args: argparse.Namespace) -> int:
    backend = _connect(args)
    study = backend.get_study(args.name)
    names = study.config.space.names
    metrics = study.config.objective.metric_names
    trials = backend.list_trials(args.name)
    table = _listing("id", "#", "state", *names, *metrics, "steps")
    notes: list[str] = []
    for trial in trials:
        final = trial.final_measurement.metrics if trial.final_measurement else {}
        latest = trial.measurements[-1].metrics if trial.measurements else {}
        table.add_row(
            str(trial.id),
            str(trial.number),
            trial.state.value,
            *(_value(trial.parameters.get(n), digits=4) for n in names),
            *(_number(final.get(m, latest.get(m)), digits=4) for m in metrics),
            str(len(trial.measurements)),
        )
        if trial.reason:
            notes.append(f"trial {trial.id}: {escape(trial.reason)}")
        if not trial.diagnostics.is_empty:
            notes.append(f"trial {trial.id} collector: {escape(trial.diagnostics.summary())}")
    _print_listing(table)
    for note in notes:
        console.print(note, overflow="fold")
    return 0


# -- tuner report --------------------------------------------------------------------------


def _report(args: argparse.Namespace) -> int:
    from tuner.collectors import flush_trial_spools, parse_metric_assignments, report_once

    if args.flush:
        delivered, refused = flush_trial_spools()
        errors.print(f"delivered {delivered} spooled measurements, {refused} refused")
        if not args.metrics:
            return 0
    metrics = parse_metric_assignments(args.metrics)
    return 0 if report_once(metrics, step=args.step, grace_period=args.grace_period) else 1


# -- rendering helpers ---------------------------------------------------------------------


def _listing(*headers: str, wrapping: str | None = None) -> Table:
    """A table of one row per item, compact for 80 columns; only ``wrapping``'s cells wrap."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    for header in headers:
        if header == wrapping:
            table.add_column(header, overflow="fold")
        else:
            table.add_column(header, no_wrap=True, min_width=len(header))
    return table


def _print_listing(table: Table) -> None:
    """Print ``table``; into a file or a pipe as wide as it needs, so no cell is cut."""
    if console.is_terminal:
        console.print(table)
        return
    width = console.width
    needed = Measurement.get(console, console.options.update_width(10_000), table).maximum
    console.width = max(width, needed)  # print caps a width given to it at the console's
    try:
        console.print(table)
    finally:
        console.width = width


def _trial_detail(trial: Trial, *, title: str) -> Table:
    table = Table("", "value", title=title, title_justify="left")
    for name, value in trial.parameters.items():
        table.add_row(name, _value(value))
    if trial.final_measurement is not None:
        for name, metric in trial.final_measurement.metrics.items():
            table.add_row(f"[dim]metric[/] {name}", _number(metric))
    table.add_row("[dim]trial[/]", f"id {trial.id}, number {trial.number}")
    return table


def _objective_text(study: StudyInfo) -> str:
    objective = study.config.objective
    goal = f", goal {objective.goal:g}" if objective.goal is not None else ""
    return f"{objective.direction.value} {objective.metric_name}{goal}"


def _parameter_text(parameter: object) -> str:
    from tuner.space import CategoricalParameter, DiscreteParameter

    if isinstance(parameter, CategoricalParameter):
        return f"categorical {list(parameter.choices)}"
    if isinstance(parameter, DiscreteParameter):
        return f"discrete {list(parameter.values)}"
    low, high = getattr(parameter, "low", None), getattr(parameter, "high", None)
    scale, step = getattr(parameter, "scale", None), getattr(parameter, "step", None)
    kind = type(parameter).__name__.removesuffix("Parameter").lower()
    text = f"{kind} [{low}, {high}]"
    if scale is not None and scale.value != "uniform":
        text += f" {scale.value}"
    return text + (f" step {step}" if step not in (None, 1) else "")


def _value(value: object, *, digits: int = 6) -> str:
    if isinstance(value, float):
        return _number(value, digits=digits)
    return "" if value is None else str(value)


def _number(value: float | None, *, digits: int = 6) -> str:
    if value is None:
        return ""
    return str(value) if math.isnan(value) or math.isinf(value) else f"{value:.{digits}g}"


def _time(timestamp: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


if __name__ == "__main__":
    sys.exit(main())
