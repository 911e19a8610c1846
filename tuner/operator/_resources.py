"""The Experiment custom resource through the official client: read, list, watch, patch status.

Only plain JSON-like dicts cross this module's edge. The ``kubernetes`` package is
imported when an :class:`ExperimentApi` is built, so ``import tuner.operator`` works
without the ``kubernetes`` extra.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

__all__ = ["API_VERSION", "GROUP", "KIND", "PLURAL", "VERSION", "ExperimentApi", "WatchEvent"]

logger = logging.getLogger(__name__)

GROUP = "tuner.dev"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
PLURAL = "experiments"
KIND = "Experiment"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One event of a watch: ``ADDED``, ``MODIFIED``, ``DELETED`` (or ``BOOKMARK``)."""

    kind: str
    namespace: str
    name: str
    resource_version: str


class Gone(Exception):
    """The watch's resourceVersion is too old (HTTP 410): list again."""


class ExperimentApi:
    """Experiments of one namespace, or of all namespaces (``namespace=None``).

    Args:
        api_client: A configured ``kubernetes.client.ApiClient``.
        namespace: Only this namespace; None for all.
    """

    def __init__(self, api_client: ApiClient, namespace: str | None = None) -> None:
        from kubernetes import client

        self._api_client = api_client
        self._custom = client.CustomObjectsApi(api_client)
        self.namespace = namespace

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Experiment as a dict; None if there is none."""
        from kubernetes.client.exceptions import ApiException

        try:
            found = self._custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return _as_dict(found)

    def list(self) -> tuple[list[dict[str, Any]], str]:
        """Every Experiment in scope, and the list's resourceVersion (to watch from)."""
        if self.namespace is None:
            listing = self._custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
        else:
            listing = self._custom.list_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL
            )
        body = _as_dict(listing)
        items = [_as_dict(item) for item in body.get("items") or []]
        return items, str((body.get("metadata") or {}).get("resourceVersion") or "")

    def watch(self, resource_version: str, timeout_seconds: int) -> Iterator[WatchEvent]:
        """Events after ``resource_version``, until the server ends the watch.

        Raises:
            Gone: The resourceVersion expired; list again.
        """
        from kubernetes import watch

        kwargs: dict[str, Any] = {"timeout_seconds": timeout_seconds}
        if resource_version:
            kwargs["resource_version"] = resource_version
        # kubernetes.watch is untyped
        watcher: Any = watch.Watch()  # type: ignore[no-untyped-call]
        if self.namespace is None:
            stream = watcher.stream(
                self._custom.list_cluster_custom_object, GROUP, VERSION, PLURAL, **kwargs
            )
        else:
            stream = watcher.stream(
                self._custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                self.namespace,
                PLURAL,
                **kwargs,
            )
        from kubernetes.client.exceptions import ApiException

        try:
            for event in stream:
                kind = str(event.get("type", ""))
                obj = event.get("object") or {}
                if kind == "ERROR":
                    if isinstance(obj, Mapping) and obj.get("code") == 410:
                        raise Gone(str(obj.get("message", "")))
                    logger.warning("watch of Experiments: error event %s", obj)
                    return
                metadata = (obj.get("metadata") if isinstance(obj, Mapping) else None) or {}
                yield WatchEvent(
                    kind=kind,
                    namespace=str(metadata.get("namespace", "")),
                    name=str(metadata.get("name", "")),
                    resource_version=str(metadata.get("resourceVersion", "")),
                )
        except ApiException as error:  # the client raises the 410 ERROR event itself
            if error.status == 410:
                raise Gone(str(error.reason or "")) from None
            raise
        finally:
            watcher.stop()

    def patch_status(
        self, namespace: str, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Merge-patch ``.status`` through the status subresource; None if it is gone.

        Keys to remove must be given as None (a merge patch keeps keys it does not name).
        """
        from kubernetes.client.exceptions import ApiException

        try:
            patched = self._custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, PLURAL, name, {"status": dict(status)}
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return _as_dict(patched) if patched is not None else None


def _as_dict(body: object) -> dict[str, Any]:
    """A custom object as the client returns it (parsed JSON)."""
    if not isinstance(body, Mapping):
        raise TypeError(f"expected a JSON object from the API server, got {type(body).__name__}")
    return dict(body)
