"""The discovery documents clients read before any verb: the groups, versions and resources the simulator serves.

kubectl maps `deploy`, `po` or `deployment.apps` to a URL with these, finds the scale and eviction subresources' kinds
in them, and decides from `/apis` whether `kubectl top` has a metrics API. Only the legacy documents are served: a
client asking for aggregated discovery (`as=APIGroupDiscoveryList`) gets them as plain `application/json` and falls
back to reading them, as it does with an older API server.
"""

from collections.abc import Iterable

from portal.kubesim.cluster import RESOURCES, Obj, Resource

METRICS = "metrics.k8s.io/v1beta1"
# Subresources per resource: (name, verbs, group, version, kind) of the body each one takes; an empty group and
# version mean the resource's own.
SUBRESOURCES: dict[str, tuple[tuple[str, tuple[str, ...], str, str, str], ...]] = {
    "deployments": (
        ("scale", ("get", "patch", "update"), "autoscaling", "v1", "Scale"),
        ("status", ("get",), "", "", "Deployment"),
    ),
    "pods": (
        ("eviction", ("create",), "policy", "v1", "Eviction"),
        ("log", ("get",), "", "", "Pod"),
    ),
}
_METRICS_RESOURCES = (
    {"name": "nodes", "singularName": "", "namespaced": False, "kind": "NodeMetrics", "verbs": ["get", "list"]},
    {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics", "verbs": ["get", "list"]},
)


def _group_versions() -> dict[str, list[Resource]]:
    served: dict[str, list[Resource]] = {}
    for resource in RESOURCES.values():
        served.setdefault(resource.api_version, []).append(resource)
    return served


def api_versions(server_address: str) -> Obj:
    """`/api`: the core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_groups() -> Obj:
    """`/apis`: every named group, each with its one version."""
    group_versions = [version for version in _group_versions() if "/" in version] + [METRICS]
    groups = []
    for group_version in group_versions:
        group, version = group_version.split("/")
        entry = {"groupVersion": group_version, "version": version}
        groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _describe(resource: Resource) -> Iterable[Obj]:
    described: Obj = {
        "name": resource.plural,
        "singularName": resource.kind.lower(),
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        described["shortNames"] = list(resource.short_names)
    if resource.categories:
        described["categories"] = list(resource.categories)
    yield described
    for name, verbs, group, version, kind in SUBRESOURCES.get(resource.plural, ()):
        subresource: Obj = {"name": f"{resource.plural}/{name}", "singularName": "", "namespaced": resource.namespaced}
        if group:
            subresource |= {"group": group, "version": version}
        yield subresource | {"kind": kind, "verbs": list(verbs)}


def resource_list(group_version: str) -> Obj | None:
    """`/api/v1`, `/apis/GROUP/VERSION`: the resources of one group version, or None if it is not served."""
    if group_version == METRICS:
        resources = [dict(resource) for resource in _METRICS_RESOURCES]
    elif group_version in _group_versions():
        resources = [entry for resource in _group_versions()[group_version] for entry in _describe(resource)]
    else:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}
