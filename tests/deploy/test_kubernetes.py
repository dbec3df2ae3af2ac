"""deploy/kubernetes: kustomize builds the base, the production overlay and the target cluster's RBAC; every
object validates against Kubernetes 1.31's schemas (kubernetes-validate, offline, strict: unknown fields fail);
and the workloads keep the promises README "Deploying" makes.

Not covered: `kubectl apply --dry-run=server`, which needs a real API server (portal/kubesim does not simulate
`apply` or `create`)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy/kubernetes"
VERSION = "1.31.0"
# README settings a deployment never sets: tests only, or development only.
NOT_DEPLOYED = {"PORTAL_REQUIRE_SERVICES", "PORTAL_FUZZ_SEED", "PORTAL_FUZZ_EXAMPLES", "KUBE_SIM_PORT"}


def build(path: str) -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if os.environ.get("PORTAL_REQUIRE_SERVICES") == "1":
            pytest.fail("kubectl is not installed")
        pytest.skip("kubectl is not installed")
    result = subprocess.run([kubectl, "kustomize", str(KUBE / path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(objects: list[dict], kind: str, name: str) -> dict:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


@pytest.fixture(scope="module")
def production() -> list[dict]:
    return build("overlays/production")


@pytest.mark.parametrize("path", ["base", "overlays/production", "target-rbac"])
def test_every_object_validates_against_kubernetes_1_31(path):
    objects = build(path)
    assert objects
    for obj in objects:
        assert kubernetes_validate.validate(obj, VERSION, strict=True) == "1.31", obj["metadata"]["name"]


def test_a_broken_manifest_is_refused():
    """The validation is real: a typo'd field and a wrong type fail."""
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x"},
           "spec": {"template": {"spec": {"containers": [{"name": "x", "image": "x", "comand": ["x"]}]}}}}  # fmt: skip
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, VERSION, strict=True)
    job["spec"]["template"]["spec"]["containers"][0] = {"name": "x", "image": "x", "ports": [{"containerPort": "x"}]}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, VERSION, strict=True)


def pod_specs(objects: list[dict]) -> dict[str, dict]:
    return {o["metadata"]["name"]: o["spec"]["template"]["spec"] for o in objects if o["kind"] in {"Deployment", "Job"}}


def test_workloads(production):
    specs = pod_specs(production)
    assert set(specs) == {"ops-portal-web", "ops-portal-worker", "ops-portal-beat", "ops-portal-migrate"}
    images = set()
    for name, spec in specs.items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec.get("initContainers", []) + spec["containers"]:
            images.add(container["image"])
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
            assert {"configMapRef": {"name": "ops-portal-config"}} in container["envFrom"], name
            assert {"secretRef": {"name": "ops-portal-secrets"}} in container["envFrom"], name
    assert images == {"registry.broxiva.example/platform/ops-portal:1.0.0"}  # one image for every role

    web = specs["ops-portal-web"]["containers"][0]
    assert "command" not in web  # the image's default: gunicorn
    pod_ip = {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
    assert pod_ip in web["env"]  # probes and scrapes name the pod's address as the host
    assert web["readinessProbe"]["httpGet"]["path"] == "/api/health/detailed"
    assert web["livenessProbe"]["httpGet"]["path"] == "/api/health"
    assert specs["ops-portal-worker"]["containers"][0]["command"][:5] == ["celery", "-A", "portal", "-q", "worker"]
    assert specs["ops-portal-beat"]["containers"][0]["command"][:5] == ["celery", "-A", "portal", "-q", "beat"]
    assert specs["ops-portal-migrate"]["containers"][0]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    for name in ["ops-portal-web", "ops-portal-worker", "ops-portal-beat"]:  # none serves an unmigrated schema
        assert "migrate --check" in " ".join(specs[name]["initContainers"][0]["command"])

    beat = find(production, "Deployment", "ops-portal-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}


def test_web_is_served_scaled_and_protected(production):
    web = find(production, "Deployment", "ops-portal-web")
    selector = web["spec"]["selector"]["matchLabels"]
    service = find(production, "Service", "ops-portal-web")
    assert service["spec"]["selector"] == selector
    backend = find(production, "Ingress", "ops-portal")["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend["service"]["name"] == "ops-portal-web"
    hpa = find(production, "HorizontalPodAutoscaler", "ops-portal-web")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "ops-portal-web"
    assert hpa["spec"]["minReplicas"] >= 2
    assert find(production, "PodDisruptionBudget", "ops-portal-web")["spec"]["selector"]["matchLabels"] == selector
    policy = find(production, "NetworkPolicy", "ops-portal")
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert find(production, "Namespace", "ops-portal")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == (
        "restricted"
    )


def readme_settings() -> set[str]:
    rows = re.findall(r"^\| (`[A-Z_]+`(?:, `[A-Z_]+`)*) \|", (ROOT / "README.md").read_text(), re.MULTILINE)
    return {name for row in rows for name in re.findall(r"`([A-Z_]+)`", row)} - NOT_DEPLOYED


def test_every_readme_setting_is_in_the_config_map_or_the_secret(production):
    config = set(find(production, "ConfigMap", "ops-portal-config")["data"])
    secret = {line.split("=")[0] for line in (KUBE / "secrets.example.env").read_text().splitlines()
              if line and not line.startswith("#")}  # fmt: skip
    assert not config & secret
    assert readme_settings() - config - secret == set()
    # and nothing there the portal would not read (a typo would be silently ignored)
    read = set(re.findall(r"environ(?:\.get\(|\[)\"([A-Z_]+)\"", (ROOT / "portal/settings.py").read_text()))
    read |= set(re.findall(r"env_(?:bool|list|rate)\(\"([A-Z_]+)\"", (ROOT / "portal/settings.py").read_text()))
    read |= set(re.findall(r"environ\.get\(\"([A-Z_]+)\"", (ROOT / "gunicorn.conf.py").read_text()))
    read |= {"PROMETHEUS_MULTIPROC_DIR", "WEB_CONCURRENCY", "POD_IP"}  # read by prometheus_client and gunicorn
    assert (config | secret) - read == set()


def test_target_rbac_grants_only_what_the_actions_use():
    objects = build("target-rbac")
    rules = {
        (rule_group, resource, verb)
        for role in objects if role["kind"] == "ClusterRole"
        for rule in role["rules"] for rule_group in rule["apiGroups"]
        for resource in rule["resources"] for verb in rule["verbs"]
    }  # fmt: skip
    assert not any(verb in {"*", "delete", "deletecollection", "create"} and resource != "pods/eviction"
                   for _, resource, verb in rules)  # fmt: skip
    assert ("", "pods/eviction", "create") in rules
    assert ("apps", "deployments/scale", "patch") in rules
    assert ("", "nodes", "patch") in rules
    assert not any(resource == "secrets" for _, resource, _ in rules)
