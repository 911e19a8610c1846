"""Where a trial's measurements go: its id and the service, from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from tuner.errors import InvalidArgumentError

if TYPE_CHECKING:
    from tuner.backend import Backend

__all__ = ["ENDPOINT_ENV", "TOKEN_ENV", "TRIAL_ID_ENV", "trial_and_client"]

ENDPOINT_ENV = "TUNER_SERVICE_ENDPOINT"
"""``host:port`` of the service to report to; unset: report nowhere."""
TRIAL_ID_ENV = "TUNER_TRIAL_ID"
"""The id of the trial the measurements belong to."""
TOKEN_ENV = "TUNER_SERVICE_TOKEN"
"""The bearer token for the service, when it requires one."""
_CLIENT_TIMEOUT = 10.0


def trial_and_client(env: Mapping[str, str]) -> tuple[int, Backend] | None:
    """The trial id and a client of the service that ``env`` names; None when no endpoint
    is set.

    Raises:
        InvalidArgumentError: The endpoint is set but the trial id is not an integer.
    """
    endpoint = env.get(ENDPOINT_ENV, "").strip()
    if not endpoint:
        return None
    raw_id = env.get(TRIAL_ID_ENV, "").strip()
    try:
        trial_id = int(raw_id)
    except ValueError:
        raise InvalidArgumentError(
            f"{ENDPOINT_ENV} is set, so {TRIAL_ID_ENV} must be a trial id, got {raw_id!r}",
            field=TRIAL_ID_ENV,
        ) from None
    from tuner.client import Client  # grpc loads only when there is somewhere to report

    token = env.get(TOKEN_ENV) or None
    return trial_id, Client(endpoint, token=token, timeout=_CLIENT_TIMEOUT)
