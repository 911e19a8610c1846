"""The emulator's fidelity layer, through the official client.

Each test checks a behaviour of a real API server that plain kmock 0.8 lacks (the comment
says what plain kmock does instead), so a regression of the layer fails here first.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from kubernetes import client, watch

from tests.k8s.emulator import ThreadedEmulator
from tests.k8s.fixtures import EXPERIMENTS

pytestmark = pytest.mark.timeout(60)

NS = "ns"
GROUP, VERSION, PLURAL = "tuner.dev", "v1beta1", "experiments"


def job_body(name: str = "j", **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox", "command": ["true"]}],
                }
            }
        },
    }


@pytest.fixture
def batch(api: client.ApiClient) -> client.BatchV1Api:
    return client.BatchV1Api(api)


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def api_error(call: Any, *args: Any, **kwargs: Any) -> client.ApiException:
    with pytest.raises(client.ApiException) as info:
        call(*args, **kwargs)
    return info.value


def reason(error: client.ApiException) -> str:
    return str(json.loads(error.body)["reason"])


def test_create_fills_metadata_and_answers_201(batch: client.BatchV1Api) -> None:
    # plain kmock: 200, the body as sent (no uid, resourceVersion, timestamps, namespace)
    job, code, _ = batch.create_namespaced_job_with_http_info(NS, job_body())
    assert code == 201
    meta = job.metadata
    assert meta.uid and meta.resource_version and meta.creation_timestamp
    assert meta.namespace == NS and meta.generation == 1
    assert job.kind == "Job" and job.api_version == "batch/v1"
    again = batch.read_namespaced_job("j", NS)
    assert again.metadata.uid == meta.uid


def test_resource_versions_grow(batch: client.BatchV1Api) -> None:
    first = batch.create_namespaced_job(NS, job_body("a"))
    second = batch.create_namespaced_job(NS, job_body("b"))
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)


def test_generate_name(batch: client.BatchV1Api) -> None:
    # plain kmock: the second create conflicts (no name to tell them apart)
    body = job_body()
    del body["metadata"]["name"]
    body["metadata"]["generateName"] = "trial-"
    names = {batch.create_namespaced_job(NS, body).metadata.name for _ in range(2)}
    assert len(names) == 2 and all(n.startswith("trial-") and len(n) == 11 for n in names)


def test_conflict_and_not_found_reasons(batch: client.BatchV1Api) -> None:
    # plain kmock: reasons "Object Already Exists" / "Object Not Found"
    batch.create_namespaced_job(NS, job_body())
    error = api_error(batch.create_namespaced_job, NS, job_body())
    assert error.status == 409 and reason(error) == "AlreadyExists"
    error = api_error(batch.read_namespaced_job, "nope", NS)
    assert error.status == 404 and reason(error) == "NotFound"
    assert json.loads(error.body)["message"] == 'jobs.batch "nope" not found'


def test_namespace_in_the_body_must_match_the_url(batch: client.BatchV1Api) -> None:
    body = job_body()
    body["metadata"]["namespace"] = "other"
    assert api_error(batch.create_namespaced_job, NS, body).status == 400


def test_job_defaulting(batch: client.BatchV1Api) -> None:
    job = batch.create_namespaced_job(NS, job_body("train", app="x"))
    uid = job.metadata.uid
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    assert job.spec.template.metadata.labels == {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "train",
        "controller-uid": uid,
        "job-name": "train",
    }
    assert job.spec.backoff_limit == 6
    assert (job.spec.completions, job.spec.parallelism) == (1, 1)
    assert job.status is None or job.status.to_dict() == client.V1JobStatus().to_dict()


def test_job_validation(batch: client.BatchV1Api) -> None:
    # plain kmock accepts any JSON; a real server refuses these
    body = job_body()
    body["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    error = api_error(batch.create_namespaced_job, NS, body)
    assert error.status == 422 and "restartPolicy" in error.body
    error = api_error(batch.create_namespaced_job, NS, job_body("x" * 64))
    assert error.status == 422 and "63" in error.body
    error = api_error(batch.create_namespaced_job, NS, job_body("Not_A_Name"))
    assert error.status == 422 and "RFC 1123" in error.body
    assert batch.list_namespaced_job(NS).items == []


def test_labels_and_owner_references_are_validated(batch: client.BatchV1Api) -> None:
    # plain kmock accepts any JSON; a real server refuses these (and the runner must not
    # produce them: a label value is at most 63 characters)
    error = api_error(batch.create_namespaced_job, NS, job_body("a", exp="x" * 64))
    assert error.status == 422 and "metadata.labels" in error.body
    body = job_body("b")
    body["spec"]["template"]["metadata"] = {"labels": {"bad key!": "v"}}
    error = api_error(batch.create_namespaced_job, NS, body)
    assert error.status == 422 and "spec.template.metadata.labels" in error.body
    body = job_body("c")
    body["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "X", "name": "x", "uid": ""}
    ]
    error = api_error(batch.create_namespaced_job, NS, body)
    assert error.status == 422 and "ownerReferences[0].uid" in error.body
    batch.create_namespaced_job(NS, job_body("d", exp="x" * 63))
    error = api_error(batch.patch_namespaced_job, "d", NS, {"metadata": {"labels": {"-x": "1"}}})
    assert error.status == 422
    assert [j.metadata.name for j in batch.list_namespaced_job(NS).items] == ["d"]


def test_list_kind_version_and_selectors(batch: client.BatchV1Api) -> None:
    # plain kmock: no kind/apiVersion/resourceVersion on lists; selectors ignored
    batch.create_namespaced_job(NS, job_body("a", tier="web", exp="e1"))
    batch.create_namespaced_job(NS, job_body("b", tier="db", exp="e1"))
    batch.create_namespaced_job(NS, job_body("c", exp="e2"))
    batch.create_namespaced_job("elsewhere", job_body("d", exp="e1"))
    listing = batch.list_namespaced_job(NS)
    assert listing.kind == "JobList" and listing.api_version == "batch/v1"
    assert int(listing.metadata.resource_version) >= 4

    def names(**kwargs: str) -> list[str]:
        return [j.metadata.name for j in batch.list_namespaced_job(NS, **kwargs).items]

    assert names() == ["a", "b", "c"]
    assert names(label_selector="exp=e1") == ["a", "b"]
    assert names(label_selector="exp==e1,tier!=db") == ["a"]
    assert names(label_selector="tier in (web, db)") == ["a", "b"]
    assert names(label_selector="tier notin (web)") == ["b", "c"]
    assert names(label_selector="tier") == ["a", "b"]
    assert names(label_selector="!tier") == ["c"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.name!=b") == ["a", "c"]
    everywhere = batch.list_job_for_all_namespaces(label_selector="exp=e1").items
    assert sorted(j.metadata.name for j in everywhere) == ["a", "b", "d"]
    assert api_error(batch.list_namespaced_job, NS, label_selector="a in b").status == 400


def test_watch_honours_timeout_and_resource_version(batch: client.BatchV1Api) -> None:
    # plain kmock: the stream never ends and replays every object whatever the version
    batch.create_namespaced_job(NS, job_body("old"))
    version = batch.list_namespaced_job(NS).metadata.resource_version
    batch.create_namespaced_job(NS, job_body("new"))
    events = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            batch.list_namespaced_job, NS, resource_version=version, timeout_seconds=1
        )
    ]
    assert events == [("ADDED", "new")]
    everything = [
        e["object"].metadata.name
        for e in watch.Watch().stream(batch.list_namespaced_job, NS, timeout_seconds=1)
    ]
    assert everything == ["new", "old"]


def test_watch_from_an_expired_version_says_410(
    k8s: ThreadedEmulator, batch: client.BatchV1Api
) -> None:
    emulator = k8s.emulator
    assert emulator is not None
    k8s.call(lambda: setattr(emulator, "_history", type(emulator._history)(maxlen=3)))
    for name in "abcde":
        batch.create_namespaced_job(NS, job_body(name))
    with pytest.raises(client.ApiException) as info:
        list(
            watch.Watch().stream(
                batch.list_namespaced_job, NS, resource_version="1", timeout_seconds=1
            )
        )
    assert info.value.status == 410


def test_watch_streams_live_events_through_selectors(batch: client.BatchV1Api) -> None:
    events: list[tuple[str, str]] = []
    version = batch.list_namespaced_job(NS).metadata.resource_version

    def collect() -> None:
        for event in watch.Watch().stream(
            batch.list_namespaced_job,
            NS,
            label_selector="watched=yes",
            resource_version=version,
            timeout_seconds=2,
        ):
            events.append((event["type"], event["object"].metadata.name))
            if len(events) == 3:
                return

    thread = threading.Thread(target=collect)
    thread.start()
    batch.create_namespaced_job(NS, job_body("ignored"))
    batch.create_namespaced_job(NS, job_body("w", watched="yes"))
    batch.patch_namespaced_job("w", NS, {"metadata": {"labels": {"extra": "1"}}})
    batch.patch_namespaced_job("w", NS, {"metadata": {"labels": {"watched": "no"}}})
    thread.join(5)
    # leaving the selector arrives as DELETED, as from a real server's watch cache
    assert events == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


def test_status_subresource_semantics(batch: client.BatchV1Api) -> None:
    # plain kmock: both patches merge into the whole object
    batch.create_namespaced_job(NS, job_body())
    job = batch.patch_namespaced_job(
        "j", NS, {"status": {"active": 1}, "metadata": {"labels": {"a": "b"}}}
    )
    assert job.metadata.labels == {"a": "b"}
    assert job.status is None or job.status.active is None
    job = batch.patch_namespaced_job_status(
        "j", NS, {"status": {"active": 1}, "spec": {"parallelism": 5}}
    )
    assert job.status.active == 1 and job.spec.parallelism == 1
    assert batch.read_namespaced_job_status("j", NS).status.active == 1


def test_generation_counts_spec_changes_only(batch: client.BatchV1Api) -> None:
    batch.create_namespaced_job(NS, job_body())
    job = batch.patch_namespaced_job("j", NS, {"metadata": {"labels": {"a": "b"}}})
    assert job.metadata.generation == 1
    job = batch.patch_namespaced_job("j", NS, {"spec": {"backoffLimit": 2}})
    assert job.metadata.generation == 2


def test_noop_patch_keeps_the_version_and_emits_nothing(batch: client.BatchV1Api) -> None:
    # plain kmock: every patch is a new version and a MODIFIED event (a controller hot-loops)
    job = batch.create_namespaced_job(NS, job_body())
    batch.patch_namespaced_job_status("j", NS, {"status": {"active": 1}})
    version = batch.read_namespaced_job("j", NS).metadata.resource_version
    again = batch.patch_namespaced_job_status("j", NS, {"status": {"active": 1}})
    assert again.metadata.resource_version == version != job.metadata.resource_version
    events = list(
        watch.Watch().stream(
            batch.list_namespaced_job, NS, resource_version=version, timeout_seconds=1
        )
    )
    assert events == []


def test_stale_resource_version_conflicts(batch: client.BatchV1Api) -> None:
    # plain kmock: applied anyway
    job = batch.create_namespaced_job(NS, job_body())
    batch.patch_namespaced_job("j", NS, {"metadata": {"labels": {"a": "1"}}})
    stale = {"metadata": {"resourceVersion": job.metadata.resource_version, "labels": {"a": "2"}}}
    error = api_error(batch.patch_namespaced_job, "j", NS, stale)
    assert error.status == 409 and reason(error) == "Conflict"
    assert batch.read_namespaced_job("j", NS).metadata.labels == {"a": "1"}


def test_json_patch_test_failure_is_422(batch: client.BatchV1Api) -> None:
    # plain kmock: 500
    batch.create_namespaced_job(NS, job_body())
    patch = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "0"},
        {"op": "add", "path": "/metadata/labels/x", "value": "y"},
    ]
    assert api_error(batch.patch_namespaced_job, "j", NS, patch).status == 422
    version = batch.read_namespaced_job("j", NS).metadata.resource_version
    patch[0]["value"] = version
    assert batch.patch_namespaced_job("j", NS, patch).metadata.labels == {"x": "y"}


def test_replace_is_routed(batch: client.BatchV1Api) -> None:
    # plain kmock: PUT is 404 "Endpoint Not Found"
    job = batch.create_namespaced_job(NS, job_body())
    job.metadata.labels = {"replaced": "yes"}
    replaced = batch.replace_namespaced_job("j", NS, job)
    assert replaced.metadata.labels == {"replaced": "yes"}
    error = api_error(batch.replace_namespaced_job, "j", NS, job)  # its version is stale now
    assert error.status == 409


def test_namespaces(core: client.CoreV1Api) -> None:
    # plain kmock: 500 (its URL parser fails on /api/v1/namespaces[/NAME])
    core.create_namespace({"metadata": {"name": "team"}})
    assert core.read_namespace("team").metadata.uid
    assert [n.metadata.name for n in core.list_namespace().items] == ["team"]


def test_pods_start_pending(core: client.CoreV1Api) -> None:
    pod = core.create_namespaced_pod(
        NS, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    )
    assert pod.status.phase == "Pending"


def test_a_secrets_string_data_is_folded_into_data(core: client.CoreV1Api) -> None:
    body = {"metadata": {"name": "s"}, "data": {"a": "eA=="}, "stringData": {"b": "token"}}
    created = core.create_namespaced_secret("ns", body)
    assert (created.data, created.string_data) == ({"a": "eA==", "b": "dG9rZW4="}, None)
    core.patch_namespaced_secret("s", "ns", {"stringData": {"a": "y"}})
    assert core.read_namespaced_secret("s", "ns").data == {"a": "eQ==", "b": "dG9rZW4="}


def test_custom_objects_and_their_status(custom: client.CustomObjectsApi) -> None:
    # plain kmock: create returns None (200 instead of 201); status patches merge everywhere
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Experiment", "metadata": {"name": "e"}}
    body["spec"] = {"maxTrialCount": 3}
    body["status"] = {"ignored": True}
    created = custom.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, body)
    assert created["metadata"]["uid"] and "status" not in created
    patched = custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, NS, PLURAL, "e", {"status": {"trials": 1}, "spec": {"maxTrialCount": 9}}
    )
    assert patched["status"] == {"trials": 1} and patched["spec"] == {"maxTrialCount": 3}
    patched = custom.patch_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, "e", {"status": {"trials": 7}, "spec": {"maxTrialCount": 4}}
    )
    assert patched["status"] == {"trials": 1} and patched["spec"] == {"maxTrialCount": 4}
    assert patched["metadata"]["generation"] == 2


def test_a_crd_created_through_the_api_declares_its_resource(
    api: client.ApiClient, custom: client.CustomObjectsApi
) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {"name": "v1", "served": True, "storage": True, "subresources": {"status": {}}}
            ],
        },
    }
    with pytest.raises(client.ApiException):
        custom.list_namespaced_custom_object("example.com", "v1", NS, "widgets")
    client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
    body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    custom.create_namespaced_custom_object("example.com", "v1", NS, "widgets", body)
    listing = custom.list_namespaced_custom_object("example.com", "v1", NS, "widgets")
    assert [w["metadata"]["name"] for w in listing["items"]] == ["w"]
    assert listing["kind"] == "WidgetList"


def test_finalizers_defer_deletion(custom: client.CustomObjectsApi) -> None:
    body = {"metadata": {"name": "e", "finalizers": ["tuner.dev/cleanup"]}, "spec": {}}
    custom.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, body)
    custom.delete_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "e")
    marked = custom.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "e")
    assert marked["metadata"]["deletionTimestamp"]
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, "e", {"metadata": {"finalizers": None}}
    )
    with pytest.raises(client.ApiException) as info:
        custom.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "e")
    assert info.value.status == 404


def owned_pod(core: client.CoreV1Api, name: str, owner: Any) -> None:
    reference = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": owner.metadata.name,
        "uid": owner.metadata.uid,
        "controller": True,
    }
    core.create_namespaced_pod(
        NS,
        {
            "metadata": {"name": name, "ownerReferences": [reference]},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
        },
    )


def test_delete_propagation(batch: client.BatchV1Api, core: client.CoreV1Api) -> None:
    # plain kmock: deleting never touches dependents
    background = batch.create_namespaced_job(NS, job_body("bg"))
    owned_pod(core, "bg-pod", background)
    orphaning = batch.create_namespaced_job(NS, job_body("orphan"))
    owned_pod(core, "orphan-pod", orphaning)
    batch.delete_namespaced_job("bg", NS, propagation_policy="Background")
    # a Job deleted without a policy orphans its pods, as on a real server
    batch.delete_namespaced_job("orphan", NS)
    pods = core.list_namespaced_pod(NS).items
    assert [p.metadata.name for p in pods] == ["orphan-pod"]
    assert pods[0].metadata.owner_references is None
    assert api_error(batch.read_namespaced_job, "bg", NS).status == 404


def test_deletecollection_by_label(core: client.CoreV1Api) -> None:
    for name, labels in (("a", {"x": "1"}), ("b", {"x": "1"}), ("c", {})):
        core.create_namespaced_pod(
            NS,
            {
                "metadata": {"name": name, "labels": labels},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            },
        )
    core.delete_collection_namespaced_pod(NS, label_selector="x=1")
    assert [p.metadata.name for p in core.list_namespaced_pod(NS).items] == ["c"]


def test_injected_failures(k8s: ThreadedEmulator, batch: client.BatchV1Api) -> None:
    k8s.fail("POST", "batch/v1/jobs", code=503, times=1)
    assert api_error(batch.create_namespaced_job, NS, job_body()).status == 503
    assert batch.create_namespaced_job(NS, job_body()).metadata.uid


def test_the_request_log_is_trimmed(k8s: ThreadedEmulator, batch: client.BatchV1Api) -> None:
    # plain kmock keeps every request and scans them all for each new one (quadratic)
    for _ in range(40):
        batch.list_namespaced_job(NS)
    emulator = k8s.emulator
    assert emulator is not None
    assert k8s.call(lambda: len(emulator._requests)) <= 20


def test_declared_experiments_are_discoverable(api: client.ApiClient) -> None:
    resources = client.CustomObjectsApi(api).get_api_resources("tuner.dev", "v1beta1")
    names = {r.name: r for r in resources.resources}
    assert names["experiments"].kind == "Experiment"
    assert names["experiments"].namespaced is True
    assert names["experiments"].short_names == ["exp"]
    assert "experiments/status" in names
    assert f"{GROUP}/{VERSION}/{PLURAL}" == EXPERIMENTS


def test_core_discovery_group_version(api: client.ApiClient) -> None:
    # plain kmock: "/v1", which makes kubectl map pods to another group
    assert client.CoreV1Api(api).get_api_resources().group_version == "v1"
