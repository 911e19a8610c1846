"""The Kubernetes manifests of docker/deploy and the cluster examples.

Every object passes the real Kubernetes 1.33 schemas (kubernetes-validate, strict: unknown
fields fail); the kustomizations list what is there; the operator gets exactly the rights it
needs; every container runs `tuner` with arguments tuner's own CLI accepts.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tuner.cli import _parser
from tuner.runners import SecretKeySelector
from tuner.spec import load_experiment, render_trial_job
from tuner.trial import Trial

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docker" / "deploy"
CLUSTER_WIDE = ROOT / "docker" / "deploy-cluster-wide"
CLUSTER_EXAMPLES = ROOT / "examples" / "cluster"
IMAGE = "ghcr.io/tuner-dev/tuner"
TRIAL_IMAGE = "ghcr.io/tuner-dev/tuner-trial"
NOT_APPLIED = {"secret.example.yaml"}  # real credentials are the user's, never committed

# What the operator does, and so all its Role may allow: (API group, resource, verb).
# experiments/finalizers update: its Jobs' ownerReferences set blockOwnerDeletion, which the
# OwnerReferencesPermissionEnforcement admission plugin allows only with that right.
OPERATOR_RIGHTS = {
    ("tuner.dev", "experiments/finalizers", "update"),
    *(("tuner.dev", "experiments", verb) for verb in ("get", "list", "watch", "patch")),
    *(("tuner.dev", "experiments/status", verb) for verb in ("patch", "update")),
    *(("batch", "jobs", verb) for verb in ("create", "get", "list", "watch", "delete", "patch")),
    *(("", "pods", verb) for verb in ("get", "list", "watch")),
    ("", "pods/log", "get"),
    ("", "events", "create"),
}


def _objects(*folders: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for folder in folders:
        for path in sorted(folder.glob("*.yaml")):
            if path.name == "kustomization.yaml":
                continue
            for index, document in enumerate(yaml.safe_load_all(path.read_text())):
                if document is not None:
                    yield f"{path.relative_to(ROOT)}#{index}", document


def _object(kind: str, name: str) -> dict[str, Any]:
    (found,) = [
        o for _, o in _objects(DEPLOY) if o["kind"] == kind and o["metadata"]["name"] == name
    ]
    return found


def _kustomization(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((folder / "kustomization.yaml").read_text())
    return data


def _rights(rules: list[Mapping[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def _deployments() -> list[dict[str, Any]]:
    return [o for _, o in _objects(DEPLOY) if o["kind"] == "Deployment"]


# -- the schemas of Kubernetes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "manifest"),
    [pytest.param(where, o, id=where) for where, o in _objects(DEPLOY, CLUSTER_WIDE)],
)
def test_every_manifest_passes_the_kubernetes_schema(where: str, manifest: dict[str, Any]) -> None:
    assert kubernetes_validate.validate(manifest, "1.33", strict=True) == "1.33", where


def test_the_validator_refuses_a_misspelt_field() -> None:
    deployment = _object("Deployment", "tuner")
    deployment["spec"]["template"]["spec"]["containers"][0]["comand"] = ["tuner"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.33", strict=True)


# -- kustomize ----------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", [DEPLOY, CLUSTER_WIDE], ids=lambda p: p.name)
def test_kustomization_lists_every_file_there(folder: Path) -> None:
    listed = [r for r in _kustomization(folder)["resources"] if not r.startswith("..")]
    assert all((folder / name).is_file() for name in listed), listed
    present = {p.name for p in folder.iterdir()} - {"kustomization.yaml"} - NOT_APPLIED
    assert sorted(listed) == sorted(present)


def _example_secrets() -> dict[str, dict[str, Any]]:
    documents = yaml.safe_load_all((DEPLOY / "secret.example.yaml").read_text())
    return {d["metadata"]["name"]: d for d in documents if d}


def _secret_reference(deployment: str, variable: str) -> dict[str, Any]:
    (container,) = _object("Deployment", deployment)["spec"]["template"]["spec"]["containers"]
    (found,) = [e for e in container["env"] if e["name"] == variable]
    assert set(found) == {"name", "valueFrom"}  # never a value in the manifest
    reference: dict[str, Any] = found["valueFrom"]["secretKeyRef"]
    return reference


def test_the_secrets_are_examples_with_placeholders() -> None:
    assert "secret.example.yaml" not in _kustomization(DEPLOY)["resources"]
    secrets = _example_secrets()
    assert sorted(secrets) == ["tuner-store", "tuner-token"]
    namespace = _object("Namespace", "tuner")["metadata"]["name"]
    for secret in secrets.values():
        assert kubernetes_validate.validate(secret, "1.33", strict=True)
        assert secret["metadata"]["namespace"] == namespace
        assert all("CHANGE-ME" in value for value in secret["stringData"].values())
    assert set(secrets["tuner-store"]["stringData"]) == {"url"}
    assert set(secrets["tuner-token"]["stringData"]) == {"token"}


def test_the_service_reads_its_store_and_its_required_token_from_the_secrets() -> None:
    store = _secret_reference("tuner", "TUNER_STORE_URL")
    assert (store["name"], store["key"]) == ("tuner-store", "url")
    # `tuner server` takes $TUNER_TOKEN; not optional, so the service never runs without it
    assert _secret_reference("tuner", "TUNER_TOKEN") == {"name": "tuner-token", "key": "token"}


def test_the_operator_and_its_trials_get_the_token_from_the_secret() -> None:
    assert _secret_reference("tuner-operator", "TUNER_TOKEN") == {
        "name": "tuner-token",
        "key": "token",
    }
    (container,) = _object("Deployment", "tuner-operator")["spec"]["template"]["spec"]["containers"]
    args = _parse_tuner_args(container)
    assert args.token is None  # from $TUNER_TOKEN, never in the arguments
    selector = SecretKeySelector.parse(args.trial_token_secret)
    assert selector == SecretKeySelector(name="tuner-token", key="token")
    assert selector.name in _example_secrets()


def _kustomize(folder: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH: kustomize rendering not checked")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert rendered.returncode == 0, rendered.stderr
    return [d for d in yaml.safe_load_all(rendered.stdout) if d]


@pytest.mark.timeout(120)
def test_kubectl_kustomize_renders_the_namespaced_install() -> None:
    objects = _kustomize(DEPLOY)
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == sorted(
        [
            "CustomResourceDefinition",
            "Namespace",
            "ServiceAccount",
            "Role",
            "RoleBinding",
            "Deployment",
            "Deployment",
            "Service",
        ]
    )
    for manifest in objects:
        kubernetes_validate.validate(manifest, "1.33", strict=True)
        if manifest["kind"] != "CustomResourceDefinition" and manifest["kind"] != "Namespace":
            assert manifest["metadata"]["namespace"] == "tuner", manifest["metadata"]


@pytest.mark.timeout(120)
def test_kubectl_kustomize_renders_the_cluster_wide_install() -> None:
    objects = _kustomize(CLUSTER_WIDE)
    kinds = {o["kind"] for o in objects}
    assert {"ClusterRole", "ClusterRoleBinding"} <= kinds
    assert not {"Role", "RoleBinding"} & kinds
    (role,) = [o for o in objects if o["kind"] == "ClusterRole"]
    assert _rights(role["rules"]) == OPERATOR_RIGHTS
    (operator,) = [
        o
        for o in objects
        if o["metadata"]["name"] == "tuner-operator" and (o["kind"] == "Deployment")
    ]
    (container,) = operator["spec"]["template"]["spec"]["containers"]
    _parse_tuner_args(container)
    for manifest in objects:
        kubernetes_validate.validate(manifest, "1.33", strict=True)


# -- RBAC ----------------------------------------------------------------------------------------


def test_operator_role_has_exactly_the_rights_it_needs() -> None:
    role = _object("Role", "tuner-operator")
    assert _rights(role["rules"]) == OPERATOR_RIGHTS
    kinds = {o["kind"] for _, o in _objects(DEPLOY)}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}


_API_CALL = re.compile(
    r"(create|read|get|list|patch|delete|replace)_(?:namespaced_|cluster_)?(\w+?)"
    r"(?:_for_all_namespaces)?"
)
_RESOURCES = {
    "custom_object": ("tuner.dev", "experiments"),
    "custom_object_status": ("tuner.dev", "experiments/status"),
    "job": ("batch", "jobs"),
    "job_status": ("batch", "jobs/status"),
    "pod": ("", "pods"),
    "pod_log": ("", "pods/log"),
    "event": ("", "events"),
}
_VERBS = {"read": "get", "replace": "update"}


def _rights_the_code_uses() -> dict[tuple[str, str, str], str]:
    """Every Kubernetes API call of the operator and the Kubernetes runner, as a right."""
    used: dict[tuple[str, str, str], str] = {}
    for path in sorted([*ROOT.glob("tuner/operator/*.py"), *ROOT.glob("tuner/runners/*.py")]):
        tree = ast.parse(path.read_text())
        watched = {
            id(node.args[0])
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "stream"
            and node.args
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value == "blockOwnerDeletion":
                used[("tuner.dev", "experiments/finalizers", "update")] = path.name
            if not isinstance(node, ast.Attribute):
                continue
            match = _API_CALL.fullmatch(node.attr)
            if match is None or match.group(2) not in _RESOURCES:
                continue
            group, resource = _RESOURCES[match.group(2)]
            verb = "watch" if id(node) in watched else _VERBS.get(match[1], match[1])
            used[(group, resource, verb)] = f"{path.name}:{node.lineno} {node.attr}"
    return used


def test_operator_role_allows_every_call_the_operator_makes() -> None:
    used = _rights_the_code_uses()
    assert ("tuner.dev", "experiments", "watch") in used  # the scan sees the operator
    missing = {right: where for right, where in used.items() if right not in OPERATOR_RIGHTS}
    assert not missing, f"calls the operator's Role does not allow: {missing}"


def test_cluster_wide_role_has_the_same_rights() -> None:
    (role,) = [o for _, o in _objects(CLUSTER_WIDE) if o["kind"] == "ClusterRole"]
    assert _rights(role["rules"]) == OPERATOR_RIGHTS


@pytest.mark.parametrize(("kind", "role_kind"), [("RoleBinding", "Role")])
def test_the_binding_gives_the_role_to_the_operator(kind: str, role_kind: str) -> None:
    binding = _object(kind, "tuner-operator")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": role_kind,
        "name": "tuner-operator",
    }
    account = _object("ServiceAccount", "tuner-operator")
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": account["metadata"]["namespace"],
        }
    ]
    pod = _object("Deployment", "tuner-operator")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]


def test_the_service_gets_no_api_token() -> None:
    pod = _object("Deployment", "tuner")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in pod


# -- the pods ------------------------------------------------------------------------------------


@pytest.mark.parametrize("deployment", _deployments(), ids=lambda d: d["metadata"]["name"])
def test_pods_run_locked_down(deployment: dict[str, Any]) -> None:
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert set(container["resources"]) == {"requests", "limits"}
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]
        assert container["image"].split(":")[0] == IMAGE
        # The root file system is read-only: /tmp is a volume.
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_kustomize_sets_the_image_of_every_container() -> None:
    (image,) = _kustomization(DEPLOY)["images"]
    assert image["name"] == IMAGE
    tags = {c["image"] for d in _deployments() for c in d["spec"]["template"]["spec"]["containers"]}
    assert tags == {f"{IMAGE}:{image['newTag']}"}


def test_service_serves_grpc_with_health_probes() -> None:
    pod = _object("Deployment", "tuner")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (port,) = container["ports"]
    assert (port["name"], port["containerPort"]) == ("grpc", 6789)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"] == {"port": 6789}, probe
    service = _object("Service", "tuner")
    (service_port,) = service["spec"]["ports"]
    assert (service_port["port"], service_port["targetPort"]) == (6789, "grpc")
    labels = _object("Deployment", "tuner")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()


def test_operator_is_a_single_writer() -> None:
    spec = _object("Deployment", "tuner-operator")["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}


def _parse_tuner_args(container: Mapping[str, Any]) -> Any:
    """The container's arguments, through tuner's own argument parser."""
    assert "command" not in container  # the image's entry point, `tuner`, runs
    defined = {e["name"] for e in container.get("env", [])}
    args = []
    for arg in container["args"]:
        for variable in re.findall(r"\$\((\w+)\)", arg):
            assert variable in defined, f"$({variable}) is not in the container's env"
        args.append(re.sub(r"\$\((\w+)\)", "value-of-\\1", arg))
    return _parser().parse_args(args)


@pytest.mark.parametrize("deployment", _deployments(), ids=lambda d: d["metadata"]["name"])
def test_containers_run_real_tuner_commands(deployment: dict[str, Any]) -> None:
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        _parse_tuner_args(container)


def test_service_listens_on_all_addresses_with_the_secret_store() -> None:
    (container,) = _object("Deployment", "tuner")["spec"]["template"]["spec"]["containers"]
    args = _parse_tuner_args(container)
    assert (args.host, args.port, args.store) == ("0.0.0.0", 6789, "value-of-TUNER_STORE_URL")


def _service_address() -> str:
    service = _object("Service", "tuner")
    (port,) = service["spec"]["ports"]
    return f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc:{port['port']}"


def test_operator_watches_its_namespace_and_reaches_the_service() -> None:
    pod = _object("Deployment", "tuner-operator")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = _parse_tuner_args(container)
    (namespace,) = [e for e in container["env"] if e["name"] == "POD_NAMESPACE"]
    assert namespace["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert args.namespace == "value-of-POD_NAMESPACE"
    assert not args.all_namespaces
    # The trials' pods reach the service at the same address (any namespace's DNS).
    assert (args.service, args.trial_service_endpoint) == (_service_address(), None)


def test_cluster_wide_operator_watches_every_namespace() -> None:
    objects = _kustomize(CLUSTER_WIDE)
    (operator,) = [
        o
        for o in objects
        if o["metadata"]["name"] == "tuner-operator" and (o["kind"] == "Deployment")
    ]
    (container,) = operator["spec"]["template"]["spec"]["containers"]
    args = _parse_tuner_args(container)
    assert (args.namespace, args.all_namespaces, args.service) == (
        None,
        True,
        _service_address(),
    )
    # trials in other namespaces read tuner-token there: the operator gets no Secrets rights
    assert args.trial_token_secret == "tuner-token"
    assert not [o for o in objects if o["kind"] == "Secret"]
    (role,) = [o for o in objects if o["kind"] == "ClusterRole"]
    assert "secrets" not in {resource for _, resource, _ in _rights(role["rules"])}
    notes = (CLUSTER_WIDE / "kustomization.yaml").read_text()
    assert "tuner-token" in notes and "every namespace that runs Experiments" in notes


def test_namespace_enforces_a_pod_security_standard() -> None:
    labels = _object("Namespace", "tuner")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] in ("baseline", "restricted")


# -- the cluster examples -------------------------------------------------------------------------


def _yaml(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def test_cluster_quickstart_is_the_quickstart() -> None:
    local = _yaml(ROOT / "examples" / "quickstart.yaml")
    cluster = _yaml(CLUSTER_EXAMPLES / "quickstart.yaml")
    assert cluster["apiVersion"] == "tuner.dev/v1beta1"
    assert cluster["metadata"] == {**local["metadata"], "namespace": "tuner"}
    template = cluster["spec"].pop("trialTemplate")
    local_template = local["spec"].pop("trialTemplate")
    assert cluster["spec"] == local["spec"]
    assert {k: v for k, v in template.items() if k != "trialSpec"} == {
        k: v for k, v in local_template.items() if k != "trialSpec"
    }
    (container,) = template["trialSpec"]["spec"]["template"]["spec"]["containers"]
    (local_container,) = local_template["trialSpec"]["spec"]["template"]["spec"]["containers"]
    assert container["name"] == local_container["name"]
    assert container["command"] == local_container["command"]
    assert container["image"].split(":")[0] == TRIAL_IMAGE
    # The trial image's working directory holds the script (see docker/Dockerfile).
    assert (ROOT / "examples" / container["command"][1]).is_file()


@pytest.mark.parametrize("path", sorted(CLUSTER_EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_cluster_example_trial_jobs_pass_the_kubernetes_schema(path: Path) -> None:
    experiment = load_experiment(path)
    assert experiment.namespace == "tuner"  # where the namespaced operator looks
    parameters = {"alpha": 1e-4, "eta0": 0.05, "learning_rate": "adaptive"}
    trial = Trial(id=1, study_name=experiment.name, number=0, parameters=parameters)
    job = render_trial_job(experiment, trial, job_name=f"{experiment.name}-0")
    assert kubernetes_validate.validate(job, "1.33", strict=True) == "1.33"
    pod = job["spec"]["template"]["spec"]
    # The namespace warns about pods short of the "restricted" standard: these meet it.
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["containers"]:
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_readme_builds_the_images_the_manifests_use() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## On Kubernetes", 1)[1].split("\n## ", 1)[0]
    built = set(re.findall(r"docker build .* -t (\S+) \.", section))
    (image,) = _kustomization(DEPLOY)["images"]
    cluster = _yaml(CLUSTER_EXAMPLES / "quickstart.yaml")
    (trial,) = cluster["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"][
        "containers"
    ]
    assert built == {f"{IMAGE}:{image['newTag']}", trial["image"]}
    header = (ROOT / "docker" / "Dockerfile").read_text()
    assert set(re.findall(r"docker build .* -t (\S+) \.", header)) == built
    for path in re.findall(r"(?:-k|-f) ((?:docker|examples)/[\w./-]+)", section):
        assert (ROOT / path).exists(), path
