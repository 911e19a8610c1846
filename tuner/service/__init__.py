"""The tuner service: the gRPC-free core, the servicer and the server.

:class:`ServiceCore` implements :class:`~tuner.backend.Backend` over a store (the
in-process backend); :func:`create_server` and :func:`serve` put it behind gRPC.
Importing this package loads gRPC and the store.
"""

from __future__ import annotations

from tuner.service._core import MAX_SUGGESTIONS, ServiceCore
from tuner.service._errors import FIELD_METADATA_KEY, STATUS_CODES, status_of
from tuner.service._metrics import reduce_measurements
from tuner.service._server import (
    DEFAULT_PORT,
    MAX_MESSAGE_BYTES,
    SERVICE_NAME,
    create_server,
    serve,
)
from tuner.service._servicer import TunerServicer

__all__ = [
    "DEFAULT_PORT",
    "FIELD_METADATA_KEY",
    "MAX_MESSAGE_BYTES",
    "MAX_SUGGESTIONS",
    "SERVICE_NAME",
    "STATUS_CODES",
    "ServiceCore",
    "TunerServicer",
    "create_server",
    "reduce_measurements",
    "serve",
    "status_of",
]
