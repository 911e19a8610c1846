"""The ``.status`` of an Experiment custom resource: its shape, and one builder for it.

The operator is the only writer of ``.status`` (through the ``status`` subresource); the
CRD's printer columns and ``kubectl get exp`` read it. The shape follows Katib's
``v1beta1`` ExperimentStatus where Katib has a field, so Katib dashboards and habits carry
over. Every key below is always present once the operator has looked at the Experiment,
except ``startTime`` (absent for an Experiment that never started: an invalid one),
``completionTime`` (absent until it ends) and ``currentOptimalTrial`` (absent until a trial
succeeds)::

    status:
      conditions:                    # the LAST entry is the current phase, with status "True"
        - type: Created              # Created | Running | Succeeded | Failed
          status: "True"             # "True" | "False" (strings, as Kubernetes conditions)
          reason: ExperimentCreated  # a CamelCase word, see Reason
          message: study default/mnist created
          lastTransitionTime: "2026-11-28T13:04:38Z"   # changes only when status flips
        - {type: Running, status: "True", reason: ExperimentRunning, message: ..., ...}
      startTime: "2026-11-28T13:04:38Z"
      completionTime: "2026-11-28T13:09:02Z"
      studyName: default/mnist       # the study in the service: <namespace>/<name>
      trials: 12                     # all trials handed out: the five counts below summed
      trialsSucceeded: 9
      trialsFailed: 1
      trialsRunning: 2
      trialsEarlyStopped: 0
      trialsInfeasible: 0
      currentOptimalTrial:           # the best succeeded trial so far
        trialName: mnist-7           # its Job's name
        trialId: 31                  # TUNER_TRIAL_ID: unique in the store
        trialNumber: 7               # 0, 1, 2, ... within the study
        parameterAssignments:        # values as strings, as Katib writes them
          - {name: lr, value: "0.01"}
        observation:
          metrics:                   # objective metric first; values as strings ("nan", "inf")
            - {name: accuracy, value: "0.97", latest: "0.97", min: "0.81", max: "0.97"}

``value`` is the trial's final value of the metric (what the optimiser used); ``latest``,
``min`` and ``max`` are over its intermediate measurements (all three equal ``value`` when
it reported none).

Conditions, in the order they appear:

- ``Created`` ``True`` once the study exists in the service (reason ``ExperimentCreated``).
- ``Running`` ``True`` while the operator runs the experiment's trials
  (``ExperimentRunning``); ``False`` once it ended (reason: the end's reason).
- ``Succeeded`` ``True`` at the end: ``ExperimentGoalReached``, ``ExperimentMaxTrialsReached``
  or ``ExperimentSuggestionEndReached`` (the algorithm has nothing left, e.g. a finished grid).
- ``Failed`` ``True`` at the end: ``ExperimentMaxFailedTrialsReached`` (more trials failed
  than ``maxFailedTrialCount``), ``InvalidSpec`` (the document does not validate; the
  message lists every field path with its error; nothing was created), or ``StudyConflict``
  (the service holds a study of that name with another search space, objective or
  algorithm).

A condition that becomes ``True`` moves to the end of the list, so printer columns read the
phase as ``.status.conditions[-1:].type`` (as Katib's do).

An ended Experiment runs again (``Running`` last and ``True``, the ended condition ``False``,
no ``completionTime``) when its ``maxTrialCount`` (``maxFailedTrialCount``) is raised past
the count that ended it, or when an ``InvalidSpec`` one is fixed.

Examples:
    >>> from datetime import UTC, datetime
    >>> now = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)
    >>> status = build_status(None, phase=Phase.RUNNING, reason=Reason.RUNNING,
    ...                       message="running", now=now, study_name="default/demo",
    ...                       counts=TrialCounts(running=2))
    >>> [(c["type"], c["status"]) for c in status["conditions"]]
    [('Created', 'True'), ('Running', 'True')]
    >>> status["trials"], status["trialsRunning"], status["startTime"]
    (2, 2, '2026-11-28T13:00:00Z')
    >>> later = datetime(2026, 11, 28, 13, 5, tzinfo=UTC)
    >>> build_status(status, phase=Phase.RUNNING, reason=Reason.RUNNING, message="running",
    ...              now=later, study_name="default/demo", counts=TrialCounts(running=2)) == status
    True
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

from tuner.config import Objective
from tuner.space import ParameterValue
from tuner.trial import Trial

__all__ = [
    "Condition",
    "ExperimentStatus",
    "MetricObservation",
    "OptimalTrial",
    "ParameterAssignment",
    "Phase",
    "Reason",
    "TrialCounts",
    "build_status",
    "current_phase",
    "format_time",
    "optimal_trial",
]


class Phase(enum.Enum):
    """The condition types; the current one is the last condition."""

    CREATED = "Created"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"

    @property
    def is_final(self) -> bool:
        """Whether the Experiment has ended (``Succeeded`` or ``Failed``)."""
        return self in (Phase.SUCCEEDED, Phase.FAILED)


class Reason(enum.StrEnum):
    """The reasons the operator writes in conditions."""

    CREATED = "ExperimentCreated"
    RUNNING = "ExperimentRunning"
    GOAL_REACHED = "ExperimentGoalReached"
    MAX_TRIALS_REACHED = "ExperimentMaxTrialsReached"
    SUGGESTION_END_REACHED = "ExperimentSuggestionEndReached"
    MAX_FAILED_TRIALS_REACHED = "ExperimentMaxFailedTrialsReached"
    INVALID_SPEC = "InvalidSpec"
    STUDY_CONFLICT = "StudyConflict"


class Condition(TypedDict):
    """One entry of ``.status.conditions``."""

    type: str
    status: str
    reason: str
    message: str
    lastTransitionTime: str


class ParameterAssignment(TypedDict):
    """One parameter value of the optimal trial."""

    name: str
    value: str


class MetricObservation(TypedDict):
    """One metric of the optimal trial; values as text (``"nan"``, ``"inf"`` allowed)."""

    name: str
    value: str
    latest: str
    min: str
    max: str


class Observation(TypedDict):
    """The optimal trial's metrics."""

    metrics: list[MetricObservation]


class OptimalTrial(TypedDict):
    """``.status.currentOptimalTrial``."""

    trialName: str
    trialId: int
    trialNumber: int
    parameterAssignments: list[ParameterAssignment]
    observation: Observation


class ExperimentStatus(TypedDict):
    """``.status`` of an Experiment, as the operator writes it."""

    conditions: list[Condition]
    studyName: str
    trials: int
    trialsSucceeded: int
    trialsFailed: int
    trialsRunning: int
    trialsEarlyStopped: int
    trialsInfeasible: int
    startTime: NotRequired[str]
    completionTime: NotRequired[str]
    currentOptimalTrial: NotRequired[OptimalTrial]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrialCounts:
    """How many of the experiment's trials are in each state."""

    succeeded: int = 0
    failed: int = 0
    running: int = 0
    early_stopped: int = 0
    infeasible: int = 0

    @property
    def total(self) -> int:
        """Every trial handed out so far."""
        return self.succeeded + self.failed + self.running + self.early_stopped + self.infeasible


def format_time(moment: datetime) -> str:
    """A Kubernetes timestamp (RFC 3339, UTC, whole seconds): ``2026-11-28T13:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def current_phase(status: Mapping[str, Any] | None) -> Phase | None:
    """The phase ``status`` records (its last condition, if ``True``); None if none."""
    conditions = (status or {}).get("conditions") or []
    if not conditions:
        return None
    last = conditions[-1]
    if not isinstance(last, Mapping) or last.get("status") != "True":
        return None
    try:
        return Phase(last.get("type"))
    except ValueError:
        return None


def build_status(
    previous: Mapping[str, Any] | None,
    *,
    phase: Phase,
    reason: str,
    message: str,
    now: datetime,
    study_name: str,
    counts: TrialCounts | None = None,
    optimal: OptimalTrial | None = None,
) -> ExperimentStatus:
    """The new ``.status``, from the previous one and where the experiment is now.

    Deterministic given its inputs: times already set in ``previous`` are kept (a
    condition's ``lastTransitionTime`` changes only when its status flips, ``startTime``
    never), so building again from an unchanged situation gives an equal dict and the
    caller can skip the patch.

    Args:
        previous: The Experiment's current ``.status`` (None or ``{}`` for a new one).
        phase: Where the experiment is now.
        reason: The reason of the ``phase`` condition (a :class:`Reason`).
        message: Its message, for people.
        now: The time to record for whatever changes now.
        study_name: The study in the service.
        counts: Trial counts (None: all zero, or those of ``previous`` if it has them).
        optimal: The best trial so far (None: keep the previous one, if any).

    Returns:
        A new dict; ``previous`` is not changed.
    """
    previous = previous or {}
    stamp = format_time(now)
    conditions = _conditions(previous.get("conditions") or [], phase, reason, message, stamp)
    if counts is None:
        counts = TrialCounts(
            succeeded=int(previous.get("trialsSucceeded", 0)),
            failed=int(previous.get("trialsFailed", 0)),
            running=int(previous.get("trialsRunning", 0)),
            early_stopped=int(previous.get("trialsEarlyStopped", 0)),
            infeasible=int(previous.get("trialsInfeasible", 0)),
        )
    status: ExperimentStatus = {
        "conditions": conditions,
        "studyName": study_name,
        "trials": counts.total,
        "trialsSucceeded": counts.succeeded,
        "trialsFailed": counts.failed,
        "trialsRunning": counts.running,
        "trialsEarlyStopped": counts.early_stopped,
        "trialsInfeasible": counts.infeasible,
    }
    started = any(c["type"] == Phase.CREATED.value for c in conditions)
    if started:
        status["startTime"] = str(previous.get("startTime") or stamp)
    if phase.is_final:
        was_final = (current_phase(previous) or Phase.CREATED).is_final
        ended = previous.get("completionTime") if was_final else None
        status["completionTime"] = str(ended or stamp)
    if optimal is not None:
        status["currentOptimalTrial"] = optimal
    elif isinstance(previous.get("currentOptimalTrial"), Mapping):
        status["currentOptimalTrial"] = previous["currentOptimalTrial"]
    return status


def _conditions(
    previous: Sequence[Any], phase: Phase, reason: str, message: str, stamp: str
) -> list[Condition]:
    """The conditions after moving to ``phase``; the ``phase`` one ends the list."""
    kept: dict[str, Condition] = {}
    for item in previous:
        if isinstance(item, Mapping) and item.get("type") in _TYPES:
            kind = str(item["type"])
            kept[kind] = _condition(
                kind,
                str(item.get("status", "False")),
                str(item.get("reason", "")),
                str(item.get("message", "")),
                str(item.get("lastTransitionTime") or stamp),
            )
    result: list[Condition] = []
    invalid = phase is Phase.FAILED and reason == Reason.INVALID_SPEC
    if phase is not Phase.CREATED and Phase.CREATED.value not in kept and not invalid:
        result.append(_condition(Phase.CREATED.value, "True", Reason.CREATED, "", stamp))
    for kind, condition in kept.items():
        if kind == phase.value:
            continue
        if kind != Phase.CREATED.value and condition["status"] == "True":
            # It no longer holds: it stays, False, with the reason of the change.
            condition = _condition(kind, "False", reason, message, stamp)
        result.append(condition)
    old = kept.get(phase.value)
    since = old["lastTransitionTime"] if old is not None and old["status"] == "True" else stamp
    result.append(_condition(phase.value, "True", reason, message, since))
    return result


def _condition(kind: str, status: str, reason: str, message: str, stamp: str) -> Condition:
    return {
        "type": kind,
        "status": status,
        "reason": str(reason),
        "message": message,
        "lastTransitionTime": stamp,
    }


_TYPES = frozenset(phase.value for phase in Phase)


def optimal_trial(trial: Trial, *, objective: Objective, trial_name: str) -> OptimalTrial:
    """``.status.currentOptimalTrial`` for ``trial``.

    Args:
        trial: A succeeded trial (with its final measurement).
        objective: The study's objective: its metric comes first.
        trial_name: The name of the trial's Job.
    """
    metrics: list[MetricObservation] = []
    for name in objective.metric_names:
        series = [m.metrics[name] for m in trial.measurements if name in m.metrics]
        final = trial.objective_value(name)
        if final is None and not series:
            continue
        value = final if final is not None else series[-1]
        if not series:
            series = [value]
        metrics.append(
            {
                "name": name,
                "value": _text(value),
                "latest": _text(series[-1]),
                "min": _text(_nan_min(series)),
                "max": _text(_nan_max(series)),
            }
        )
    return {
        "trialName": trial_name,
        "trialId": trial.id,
        "trialNumber": trial.number,
        "parameterAssignments": [
            {"name": name, "value": _text(value)} for name, value in trial.parameters.items()
        ],
        "observation": {"metrics": metrics},
    }


def _nan_min(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return min(finite) if finite else math.nan


def _nan_max(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return max(finite) if finite else math.nan


def _text(value: ParameterValue | float) -> str:
    """Katib writes values as strings; floats as the shortest text that reads back."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    return str(value)
