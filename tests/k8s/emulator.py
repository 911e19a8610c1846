"""A Kubernetes API server for tests: kmock's emulator with the semantics controllers rely on.

``kmock.KubernetesEmulator`` (0.8) serves real HTTP, so the official ``kubernetes`` client,
kubectl and our code talk to it unchanged; but as it stands it lacks what a controller
depends on (see /work/shared/K8S-TESTING.md, section 2). :class:`FaithfulEmulator` keeps
kmock's HTTP serving, request parsing, discovery and reactions (``emulator[criteria] <<
payload``, used e.g. to serve pod logs), and stores the objects itself:

- create and update: labels (of the object and of a Job's pod template) and ownerReferences
  are validated (422);
- create: 201; ``uid``, ``resourceVersion`` (one cluster-wide counter), ``creationTimestamp``,
  ``generation``; namespace filled from the URL (a different one in the body is a 400);
  ``generateName``; names checked (DNS-1123); 409 ``AlreadyExists``; ``status`` of a resource
  with a status subresource is dropped (Pods start ``Pending``); Jobs are defaulted and
  validated as the real API server does (selector, template labels ``job-name``,
  ``batch.kubernetes.io/job-name``, ``controller-uid``, ``batch.kubernetes.io/controller-uid``,
  ``backoffLimit`` 6, ``completions``/``parallelism`` 1, ``restartPolicy`` Never/OnFailure,
  name <= 63 characters); a Secret's ``stringData`` is folded into ``data`` (base64);
- get/list: 404 ``NotFound`` with the real message; lists carry ``kind: <Kind>List``,
  ``apiVersion`` and the current ``resourceVersion``; label selectors (``=``, ``==``, ``!=``,
  ``in``, ``notin``, ``key``, ``!key``) and field selectors (``=``, ``==``, ``!=`` on any dotted
  path) on lists and watches;
- watch: ``timeoutSeconds`` ends the stream; ``resourceVersion`` replays only later events
  (an expired one gets a 410 ``Expired`` ERROR event), none or ``0`` starts with the current
  objects as ADDED; an object leaving (entering) a selector arrives as DELETED (ADDED);
- patch: merge patch, strategic merge patch as a plain merge patch (lists are replaced;
  refused with 415 for custom resources, as a real server does), JSON patch (a failed
  ``test`` is a 422); a main-resource patch cannot change ``.status`` and a ``/status`` patch
  changes only ``.status`` when the resource has that subresource; a stale
  ``metadata.resourceVersion`` is a 409 ``Conflict``; a no-op keeps the resourceVersion and
  emits no event; ``generation`` grows when anything but metadata and status changes;
  PUT (replace) works the same way;
- delete: finalizers defer it (``deletionTimestamp``; removing the last one deletes);
  ``propagationPolicy`` is honoured at delete time only: ``Background`` and ``Foreground``
  delete the dependents (objects in the same namespace whose ownerReferences name the
  deleted uid) at once, recursively; ``Orphan`` removes those ownerReferences. The default is
  ``Orphan`` for ``batch/v1`` Jobs (as on a real server: a Job deleted without a policy leaves
  its Pods) and ``Background`` otherwise. There is **no garbage collector**: nothing else
  ever deletes a dependent (an owner that never existed, or one deleted before its dependents
  were created, leaves them alone); deletecollection (DELETE on a list URL) is supported;
- a ``CustomResourceDefinition`` created through the API declares its resource; or call
  :meth:`ThreadedEmulator.declare`;
- kmock's request log is trimmed to the last ``keep_requests`` requests: kmock scans the whole
  log for every request (quadratic), so assert on objects through the API, not on the log.

Not emulated: controllers (no Pods appear for a Job: use :class:`tests.k8s.kubelet.LocalKubelet`),
admission and schema validation beyond the above, namespaces' existence (objects may be
created in any namespace), server-side apply, strategic-merge list semantics, RBAC,
``/version/``, exec/attach/port-forward, list pagination (``limit`` is ignored).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import copy
import functools
import json
import math
import random
import re
import threading
import uuid
import warnings
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import aiohttp.web
import attrs
import jsonpatch
import kmock
from kmock._internal import apps, parsing

from tests.k8s._objects import (
    ApiError,
    Obj,
    Predicate,
    default_job,
    fold_string_data,
    merge_patch,
    now,
    parse_field_selector,
    parse_label_selector,
    validate_metadata,
)

__all__ = ["ApiError", "FaithfulEmulator", "ThreadedEmulator"]

_T = TypeVar("_T")
ResourceKey = tuple[str, str, str]  # group, version, plural

_CRD = ("apiextensions.k8s.io", "v1", "customresourcedefinitions")
_JOBS = ("batch", "v1", "jobs")
_PODS = ("", "v1", "pods")
_SECRETS = ("", "v1", "secrets")
_NAMESPACES = ("", "v1", "namespaces")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NAME_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_HISTORY = 2000


# -- kmock fix: /api/v1/namespaces[/NAME[/status]] ------------------------------------------
# kmock 0.8's parser fails on these paths (500 for create_namespace/read_namespace).

_original_parse_path = parsing.parse_path


def _parse_path(path: str) -> parsing.ParsedPath:
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "api" and parts[2] == "namespaces":
        rest = parts[3:]
        if not rest:
            return parsing.ParsedPath("", parts[1], "namespaces")
        if len(rest) == 1 or (len(rest) == 2 and rest[1] in ("status", "finalize")):
            sub = rest[1] if len(rest) == 2 else None
            return parsing.ParsedPath("", parts[1], "namespaces", None, rest[0], sub)
    return _original_parse_path(path)


parsing.parse_path = _parse_path


# -- the emulator ----------------------------------------------------------------------------


@attrs.define(kw_only=True)
class _Context:
    """One request, resolved to a resource."""

    key: ResourceKey
    info: kmock.ResourceInfo
    namespace: str | None
    name: str | None
    subresource: str | None

    @property
    def api_version(self) -> str:
        group, version, _ = self.key
        return f"{group}/{version}" if group else version

    def qualified(self) -> str:
        group, _, plural = self.key
        return f"{plural}.{group}" if group else plural

    def not_found(self, name: str | None = None) -> ApiError:
        name = name or self.name
        return ApiError(
            404,
            f'{self.qualified()} "{name}" not found',
            details={"name": name, "group": self.key[0], "kind": self.key[2]},
        )


@attrs.define(kw_only=True)
class FaithfulEmulator(kmock.KubernetesEmulator):
    """kmock's emulator with an object store that behaves like an API server (see the module)."""

    keep_requests: int = 20
    _store: dict[ResourceKey, dict[tuple[str | None, str], Obj]] = attrs.field(
        factory=lambda: collections.defaultdict(dict), init=False
    )
    _revision: int = attrs.field(default=0, init=False)
    _history: collections.deque[tuple[int, ResourceKey, str, Obj, Obj | None]] = attrs.field(
        factory=lambda: collections.deque(maxlen=_HISTORY), init=False
    )
    _watchers: set[asyncio.Queue[Any]] = attrs.field(factory=set, init=False)
    _custom: set[ResourceKey] = attrs.field(factory=set, init=False)
    _closed: bool = attrs.field(default=False, init=False)
    _faults: list[list[Any]] = attrs.field(factory=list, init=False)

    # -- public, called in the server's event loop --------------------------------------------

    def declare(self, resource: str, **info: Any) -> None:
        """Declare a (custom) resource: ``'group/version/plural'`` and ResourceInfo fields."""
        parsed = kmock.resource(resource)
        assert parsed.group is not None and parsed.version and parsed.plural, resource
        info.setdefault("verbs", {"get", "list", "watch", "create", "patch", "update", "delete"})
        self.resources[parsed] = kmock.ResourceInfo(**info)
        self._custom.add((parsed.group, parsed.version, parsed.plural))

    def stored(self, resource: str, namespace: str | None = None) -> list[Obj]:
        """Copies of the stored objects of a resource, optionally of one namespace."""
        parsed = kmock.resource(resource)
        key = (parsed.group or "", parsed.version or "", parsed.plural or "")
        return [
            copy.deepcopy(obj)
            for (ns, _), obj in sorted(self._store[key].items(), key=lambda kv: str(kv[0]))
            if namespace is None or ns == namespace
        ]

    def fail(self, method: str, resource: str, *, code: int = 500, times: int = 1) -> None:
        """Answer the next ``times`` requests of ``method`` on ``resource`` with ``code``."""
        parsed = kmock.resource(resource)
        key = (parsed.group or "", parsed.version or "", parsed.plural or "")
        self._faults.append([method.upper(), key, code, times])

    def close_watches(self) -> None:
        """End every open watch (before the server stops)."""
        self._closed = True
        for queue in list(self._watchers):
            queue.put_nowait(None)

    async def _serve_version(self, request: kmock.Request) -> Any:
        result = await super()._serve_version(request)
        # kmock says groupVersion "/v1" for the core group (kubectl then mistakes pods)
        if isinstance(result, dict) and str(result.get("groupVersion", "")).startswith("/"):
            result["groupVersion"] = result["groupVersion"][1:]
        return result

    # -- request routing ----------------------------------------------------------------------

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        try:
            resource = request.resource
            if (
                resource is not None
                and resource.group is not None
                and resource.version
                and not resource.plural
                and request.method == "GET"
            ):
                # discovery of a group version (kmock routes GET /api/v1/ as a LIST)
                try:
                    return aiohttp.web.json_response(await self._serve_version(request))
                except kmock.KubernetesError as error:
                    status = ApiError(error.status, error.message or "not found")
                    return aiohttp.web.json_response(status.status(), status=error.status)
            context = self._context(request)
            if context is None or self._user_reaction_matches(request):
                # discovery, logs and other subresources, user reactions: kmock as it is
                # (skipping KubernetesEmulator._handle, whose object tracking we replace)
                return await apps.RawHandler._handle(self, request)
            try:
                return await self._serve(request, context)
            except ApiError as error:
                return aiohttp.web.json_response(error.status(), status=error.code)
        finally:
            self._trim_requests()

    def _trim_requests(self) -> None:
        keep = self.keep_requests
        if len(self._requests) > keep:
            del self._requests[:-keep]
        for payload in self._payloads:
            if len(payload._requests) > keep:
                del payload._requests[:-keep]

    def _user_reaction_matches(self, request: kmock.Request) -> bool:
        for payload in self._payloads:
            if any(p == -math.inf for p in payload.priorities):
                continue  # kmock's own fallbacks
            if not payload._disabled.is_set() and request in payload._source:
                return True
        return False

    def _context(self, request: kmock.Request) -> _Context | None:
        resource = request.resource
        if resource is None or resource.group is None or not resource.version:
            return None
        if not resource.plural or request.subresource not in (None, "status"):
            return None
        key = (resource.group, resource.version, resource.plural)
        parsed = kmock.resource(*key)
        if parsed not in self.resources:
            return None
        info = self.resources[parsed]
        return _Context(
            key=key,
            info=info,
            namespace=request.namespace,
            name=request.name,
            subresource=request.subresource,
        )

    async def _serve(self, request: kmock.Request, ctx: _Context) -> aiohttp.web.StreamResponse:
        method = str(request.method.value).upper()
        params = dict(request.params)
        for fault in self._faults:
            if fault[0] == method and fault[1] == ctx.key and fault[3] > 0:
                fault[3] -= 1
                raise ApiError(
                    fault[2],
                    f"injected failure {fault[2]} for {method} {ctx.qualified()}",
                    reason="InternalError" if fault[2] >= 500 else None,
                )
        if ctx.subresource == "status" and "status" not in ctx.info.subresources:
            raise ApiError(404, "the server could not find the requested resource")
        if ctx.info.namespaced is False and ctx.namespace is not None:
            raise ApiError(404, "the server could not find the requested resource")
        if method == "GET" and params.get("watch") in ("true", "1"):
            return await self._watch(request, ctx, params)
        if method == "GET" and ctx.name is None:
            return aiohttp.web.json_response(self._list(ctx, params))
        if method == "GET":
            return aiohttp.web.json_response(self._get(ctx))
        if method == "POST" and ctx.name is None:
            return aiohttp.web.json_response(self._create(ctx, self._body(request)), status=201)
        if method == "PATCH" and ctx.name is not None:
            return aiohttp.web.json_response(self._patch(ctx, request))
        if method == "PUT" and ctx.name is not None:
            body = self._body(request)
            if not isinstance(body, dict):
                raise ApiError(400, "the body of a PUT must be an object")
            return aiohttp.web.json_response(self._update(ctx, self._get(ctx), body))
        if method == "DELETE" and ctx.name is not None:
            return aiohttp.web.json_response(self._delete(ctx, self._delete_options(request)))
        if method == "DELETE":
            options = self._delete_options(request)
            items = self._select(ctx, params)
            for obj in items:
                meta = obj["metadata"]
                one = attrs.evolve(ctx, namespace=meta.get("namespace"), name=meta["name"])
                self._delete(one, options)
            return aiohttp.web.json_response(self._list_body(ctx, items))
        raise ApiError(
            405, f"the server does not allow this method on the requested resource: {method}"
        )

    @staticmethod
    def _body(request: kmock.Request) -> Any:
        if not request.body:
            return None
        try:
            return json.loads(request.body)
        except ValueError as error:
            raise ApiError(400, f"the body is not JSON: {error}") from None

    def _delete_options(self, request: kmock.Request) -> Obj:
        body = self._body(request)
        options = dict(body) if isinstance(body, dict) else {}
        for param, field in (("propagationPolicy", "propagationPolicy"),):
            if param in request.params:
                options[field] = request.params[param]
        policy = options.get("propagationPolicy")
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise ApiError(400, f"propagationPolicy: Unsupported value: {policy!r}")
        return options

    # -- reading ------------------------------------------------------------------------------

    def _bucket(self, ctx: _Context) -> dict[tuple[str | None, str], Obj]:
        return self._store[ctx.key]

    def _get(self, ctx: _Context) -> Obj:
        assert ctx.name is not None
        obj = self._bucket(ctx).get((ctx.namespace, ctx.name))
        if obj is None:
            raise ctx.not_found()
        return copy.deepcopy(obj)

    def _predicate(self, ctx: _Context, params: dict[str, str]) -> Predicate:
        checks: list[Predicate] = []
        if params.get("labelSelector"):
            checks.append(parse_label_selector(params["labelSelector"]))
        if params.get("fieldSelector"):
            checks.append(parse_field_selector(params["fieldSelector"]))
        namespace, name = ctx.namespace, ctx.name
        if namespace is not None:
            checks.append(lambda obj: obj["metadata"].get("namespace") == namespace)
        if name is not None:
            checks.append(lambda obj: obj["metadata"].get("name") == name)
        return lambda obj: all(check(obj) for check in checks)

    def _select(self, ctx: _Context, params: dict[str, str]) -> list[Obj]:
        predicate = self._predicate(ctx, params)
        objects = sorted(self._bucket(ctx).items(), key=lambda kv: (kv[0][0] or "", kv[0][1]))
        return [copy.deepcopy(obj) for _, obj in objects if predicate(obj)]

    def _list_body(self, ctx: _Context, items: list[Obj]) -> Obj:
        kind = ctx.info.kind or ctx.key[2].capitalize()
        return {
            "kind": f"{kind}List",
            "apiVersion": ctx.api_version,
            "metadata": {"resourceVersion": str(self._revision)},
            "items": items,
        }

    def _list(self, ctx: _Context, params: dict[str, str]) -> Obj:
        return self._list_body(ctx, self._select(ctx, params))

    async def _watch(
        self, request: kmock.Request, ctx: _Context, params: dict[str, str]
    ) -> aiohttp.web.StreamResponse:
        predicate = self._predicate(ctx, params)
        timeout: float | None = None
        if params.get("timeoutSeconds"):
            try:
                timeout = float(params["timeoutSeconds"])
            except ValueError:
                raise ApiError(
                    400, f"timeoutSeconds: invalid value {params['timeoutSeconds']!r}"
                ) from None
        since = params.get("resourceVersion") or "0"
        try:
            since_revision = int(since)
        except ValueError:
            raise ApiError(400, f"resourceVersion: invalid value {since!r}") from None

        queue: asyncio.Queue[Any] = asyncio.Queue()
        initial: list[Obj] = []
        if since_revision == 0:
            initial = [{"type": "ADDED", "object": obj} for obj in self._select(ctx, params)]
        else:
            oldest = self._history[0][0] if self._history else self._revision + 1
            if since_revision < oldest - 1 and since_revision < self._revision:
                initial = [
                    {
                        "type": "ERROR",
                        "object": ApiError(
                            410, f"too old resource version: {since_revision} ({oldest - 1})"
                        ).status(),
                    }
                ]
                timeout = 0
            else:
                for revision, key, kind, obj, old in self._history:
                    if revision > since_revision and key == ctx.key:
                        event = self._filtered(kind, obj, old, predicate)
                        if event is not None:
                            initial.append(event)
        self._watchers.add(queue)
        raw_request = request._raw_request
        assert raw_request is not None
        response = aiohttp.web.StreamResponse(
            status=200, headers={"Content-Type": "application/json"}
        )
        response.enable_chunked_encoding()
        try:
            await response.prepare(raw_request)
            for event in initial:
                await response.write(json.dumps(event).encode() + b"\n")
            loop = asyncio.get_running_loop()
            deadline = None if timeout is None else loop.time() + timeout
            while not self._closed:
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    break
                if item is None:
                    break
                key, kind, obj, old = item
                if key != ctx.key:
                    continue
                event = self._filtered(kind, obj, old, predicate)
                if event is not None:
                    await response.write(json.dumps(event).encode() + b"\n")
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._watchers.discard(queue)
        return response

    @staticmethod
    def _filtered(kind: str, obj: Obj, old: Obj | None, predicate: Predicate) -> Obj | None:
        now = predicate(obj)
        before = old is not None and predicate(old)
        if kind == "MODIFIED" and old is not None:
            if now and not before:
                kind = "ADDED"
            elif before and not now:
                kind, now = "DELETED", True
        if not now:
            return None
        return {"type": kind, "object": copy.deepcopy(obj)}

    # -- writing ------------------------------------------------------------------------------

    def _emit(self, ctx: _Context, kind: str, obj: Obj, old: Obj | None = None) -> None:
        snapshot = copy.deepcopy(obj)
        old_snapshot = copy.deepcopy(old) if old is not None else None
        self._history.append((self._revision, ctx.key, kind, snapshot, old_snapshot))
        for queue in self._watchers:
            queue.put_nowait((ctx.key, kind, snapshot, old_snapshot))

    def _next_revision(self) -> str:
        self._revision += 1
        return str(self._revision)

    def _create(self, ctx: _Context, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise ApiError(400, "the body of a create must be an object")
        obj: Obj = copy.deepcopy(body)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        if ctx.info.namespaced:
            if ctx.namespace is None:
                raise ApiError(404, "the server could not find the requested resource")
            if meta.get("namespace") not in (None, "", ctx.namespace):
                raise ApiError(
                    400,
                    "the namespace of the provided object does not match the namespace sent on"
                    " the request",
                )
            meta["namespace"] = ctx.namespace
        else:
            meta.pop("namespace", None)
        objects = self._bucket(ctx)
        name = meta.get("name")
        if not name:
            prefix = meta.get("generateName")
            if not prefix:
                raise ApiError(
                    422, "metadata.name: Required value: name or generateName is required"
                )
            while True:
                name = prefix + "".join(random.choices(_NAME_SUFFIX_CHARS, k=5))
                if (ctx.namespace, name) not in objects:
                    break
        pattern = _DNS_LABEL if ctx.key == _NAMESPACES else _DNS_SUBDOMAIN
        if not isinstance(name, str) or len(name) > 253 or not pattern.match(name):
            raise ApiError(
                422,
                f'{ctx.info.kind} "{name}" is invalid: metadata.name: Invalid value: {name!r}: '
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character",
            )
        key = (meta.get("namespace"), name)
        if key in objects:
            raise ApiError(
                409,
                f'{ctx.qualified()} "{name}" already exists',
                reason="AlreadyExists",
                details={"name": name, "group": ctx.key[0], "kind": ctx.key[2]},
            )
        meta["name"] = name
        for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        meta["generation"] = 1
        obj["apiVersion"] = ctx.api_version
        obj["kind"] = ctx.info.kind or ctx.key[2].capitalize()
        if "status" in ctx.info.subresources:
            obj.pop("status", None)
        if ctx.key == _PODS:
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        if ctx.key == _JOBS:
            default_job(obj)
        if ctx.key == _SECRETS:
            fold_string_data(obj)
        validate_metadata(obj["kind"], obj)
        if ctx.key == _CRD:
            self._register_crd(obj)
        meta["resourceVersion"] = self._next_revision()
        objects[key] = obj
        self._emit(ctx, "ADDED", obj)
        return copy.deepcopy(obj)

    def _register_crd(self, crd: Obj) -> None:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group, plural = spec.get("group"), names.get("plural")
        if not group or not plural or not names.get("kind"):
            raise ApiError(422, "spec.group, spec.names.plural and spec.names.kind are required")
        if crd["metadata"]["name"] != f"{plural}.{group}":
            raise ApiError(
                422,
                f'metadata.name: Invalid value: "{crd["metadata"]["name"]}": '
                f'must be spec.names.plural+"."+spec.group',
            )
        for version in spec.get("versions") or []:
            if not version.get("served", True):
                continue
            self.declare(
                f"{group}/{version['name']}/{plural}",
                kind=names["kind"],
                singular=names.get("singular") or names["kind"].lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                shortnames=set(names.get("shortNames") or ()),
                categories=set(names.get("categories") or ()),
                subresources=set((version.get("subresources") or {}).keys()),
            )

    def _patch(self, ctx: _Context, request: kmock.Request) -> Obj:
        current = self._get(ctx)
        content_type = (
            request.headers.get("Content-Type") or request.headers.get("content-type") or ""
        )
        content_type = content_type.split(";")[0].strip()
        body = self._body(request)
        if content_type == "application/json-patch+json":
            if not isinstance(body, list):
                raise ApiError(400, "a JSON patch must be a list of operations")
            try:
                new = jsonpatch.apply_patch(current, body)
            except jsonpatch.JsonPatchTestFailed as error:
                raise ApiError(422, f"the server rejected our request: {error}") from None
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as error:
                raise ApiError(422, f"the server rejected our request: {error}") from None
        elif content_type in (
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
        ):
            if content_type.startswith("application/strategic") and ctx.key in self._custom:
                raise ApiError(
                    415,
                    "the body of the request was in an unknown format - accepted media types "
                    "include: application/json-patch+json, application/merge-patch+json",
                )
            if not isinstance(body, dict):
                raise ApiError(400, "a merge patch must be an object")
            new = merge_patch(current, body)
        else:
            raise ApiError(415, f"unsupported patch type {content_type!r} (no server-side apply)")
        if not isinstance(new, dict):
            raise ApiError(422, "the patched object is not an object")
        return self._update(ctx, current, new)

    def _update(self, ctx: _Context, current: Obj, new: Obj) -> Obj:
        meta_new = new.get("metadata") if isinstance(new.get("metadata"), dict) else {}
        assert isinstance(meta_new, dict)
        meta_cur = current["metadata"]
        wanted_rv = meta_new.get("resourceVersion")
        if wanted_rv and wanted_rv != meta_cur["resourceVersion"]:
            raise ApiError(
                409,
                f'Operation cannot be fulfilled on {ctx.qualified()} "{ctx.name}": the object has '
                "been modified; please apply your changes to the latest version and try again",
                reason="Conflict",
                details={"name": ctx.name, "group": ctx.key[0], "kind": ctx.key[2]},
            )
        has_status = "status" in ctx.info.subresources
        if ctx.subresource == "status":
            result = copy.deepcopy(current)
            if "status" in new:
                result["status"] = copy.deepcopy(new["status"])
            else:
                result.pop("status", None)
        else:
            result = copy.deepcopy(new)
            result["apiVersion"], result["kind"] = current["apiVersion"], current["kind"]
            meta = result["metadata"] = dict(meta_new)
            for field in (
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "generation",
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ):
                if field in meta_cur:
                    meta[field] = meta_cur[field]
                else:
                    meta.pop(field, None)
            if has_status:
                if "status" in current:
                    result["status"] = copy.deepcopy(current["status"])
                else:
                    result.pop("status", None)
            if _spec_of(result) != _spec_of(current):
                meta["generation"] = meta_cur.get("generation", 1) + 1
        if ctx.key == _SECRETS:
            fold_string_data(result)
        if result == current:
            return current
        validate_metadata(result["kind"], result)
        result["metadata"]["resourceVersion"] = self._next_revision()
        key = (meta_cur.get("namespace"), meta_cur["name"])
        if result["metadata"].get("deletionTimestamp") and not result["metadata"].get("finalizers"):
            del self._bucket(ctx)[key]
            self._emit(ctx, "DELETED", result)
            return copy.deepcopy(result)
        self._bucket(ctx)[key] = result
        self._emit(ctx, "MODIFIED", result, current)
        return copy.deepcopy(result)

    def _delete(self, ctx: _Context, options: Obj) -> Obj:
        current = self._get(ctx)
        meta = current["metadata"]
        preconditions = options.get("preconditions") or {}
        for field in ("uid", "resourceVersion"):
            if preconditions.get(field) and preconditions[field] != meta.get(field):
                raise ApiError(
                    409,
                    f"Precondition failed: {field} in precondition: {preconditions[field]}, "
                    f"{field} in object meta: {meta.get(field)}",
                    reason="Conflict",
                )
        policy = options.get("propagationPolicy") or (
            "Orphan" if ctx.key == _JOBS else "Background"
        )
        key = (meta.get("namespace"), meta["name"])
        if meta.get("finalizers"):
            if not meta.get("deletionTimestamp"):
                old = copy.deepcopy(current)
                meta["deletionTimestamp"] = now()
                meta["deletionGracePeriodSeconds"] = 0
                meta["resourceVersion"] = self._next_revision()
                self._bucket(ctx)[key] = current
                self._emit(ctx, "MODIFIED", current, old)
            return copy.deepcopy(current)
        del self._bucket(ctx)[key]
        meta["resourceVersion"] = self._next_revision()
        self._emit(ctx, "DELETED", current)
        self._cascade(meta.get("namespace"), meta["uid"], policy)
        if ctx.key == _PODS or ctx.key in self._custom:
            return current
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": meta["name"],
                "group": ctx.key[0],
                "kind": ctx.key[2],
                "uid": meta["uid"],
            },
        }

    def _cascade(self, namespace: str | None, uid: str, policy: str) -> None:
        """Delete (or orphan) the dependents of a deleted owner, at once (no GC runs later)."""
        for key in list(self._store):
            info = self.resources[kmock.resource(*key)]
            for (ns, name), obj in list(self._store[key].items()):
                if namespace is not None and ns != namespace:
                    continue
                refs = obj["metadata"].get("ownerReferences") or []
                if not any(ref.get("uid") == uid for ref in refs):
                    continue
                ctx = _Context(key=key, info=info, namespace=ns, name=name, subresource=None)
                if policy == "Orphan":
                    new = copy.deepcopy(obj)
                    new["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                    if not new["metadata"]["ownerReferences"]:
                        del new["metadata"]["ownerReferences"]
                    self._update(ctx, copy.deepcopy(obj), new)
                elif (ns, name) in self._store[key]:
                    self._delete(ctx, {"propagationPolicy": "Background"})


def _spec_of(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


@functools.cache
def _bundled_resources() -> dict[kmock.resource, kmock.ResourceInfo]:
    """kmock's bundled discovery data of the built-in groups (parsed once per process)."""
    resources = kmock.ResourcesArray()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # kmock uses read_binary
        resources.load_bundled()
    return {resource: resources[resource] for resource in resources}


# -- running it in a thread ------------------------------------------------------------------


class ThreadedEmulator:
    """A :class:`FaithfulEmulator` served on 127.0.0.1 (random port) from a daemon thread.

    Use it as a context manager; point clients at :attr:`url`. Everything that touches the
    emulator's state runs in its event loop (:meth:`call`), so tests may call these methods
    from any thread.

    Args:
        keep_requests: How much of kmock's request log to keep (see the module docstring).
    """

    def __init__(self, *, keep_requests: int = 20) -> None:
        self._keep_requests = keep_requests
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._url: str | None = None
        self.emulator: FaithfulEmulator | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        assert self._url is not None, "the emulator is not running"
        return self._url

    def __enter__(self) -> ThreadedEmulator:
        self._thread = threading.Thread(target=self._run, name="k8s-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the emulator did not start in 30 s")
        if self._error is not None:
            raise RuntimeError("the emulator failed to start") from self._error
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:
            self._error = error
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        emulator = FaithfulEmulator(keep_requests=self._keep_requests)
        for resource, info in _bundled_resources().items():
            emulator.resources[resource] = copy.deepcopy(info)
        # kmock's bundled core group says groupVersion "/v1"; nothing else needed here
        async with emulator, kmock.Server(emulator) as server:
            self.emulator = emulator
            self._url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()
            emulator.close_watches()
            await asyncio.sleep(0)

    def call(self, fn: Callable[[], _T], timeout: float = 10) -> _T:
        """Run ``fn()`` in the emulator's event loop and return its result."""
        assert self._loop is not None
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as error:
                future.set_exception(error)

        self._loop.call_soon_threadsafe(run)
        return future.result(timeout)

    def declare(self, resource: str, **info: Any) -> None:
        """Declare a resource, e.g. ``declare('tuner.dev/v1beta1/experiments', kind='Experiment',
        namespaced=True, subresources={'status'}, shortnames={'exp'})``."""
        emulator = self.emulator
        assert emulator is not None
        self.call(lambda: emulator.declare(resource, **info))

    def react(self, criteria: Any, payload: Any) -> Any:
        """Add a kmock reaction (``emulator[criteria] << payload``); it wins over the store."""
        emulator = self.emulator
        assert emulator is not None
        return self.call(lambda: emulator[criteria] << payload)

    def fail(self, method: str, resource: str, *, code: int = 500, times: int = 1) -> None:
        """Answer the next ``times`` ``method`` requests on ``resource`` (``'batch/v1/jobs'``)
        with ``code`` (e.g. 500, 429) instead of serving them."""
        emulator = self.emulator
        assert emulator is not None
        self.call(lambda: emulator.fail(method, resource, code=code, times=times))

    def stored(self, resource: str, namespace: str | None = None) -> list[Obj]:
        """Copies of the stored objects, e.g. ``stored('batch/v1/jobs', 'ns')``."""
        emulator = self.emulator
        assert emulator is not None
        return self.call(lambda: emulator.stored(resource, namespace))

    def kinds(self) -> Iterable[str]:
        """The declared resources, as ``group/version/plural``."""
        emulator = self.emulator
        assert emulator is not None
        return self.call(lambda: [f"{r.group}/{r.version}/{r.plural}" for r in emulator.resources])
