"""Operator tests: the emulated cluster, the in-process service, Experiment documents."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.k8s.fixtures import (  # noqa: F401
    NAMESPACE,
    Service,
    api,
    k8s,
    kubelet,
    service,
    token_service,
)

SCRIPT = Path(__file__).with_name("trial_script.py")
GROUP, VERSION, PLURAL = "tuner.dev", "v1beta1", "experiments"


def experiment_document(
    name: str = "demo",
    namespace: str = NAMESPACE,
    *,
    max_trials: int = 4,
    parallel: int = 2,
    max_failed: int | None = 1,
    script_args: tuple[str, ...] = (),
    early_stopping: dict[str, Any] | None = None,
    algorithm: str = "random",
    image: str = "tuner-trial",
) -> dict[str, Any]:
    """A small quickstart-like Experiment whose trial is ``trial_script.py``."""
    spec: dict[str, Any] = {
        "objective": {"type": "maximize", "objectiveMetricName": "accuracy"},
        "algorithm": {
            "algorithmName": algorithm,
            "algorithmSettings": [{"name": "random_state", "value": "3"}],
        },
        "maxTrialCount": max_trials,
        "parallelTrialCount": parallel,
        "parameters": [
            {
                "name": "lr",
                "parameterType": "double",
                "feasibleSpace": {"min": "0.01", "max": "0.1"},
            }
        ],
        "trialTemplate": {
            "primaryContainerName": "training",
            "trialParameters": [{"name": "lr", "reference": "lr"}],
            "trialSpec": {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "spec": {
                    "backoffLimit": 0,
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [
                                {
                                    "name": "training",
                                    "image": image,
                                    "command": [
                                        "python",
                                        str(SCRIPT),
                                        "--lr=${trialParameters.lr}",
                                        *script_args,
                                    ],
                                }
                            ],
                        }
                    },
                },
            },
        },
    }
    if max_failed is not None:
        spec["maxFailedTrialCount"] = max_failed
    if early_stopping is not None:
        spec["earlyStopping"] = early_stopping
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Experiment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


class Cluster:
    """What a test does to the emulated cluster, through the official client."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.custom = client.CustomObjectsApi(api_client)
        self.batch = client.BatchV1Api(api_client)
        self._api_client = api_client

    def create(self, document: dict[str, Any]) -> dict[str, Any]:
        namespace = document["metadata"].get("namespace", NAMESPACE)
        created = self.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, copy.deepcopy(document)
        )
        assert isinstance(created, dict)
        return created

    def get(self, name: str, namespace: str = NAMESPACE) -> dict[str, Any]:
        found = self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        assert isinstance(found, dict)
        return found

    def status(self, name: str, namespace: str = NAMESPACE) -> dict[str, Any]:
        return dict(self.get(name, namespace).get("status") or {})

    def phase(self, name: str, namespace: str = NAMESPACE) -> str | None:
        conditions = self.status(name, namespace).get("conditions") or []
        return str(conditions[-1]["type"]) if conditions else None

    def patch_spec(self, name: str, spec: dict[str, Any], namespace: str = NAMESPACE) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, {"spec": spec}
        )

    def delete(self, name: str, namespace: str = NAMESPACE, *, orphan: bool = False) -> None:
        """Delete an Experiment; ``orphan``: leave its Jobs to the operator (no cascade)."""
        self.custom.delete_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            name,
            body={"propagationPolicy": "Orphan" if orphan else "Background"},
        )

    def jobs(
        self, namespace: str = NAMESPACE, experiment: str | None = None
    ) -> list[dict[str, Any]]:
        selector = f"tuner.dev/experiment={experiment}" if experiment else None
        listing = self.batch.list_namespaced_job(namespace, label_selector=selector)
        jobs = self._api_client.sanitize_for_serialization(listing)["items"]
        return sorted(jobs, key=lambda job: job["metadata"]["name"])

    def finish_job(self, name: str, *, succeeded: bool = True, namespace: str = NAMESPACE) -> None:
        """Play the job controller: mark a Job Complete or Failed."""
        kind, reason = (
            ("Complete", "CompletionsReached") if succeeded else ("Failed", "BackoffLimitExceeded")
        )
        self.batch.patch_namespaced_job_status(
            name,
            namespace,
            {
                "status": {
                    "succeeded" if succeeded else "failed": 1,
                    "conditions": [
                        {"type": kind, "status": "True", "reason": reason, "message": "test"}
                    ],
                }
            },
        )


@pytest.fixture
def cluster(api: client.ApiClient) -> Cluster:  # noqa: F811
    return Cluster(api)
