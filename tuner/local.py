"""``tuner run``: one Experiment document, run to its end on this machine.

The service runs in-process on a loopback port, trials run as local processes wrapped by
their metrics collector, and the study lives in a local store (a SQLite file by default).
Running the same document again resumes its study.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.errors import AlreadyExistsError, FailedPreconditionError, InvalidArgumentError

if TYPE_CHECKING:
    from tuner.config import StudyConfig
    from tuner.controller import ExperimentResult, Progress
    from tuner.runners import ProcessCommand
    from tuner.service import ServiceCore
    from tuner.spec import Experiment
    from tuner.trial import Trial

__all__ = ["RunStarted", "run_experiment"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted:
    """What ``run_experiment`` tells ``on_start`` once everything is up."""

    experiment: Experiment
    store_url: str
    service_endpoint: str
    log_dir: Path
    resumed_trials: int
    """Finished trials already in the store from earlier runs."""


def run_experiment(
    source: str | os.PathLike[str],
    *,
    store: str | None = None,
    workdir: str | os.PathLike[str] = ".tuner",
    on_start: Callable[[RunStarted], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    poll_interval: float = 0.2,
) -> ExperimentResult:
    """Run an Experiment document locally to its end; running it again resumes it.

    Args:
        source: Path to the Experiment YAML.
        store: Database URL of the study store (default ``sqlite:///tuner.db``).
        workdir: Where trial logs go (``<workdir>/logs/<experiment>/``).
        on_start: Called once the service is up and the study is created or resumed.
        on_progress: Called with each new progress snapshot.
        poll_interval: Seconds between polls of the running trials.

    Returns:
        How the experiment ended. Ctrl-C ends it ``INTERRUPTED``, the study kept for a
        later run.

    Raises:
        ExperimentError: The document is invalid (nothing is written anywhere).
        FailedPreconditionError: The store holds a study of the same name whose search
            space, objective or algorithm differ from the document's.
    """
    from tuner.controller import Controller
    from tuner.runners import LocalRunner
    from tuner.service import ServiceCore, create_server
    from tuner.spec import load_experiment
    from tuner.store import open_store
    from tuner.study import DEFAULT_STORE

    path = Path(source)
    experiment = load_experiment(path)
    command_for = _command_builder(experiment, base_dir=path.resolve().parent)
    store_url = store or DEFAULT_STORE
    core = ServiceCore(open_store(store_url))
    try:
        resumed = _create_or_resume(core, experiment.name, experiment.study_config())
        server, port = create_server(core, host="127.0.0.1", port=0)
        server.start()
        endpoint = f"127.0.0.1:{port}"
        log_dir = Path(workdir) / "logs"
        runner = LocalRunner(
            command_for=command_for,
            log_dir=log_dir,
            service_endpoint=endpoint,
        )
        try:
            if on_start is not None:
                on_start(
                    RunStarted(
                        experiment=experiment,
                        store_url=store_url,
                        service_endpoint=endpoint,
                        log_dir=log_dir / experiment.name,
                        resumed_trials=resumed,
                    )
                )
            controller = Controller(
                core,
                runner,
                study_name=experiment.name,
                budget=experiment.budget,
                poll_interval=poll_interval,
                on_progress=on_progress,
                missing_objective_hint=experiment.metrics_collector.self_report_hint,
            )
            return controller.run()
        finally:
            runner.close()
            server.stop(grace=2.0).wait()
    finally:
        core.close()


def _create_or_resume(core: ServiceCore, name: str, config: StudyConfig) -> int:
    """Create the study, or check the stored one is the same problem; finished trials."""
    try:
        core.create_study(name, config)
        return 0
    except AlreadyExistsError:
        stored = core.get_study(name).config
        if not stored.is_same_problem(config):
            raise FailedPreconditionError(
                f"the store already holds a study {name!r} with a different search space, "
                "objective or algorithm; rename the experiment (metadata.name) or delete the "
                f"old study with `tuner study delete {name}`"
            ) from None
        return sum(1 for trial in core.list_trials(name) if trial.state.is_finished)


_SHARED_SOURCE_KINDS = {
    "File": "metrics file",
    "TensorFlowEvent": "event directory",
    "PrometheusMetric": "port",
}


def _command_builder(
    experiment: Experiment, *, base_dir: Path
) -> Callable[[Trial], ProcessCommand]:
    """How a trial becomes a local process: the rendered primary container, wrapped."""
    from tuner.collectors import collector_command
    from tuner.runners import ProcessCommand
    from tuner.spec import primary_container, render_trial_job

    collector = experiment.metrics_collector
    metric_names = experiment.objective.metric_names
    shared = _SHARED_SOURCE_KINDS.get(collector.kind.value)
    if shared is not None and experiment.budget.parallel_trial_count > 1:
        raise InvalidArgumentError(
            f"the {collector.kind.value} collector reads one fixed {shared}, which parallel "
            "trials on this machine would share; set parallelTrialCount to 1 to run it locally",
            field="spec.parallelTrialCount",
        )
    try:  # fail now, not once per trial
        collector_command(("trial",), collector=collector, metric_names=metric_names)
    except ImportError as error:  # the collector's extra is not installed
        raise FailedPreconditionError(str(error)) from None

    def command_for(trial: Trial) -> ProcessCommand:
        job = render_trial_job(experiment, trial, job_name=f"{experiment.name}-{trial.number}")
        container: dict[str, Any] = dict(primary_container(job))
        argv = [str(a) for a in (*container.get("command", ()), *container.get("args", ()))]
        if not argv:
            raise InvalidArgumentError(
                "the primary container needs a command to run locally (images are not run)",
                field="spec.trialTemplate.trialSpec",
            )
        argv = list(
            collector_command(
                argv, collector=collector, metric_names=metric_names, exit_with_parent=True
            )
        )
        env = {
            str(item["name"]): str(item["value"])
            for item in container.get("env", ())
            if "value" in item
        }
        cwd = base_dir / str(container["workingDir"]) if "workingDir" in container else base_dir
        return ProcessCommand(argv=tuple(argv), env=env, cwd=str(cwd))

    return command_for
