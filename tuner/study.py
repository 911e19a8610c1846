"""The notebook face of tuner: one ``Study`` over a local store or a remote server.

Examples:
    >>> import tuner
    >>> study = tuner.Study.create(
    ...     "doc-quadratic",
    ...     parameters=[tuner.DoubleParameter(name="x", low=-5.0, high=5.0)],
    ...     objective="loss",
    ...     store="sqlite:///" + str(getfixture("tmp_path") / "doc.db"),
    ... )
    >>> study.optimize(lambda trial: (trial.parameters["x"] - 1.0) ** 2, n_trials=20)
    >>> study.best_trial.objective_value("loss") < 1.0
    True
    >>> study.close()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from tuner.config import (
    DEFAULT_ALGORITHM,
    AlgorithmSpec,
    Direction,
    Objective,
    StudyConfig,
    StudyInfo,
)
from tuner.errors import AlreadyExistsError, FailedPreconditionError, InvalidArgumentError
from tuner.space import Parameter, ParameterValue, SearchSpace
from tuner.trial import Measurement, Trial, TrialState

if TYPE_CHECKING:
    import pandas

    from tuner.backend import Backend

__all__ = ["DEFAULT_STORE", "Study", "connect"]

logger = logging.getLogger(__name__)

DEFAULT_STORE = "sqlite:///tuner.db"
"""Where studies live when neither a store nor a server is named: a file in the working
directory."""

ObjectiveFunction = Callable[[Trial], float | Mapping[str, float] | None]


def connect(
    *, store: str | None = None, server: str | None = None, token: str | None = None
) -> Backend:
    """A backend over a local store (in-process service) or a remote server.

    Args:
        store: A database URL (``sqlite:///tuner.db``, ``postgresql://...``,
            ``mysql://...``); the default when ``server`` is not given either.
        server: A ``host:port`` of a ``tuner server``.
        token: The server's bearer token, if it requires one.

    Raises:
        InvalidArgumentError: Both a store and a server were given.
    """
    if store is not None and server is not None:
        raise InvalidArgumentError("give a store URL or a server address, not both", field="store")
    if server is not None:
        from tuner.client import Client

        return Client(server, token=token)
    from tuner.service import ServiceCore
    from tuner.store import open_store

    return ServiceCore(open_store(store or DEFAULT_STORE))


class Study:
    """A study: ask it for trials, tell it their results, read the best.

    Works the same in-process on a local store and against a ``tuner server``; build one
    with :meth:`create` or :meth:`load`. Safe to share between threads.

    Args:
        name: The study's name.
        backend: Where it lives (see :func:`connect`).
    """

    def __init__(self, name: str, backend: Backend) -> None:
        self._name = name
        self._backend = backend
        self._info = backend.get_study(name)

    @classmethod
    def create(
        cls,
        name: str,
        *,
        parameters: Sequence[Parameter] | SearchSpace,
        objective: Objective | str,
        direction: Direction | str = Direction.MINIMIZE,
        algorithm: str = DEFAULT_ALGORITHM,
        settings: Mapping[str, object] | None = None,
        seed: int | None = None,
        early_stopping: str | None = None,
        early_stopping_settings: Mapping[str, object] | None = None,
        store: str | None = None,
        server: str | None = None,
        token: str | None = None,
        load_if_exists: bool = False,
    ) -> Study:
        """Create a study, or with ``load_if_exists`` load the one of that name.

        Args:
            name: Unique within the store.
            parameters: The search space.
            objective: An :class:`~tuner.Objective`, or just the metric name.
            direction: Used when ``objective`` is a metric name.
            algorithm: A registered algorithm name (``bayesianoptimization``, the default,
                ``tpe``, ``random``, ``grid``, ...).
            settings: The algorithm's settings, e.g. ``{"random_state": 7}``.
            seed: Seed of the algorithm; drawn at random when None.
            early_stopping: A registered early-stopping rule (``medianstop``), or None
                to let every trial run to its end; see :meth:`should_stop`.
            early_stopping_settings: The rule's settings, e.g. ``{"start_step": 2}``.
            store: Database URL of a local store (see :func:`connect`).
            server: Address of a ``tuner server``.
            token: The server's bearer token.
            load_if_exists: Load an existing study of that name instead of failing; its
                configuration must then be the one given.

        Raises:
            AlreadyExistsError: The name is taken and ``load_if_exists`` is False.
            InvalidArgumentError: The space, objective, algorithm, early stopping or
                their settings are invalid.
        """
        if early_stopping is None and early_stopping_settings:
            raise InvalidArgumentError(
                "early_stopping_settings given without early_stopping",
                field="early_stopping_settings",
            )
        if isinstance(objective, str):
            objective = Objective(metric_name=objective, direction=Direction(direction))
        if not isinstance(parameters, SearchSpace):
            parameters = SearchSpace(tuple(parameters))
        config = StudyConfig(
            space=parameters,
            objective=objective,
            algorithm=AlgorithmSpec(
                name=algorithm, settings={k: str(v) for k, v in (settings or {}).items()}
            ),
            seed=seed,
            early_stopping=(
                None
                if early_stopping is None
                else AlgorithmSpec(
                    name=early_stopping,
                    settings={k: str(v) for k, v in (early_stopping_settings or {}).items()},
                )
            ),
        )
        backend = connect(store=store, server=server, token=token)
        try:
            backend.create_study(name, config)
        except AlreadyExistsError:
            if not load_if_exists:
                raise
            existing = backend.get_study(name).config
            if not existing.is_same_problem(config):
                raise AlreadyExistsError(
                    f"study {name!r} exists with a different configuration"
                ) from None
        return cls(name, backend)

    @classmethod
    def load(
        cls,
        name: str,
        *,
        store: str | None = None,
        server: str | None = None,
        token: str | None = None,
    ) -> Study:
        """Open an existing study; ``NotFoundError`` if there is none of that name."""
        return cls(name, connect(store=store, server=server, token=token))

    @property
    def name(self) -> str:
        """The study's name."""
        return self._name

    @property
    def config(self) -> StudyConfig:
        """Search space, objective, algorithm and seed."""
        return self._info.config

    @property
    def info(self) -> StudyInfo:
        """The study as stored now: config, state and reason."""
        self._info = self._backend.get_study(self._name)
        return self._info

    # -- ask and tell ----------------------------------------------------------------------

    def suggest(self, *, client_id: str = "") -> Trial:
        """One trial to evaluate.

        Raises:
            FailedPreconditionError: The algorithm has nothing left to suggest.
        """
        trials = self.suggest_batch(1, client_id=client_id)
        if not trials:
            raise FailedPreconditionError(f"study {self._name!r}: nothing left to suggest")
        return trials[0]

    def suggest_batch(self, count: int, *, client_id: str = "") -> list[Trial]:
        """Up to ``count`` distinct trials to evaluate in parallel (fewer when exhausted)."""
        return list(self._backend.suggest_trials(self._name, count, client_id).trials)

    def enqueue(self, parameters: Mapping[str, ParameterValue]) -> Trial:
        """Queue parameters to be evaluated; the next suggestion hands them out first."""
        return self._backend.add_trial(self._name, parameters)

    def report(self, trial: Trial | int, *, step: int, **metrics: float) -> None:
        """Record intermediate metric values of a running trial at ``step``."""
        self._backend.report_measurements(
            _trial_id(trial), [Measurement(step=step, metrics=metrics)]
        )

    def complete(self, trial: Trial | int, value: float | None = None, **metrics: float) -> Trial:
        """Finish a trial with its result.

        Args:
            trial: The trial or its id.
            value: The objective value (a shorthand for ``**{objective_metric: value}``).
            **metrics: Final metric values. With neither ``value`` nor metrics, the final
                values are reduced from the reported ones by the metric strategies.

        Returns:
            The finished trial (``INFEASIBLE`` if the objective is NaN).
        """
        if value is not None:
            metrics = {self.config.objective.metric_name: value, **metrics}
        final = Measurement(metrics=metrics) if metrics else None
        return self._backend.complete_trial(_trial_id(trial), final)

    def should_stop(self, trial: Trial | int) -> bool:
        """Whether a running trial should stop early, by the study's early-stopping rule.

        Call it after :meth:`report`. When the answer is True the trial is already
        ``STOPPING``: stop evaluating it and :meth:`complete` it, which finishes it
        ``EARLY_STOPPED`` with the values it reported. Always False for a study without
        early stopping.

        Examples:
            >>> import tuner
            >>> study = Study.create(
            ...     "doc-stop",
            ...     parameters=[tuner.DoubleParameter(name="x", low=0.0, high=1.0)],
            ...     objective="loss",
            ...     early_stopping="medianstop",
            ...     early_stopping_settings={"min_trials_required": 1, "start_step": 1},
            ...     store="sqlite:///" + str(getfixture("tmp_path") / "stop.db"),
            ... )
            >>> for losses in ([0.5, 0.4], [0.9, 0.8]):
            ...     trial = study.suggest()
            ...     for step, loss in enumerate(losses, start=1):
            ...         study.report(trial, step=step, loss=loss)
            ...         if study.should_stop(trial):
            ...             break
            ...     done = study.complete(trial)
            >>> done.state, done.objective_value("loss")
            (<TrialState.EARLY_STOPPED: 'EARLY_STOPPED'>, 0.9)
            >>> study.close()
        """
        return self._backend.check_trial_early_stopping(_trial_id(trial)).should_stop

    def mark_infeasible(self, trial: Trial | int, reason: str) -> Trial:
        """Finish a trial as infeasible: its parameters cannot be evaluated."""
        return self._backend.complete_trial(_trial_id(trial), infeasible_reason=reason)

    def fail(self, trial: Trial | int, reason: str) -> Trial:
        """Finish a trial as failed."""
        return self._backend.fail_trial(_trial_id(trial), reason)

    # -- the loop --------------------------------------------------------------------------

    def optimize(
        self,
        fn: ObjectiveFunction,
        n_trials: int,
        *,
        n_jobs: int = 1,
        catch: tuple[type[Exception], ...] = (),
    ) -> None:
        """Evaluate ``fn`` on ``n_trials`` new trials, ``n_jobs`` at a time in threads.

        Args:
            fn: Takes a :class:`~tuner.Trial` (read ``trial.parameters``; it may call
                :meth:`report`) and returns the objective value, a mapping of final metric
                values, or None when it reported its values itself.
            n_trials: Trials to evaluate in this call.
            n_jobs: Threads evaluating at once.
            catch: Exceptions that fail the trial but let the loop go on; any other one
                fails the trial and is raised here once the running trials are done.
        """
        if n_trials < 0 or n_jobs < 1:
            raise InvalidArgumentError("n_trials must be >= 0 and n_jobs >= 1", field="n_jobs")
        remaining = [n_trials]
        lock = threading.Lock()
        stop = threading.Event()

        def take_one() -> bool:
            with lock:
                if remaining[0] <= 0 or stop.is_set():
                    return False
                remaining[0] -= 1
                return True

        def worker() -> None:
            while take_one():
                trials = self.suggest_batch(1)
                if not trials:
                    stop.set()  # exhausted
                    return
                try:
                    self._evaluate(fn, trials[0], catch)
                except BaseException:
                    stop.set()
                    raise

        with ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix="tuner-optimize") as pool:
            futures = [pool.submit(worker) for _ in range(n_jobs)]
        for future in futures:
            future.result()

    def _evaluate(
        self, fn: ObjectiveFunction, trial: Trial, catch: tuple[type[Exception], ...]
    ) -> None:
        try:
            result = fn(trial)
        except BaseException as error:
            self.fail(trial, f"{type(error).__name__}: {error}")
            if isinstance(error, catch):
                logger.warning("study %s: trial %d failed: %r", self._name, trial.id, error)
                return
            raise
        if result is None:
            self.complete(trial)
        elif isinstance(result, Mapping):
            self.complete(trial, **result)
        else:
            self.complete(trial, float(result))

    # -- reading ---------------------------------------------------------------------------

    @property
    def best_trial(self) -> Trial | None:
        """The succeeded trial with the best objective value; None before there is one."""
        optimal = self._backend.list_optimal_trials(self._name)
        return optimal[0] if optimal else None

    @property
    def trials(self) -> list[Trial]:
        """Every trial, by number."""
        return self._backend.list_trials(self._name)

    @property
    def trial_counts(self) -> dict[TrialState, int]:
        """How many trials are in each state, every state a key; loads no trial."""
        return self._backend.count_trials(self._name)

    def to_dataframe(self) -> pandas.DataFrame:
        """The trials as a pandas DataFrame: one row per trial, parameters and final metrics.

        Raises:
            ImportError: pandas is not installed (``pip install 'tuner[pandas]'``).
        """
        try:
            import pandas
        except ImportError as error:
            raise ImportError("to_dataframe needs pandas: pip install 'tuner[pandas]'") from error
        rows: list[dict[str, Any]] = []
        for trial in self.trials:
            row: dict[str, Any] = {
                "id": trial.id,
                "number": trial.number,
                "state": trial.state.value,
            }
            row.update({f"params.{k}": v for k, v in trial.parameters.items()})
            if trial.final_measurement is not None:
                row.update({f"metrics.{k}": v for k, v in trial.final_measurement.metrics.items()})
            row["reason"] = trial.reason
            rows.append(row)
        return pandas.DataFrame(rows)

    def close(self) -> None:
        """Release the store's connections or the server channel."""
        close = getattr(self._backend, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Study({self._name!r})"


def _trial_id(trial: Trial | int) -> int:
    return trial if isinstance(trial, int) else trial.id
