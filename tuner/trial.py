"""Trials, their states and their measurements."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass

from tuner.errors import InvalidArgumentError
from tuner.space import ParameterValue

__all__ = [
    "CollectorDiagnostics",
    "Measurement",
    "StopDecision",
    "Trial",
    "TrialState",
    "UnparseableLine",
]

MAX_REPORT_ID_LENGTH = 255
"""The longest :attr:`Measurement.report_id`, in characters."""
MAX_UNPARSEABLE_EXAMPLES = 5
"""How many unparseable lines :class:`CollectorDiagnostics` keeps as examples."""


class TrialState(enum.Enum):
    """Where a trial is in its life.

    ``REQUESTED`` trials were queued by a user and wait to be handed out; a suggestion
    makes a trial ``ACTIVE``; ``STOPPING`` asks whoever runs it to stop early. The other
    four are final.
    """

    REQUESTED = "REQUESTED"
    ACTIVE = "ACTIVE"
    STOPPING = "STOPPING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    INFEASIBLE = "INFEASIBLE"
    EARLY_STOPPED = "EARLY_STOPPED"

    @property
    def is_finished(self) -> bool:
        """Whether the state is final: the trial will not change again."""
        return self in _FINISHED

    @property
    def is_active(self) -> bool:
        """Whether the trial is handed out and not finished (``ACTIVE`` or ``STOPPING``)."""
        return self in (TrialState.ACTIVE, TrialState.STOPPING)


_FINISHED = frozenset(
    {TrialState.SUCCEEDED, TrialState.FAILED, TrialState.INFEASIBLE, TrialState.EARLY_STOPPED}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """Metric values observed at one step of a trial.

    Values may be NaN or infinite: they are kept as reported.

    Examples:
        >>> Measurement(step=3, metrics={"loss": 0.25}).metrics["loss"]
        0.25
    """

    metrics: Mapping[str, float]
    step: int = 0
    time: float = 0.0
    """Seconds since the epoch when the values were observed; 0 when unknown."""
    report_id: str = ""
    """A reporter's id for this measurement, unique within its trial; empty for none.

    The service stores a trial's measurement of a given id once: reporting it again (a
    retry after a lost answer, a spool delivered twice) changes nothing.
    """

    def __post_init__(self) -> None:
        if not isinstance(self.report_id, str) or len(self.report_id) > MAX_REPORT_ID_LENGTH:
            raise InvalidArgumentError(
                f"report_id must be a string of at most {MAX_REPORT_ID_LENGTH} characters",
                field="report_id",
            )
        if not isinstance(self.step, int) or isinstance(self.step, bool) or self.step < 0:
            raise InvalidArgumentError(
                f"step must be an integer >= 0, got {self.step!r}", field="step"
            )
        metrics = dict(self.metrics)
        for name, value in metrics.items():
            if not name:
                raise InvalidArgumentError("metric names must not be empty", field="metrics")
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise InvalidArgumentError(
                    f"metric value must be a number, got {value!r}", field=f"metrics.{name}"
                )
            metrics[name] = float(value)
        object.__setattr__(self, "metrics", metrics)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnparseableLine:
    """A line of trial output that named a wanted metric whose value could not be read."""

    source: str
    """Where it came from: ``stdout``, a file path, an endpoint."""
    line: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectorDiagnostics:
    """What a trial's metrics collector could not read or deliver.

    Several reports of one trial merge with :meth:`merge`: counts take the larger (each
    reporter sends its running totals, so a report that arrives twice or late changes
    nothing), examples are kept in order up to :data:`MAX_UNPARSEABLE_EXAMPLES`.

    Examples:
        >>> a = CollectorDiagnostics(n_unparseable=2, unparseable_examples=(
        ...     UnparseableLine(source="stdout", line="accuracy=high"),))
        >>> a.merge(CollectorDiagnostics(n_dropped=3)).n_dropped, a.merge(a) == a
        (3, True)
    """

    n_unparseable: int = 0
    """Lines that named a wanted metric but whose value was not a number."""
    unparseable_examples: tuple[UnparseableLine, ...] = ()
    """The first few of those lines."""
    n_dropped: int = 0
    """Measurements the collector dropped because its spool was full."""

    def __post_init__(self) -> None:
        for field in ("n_unparseable", "n_dropped"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidArgumentError(f"must be an integer >= 0, got {value!r}", field=field)
        examples = tuple(self.unparseable_examples)[:MAX_UNPARSEABLE_EXAMPLES]
        object.__setattr__(self, "unparseable_examples", examples)

    @property
    def is_empty(self) -> bool:
        """Whether there is nothing to say."""
        return not (self.n_unparseable or self.n_dropped or self.unparseable_examples)

    def merge(self, other: CollectorDiagnostics) -> CollectorDiagnostics:
        """Both reports in one: the larger counts, the examples of both without repeats."""
        examples = list(self.unparseable_examples)
        examples += [e for e in other.unparseable_examples if e not in examples]
        return CollectorDiagnostics(
            n_unparseable=max(self.n_unparseable, other.n_unparseable),
            unparseable_examples=tuple(examples),
            n_dropped=max(self.n_dropped, other.n_dropped),
        )

    def summary(self) -> str:
        """One line for people: ``3 unparseable lines (stdout: 'acc=high', ...)``; may be empty."""
        parts = []
        if self.n_unparseable:
            examples = ", ".join(f"{e.source}: {e.line[:60]!r}" for e in self.unparseable_examples)
            noun = "line" if self.n_unparseable == 1 else "lines"
            parts.append(
                f"{self.n_unparseable} unparseable {noun}" + (f" ({examples})" if examples else "")
            )
        if self.n_dropped:
            parts.append(f"{self.n_dropped} measurements dropped (collector spool full)")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Trial:
    """One evaluation of one parameter assignment, as the store holds it."""

    id: int
    """Unique across the store; what ``TUNER_TRIAL_ID`` carries."""
    study_name: str
    number: int
    """0, 1, 2, ... in the order the study created its trials."""
    parameters: Mapping[str, ParameterValue]
    state: TrialState = TrialState.ACTIVE
    client_id: str = ""
    measurements: tuple[Measurement, ...] = ()
    """Intermediate measurements, in the order they were reported."""
    final_measurement: Measurement | None = None
    reason: str = ""
    """Why the trial failed, was infeasible or was stopped; empty otherwise."""
    created_at: float = 0.0
    completed_at: float | None = None
    diagnostics: CollectorDiagnostics = CollectorDiagnostics()
    """What its metrics collector could not read or deliver."""

    def objective_value(self, metric_name: str) -> float | None:
        """The final value of ``metric_name``, or None when there is no final measurement."""
        if self.final_measurement is None:
            return None
        return self.final_measurement.metrics.get(metric_name)

    def has_finite_objective(self, metric_name: str) -> bool:
        """Whether the final value of ``metric_name`` exists and is finite."""
        value = self.objective_value(metric_name)
        return value is not None and math.isfinite(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class StopDecision:
    """Whether a running trial should stop early, and why.

    Examples:
        >>> StopDecision(should_stop=False, reason="the study has no early stopping")
        StopDecision(should_stop=False, reason='the study has no early stopping')
    """

    should_stop: bool
    reason: str = ""
    """What was compared (for a stop) or why no decision was made; for users to read."""
