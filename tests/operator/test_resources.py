"""Experiments through the official client against the emulated API server."""

from __future__ import annotations

import pytest
from kubernetes import client

from tests.k8s.emulator import ThreadedEmulator
from tests.operator.conftest import NAMESPACE, Cluster, experiment_document
from tuner.operator._resources import ExperimentApi, Gone

pytestmark = pytest.mark.timeout(60)


def test_list_get_and_watch_in_one_namespace_or_all(
    api: client.ApiClient, cluster: Cluster
) -> None:
    scoped, everywhere = ExperimentApi(api, NAMESPACE), ExperimentApi(api)
    _, version = scoped.list()
    cluster.create(experiment_document("a"))
    cluster.create(experiment_document("b", namespace="other"))
    assert [i["metadata"]["name"] for i in scoped.list()[0]] == ["a"]
    assert sorted(i["metadata"]["name"] for i in everywhere.list()[0]) == ["a", "b"]
    assert scoped.get(NAMESPACE, "a") is not None
    assert scoped.get(NAMESPACE, "missing") is None
    events = list(scoped.watch(version, timeout_seconds=1))
    assert [(e.kind, e.namespace, e.name) for e in events] == [("ADDED", NAMESPACE, "a")]


def test_a_status_patch_changes_only_the_status(api: client.ApiClient, cluster: Cluster) -> None:
    experiments = ExperimentApi(api, NAMESPACE)
    cluster.create(experiment_document("a"))
    patched = experiments.patch_status(NAMESPACE, "a", {"trials": 3, "studyName": "x"})
    assert patched is not None and patched["status"] == {"trials": 3, "studyName": "x"}
    patched = experiments.patch_status(NAMESPACE, "a", {"studyName": None})
    assert patched is not None and patched["status"] == {"trials": 3}
    assert cluster.get("a")["spec"]["maxTrialCount"] == 4
    assert experiments.patch_status(NAMESPACE, "missing", {"trials": 1}) is None


def test_a_watch_from_an_expired_version_raises_gone(
    k8s: ThreadedEmulator, api: client.ApiClient, cluster: Cluster
) -> None:
    emulator = k8s.emulator
    assert emulator is not None
    k8s.call(lambda: setattr(emulator, "_history", type(emulator._history)(maxlen=3)))
    for name in "abcde":
        cluster.create(experiment_document(name))
    with pytest.raises(Gone):
        list(ExperimentApi(api, NAMESPACE).watch("1", timeout_seconds=1))
