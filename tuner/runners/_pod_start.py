"""Pods that cannot start: which kubelet waiting reasons mean it, for how long, and why.

The kubelet retries a container that cannot start (an image it cannot pull, a Secret the
environment names that does not exist) and the Job never fails on its own, so a trial
would wait forever. The runner fails it once one of its pods has shown one of these
reasons, without a break, for longer than the reason's timeout.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuner.runners._job import SecretKeySelector

__all__ = [
    "POD_START_TIMEOUTS",
    "StuckContainer",
    "find_stuck_container",
    "stuck_reason",
]

_CONFIG_ERROR = "CreateContainerConfigError"
_IMAGE_PULL_TIMEOUT = 300.0
_STUCK_TIMEOUT = 60.0

# A pull error may be a registry's hiccup, and the kubelet backs off 10, 20, 40, ... up to
# 300 s between pulls, so pulls get 300 s (about five tries); the rest do not heal by
# retrying. Left out on purpose: RunContainerError and CrashLoopBackOff (the container was
# started: with restartPolicy Never the pod fails, with OnFailure the restarts count against
# the Job's backoffLimit).
POD_START_TIMEOUTS: dict[str, float] = {
    # a Secret or ConfigMap (or one of their keys) that the environment names is missing
    _CONFIG_ERROR: _STUCK_TIMEOUT,
    # the runtime refused the container (e.g. no command, and none in the image)
    "CreateContainerError": _STUCK_TIMEOUT,
    # not an image reference (a Job's pod template cannot change: it never heals)
    "InvalidImageName": _STUCK_TIMEOUT,
    # imagePullPolicy Never, and the node lacks the image
    "ErrImageNeverPull": _STUCK_TIMEOUT,
    "ImageInspectError": _STUCK_TIMEOUT,
    # the pull failed (a typo, a missing tag, no pull Secret), then the kubelet backs off
    "ErrImagePull": _IMAGE_PULL_TIMEOUT,
    "ImagePullBackOff": _IMAGE_PULL_TIMEOUT,
}
"""The kubelet's waiting reasons for a container that will not start until someone
changes something, and the seconds a pod may show them before its trial fails."""

_IMAGE_REASONS = frozenset(
    [
        "InvalidImageName",
        "ErrImageNeverPull",
        "ImageInspectError",
        "ErrImagePull",
        "ImagePullBackOff",
    ]
)


@dataclass(frozen=True, slots=True)
class StuckContainer:
    """A container of a pod waiting for a reason of :data:`POD_START_TIMEOUTS`."""

    pod: str
    container: str
    reason: str
    message: str
    image: str

    @property
    def timeout(self) -> float:
        """The seconds its reason may last before the trial fails, by default."""
        return POD_START_TIMEOUTS[self.reason]

    def describe(self) -> str:
        """``train``, or ``train (image registry.invalid/x:1)`` for an image problem."""
        if self.reason in _IMAGE_REASONS and self.image:
            return f"{self.container} (image {self.image})"
        return self.container


def find_stuck_container(pods: Iterable[dict[str, Any]]) -> StuckContainer | None:
    """The first container of ``pods`` (API dicts) that waits unable to start, or None.

    Pods being deleted are skipped; init containers come before the others.
    """
    for pod in pods:
        if pod["metadata"].get("deletionTimestamp") is not None:
            continue
        spec = pod.get("spec") or {}
        images = {
            str(c.get("name")): str(c.get("image") or "")
            for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
        }
        status = pod.get("status") or {}
        for container in [
            *(status.get("initContainerStatuses") or []),
            *(status.get("containerStatuses") or []),
        ]:
            waiting = (container.get("state") or {}).get("waiting") or {}
            reason = str(waiting.get("reason") or "")
            if reason in POD_START_TIMEOUTS:
                name = str(container.get("name"))
                return StuckContainer(
                    pod=str(pod["metadata"]["name"]),
                    container=name,
                    reason=reason,
                    message=str(waiting.get("message") or ""),
                    image=images.get(name) or str(container.get("image") or ""),
                )
    return None


def stuck_reason(
    stuck: StuckContainer,
    *,
    namespace: str,
    timeout: float,
    token_secret: SecretKeySelector | None,
) -> str:
    """Why the trial failed, with a hint at the fix for a token Secret or an image."""
    reason = (
        f"its pod {namespace}/{stuck.pod} could not start for {timeout:g} s: "
        f"container {stuck.describe()}: {stuck.reason}: {stuck.message or 'no message'}"
    )
    if (
        stuck.reason == _CONFIG_ERROR
        and token_secret is not None
        and token_secret.name in stuck.message
    ):
        reason += (
            f" (the service token's Secret {token_secret.name}, key {token_secret.key}, must "
            f"exist in namespace {namespace}, where the trials run)"
        )
    elif stuck.reason in _IMAGE_REASONS:
        reason += (
            " (check the image in the experiment's trialTemplate and, for a private "
            "registry, the pod's imagePullSecrets)"
        )
    return reason
