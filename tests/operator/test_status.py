"""The .status builder: conditions, times kept, counts, the optimal trial."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from tuner.config import Direction, Objective
from tuner.operator import (
    ExperimentStatus,
    Phase,
    Reason,
    TrialCounts,
    build_status,
    current_phase,
    optimal_trial,
)
from tuner.trial import Measurement, Trial, TrialState

T0 = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _build(
    previous: Mapping[str, Any] | None, phase: Phase, reason: str, minutes: int, **kwargs: Any
) -> ExperimentStatus:
    return build_status(
        previous,
        phase=phase,
        reason=reason,
        message=f"{phase.value} at {minutes}",
        now=_at(minutes),
        study_name="tune/demo",
        **kwargs,
    )


def test_a_run_from_created_to_succeeded() -> None:
    created = _build(None, Phase.CREATED, Reason.CREATED, 0)
    assert [(c["type"], c["status"]) for c in created["conditions"]] == [("Created", "True")]
    assert created["startTime"] == "2026-11-28T13:00:00Z"
    assert current_phase(created) is Phase.CREATED

    running = _build(created, Phase.RUNNING, Reason.RUNNING, 1, counts=TrialCounts(running=3))
    assert [(c["type"], c["status"]) for c in running["conditions"]] == [
        ("Created", "True"),
        ("Running", "True"),
    ]
    assert running["conditions"][0] == created["conditions"][0]
    assert running["conditions"][1]["lastTransitionTime"] == "2026-11-28T13:01:00Z"
    assert (running["trials"], running["trialsRunning"]) == (3, 3)

    # the same situation later: equal, so the operator does not patch
    assert _build(running, Phase.RUNNING, Reason.RUNNING, 1, counts=TrialCounts(running=3)) == (
        build_status(
            running,
            phase=Phase.RUNNING,
            reason=Reason.RUNNING,
            message="Running at 1",
            now=_at(7),
            study_name="tune/demo",
            counts=TrialCounts(running=3),
        )
    )

    done = _build(
        running, Phase.SUCCEEDED, Reason.MAX_TRIALS_REACHED, 9, counts=TrialCounts(succeeded=3)
    )
    assert [(c["type"], c["status"], c["reason"]) for c in done["conditions"]] == [
        ("Created", "True", "ExperimentCreated"),
        ("Running", "False", "ExperimentMaxTrialsReached"),
        ("Succeeded", "True", "ExperimentMaxTrialsReached"),
    ]
    assert done["completionTime"] == "2026-11-28T13:09:00Z"
    assert done["startTime"] == "2026-11-28T13:00:00Z"
    again = _build(done, Phase.SUCCEEDED, Reason.MAX_TRIALS_REACHED, 20)
    assert again["completionTime"] == "2026-11-28T13:09:00Z"
    assert again["trialsSucceeded"] == 3  # counts kept when none are given

    restarted = _build(done, Phase.RUNNING, Reason.RUNNING, 30)
    assert [(c["type"], c["status"]) for c in restarted["conditions"]][-1] == ("Running", "True")
    assert ("Succeeded", "False") in [(c["type"], c["status"]) for c in restarted["conditions"]]
    assert "completionTime" not in restarted


def test_an_invalid_spec_fails_without_being_created() -> None:
    status = _build({}, Phase.FAILED, Reason.INVALID_SPEC, 0)
    assert [(c["type"], c["reason"]) for c in status["conditions"]] == [("Failed", "InvalidSpec")]
    assert "startTime" not in status
    assert status["completionTime"] == "2026-11-28T13:00:00Z"
    assert current_phase(status) is Phase.FAILED
    assert current_phase({"conditions": [{"type": "Running", "status": "False"}]}) is None
    assert current_phase(None) is None


def test_the_optimal_trial_as_katib_writes_it() -> None:
    objective = Objective(
        metric_name="accuracy", direction=Direction.MAXIMIZE, additional_metric_names=("loss",)
    )
    trial = Trial(
        id=17,
        study_name="tune/demo",
        number=3,
        parameters={"lr": 0.01, "layers": 3, "optimizer": "adam"},
        state=TrialState.SUCCEEDED,
        measurements=(
            Measurement(step=1, metrics={"accuracy": 0.5, "loss": math.nan}),
            Measurement(step=2, metrics={"accuracy": 0.75, "loss": math.inf}),
            Measurement(step=3, metrics={"accuracy": 0.625}),
        ),
        final_measurement=Measurement(metrics={"accuracy": 0.75, "loss": math.inf}),
    )
    optimal = optimal_trial(trial, objective=objective, trial_name="demo-3")
    assert optimal == {
        "trialName": "demo-3",
        "trialId": 17,
        "trialNumber": 3,
        "parameterAssignments": [
            {"name": "lr", "value": "0.01"},
            {"name": "layers", "value": "3"},
            {"name": "optimizer", "value": "adam"},
        ],
        "observation": {
            "metrics": [
                {
                    "name": "accuracy",
                    "value": "0.75",
                    "latest": "0.625",
                    "min": "0.5",
                    "max": "0.75",
                },
                {"name": "loss", "value": "inf", "latest": "inf", "min": "inf", "max": "inf"},
            ]
        },
    }
    status = _build(None, Phase.RUNNING, Reason.RUNNING, 0, optimal=optimal)
    assert status["currentOptimalTrial"] == optimal
    assert _build(status, Phase.RUNNING, Reason.RUNNING, 1)["currentOptimalTrial"] == optimal
