"""Which waiting pods count as unable to start, and the reason a trial then fails with."""

from __future__ import annotations

from typing import Any

from tuner.runners import SecretKeySelector
from tuner.runners._pod_start import POD_START_TIMEOUTS, find_stuck_container, stuck_reason


def _pod(
    name: str, waiting: dict[str, str] | None, *, deleting: bool = False, init: bool = False
) -> dict[str, Any]:
    state = {"waiting": waiting} if waiting else {"running": {}}
    status_key = "initContainerStatuses" if init else "containerStatuses"
    metadata: dict[str, Any] = {"name": name}
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-28T00:00:00Z"
    return {
        "metadata": metadata,
        "spec": {"containers": [{"name": "train", "image": "registry.invalid/x:1"}]},
        "status": {status_key: [{"name": "train", "state": state}]},
    }


PULL = {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "registry.invalid/x:1"'}
SECRET = {"reason": "CreateContainerConfigError", "message": 'secret "tuner-token" not found'}


def test_a_running_or_merely_creating_pod_is_not_stuck() -> None:
    assert find_stuck_container([_pod("a", None)]) is None
    assert find_stuck_container([_pod("a", {"reason": "ContainerCreating"})]) is None
    assert find_stuck_container([]) is None


def test_a_pod_being_deleted_is_skipped() -> None:
    assert find_stuck_container([_pod("old", PULL, deleting=True)]) is None
    stuck = find_stuck_container([_pod("old", PULL, deleting=True), _pod("new", SECRET)])
    assert stuck is not None and (stuck.pod, stuck.reason) == ("new", SECRET["reason"])


def test_an_image_problem_names_the_image_and_waits_longer() -> None:
    stuck = find_stuck_container([_pod("p", PULL, init=True)])
    assert stuck is not None
    assert stuck.describe() == "train (image registry.invalid/x:1)"
    assert stuck.timeout == POD_START_TIMEOUTS["ImagePullBackOff"] == 300.0
    reason = stuck_reason(stuck, namespace="ns", timeout=300.0, token_secret=None)
    assert reason.startswith("its pod ns/p could not start for 300 s: container train (image ")
    assert "imagePullSecrets" in reason


def test_a_missing_token_secret_says_where_it_must_exist() -> None:
    stuck = find_stuck_container([_pod("p", SECRET)])
    assert stuck is not None and stuck.describe() == "train" and stuck.timeout == 60.0
    selector = SecretKeySelector(name="tuner-token")
    reason = stuck_reason(stuck, namespace="ns", timeout=60.0, token_secret=selector)
    assert "Secret tuner-token, key token, must exist in namespace ns" in reason
    other = stuck_reason(
        stuck, namespace="ns", timeout=60.0, token_secret=SecretKeySelector(name="other")
    )
    assert "must exist" not in other
