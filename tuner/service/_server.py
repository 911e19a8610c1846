"""The gRPC server: the servicer, health checking, an optional bearer token and TLS."""

from __future__ import annotations

import hmac
import logging
import re
import signal
import threading
from concurrent import futures
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from tuner._proto import service_pb2, service_pb2_grpc
from tuner.service._core import ServiceCore
from tuner.service._servicer import TunerServicer

if TYPE_CHECKING:
    from collections.abc import Callable

    from tuner.backend import Backend

__all__ = ["DEFAULT_PORT", "MAX_MESSAGE_BYTES", "SERVICE_NAME", "create_server", "serve"]

logger = logging.getLogger(__name__)

DEFAULT_PORT = 6789
"""The port ``tuner server`` listens on unless told otherwise."""

SERVICE_NAME: str = service_pb2.DESCRIPTOR.services_by_name["TunerService"].full_name
"""The full gRPC name of the service, ``tuner.v1.TunerService``."""

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""The largest message the server and the client send or take (long trial lists)."""

_HEALTH_PREFIX = "/grpc.health.v1.Health/"

if TYPE_CHECKING:
    _Interceptor = grpc.ServerInterceptor[Any, Any]
    _Handler = grpc.RpcMethodHandler[Any, Any]
else:  # the runtime classes are not generic
    _Interceptor = grpc.ServerInterceptor


class _BearerTokenInterceptor(_Interceptor):
    """Refuses every call but health checks unless it carries ``authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()
        self._deny = grpc.unary_unary_rpc_method_handler(self._abort)

    @staticmethod
    def _abort(request: object, context: grpc.ServicerContext) -> None:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, "a valid bearer token is required")

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], _Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        if handler_call_details.method.startswith(_HEALTH_PREFIX):
            return continuation(handler_call_details)
        given: str | bytes = ""
        for key, value in handler_call_details.invocation_metadata or ():
            if key == "authorization":
                given = value
        if isinstance(given, str):
            given = given.encode()
        if hmac.compare_digest(given, self._expected):
            return continuation(handler_call_details)
        logger.warning("refused %s: missing or wrong bearer token", handler_call_details.method)
        return self._deny


def _address(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"{host}:{port}"


def _build_server(
    backend: Backend,
    *,
    host: str,
    port: int,
    max_workers: int,
    token: str | None,
    tls_cert: bytes | None,
    tls_key: bytes | None,
) -> tuple[grpc.Server, int, health.HealthServicer]:
    if (tls_cert is None) != (tls_key is None):
        raise ValueError("TLS needs both a certificate chain and a private key")
    if token is not None and not token:
        raise ValueError("the bearer token must not be empty")
    interceptors: list[_Interceptor] = [] if token is None else [_BearerTokenInterceptor(token)]
    options = [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="tuner-rpc"),
        interceptors=interceptors,
        options=options,
    )
    service_pb2_grpc.add_TunerServiceServicer_to_server(TunerServicer(backend), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    address = _address(host, port)
    if tls_cert is not None and tls_key is not None:
        credentials = grpc.ssl_server_credentials([(tls_key, tls_cert)])
        bound = server.add_secure_port(address, credentials)
    else:
        bound = server.add_insecure_port(address)
    if bound == 0:  # older grpcio reports a failed bind this way
        raise RuntimeError(f"could not bind {address}")
    return server, bound, health_servicer


def create_server(
    core: Backend,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    max_workers: int = 16,
    token: str | None = None,
    tls_cert: bytes | None = None,
    tls_key: bytes | None = None,
) -> tuple[grpc.Server, int]:
    """Build a gRPC server for ``core``, bound but not started.

    Serves ``tuner.v1.TunerService`` and ``grpc.health.v1.Health`` (``SERVING`` for ``""``
    and the service name).

    Args:
        core: What the servicer delegates to, normally a :class:`ServiceCore`.
        host: The interface to bind; localhost unless told otherwise.
        port: The port; 0 picks a free one (as tests do).
        max_workers: Threads serving calls at once.
        token: When given, every call but health checks must carry the metadata
            ``authorization: Bearer <token>``, or is refused ``UNAUTHENTICATED``.
        tls_cert: PEM certificate chain; with ``tls_key``, the server speaks TLS only.
        tls_key: PEM private key of ``tls_cert``.

    Returns:
        The server (call ``start()``, later ``stop(grace)``) and the bound port.

    Raises:
        ValueError: Only one of ``tls_cert`` and ``tls_key`` is given, or the token is empty.
        RuntimeError: The address cannot be bound.

    Examples:
        >>> from tuner.store import open_store
        >>> server, port = create_server(ServiceCore(open_store("sqlite://")))
        >>> port > 0
        True
        >>> _ = server.stop(None)
    """
    server, bound, _ = _build_server(
        core,
        host=host,
        port=port,
        max_workers=max_workers,
        token=token,
        tls_cert=tls_cert,
        tls_key=tls_key,
    )
    return server, bound


def _redact(url: str) -> str:
    """A store URL without its password."""
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", url)


def serve(
    store_url: str,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    token: str | None = None,
    tls_cert: str | Path | None = None,
    tls_key: str | Path | None = None,
    max_workers: int = 16,
    grace: float = 5.0,
    stop: threading.Event | None = None,
) -> None:
    """Serve the store at ``store_url`` until SIGINT or SIGTERM (or ``stop`` is set).

    Logs the bound address at ``INFO`` once the server is up. On the way out, health turns
    ``NOT_SERVING``, calls in flight get ``grace`` seconds, and the store is closed.

    Args:
        store_url: Where the store lives, as ``sqlite:///tuner.db``.
        host: The interface to bind; localhost unless told otherwise.
        port: The port; 0 picks a free one.
        token: Require ``authorization: Bearer <token>`` on every call but health checks.
        tls_cert: Path of a PEM certificate chain; with ``tls_key``, serve TLS only.
        tls_key: Path of the PEM private key.
        max_workers: Threads serving calls at once.
        grace: Seconds calls in flight may take to finish at shutdown.
        stop: An event that ends serving when set, for callers that embed the server;
            signal handlers are installed only in the main thread.
    """
    from tuner.store import open_store  # loads SQLAlchemy: only when serving

    cert = Path(tls_cert).read_bytes() if tls_cert is not None else None
    key = Path(tls_key).read_bytes() if tls_key is not None else None
    stop = stop if stop is not None else threading.Event()
    store = open_store(store_url)
    try:
        server, bound, health_servicer = _build_server(
            ServiceCore(store),
            host=host,
            port=port,
            max_workers=max_workers,
            token=token,
            tls_cert=cert,
            tls_key=key,
        )
        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():

            def on_signal(signum: int, frame: object) -> None:
                logger.info("received %s: shutting down", signal.Signals(signum).name)
                stop.set()

            handler: Callable[[int, Any], None] = on_signal
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, handler)
        server.start()
        logger.info(
            "tuner server listening on %s (%s, store %s)",
            _address(host, bound),
            "TLS" if cert is not None else "plaintext",
            _redact(store_url),
        )
        try:
            while not stop.wait(0.5):
                pass
        finally:
            for number, old in previous.items():
                signal.signal(number, old)
            health_servicer.enter_graceful_shutdown()
            server.stop(grace).wait()
            logger.info("tuner server stopped")
    finally:
        store.close()
