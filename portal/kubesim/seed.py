"""Seed helpers: deployments with rollout history, nodes, DaemonSets, mirror and bare pods, services, disruption
budgets."""

import uuid
from collections.abc import Sequence

from portal.kubesim.cluster import Cluster, Obj
from portal.kubesim.patching import STRATEGIC_MERGE_PATCH

CHANGE_CAUSE = "kubernetes.io/change-cause"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def add_deployment(
    cluster: Cluster,
    namespace: str,
    name: str,
    *,
    images: Sequence[str],
    change_causes: Sequence[str] = (),
    replicas: int = 1,
    env_from: str = "",
) -> Obj:
    """A deployment (label `app=NAME`) rolled out once per image, so its history holds one revision per image; with
    `env_from` (a Secret's name), its container reads that Secret's keys as environment variables.

    Each rollout after the first is a strategic merge patch of the container image and the change-cause, as
    `kubectl set image ... --record` would send.
    """
    causes = list(change_causes) or [f"deploy {image}" for image in images]
    labels = {"app": name}
    container: Obj = {"name": name, "image": images[0]}
    if env_from:
        container["envFrom"] = [{"secretRef": {"name": env_from}}]
    cluster.create_deployment(
        {
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": labels,
                "annotations": {CHANGE_CAUSE: causes[0]},
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [container]},
                },
            },
        }
    )
    for image, cause in zip(images[1:], causes[1:], strict=True):
        patch = {
            "metadata": {"annotations": {CHANGE_CAUSE: cause}},
            "spec": {"template": {"spec": {"containers": [{"name": name, "image": image}]}}},
        }
        cluster.patch_deployment(namespace, name, STRATEGIC_MERGE_PATCH, patch)
    return cluster.get("deployments", namespace, name)


def add_pod(
    cluster: Cluster,
    namespace: str,
    name: str,
    *,
    node: str,
    image: str = "busybox:1.36",
    labels: dict[str, str] | None = None,
    owner: Obj | None = None,
    mirror: bool = False,
    empty_dir: bool = False,
) -> Obj:
    """A running pod no simulated controller manages: bare unless `owner` (an ownerReference) is given."""
    metadata: Obj = {"name": name, "namespace": namespace, "labels": labels or {"app": name}}
    if owner is not None:
        metadata["ownerReferences"] = [{"controller": True, "blockOwnerDeletion": True, **owner}]
    if mirror:
        # A static pod the kubelet mirrors into the API: owned by its node, and never evicted by a drain.
        node_uid = cluster.get("nodes", "", node)["metadata"]["uid"]
        metadata["annotations"] = {MIRROR_ANNOTATION: uuid.uuid5(uuid.NAMESPACE_URL, name).hex}
        metadata["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid, "controller": True}
        ]
    spec: Obj = {"nodeName": node, "containers": [{"name": name.rsplit("-", 1)[0], "image": image}]}
    if empty_dir:
        spec["volumes"] = [{"name": "scratch", "emptyDir": {}}]
        spec["containers"][0]["volumeMounts"] = [{"name": "scratch", "mountPath": "/scratch"}]
    return cluster.add_pod({"metadata": metadata, "spec": spec})


def add_daemonset(cluster: Cluster, namespace: str, name: str, *, image: str) -> list[Obj]:
    """A DaemonSet (label `app=NAME`); its controller runs one pod per node, named NAME-NODE. Returns those pods."""
    labels = {"app": name}
    daemon_set = cluster.create_daemonset(
        {
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": name, "image": image}]}},
            },
        }
    )
    pods = cluster.list_objects("pods", namespace=namespace, label_selector=f"app={name}")["items"]
    uid = daemon_set["metadata"]["uid"]
    return [pod for pod in pods if any(ref["uid"] == uid for ref in pod["metadata"].get("ownerReferences", []))]


def add_secret(cluster: Cluster, namespace: str, name: str, values: dict[str, str]) -> Obj:
    """An Opaque Secret with these keys (the demo's values are made up)."""
    return cluster.create_secret({"metadata": {"name": name, "namespace": namespace}, "stringData": values})


def add_service(cluster: Cluster, namespace: str, name: str, *, port: int, target_port: int) -> Obj:
    """A ClusterIP Service in front of the pods labelled `app=NAME`."""
    return cluster.add_service(
        {
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
            "spec": {
                "selector": {"app": name},
                "ports": [{"name": "http", "port": port, "targetPort": target_port, "protocol": "TCP"}],
            },
        }
    )


def seed_demo(cluster: Cluster) -> None:
    """Something resembling the seeds' platform: three nodes, the shop's production deployments with some history,
    and a staging namespace running release candidates."""
    # What every cluster has: the API server's own Service, at the first cluster IP.
    cluster.add_service(
        {
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver"}},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 6443}]},
        }
    )
    for number in (1, 2, 3):
        cluster.add_node(
            f"broxiva-node-{number}", labels={"topology.kubernetes.io/zone": f"eu-west-1{'abc'[number - 1]}"}
        )
    registry = "registry.broxiva.com"
    # The seeds' `broxiva-secrets`, read by the API and the workers (made-up values: the portal never shows them).
    for namespace in ("broxiva-production", "broxiva-staging"):
        add_secret(
            cluster, namespace, "broxiva-secrets",
            {"DATABASE_URL": f"postgres://broxiva:demo@db.{namespace}:5432/broxiva", "JWT_SECRET": "demo-jwt",
             "STRIPE_API_KEY": "sk_test_demo"},
        )  # fmt: skip
    add_deployment(
        cluster,
        "broxiva-production",
        "broxiva-api",
        env_from="broxiva-secrets",
        replicas=3,
        images=[f"{registry}/broxiva-api:{version}" for version in ("2.3.0", "2.4.0", "2.4.1")],
        change_causes=["release 2.3.0", "release 2.4.0: checkout v2", "hotfix 2.4.1: payment retries"],
    )
    add_deployment(
        cluster,
        "broxiva-production",
        "broxiva-web",
        replicas=2,
        images=[f"{registry}/broxiva-web:{version}" for version in ("5.1.0", "5.2.0")],
        change_causes=["release 5.1.0", "release 5.2.0: new product pages"],
    )
    add_deployment(
        cluster,
        "broxiva-production",
        "broxiva-worker",
        env_from="broxiva-secrets",
        replicas=2,
        images=[f"{registry}/broxiva-worker:{version}" for version in ("1.8.0", "1.9.0")],
        change_causes=["release 1.8.0", "release 1.9.0: faster order exports"],
    )
    # Staging runs the next releases, so non-production actions have something to act on.
    add_deployment(
        cluster,
        "broxiva-staging",
        "broxiva-api",
        env_from="broxiva-secrets",
        replicas=2,
        images=[f"{registry}/broxiva-api:{version}" for version in ("2.4.1", "2.5.0-rc.1")],
        change_causes=["hotfix 2.4.1: payment retries", "release candidate 2.5.0-rc.1"],
    )
    add_deployment(
        cluster,
        "broxiva-staging",
        "broxiva-web",
        replicas=1,
        images=[f"{registry}/broxiva-web:{version}" for version in ("5.2.0", "5.3.0-rc.1")],
        change_causes=["release 5.2.0: new product pages", "release candidate 5.3.0-rc.1"],
    )
    for namespace in ("broxiva-production", "broxiva-staging"):
        for name in ("broxiva-api", "broxiva-web"):
            add_service(cluster, namespace, name, port=80, target_port=3000)
    add_daemonset(cluster, "kube-system", "kube-proxy", image="registry.k8s.io/kube-proxy:v1.31.0")
    add_daemonset(cluster, "broxiva-monitoring", "node-exporter", image="quay.io/prometheus/node-exporter:v1.8.2")
    add_service(cluster, "broxiva-monitoring", "node-exporter", port=9100, target_port=9100)
    cluster.add_budget("broxiva-production", "broxiva-api", match_labels={"app": "broxiva-api"}, min_available=2)
    # One API pod ran out of memory once and was restarted: `kubectl logs --previous` has something to show.
    first_api_pod = cluster.list_objects("pods", namespace="broxiva-production", label_selector="app=broxiva-api")
    cluster.restart_container(
        "broxiva-production", first_api_pod["items"][0]["metadata"]["name"], reason="OOMKilled", exit_code=137
    )
    # And one worker pod crash-loops (CrashLoopBackOff, restarts climbing): `--previous` shows how each run ended.
    workers = cluster.list_objects("pods", namespace="broxiva-production", label_selector="app=broxiva-worker")
    cluster.crash_loop("broxiva-production", workers["items"][0]["metadata"]["name"], every=90, exit_code=1)
