"""The one table from :mod:`tuner.errors` to gRPC status codes, and the wrapper applying it."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TypeVar

import grpc

from tuner.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    TunerError,
    UnauthenticatedError,
    UnavailableError,
)

__all__ = ["FIELD_METADATA_KEY", "STATUS_CODES", "rpc", "status_of"]

logger = logging.getLogger(__name__)

FIELD_METADATA_KEY = "tuner-field-bin"
"""Trailing metadata key carrying the field of an ``INVALID_ARGUMENT`` error, UTF-8 encoded
(a ``-bin`` key, since field paths may hold any parameter name)."""

STATUS_CODES: dict[type[TunerError], grpc.StatusCode] = {
    InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
    NotFoundError: grpc.StatusCode.NOT_FOUND,
    AlreadyExistsError: grpc.StatusCode.ALREADY_EXISTS,
    FailedPreconditionError: grpc.StatusCode.FAILED_PRECONDITION,
    UnavailableError: grpc.StatusCode.UNAVAILABLE,
    UnauthenticatedError: grpc.StatusCode.UNAUTHENTICATED,
}
"""Each tuner error class and its status code; any other exception is ``INTERNAL``."""


def status_of(error: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status code and details text that report ``error`` to a client.

    Examples:
        >>> status_of(NotFoundError("no study 'x'"))
        (<StatusCode.NOT_FOUND: (5, 'not found')>, "no study 'x'")
    """
    for cls in type(error).__mro__:
        code = STATUS_CODES.get(cls)
        if code is not None:
            return code, str(error)
    return grpc.StatusCode.INTERNAL, f"internal error ({type(error).__name__}); see the server log"


_Servicer = TypeVar("_Servicer")
_Request = TypeVar("_Request")
_Response = TypeVar("_Response")


def rpc(
    method: Callable[[_Servicer, _Request, grpc.ServicerContext], _Response],
) -> Callable[[_Servicer, _Request, grpc.ServicerContext], _Response]:
    """Wrap a servicer method so every exception becomes its status code.

    The wrapper calls ``context.abort``, which raises, so nothing runs after a refusal.
    An ``INVALID_ARGUMENT`` also carries its field in the trailing metadata
    (:data:`FIELD_METADATA_KEY`); anything not a :class:`~tuner.errors.TunerError` is logged
    with its traceback and reported as ``INTERNAL`` without its text.
    """

    @functools.wraps(method)
    def wrapper(self: _Servicer, request: _Request, context: grpc.ServicerContext) -> _Response:
        try:
            return method(self, request, context)
        except Exception as error:  # mapped to a status; context.abort raises
            code, details = status_of(error)
            if code is grpc.StatusCode.INTERNAL:
                logger.exception("%s failed", method.__name__)
            else:
                logger.debug("%s refused: %s %s", method.__name__, code.name, details)
            if isinstance(error, InvalidArgumentError) and error.field:
                context.set_trailing_metadata(((FIELD_METADATA_KEY, error.field.encode()),))
            context.abort(code, details)

    return wrapper
