"""The errors tuner raises, one class per gRPC status code.

Library code raises these; the service maps them to status codes in one table
(``tuner.service``) and the client maps status codes back, so a caller sees the same
exception whether it talks to a local store or a remote server.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExistsError",
    "FailedPreconditionError",
    "InvalidArgumentError",
    "NotFoundError",
    "TunerError",
    "UnauthenticatedError",
    "UnavailableError",
]


class TunerError(Exception):
    """Base class of every error tuner raises on purpose."""


class InvalidArgumentError(TunerError, ValueError):
    """The input is malformed. gRPC ``INVALID_ARGUMENT``; retrying the same call cannot help.

    Args:
        message: What is wrong.
        field: Where it is wrong, as a dotted path into the document or request
            (``spec.parameters[2].feasibleSpace.min``), or ``""`` when it is the whole input.

    Examples:
        >>> str(InvalidArgumentError("must be > 0", field="spec.maxTrialCount"))
        'spec.maxTrialCount: must be > 0'
    """

    def __init__(self, message: str, *, field: str = "") -> None:
        self.message = message
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class NotFoundError(TunerError, LookupError):
    """A study or trial does not exist. gRPC ``NOT_FOUND``; retrying cannot help."""


class AlreadyExistsError(TunerError):
    """A study of that name already exists. gRPC ``ALREADY_EXISTS``; retrying cannot help."""


class FailedPreconditionError(TunerError):
    """The object is not in a state that allows the call (say, completing a completed trial).

    gRPC ``FAILED_PRECONDITION``; retrying helps only after the state changes.
    """


class UnauthenticatedError(TunerError):
    """The call has no valid bearer token for the service.

    gRPC ``UNAUTHENTICATED``; retrying cannot help until the caller has the service's
    token (``$TUNER_TOKEN`` for a client, ``$TUNER_SERVICE_TOKEN`` in a trial).
    """


class UnavailableError(TunerError):
    """The service or the database cannot be reached. gRPC ``UNAVAILABLE``; retrying may help."""
