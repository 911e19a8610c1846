"""The local kubelet: Jobs of the emulator run as local processes, with status and logs."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.k8s.emulator import ThreadedEmulator
from tests.k8s.fixtures import NAMESPACE, make_kubelet, wait_for
from tests.k8s.kubelet import LocalKubelet

pytestmark = pytest.mark.timeout(60)


def job_body(name: str, script: str, *, backoff_limit: int = 0, **spec: Any) -> dict[str, Any]:
    container = {
        "name": "main",
        "image": "python:3.11",
        "command": ["python", "-c", textwrap.dedent(script)],
    }
    return {
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": backoff_limit,
            **spec,
            "template": {"spec": {"restartPolicy": "Never", "containers": [container]}},
        },
    }


@pytest.fixture
def batch(api: client.ApiClient) -> client.BatchV1Api:
    return client.BatchV1Api(api)


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


def finished(batch: client.BatchV1Api, name: str, namespace: str = NAMESPACE) -> Any:
    """Wait until the Job has a Complete or Failed condition; return it."""

    def check() -> Any:
        job = batch.read_namespaced_job(name, namespace)
        conditions = (job.status and job.status.conditions) or []
        return job if any(c.type in ("Complete", "Failed") for c in conditions) else None

    return wait_for(check, timeout=20)


def conditions(job: Any) -> list[tuple[str, str]]:
    return [(c.type, c.reason) for c in job.status.conditions]


def pods_of(core: client.CoreV1Api, job: str, namespace: str = NAMESPACE) -> list[Any]:
    return core.list_namespaced_pod(namespace, label_selector=f"job-name={job}").items


def test_a_job_runs_and_completes(
    kubelet: LocalKubelet, batch: client.BatchV1Api, core: client.CoreV1Api
) -> None:
    script = """
        import os, sys
        print("hello", os.environ["GREETING"], os.getcwd() == os.environ["EXPECTED_CWD"])
        print("to stderr", file=sys.stderr)
    """
    body = job_body("ok", script)
    container = body["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [
        {"name": "GREETING", "value": "world"},
        {"name": "EXPECTED_CWD", "value": "/tmp"},
    ]
    container["workingDir"] = "/tmp"
    created = batch.create_namespaced_job(NAMESPACE, body)
    job = finished(batch, "ok")
    assert conditions(job) == [
        ("SuccessCriteriaMet", "CompletionsReached"),
        ("Complete", "CompletionsReached"),
    ]
    assert job.status.succeeded == 1 and not job.status.active
    assert job.status.start_time and job.status.completion_time
    (pod,) = pods_of(core, "ok")
    assert pod.status.phase == "Succeeded"
    assert pod.status.container_statuses[0].state.terminated.exit_code == 0
    (owner,) = pod.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid, owner.controller) == (
        "Job",
        "ok",
        created.metadata.uid,
        True,
    )
    assert pod.metadata.labels["batch.kubernetes.io/job-name"] == "ok"
    log = core.read_namespaced_pod_log(pod.metadata.name, NAMESPACE)
    assert log == "hello world True\nto stderr\n"
    assert core.read_namespaced_pod_log(pod.metadata.name, NAMESPACE, tail_lines=1) == "to stderr\n"
    assert kubelet.max_running == 1


def test_a_failing_job_is_retried_up_to_the_backoff_limit(
    kubelet: LocalKubelet, batch: client.BatchV1Api, core: client.CoreV1Api
) -> None:
    batch.create_namespaced_job(
        NAMESPACE, job_body("bad", "import sys; print('boom'); sys.exit(3)", backoff_limit=1)
    )
    job = finished(batch, "bad")
    assert conditions(job) == [
        ("FailureTarget", "BackoffLimitExceeded"),
        ("Failed", "BackoffLimitExceeded"),
    ]
    assert job.status.failed == 2
    pods = pods_of(core, "bad")
    assert len(pods) == 2
    for pod in pods:
        assert pod.status.phase == "Failed"
        assert pod.status.container_statuses[0].state.terminated.exit_code == 3
        assert core.read_namespaced_pod_log(pod.metadata.name, NAMESPACE) == "boom\n"


def test_active_deadline(
    kubelet: LocalKubelet, batch: client.BatchV1Api, core: client.CoreV1Api
) -> None:
    batch.create_namespaced_job(
        NAMESPACE,
        job_body("slow", "import time; time.sleep(60)", backoff_limit=3, activeDeadlineSeconds=1),
    )
    job = finished(batch, "slow")
    assert conditions(job)[-1] == ("Failed", "DeadlineExceeded")
    assert [p.status.phase for p in pods_of(core, "slow")] == ["Failed"]


def test_deleting_the_job_kills_its_process(
    kubelet: LocalKubelet, batch: client.BatchV1Api, core: client.CoreV1Api, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    script = f"""
        import pathlib, time
        pathlib.Path({str(marker)!r}).write_text("yes")
        time.sleep(60)
    """
    batch.create_namespaced_job(NAMESPACE, job_body("long", script))
    wait_for(marker.exists)
    assert kubelet.running == 1
    batch.delete_namespaced_job("long", NAMESPACE, propagation_policy="Background")
    wait_for(lambda: kubelet.running == 0)
    assert pods_of(core, "long") == []
    assert kubelet.pod_names("long") and len(kubelet.pod_names("long")) == 1


def test_a_job_deleted_without_a_policy_orphans_its_running_pod(
    kubelet: LocalKubelet, batch: client.BatchV1Api, core: client.CoreV1Api, tmp_path: Path
) -> None:
    # as on a real cluster: the default for batch/v1 Jobs is Orphan, and the pod runs on
    marker = tmp_path / "started"
    script = f"""
        import pathlib, time
        pathlib.Path({str(marker)!r}).write_text("yes")
        time.sleep(60)
    """
    batch.create_namespaced_job(NAMESPACE, job_body("orphaned", script))
    wait_for(marker.exists)
    batch.delete_namespaced_job("orphaned", NAMESPACE)
    (pod,) = pods_of(core, "orphaned")
    assert pod.metadata.owner_references is None
    assert kubelet.running == 1
    core.delete_namespaced_pod(pod.metadata.name, NAMESPACE)
    wait_for(lambda: kubelet.running == 0)


def test_follow_streams_while_running(
    kubelet: LocalKubelet, batch: client.BatchV1Api, core: client.CoreV1Api
) -> None:
    script = """
        import time
        for i in range(3):
            print(f"step {i}", flush=True)
            time.sleep(0.2)
    """
    batch.create_namespaced_job(NAMESPACE, job_body("stream", script))
    pod = wait_for(lambda: pods_of(core, "stream"))[0]
    wait_for(
        lambda: core.read_namespaced_pod(pod.metadata.name, NAMESPACE).status.phase != "Pending"
    )
    response = core.read_namespaced_pod_log(
        pod.metadata.name, NAMESPACE, follow=True, _preload_content=False
    )
    chunks = list(response.stream(64))
    assert b"".join(chunks) == b"step 0\nstep 1\nstep 2\n"


def test_sidecar_shares_an_empty_dir(
    kubelet: LocalKubelet, batch: client.BatchV1Api, core: client.CoreV1Api
) -> None:
    trial = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text('loss=0.5')"
    sidecar = textwrap.dedent(
        """
        import os, pathlib, sys, time
        path = pathlib.Path(sys.argv[1])
        while not path.exists():
            time.sleep(0.02)
        print("collected", path.read_text(), os.environ["POD"])
        """
    )
    body = job_body("shared", trial)
    pod_spec = body["spec"]["template"]["spec"]
    pod_spec["volumes"] = [{"name": "metrics", "emptyDir": {}}]
    mounts = [{"name": "metrics", "mountPath": "/metrics"}]
    pod_spec["containers"][0]["args"] = ["/metrics/out.txt"]  # rewritten to the pod's dir
    pod_spec["containers"][0]["volumeMounts"] = mounts
    pod_spec["containers"].append(
        {
            "name": "collector",
            "image": "x",
            "command": ["python3", "-c", sidecar, "/metrics/out.txt"],
            "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "volumeMounts": mounts,
        }
    )
    batch.create_namespaced_job(NAMESPACE, body)
    job = finished(batch, "shared")
    assert conditions(job)[-1][0] == "Complete"
    (pod,) = pods_of(core, "shared")
    name = pod.metadata.name
    assert core.read_namespaced_pod_log(name, NAMESPACE, container="collector") == (
        f"collected loss=0.5 {name}\n"
    )
    with pytest.raises(client.ApiException) as info:
        core.read_namespaced_pod_log(name, NAMESPACE)  # two containers: which one?
    assert info.value.status == 400


def test_an_option_value_in_an_empty_dir_is_rewritten_too(
    kubelet: LocalKubelet, batch: client.BatchV1Api, core: client.CoreV1Api
) -> None:
    # as a wrapping collector's ``--path=/var/log/katib/metrics.log``
    trial = "import pathlib, sys; pathlib.Path(sys.argv[1].partition('=')[2]).write_text('ok')"
    body = job_body("option", trial)
    pod_spec = body["spec"]["template"]["spec"]
    pod_spec["volumes"] = [{"name": "metrics", "emptyDir": {}}]
    container = pod_spec["containers"][0]
    container["volumeMounts"] = [{"name": "metrics", "mountPath": "/var/log/katib"}]
    container["args"] = ["--path=/var/log/katib/out.txt"]
    batch.create_namespaced_job(NAMESPACE, body)
    job = finished(batch, "option")
    (pod,) = pods_of(core, "option")
    log = kubelet.log_path(pod.metadata.name, "main").read_text()
    assert conditions(job)[-1][0] == "Complete", log
    out = kubelet.workdir / pod.metadata.name / "volumes" / "metrics" / "out.txt"
    assert out.read_text() == "ok"


def test_a_container_without_a_command_fails_clearly(
    kubelet: LocalKubelet, batch: client.BatchV1Api, core: client.CoreV1Api
) -> None:
    body = job_body("image-only", "")
    del body["spec"]["template"]["spec"]["containers"][0]["command"]
    batch.create_namespaced_job(NAMESPACE, body)
    assert conditions(finished(batch, "image-only"))[-1][0] == "Failed"
    (pod,) = pods_of(core, "image-only")
    assert "runs commands, not images" in core.read_namespaced_pod_log(pod.metadata.name, NAMESPACE)


def test_max_running_counts_concurrent_pods(
    kubelet: LocalKubelet, batch: client.BatchV1Api, tmp_path: Path
) -> None:
    gate = tmp_path / "go"
    script = f"""
        import pathlib, time
        while not pathlib.Path({str(gate)!r}).exists():
            time.sleep(0.02)
    """
    for name in ("p1", "p2", "p3"):
        batch.create_namespaced_job(NAMESPACE, job_body(name, script))
    wait_for(lambda: kubelet.running == 3)
    gate.write_text("")
    for name in ("p1", "p2", "p3"):
        finished(batch, name)
    assert kubelet.max_running == 3 and kubelet.running == 0


def test_other_namespaces_are_left_alone(
    k8s: ThreadedEmulator,
    api: client.ApiClient,
    batch: client.BatchV1Api,
    core: client.CoreV1Api,
    tmp_path: Path,
) -> None:
    with make_kubelet(k8s, api, "a", tmp_path / "a"), make_kubelet(k8s, api, "b", tmp_path / "b"):
        batch.create_namespaced_job("a", job_body("same", "print('from a')"))
        batch.create_namespaced_job("b", job_body("same", "print('from b')"))
        batch.create_namespaced_job("c", job_body("same", "print('from c')"))
        for namespace in ("a", "b"):
            finished(batch, "same", namespace)
            (pod,) = pods_of(core, "same", namespace)
            assert (
                core.read_namespaced_pod_log(pod.metadata.name, namespace) == f"from {namespace}\n"
            )
        assert pods_of(core, "same", "c") == []
        assert batch.read_namespaced_job("same", "c").status is None or not (
            batch.read_namespaced_job("same", "c").status.start_time
        )
    assert sys.executable  # the kubelet ran them with this interpreter (python -> sys.executable)


def secret_body(name: str, **values: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": values}


def token_job(name: str, secret: str = "tuner-token", key: str = "token") -> dict[str, Any]:
    body = job_body(name, "import os; print('token', os.environ['TOKEN'])")
    body["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
    ]
    return body


def waiting(core: client.CoreV1Api, job: str) -> Any:
    """The container's waiting state, once the kubelet has set one."""

    def check() -> Any:
        pods = pods_of(core, job)
        statuses = (pods and pods[0].status.container_statuses) or []
        return statuses and statuses[0].state.waiting

    return wait_for(check)


def test_a_secret_key_ref_is_resolved_from_the_namespace_secrets(
    kubelet: LocalKubelet, batch: client.BatchV1Api, core: client.CoreV1Api
) -> None:
    core.create_namespaced_secret(NAMESPACE, secret_body("tuner-token", token="s3cret"))
    batch.create_namespaced_job(NAMESPACE, token_job("tok"))
    assert conditions(finished(batch, "tok"))[-1] == ("Complete", "CompletionsReached")
    (pod,) = pods_of(core, "tok")
    assert core.read_namespaced_pod_log(pod.metadata.name, NAMESPACE) == "token s3cret\n"


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (None, 'secret "tuner-token" not found'),
        ({"other": "x"}, f"couldn't find key token in Secret {NAMESPACE}/tuner-token"),
    ],
    ids=["no-secret", "no-key"],
)
def test_a_missing_secret_keeps_the_pod_waiting_until_it_exists(
    kubelet: LocalKubelet,
    batch: client.BatchV1Api,
    core: client.CoreV1Api,
    secret: dict[str, str] | None,
    message: str,
) -> None:
    if secret is not None:
        core.create_namespaced_secret(NAMESPACE, secret_body("tuner-token", **secret))
    batch.create_namespaced_job(NAMESPACE, token_job("tok"))
    state = waiting(core, "tok")
    assert (state.reason, state.message) == ("CreateContainerConfigError", message)
    (pod,) = pods_of(core, "tok")
    assert pod.status.phase == "Pending"
    job = batch.read_namespaced_job("tok", NAMESPACE)
    assert job.status.active == 1 and not job.status.conditions
    assert kubelet.running == 0  # nothing started
    # the kubelet retries: the Secret (or its key) made now starts the same pod
    if secret is None:
        core.create_namespaced_secret(NAMESPACE, secret_body("tuner-token", token="late"))
    else:
        core.patch_namespaced_secret("tuner-token", NAMESPACE, {"stringData": {"token": "late"}})
    assert conditions(finished(batch, "tok"))[-1] == ("Complete", "CompletionsReached")
    assert [p.metadata.name for p in pods_of(core, "tok")] == [pod.metadata.name]
    assert core.read_namespaced_pod_log(pod.metadata.name, NAMESPACE) == "token late\n"


def test_an_optional_secret_key_ref_that_is_missing_is_left_unset(
    kubelet: LocalKubelet, batch: client.BatchV1Api, core: client.CoreV1Api
) -> None:
    body = job_body("opt", "import os; print('TOKEN' in os.environ)")
    body["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {
            "name": "TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k", "optional": True}},
        }
    ]
    batch.create_namespaced_job(NAMESPACE, body)
    assert conditions(finished(batch, "opt"))[-1] == ("Complete", "CompletionsReached")
    (pod,) = pods_of(core, "opt")
    assert core.read_namespaced_pod_log(pod.metadata.name, NAMESPACE) == "False\n"


def test_deleting_a_job_whose_pod_waits_for_a_secret_ends_it(
    kubelet: LocalKubelet, batch: client.BatchV1Api, core: client.CoreV1Api
) -> None:
    batch.create_namespaced_job(NAMESPACE, token_job("tok"))
    waiting(core, "tok")
    batch.delete_namespaced_job("tok", NAMESPACE, propagation_policy="Background")
    wait_for(lambda: not pods_of(core, "tok"))
    wait_for(lambda: all(p.done.is_set() for p in kubelet._pods.values()))
    core.create_namespaced_secret(NAMESPACE, secret_body("tuner-token", token="late"))
    assert kubelet.max_running == 0  # it never ran


# -- images that cannot be had -----------------------------------------------------------------


def image_job(name: str, image: str) -> dict[str, Any]:
    body = job_body(name, "print('pulled')")
    body["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return body


def test_an_unpullable_image_keeps_the_pod_waiting_until_it_can_be_pulled(
    kubelet: LocalKubelet, batch: client.BatchV1Api, core: client.CoreV1Api
) -> None:
    image = "registry.invalid/trian:1"
    kubelet.unpullable_images.add(image)
    batch.create_namespaced_job(NAMESPACE, image_job("pull", image))
    seen: dict[str, str] = {}

    def both_reasons() -> bool:
        state = waiting(core, "pull")
        seen[state.reason] = state.message
        return len(seen) == 2

    wait_for(both_reasons)  # the kubelet's try, back-off, try again, ...
    assert seen == {
        "ErrImagePull": "rpc error: code = NotFound desc = failed to pull and unpack image "
        f'"{image}": failed to resolve reference "{image}": {image}: not found',
        "ImagePullBackOff": f'Back-off pulling image "{image}"',
    }
    (pod,) = pods_of(core, "pull")
    assert pod.status.phase == "Pending"
    assert pod.status.container_statuses[0].image == image
    assert not batch.read_namespaced_job("pull", NAMESPACE).status.conditions
    assert kubelet.running == 0
    kubelet.unpullable_images.discard(image)  # pushed to the registry: the next try pulls it
    assert conditions(finished(batch, "pull"))[-1] == ("Complete", "CompletionsReached")
    assert [p.metadata.name for p in pods_of(core, "pull")] == [pod.metadata.name]
    assert core.read_namespaced_pod_log(pod.metadata.name, NAMESPACE) == "pulled\n"


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("Registry.invalid/Trian:1", "invalid reference format: repository name must be lowercase"),
        ("trian::1", "invalid reference format"),
    ],
)
def test_an_invalid_image_name_keeps_the_pod_waiting(
    kubelet: LocalKubelet,
    batch: client.BatchV1Api,
    core: client.CoreV1Api,
    image: str,
    problem: str,
) -> None:
    batch.create_namespaced_job(NAMESPACE, image_job("bad", image))
    state = waiting(core, "bad")
    assert (state.reason, state.message) == (
        "InvalidImageName",
        f'Failed to apply default image tag "{image}": couldn\'t parse image name "{image}": '
        f"{problem}",
    )
    assert kubelet.running == 0
    batch.delete_namespaced_job("bad", NAMESPACE, propagation_policy="Background")
    wait_for(lambda: not pods_of(core, "bad"))
    assert kubelet.max_running == 0  # it never ran


@pytest.mark.parametrize(
    "image",
    ["busybox", "python:3.11", "localhost:5000/a/b-c_d:v1.2", "ghcr.io/org/x@sha256:" + "0" * 64],
)
def test_valid_image_references_are_taken(
    kubelet: LocalKubelet, batch: client.BatchV1Api, image: str
) -> None:
    batch.create_namespaced_job(NAMESPACE, image_job("ok", image))
    assert conditions(finished(batch, "ok"))[-1] == ("Complete", "CompletionsReached")
