"""``tuner operator``: connect to the cluster and the service, run the operator until stopped."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuner.errors import FailedPreconditionError, InvalidArgumentError

if TYPE_CHECKING:
    import grpc
    from kubernetes.client import ApiClient

    from tuner.backend import Backend
    from tuner.operator._operator import Operator
    from tuner.runners import SecretKeySelector

__all__ = ["OperatorStarted", "kubernetes_api_client", "run_operator"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorStarted:
    """What ``run_operator`` tells ``on_start`` once the operator watches."""

    namespace: str | None
    """The namespace watched; None for all."""
    service_endpoint: str
    """The service the operator talks to (its own, with ``store``)."""
    trial_service_endpoint: str
    """The service as the trials' pods reach it."""


def kubernetes_api_client(kubeconfig: str | None = None) -> ApiClient:
    """A client of the cluster: ``kubeconfig`` if given; in a pod, its service account;
    else the default kubeconfig (``$KUBECONFIG`` or ``~/.kube/config``).

    Raises:
        ImportError: The ``kubernetes`` client is not installed.
        FailedPreconditionError: No configuration was found, or it does not load.
    """
    try:
        from kubernetes import client, config
    except ImportError as error:  # pragma: no cover - the extra is installed in tests
        raise ImportError(
            "tuner operator needs the kubernetes client: pip install tuner[kubernetes]"
        ) from error
    configuration = client.Configuration()
    loaders: Any = config  # kubernetes.config is untyped
    try:
        if kubeconfig is not None:
            loaders.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            loaders.load_incluster_config(client_configuration=configuration)
        else:
            # $KUBECONFIG read now: the client reads its default path once, at import
            loaders.load_kube_config(
                config_file=os.environ.get("KUBECONFIG") or None,
                client_configuration=configuration,
            )
    except (config.ConfigException, OSError) as error:
        raise FailedPreconditionError(
            f"no Kubernetes configuration: {error} (give --kubeconfig, or run in a pod)"
        ) from error
    return client.ApiClient(configuration)


def run_operator(
    *,
    namespace: str | None = None,
    service: str | None = None,
    store: str | None = None,
    listen: str = "127.0.0.1:6789",
    kubeconfig: str | None = None,
    trial_service_endpoint: str | None = None,
    token: str | None = None,
    trial_token_secret: SecretKeySelector | None = None,
    pod_start_timeout: float | None = None,
    api_client: ApiClient | None = None,
    poll_interval: float = 1.0,
    watch_timeout: int = 30,
    stop: threading.Event | None = None,
    on_start: Callable[[OperatorStarted], None] | None = None,
) -> None:
    """Run the operator until ``stop`` is set, SIGTERM or Ctrl-C; its Jobs keep running.

    Args:
        namespace: Watch only this namespace; None watches all.
        service: The tuner service (``host:port``) to talk to through gRPC.
        store: Instead of ``service``: host the service in this process over this store URL.
        listen: With ``store``: the ``host:port`` its service binds (port 0: any free one).
        kubeconfig: A kubeconfig file; default: in-cluster, then the default kubeconfig.
        trial_service_endpoint: The service as the trials' pods reach it; default:
            ``service`` (or, with ``store``, the address it listens on).
        token: The service's bearer token (required of callers, with ``store``).
        trial_token_secret: The Secret key, in each Experiment's namespace, holding the
            token the trials' pods send (``TUNER_SERVICE_TOKEN``); None: they send none.
        pod_start_timeout: Seconds a trial's pod may wait, unable to start (a missing
            Secret, an image that cannot be pulled, ...), whatever the reason, before its
            trial fails (and counts against ``maxFailedTrialCount``); None: 300 s for image
            pulls, 60 s for the other reasons.
        api_client: A ready Kubernetes client (instead of ``kubeconfig``).
        poll_interval: Seconds between a controller's polls of its Jobs.
        watch_timeout: ``timeoutSeconds`` of each watch of Experiments.
        stop: Set it to stop the operator (from another thread).
        on_start: Called once the operator watches.

    Raises:
        InvalidArgumentError: Neither or both of ``service`` and ``store``, a bad
            ``listen``, or a negative ``pod_start_timeout``.
    """
    from tuner.operator._operator import Operator
    from tuner.operator._runners import kubernetes_runners

    if (service is None) == (store is None):
        raise InvalidArgumentError(
            "give the service to use (--service HOST:PORT) or a store to host it over "
            "(--store URL), not both",
            field="service",
        )
    if pod_start_timeout is not None and not pod_start_timeout >= 0:
        raise InvalidArgumentError(
            f"must be >= 0 seconds, got {pod_start_timeout}", field="pod_start_timeout"
        )
    stop = stop if stop is not None else threading.Event()
    api = api_client if api_client is not None else kubernetes_api_client(kubeconfig)
    closers: list[Callable[[], None]] = []
    try:
        if service is not None:
            from tuner.client import Client

            client = Client(service, token=token)
            closers.append(client.close)
            backend: Backend = client
            endpoint = service
        else:
            from tuner.service import ServiceCore, create_server
            from tuner.store import open_store

            assert store is not None
            host, port = _host_port(listen)
            core = ServiceCore(open_store(store))
            closers.append(core.close)
            server, bound = create_server(core, host=host, port=port, token=token)
            server.start()
            closers.append(lambda: _stop_server(server))
            backend = core
            endpoint = f"{host}:{bound}"
        trials_reach = trial_service_endpoint or endpoint
        if token is not None and trial_token_secret is None:
            logger.warning(
                "the service takes a bearer token but the trials get none, so it will refuse "
                "their measurements: name the Secret holding it (--trial-token-secret)"
            )
        operator = Operator(
            api,
            backend,
            runner_factory=kubernetes_runners(
                api,
                service_endpoint=trials_reach,
                token_secret=trial_token_secret,
                pod_start_timeout=pod_start_timeout,
            ),
            namespace=namespace,
            poll_interval=poll_interval,
            watch_timeout=watch_timeout,
        )
        started = OperatorStarted(
            namespace=namespace, service_endpoint=endpoint, trial_service_endpoint=trials_reach
        )
        _serve(operator, stop, lambda: on_start(started) if on_start is not None else None)
    finally:
        for close in reversed(closers):
            close()
        if api_client is None:
            closable: Any = api  # ApiClient.close is untyped
            closable.close()


def _serve(operator: Operator, stop: threading.Event, started: Callable[[], None]) -> None:
    previous = None
    if threading.current_thread() is threading.main_thread():
        # a pod is stopped with SIGTERM: stop as on Ctrl-C, leaving the Jobs to the next one
        previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    operator.start()
    try:
        started()
        while not stop.wait(1.0):
            pass
    finally:
        logger.info("operator stopping; the trials' Jobs keep running")
        operator.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _stop_server(server: grpc.Server) -> None:
    server.stop(grace=2.0).wait()


def _host_port(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise InvalidArgumentError(f"must be HOST:PORT, got {address!r}", field="listen")
    return host, int(port)
