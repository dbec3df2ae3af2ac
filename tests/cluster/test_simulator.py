"""The simulator's HTTP semantics, driven by the official client over real HTTP, as the adapter drives it."""

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import urllib3
import yaml
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from portal import kube
from portal.kubesim import Cluster, ManualClock, Simulator
from portal.kubesim.patching import JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH
from portal.kubesim.seed import add_daemonset, add_deployment, add_pod
from tests.servers import free_port

NS = "shop"
ROOT = Path(__file__).resolve().parents[2]
REVISION = "deployment.kubernetes.io/revision"


@pytest.fixture
def apps(api) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture
def core(api) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def web(cluster):
    return add_deployment(cluster, NS, "web", images=["shop/web:1", "shop/web:2"], replicas=2)


def status_of(raised: pytest.ExceptionInfo[ApiException]) -> dict:
    return json.loads(raised.value.body)


def revisions(apps, name="web") -> dict[int, str]:
    """Revision -> image of each ReplicaSet the deployment owns."""
    listed = apps.list_namespaced_replica_set(NS, label_selector=f"app={name}").items
    return {int(rs.metadata.annotations[REVISION]): rs.spec.template.spec.containers[0].image for rs in listed}


def test_version_says_it_is_a_simulator(api):
    info = client.VersionApi(api).get_code()

    assert info.git_version == "v1.31.0+portal-simulator"
    assert info.platform == "simulated"


def configured(simulator: Simulator, tmp_path: Path, token: str | None) -> client.ApiClient:
    """A client that trusts the simulator's CA and sends `token`, if any."""
    authority = tmp_path / "ca.crt"
    authority.write_bytes(simulator.certificates.ca)
    configuration = client.Configuration(host=simulator.url)
    configuration.ssl_ca_cert = str(authority)
    if token is not None:
        configuration.api_key = {"authorization": f"Bearer {token}"}
    return client.ApiClient(configuration)


def test_requests_without_the_kubeconfig_token_are_unauthorized_except_the_public_paths(simulator, tmp_path):
    anonymous = configured(simulator, tmp_path, token=None)

    with pytest.raises(ApiException) as raised:
        client.AppsV1Api(anonymous).list_namespaced_deployment(NS)
    with pytest.raises(ApiException) as wrong:
        client.VersionApi(configured(simulator, tmp_path, token="guess")).get_code()

    assert raised.value.status == 401
    assert status_of(raised)["reason"] == "Unauthorized"
    assert wrong.value.status == 401, "a token that does not match is refused even where none is needed"
    assert client.VersionApi(anonymous).get_code().git_version == "v1.31.0+portal-simulator"
    for path in ("/healthz", "/livez", "/readyz"):
        response = anonymous.rest_client.request("GET", simulator.url + path)
        assert (response.status, response.read()) == (200, b"ok")


def test_the_server_is_verified_against_the_kubeconfigs_own_ca(simulator, tmp_path):
    """HTTPS with a CA of its own: the kubeconfig carries it, and a client without it refuses the server."""
    written = yaml.safe_load(simulator.write_kubeconfig(tmp_path / "kubeconfig.yaml").read_text())
    (cluster_entry,) = written["clusters"]
    untrusting = client.Configuration(host=simulator.url)
    untrusting.retries = 0

    assert cluster_entry["cluster"]["server"] == simulator.url
    assert simulator.url.startswith("https://127.0.0.1:")
    assert base64.b64decode(cluster_entry["cluster"]["certificate-authority-data"]) == simulator.certificates.ca
    with pytest.raises(urllib3.exceptions.MaxRetryError, match="CERTIFICATE_VERIFY_FAILED"):
        client.VersionApi(client.ApiClient(untrusting)).get_code()


def test_errors_are_status_bodies(apps):
    with pytest.raises(ApiException) as raised:
        apps.read_namespaced_deployment("nope", NS)

    assert status_of(raised) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "nope" not found',
        "reason": "NotFound",
        "code": 404,
        "details": {"name": "nope", "group": "apps", "kind": "deployments"},
    }


def test_deployments_list_per_namespace_and_across_all(apps, cluster, web):
    add_deployment(cluster, "billing", "invoices", images=["billing/invoices:1"])

    in_shop = apps.list_namespaced_deployment(NS).items
    everywhere = apps.list_deployment_for_all_namespaces().items

    assert [d.metadata.name for d in in_shop] == ["web"]
    assert sorted((d.metadata.namespace, d.metadata.name) for d in everywhere) == [
        ("billing", "invoices"),
        ("shop", "web"),
    ]


def test_json_patch_changes_the_spec_generation_and_resource_version(apps, web):
    before = apps.read_namespaced_deployment("web", NS)
    patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "shop/web:3"}]

    after = apps.patch_namespaced_deployment("web", NS, patch, _content_type=JSON_PATCH)

    assert after.spec.template.spec.containers[0].image == "shop/web:3"
    assert after.metadata.generation == before.metadata.generation + 1
    assert int(after.metadata.resource_version) > int(before.metadata.resource_version)


def test_a_failed_json_patch_test_is_refused(apps, web):
    patch = [
        {"op": "test", "path": "/spec/replicas", "value": 9},
        {"op": "replace", "path": "/spec/replicas", "value": 1},
    ]

    with pytest.raises(ApiException) as raised:
        apps.patch_namespaced_deployment("web", NS, patch, _content_type=JSON_PATCH)

    assert raised.value.status == 422
    assert apps.read_namespaced_deployment("web", NS).spec.replicas == 2


def test_a_metadata_change_moves_the_resource_version_but_not_the_generation(apps, web):
    before = apps.read_namespaced_deployment("web", NS)

    after = apps.patch_namespaced_deployment(
        "web", NS, {"metadata": {"labels": {"team": "shop"}}}, _content_type=MERGE_PATCH
    )

    assert after.metadata.labels == {"app": "web", "team": "shop"}
    assert after.metadata.generation == before.metadata.generation
    assert int(after.metadata.resource_version) > int(before.metadata.resource_version)


def test_a_write_that_changes_nothing_stores_nothing(apps, web):
    before = apps.read_namespaced_deployment("web", NS)

    after = apps.patch_namespaced_deployment("web", NS, {"spec": {"replicas": 2}}, _content_type=MERGE_PATCH)

    assert after.metadata.resource_version == before.metadata.resource_version


def test_merge_patch_replaces_lists_while_strategic_merge_merges_containers_by_name(apps, cluster):
    containers = [{"name": "app", "image": "shop/app:1"}, {"name": "proxy", "image": "envoy:1"}]
    cluster.create_deployment(
        {
            "metadata": {"name": "app", "namespace": NS},
            "spec": {
                "selector": {"matchLabels": {"app": "app"}},
                "template": {"metadata": {"labels": {"app": "app"}}, "spec": {"containers": containers}},
            },
        }
    )
    proxy_only = {"spec": {"template": {"spec": {"containers": [{"name": "proxy", "image": "envoy:2"}]}}}}

    merged = apps.patch_namespaced_deployment("app", NS, proxy_only, _content_type=STRATEGIC_MERGE_PATCH)
    deleted = apps.patch_namespaced_deployment(
        "app",
        NS,
        {"spec": {"template": {"spec": {"containers": [{"name": "proxy", "$patch": "delete"}]}}}},
        _content_type=STRATEGIC_MERGE_PATCH,
    )
    replaced = apps.patch_namespaced_deployment("app", NS, proxy_only, _content_type=MERGE_PATCH)

    assert [(c.name, c.image) for c in merged.spec.template.spec.containers] == [
        ("app", "shop/app:1"),
        ("proxy", "envoy:2"),
    ]
    assert [c.name for c in deleted.spec.template.spec.containers] == ["app"]
    assert [(c.name, c.image) for c in replaced.spec.template.spec.containers] == [("proxy", "envoy:2")]


def test_a_dict_body_goes_as_strategic_merge_and_a_list_as_json_patch(apps, web):
    """What the client does by itself when no content type is given, as the adapter's reference notes say."""
    as_dict = apps.patch_namespaced_deployment("web", NS, {"spec": {"replicas": 3}})
    as_list = apps.patch_namespaced_deployment("web", NS, [{"op": "replace", "path": "/spec/replicas", "value": 4}])

    assert (as_dict.spec.replicas, as_list.spec.replicas) == (3, 4)


def test_unsupported_patches_are_refused_loudly(apps, web):
    order = {"$setElementOrder/containers": [{"name": "web"}]}

    with pytest.raises(ApiException) as directive:
        apps.patch_namespaced_deployment(
            "web", NS, {"spec": {"template": {"spec": order}}}, _content_type=STRATEGIC_MERGE_PATCH
        )
    with pytest.raises(ApiException) as apply:
        apps.patch_namespaced_deployment("web", NS, {"spec": {}}, _content_type="application/apply-patch+yaml")

    assert directive.value.status == 422
    assert "'$setElementOrder/containers' is not supported" in status_of(directive)["message"]
    assert apply.value.status == 415
    assert status_of(apply)["reason"] == "UnsupportedMediaType"


def test_dry_run_answers_with_the_result_and_stores_nothing(apps, web):
    before = apps.read_namespaced_deployment("web", NS)

    preview = apps.patch_namespaced_deployment(
        "web", NS, {"spec": {"replicas": 5}}, dry_run="All", _content_type=MERGE_PATCH
    )

    assert preview.spec.replicas == 5
    assert preview.metadata.generation == before.metadata.generation + 1
    stored = apps.read_namespaced_deployment("web", NS)
    assert (stored.spec.replicas, stored.metadata.resource_version) == (2, before.metadata.resource_version)
    with pytest.raises(ApiException) as raised:
        apps.patch_namespaced_deployment(
            "web", NS, {"spec": {"replicas": 5}}, dry_run="Some", _content_type=MERGE_PATCH
        )
    assert raised.value.status == 400


def test_replace_with_a_stale_resource_version_is_a_conflict(apps, cluster, web):
    read = apps.read_namespaced_deployment("web", NS)
    cluster.patch_deployment(NS, "web", MERGE_PATCH, {"spec": {"replicas": 3}})
    read.spec.replicas = 4

    with pytest.raises(ApiException) as raised:
        apps.replace_namespaced_deployment("web", NS, read)

    assert raised.value.status == 409
    assert status_of(raised)["reason"] == "Conflict"
    fresh = apps.read_namespaced_deployment("web", NS)
    fresh.spec.replicas = 4
    assert apps.replace_namespaced_deployment("web", NS, fresh).spec.replicas == 4


def test_invalid_deployments_are_refused(apps, web):
    with pytest.raises(ApiException) as negative:
        apps.patch_namespaced_deployment("web", NS, {"spec": {"replicas": -1}}, _content_type=MERGE_PATCH)
    with pytest.raises(ApiException) as selector:
        apps.patch_namespaced_deployment(
            "web", NS, {"spec": {"selector": {"matchLabels": {"app": "other"}}}}, _content_type=MERGE_PATCH
        )

    assert negative.value.status == 422
    assert "spec.replicas" in status_of(negative)["message"]
    assert selector.value.status == 422
    assert "field is immutable" in status_of(selector)["message"]


def test_the_scale_subresource_reads_patches_and_replaces_with_a_precondition(apps, cluster, web):
    scale = apps.read_namespaced_deployment_scale("web", NS)
    assert (scale.spec.replicas, scale.status.replicas, scale.status.selector) == (2, 2, "app=web")

    patched = apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 3}}, _content_type=MERGE_PATCH)
    assert patched.spec.replicas == 3
    assert apps.read_namespaced_deployment("web", NS).spec.replicas == 3

    stale = client.V1Scale(
        metadata=client.V1ObjectMeta(name="web", namespace=NS, resource_version=scale.metadata.resource_version),
        spec=client.V1ScaleSpec(replicas=5),
    )
    with pytest.raises(ApiException) as raised:
        apps.replace_namespaced_deployment_scale("web", NS, stale)
    assert raised.value.status == 409

    # The controller has written status since the patch, so the current version comes from a fresh read.
    stale.metadata.resource_version = apps.read_namespaced_deployment_scale("web", NS).metadata.resource_version
    assert apps.replace_namespaced_deployment_scale("web", NS, stale).spec.replicas == 5


def test_replica_sets_belong_to_their_deployment_and_answer_label_selectors(apps, cluster, web):
    add_deployment(cluster, NS, "api", images=["shop/api:1"])
    owned = apps.list_namespaced_replica_set(NS, label_selector="app=web").items

    def names(selector: str) -> set[str]:
        return {rs.metadata.labels["app"] for rs in apps.list_namespaced_replica_set(NS, label_selector=selector).items}

    assert len(owned) == 2
    assert {ref.uid for rs in owned for ref in rs.metadata.owner_references} == {web["metadata"]["uid"]}
    assert all(rs.metadata.owner_references[0].controller for rs in owned)
    assert names("app in (web,api)") == {"web", "api"}
    assert names("app notin (web)") == names("app!=web") == {"api"}
    assert names("pod-template-hash") == {"web", "api"}
    assert names("!pod-template-hash") == set()
    with pytest.raises(ApiException) as raised:
        apps.list_namespaced_replica_set(NS, label_selector="app in web")
    assert raised.value.status == 400


def test_a_selector_with_match_expressions_selects_its_replica_sets(apps, cluster):
    labels = {"app": "api", "tier": "edge"}
    cluster.create_deployment(
        {
            "metadata": {"name": "api", "namespace": NS},
            "spec": {
                "selector": {
                    "matchLabels": {"app": "api"},
                    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["edge", "backend"]}],
                },
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "api", "image": "a:1"}]}},
            },
        }
    )

    selector = apps.read_namespaced_deployment_scale("api", NS).status.selector
    selected = apps.list_namespaced_replica_set(NS, label_selector=selector).items

    assert selector == "app=api,tier in (backend,edge)"
    assert [rs.metadata.labels["tier"] for rs in selected] == ["edge"]


def test_cordoning_a_node_taints_it_and_uncordoning_clears_it(core):
    cordoned = core.patch_node("node-1", {"spec": {"unschedulable": True}}, _content_type=STRATEGIC_MERGE_PATCH)
    assert cordoned.spec.unschedulable is True
    assert [t.key for t in core.read_node("node-1").spec.taints] == ["node.kubernetes.io/unschedulable"]

    core.patch_node("node-1", {"spec": {"unschedulable": None}}, _content_type=STRATEGIC_MERGE_PATCH)

    node = core.read_node("node-1")
    assert (node.spec.unschedulable, node.spec.taints) == (None, None)
    assert [n.metadata.name for n in core.list_node().items] == ["node-1", "node-2", "node-3"]


def test_pods_list_by_node_across_namespaces_page_by_page(core, cluster, web):
    add_daemonset(cluster, "kube-system", "kube-proxy", image="kube-proxy:1")
    add_pod(cluster, "batch", "report", node="node-1")
    everything = {
        (p.metadata.namespace, p.metadata.name)
        for p in core.list_pod_for_all_namespaces(field_selector="spec.nodeName=node-1").items
    }

    paged, token, pages = [], None, 0
    while True:
        page = core.list_pod_for_all_namespaces(field_selector="spec.nodeName=node-1", limit=1, _continue=token)
        paged += [(p.metadata.namespace, p.metadata.name) for p in page.items]
        token, pages = page.metadata._continue, pages + 1
        if not token:
            break

    assert {("batch", "report"), ("kube-system", "kube-proxy-node-1")} < everything
    assert sorted(paged) == sorted(everything)
    assert pages == len(everything)
    assert {p.spec.node_name for p in core.list_namespaced_pod(NS, label_selector="app=web").items} <= {
        "node-1",
        "node-2",
        "node-3",
    }
    with pytest.raises(ApiException) as raised:
        core.list_pod_for_all_namespaces(field_selector="spec.hostname=x")
    assert raised.value.status == 400
    assert status_of(raised)["message"] == 'field label not supported: "spec.hostname"'


def test_deleting_a_replica_set_pod_brings_a_replacement(core, web):
    pod = core.list_namespaced_pod(NS, label_selector="app=web").items[0]

    core.delete_namespaced_pod(pod.metadata.name, NS, grace_period_seconds=0)

    with pytest.raises(ApiException) as raised:
        core.read_namespaced_pod(pod.metadata.name, NS)
    assert raised.value.status == 404
    assert len(core.list_namespaced_pod(NS, label_selector="app=web").items) == 2


def evict(core, pod_name: str, namespace: str = NS, grace: int | None = 0) -> None:
    options = client.V1DeleteOptions(grace_period_seconds=grace)
    body = client.V1Eviction(metadata=client.V1ObjectMeta(name=pod_name, namespace=namespace), delete_options=options)
    core.create_namespaced_pod_eviction(pod_name, namespace, body)


def test_an_eviction_removes_the_pod_and_a_missing_pod_is_404(core, web):
    pod = core.list_namespaced_pod(NS, label_selector="app=web").items[0].metadata.name

    evict(core, pod)

    with pytest.raises(ApiException) as again:
        evict(core, pod)
    assert again.value.status == 404


def test_an_eviction_with_a_grace_period_leaves_the_pod_terminating_until_a_later_step(core, cluster, web):
    pod = core.list_namespaced_pod(NS, label_selector="app=web").items[0].metadata.name

    evict(core, pod, grace=30)

    assert core.read_namespaced_pod(pod, NS).metadata.deletion_timestamp is not None
    cluster.step()
    with pytest.raises(ApiException) as raised:
        core.read_namespaced_pod(pod, NS)
    assert raised.value.status == 404


def test_a_disruption_budget_refuses_evictions_with_429(core, cluster, web):
    cluster.add_budget(NS, "web-pdb", match_labels={"app": "web"}, min_available=2)
    pod = core.list_namespaced_pod(NS, label_selector="app=web").items[0].metadata.name

    with pytest.raises(ApiException) as raised:
        evict(core, pod)

    assert raised.value.status == 429
    body = status_of(raised)
    assert body["reason"] == "TooManyRequests"
    assert body["details"]["causes"] == [
        {
            "reason": "DisruptionBudget",
            "message": "The disruption budget web-pdb needs 2 healthy pods and has 2 currently",
        }
    ]
    assert core.read_namespaced_pod(pod, NS).metadata.deletion_timestamp is None


def test_a_watch_replays_changes_after_a_resource_version_and_ends_at_its_timeout(apps, cluster, web):
    since = apps.read_namespaced_deployment("web", NS).metadata.resource_version
    cluster.patch_deployment(NS, "web", MERGE_PATCH, {"spec": {"replicas": 3}})
    started = time.monotonic()

    events = list(
        watch.Watch().stream(
            apps.list_namespaced_deployment,
            NS,
            field_selector="metadata.name=web",
            resource_version=since,
            timeout_seconds=1,
        )
    )

    assert time.monotonic() - started >= 1
    assert {event["type"] for event in events} == {"MODIFIED"}
    assert events[-1]["object"].spec.replicas == 3
    assert events[-1]["object"].status.available_replicas == 3


def test_a_watch_starts_with_the_current_object_and_follows_changes(apps, cluster, web):
    seen = []
    for event in watch.Watch().stream(
        apps.list_namespaced_deployment, NS, field_selector="metadata.name=web", timeout_seconds=5
    ):
        seen.append((event["type"], event["object"].spec.replicas, event["object"].status.ready_replicas))
        if event["type"] == "ADDED":
            # Another writer, while the watch is open.
            cluster.patch_deployment(NS, "web", MERGE_PATCH, {"spec": {"replicas": 4}})
        elif event["object"].status.ready_replicas == 4:
            break

    assert seen[0] == ("ADDED", 2, 2)
    assert seen[1] == ("MODIFIED", 4, 2)
    assert seen[-1] == ("MODIFIED", 4, 4)


def test_a_watch_from_a_forgotten_resource_version_is_gone(tmp_path):
    cluster = Cluster(history=3)
    cluster.add_node("node-1")
    add_deployment(cluster, NS, "web", images=["shop/web:1"])
    with Simulator(cluster) as simulator:
        api = config.new_client_from_config(config_file=str(simulator.write_kubeconfig(tmp_path / "kubeconfig")))
        deployments = client.AppsV1Api(api).list_namespaced_deployment
        with pytest.raises(ApiException) as raised:
            list(watch.Watch().stream(deployments, NS, resource_version="1", timeout_seconds=1))

    assert raised.value.status == 410


def owned_pods(core, name="web") -> list[client.V1Pod]:
    return core.list_namespaced_pod(NS, label_selector=f"app={name}").items


def test_a_new_template_makes_a_new_revision_carrying_the_change_cause(apps, cluster, web):
    cluster.patch_deployment(
        NS,
        "web",
        STRATEGIC_MERGE_PATCH,
        {
            "metadata": {"annotations": {"kubernetes.io/change-cause": "ship 3"}},
            "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "shop/web:3"}]}}},
        },
    )

    deployment = apps.read_namespaced_deployment("web", NS)
    replica_sets = {rs.metadata.annotations[REVISION]: rs for rs in apps.list_namespaced_replica_set(NS).items}
    assert deployment.metadata.annotations[REVISION] == "3"
    assert replica_sets["3"].metadata.annotations["kubernetes.io/change-cause"] == "ship 3"
    assert (replica_sets["3"].spec.replicas, replica_sets["2"].spec.replicas, replica_sets["1"].spec.replicas) == (
        2,
        0,
        0,
    )
    assert deployment.status.observed_generation == deployment.metadata.generation
    assert (deployment.status.updated_replicas, deployment.status.available_replicas) == (2, 2)
    progressing = next(c for c in deployment.status.conditions if c.type == "Progressing")
    assert progressing.reason == "NewReplicaSetAvailable"


def test_going_back_to_an_old_template_reuses_its_replica_set_at_the_next_revision(apps, cluster, web):
    first = {rs.metadata.annotations[REVISION]: rs.metadata.name for rs in apps.list_namespaced_replica_set(NS).items}[
        "1"
    ]
    back = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "shop/web:1"}]}}}}

    cluster.patch_deployment(NS, "web", STRATEGIC_MERGE_PATCH, back)

    reused = apps.read_namespaced_replica_set(first, NS)
    assert reused.metadata.annotations[REVISION] == "3"
    assert reused.metadata.annotations["deployment.kubernetes.io/revision-history"] == "1"
    assert revisions(apps) == {2: "shop/web:2", 3: "shop/web:1"}
    assert apps.read_namespaced_deployment("web", NS).metadata.annotations[REVISION] == "3"
    assert {pod.metadata.labels["pod-template-hash"] for pod in owned_pods(client.CoreV1Api(apps.api_client))} == {
        reused.metadata.labels["pod-template-hash"]
    }


def test_a_paused_deployment_does_not_roll_out_until_resumed(apps, cluster, web):
    cluster.patch_deployment(NS, "web", MERGE_PATCH, {"spec": {"paused": True}})
    new_image = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "shop/web:3"}]}}}}

    cluster.patch_deployment(NS, "web", STRATEGIC_MERGE_PATCH, new_image)

    paused = apps.read_namespaced_deployment("web", NS)
    assert revisions(apps) == {1: "shop/web:1", 2: "shop/web:2"}
    assert next(c for c in paused.status.conditions if c.type == "Progressing").reason == "DeploymentPaused"
    cluster.patch_deployment(NS, "web", MERGE_PATCH, {"spec": {"paused": None}})
    assert revisions(apps)[3] == "shop/web:3"


def test_held_pods_make_a_rollout_lag_until_released(apps, core, cluster, web):
    cluster.hold_pods = True
    cluster.patch_deployment(
        NS,
        "web",
        STRATEGIC_MERGE_PATCH,
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "shop/web:3"}]}}}},
    )

    held = apps.read_namespaced_deployment("web", NS).status
    assert (held.replicas, held.updated_replicas, held.available_replicas) == (4, 2, 2)
    assert sorted(pod.status.phase for pod in owned_pods(core)) == ["Pending", "Pending", "Running", "Running"]

    cluster.release()

    done = apps.read_namespaced_deployment("web", NS).status
    assert (done.replicas, done.updated_replicas, done.available_replicas) == (2, 2, 2)


def test_a_rollout_that_makes_no_progress_exceeds_its_deadline(apps, cluster, clock: ManualClock, web):
    cluster.hold_pods = True
    cluster.patch_deployment(
        NS,
        "web",
        STRATEGIC_MERGE_PATCH,
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "shop/web:3"}]}}}},
    )
    clock.advance(599)
    cluster.step()
    assert (
        next(c for c in apps.read_namespaced_deployment("web", NS).status.conditions if c.type == "Progressing").status
        == "True"
    )

    clock.advance(2)
    cluster.step()

    progressing = next(
        c for c in apps.read_namespaced_deployment("web", NS).status.conditions if c.type == "Progressing"
    )
    assert (progressing.status, progressing.reason) == ("False", "ProgressDeadlineExceeded")


def test_old_replica_sets_beyond_the_history_limit_are_removed(apps, cluster):
    add_deployment(cluster, NS, "web", images=[f"shop/web:{n}" for n in range(1, 6)])
    cluster.patch_deployment(NS, "web", MERGE_PATCH, {"spec": {"revisionHistoryLimit": 2}})

    assert revisions(apps) == {3: "shop/web:3", 4: "shop/web:4", 5: "shop/web:5"}


def test_the_command_serves_the_demo_and_writes_a_kubeconfig(settings, tmp_path):
    """Ctrl-C stops it, even started as a shell's background job is (with SIGINT ignored)."""
    kubeconfig, port = tmp_path / "kubeconfig-sim.yaml", free_port()
    env = {"PATH": os.environ["PATH"], "DEBUG": "1", "PORTAL_VAR_DIR": str(tmp_path), "PORTAL_ENV_FILE": ""}
    command = [sys.executable, "manage.py", "kube_simulator", "--port", str(port), "--seed", "demo"]
    process = subprocess.Popen(
        [*command, "--kubeconfig", str(kubeconfig)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    try:
        banner = process.stdout.readline()
        settings.KUBECONFIG = str(kubeconfig)
        kube._api_client.cache_clear()

        assert banner == f"SIMULATED Kubernetes API (not a real cluster) on https://127.0.0.1:{port}\n"
        assert kube.server_version().git_version == "v1.31.0+portal-simulator"
        history = kube.rollout_history("broxiva-production", "broxiva-api")
        assert [entry.images[0].rsplit(":", 1)[1] for entry in history] == ["2.3.0", "2.4.0", "2.4.1"]
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
        kube._api_client.cache_clear()
    assert rest.endswith("Simulator stopped.\n")
    assert process.returncode == 0
    assert kubeconfig.read_text().startswith("# A SIMULATED cluster")
    authority = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["certificate-authority-data"]
    assert base64.b64decode(authority) == (tmp_path / "kubesim-tls" / "ca.crt").read_bytes(), "kept for restarts"


def test_a_denied_verb_is_rbacs_403_status(simulator, apps, core, web):
    simulator.deny("list", "deployments")
    simulator.deny("patch", "nodes")

    with pytest.raises(ApiException) as listed:
        apps.list_namespaced_deployment(NS)
    with pytest.raises(ApiException) as patched:
        core.patch_node("node-1", {"spec": {"unschedulable": True}})

    assert status_of(listed)["reason"] == "Forbidden"
    assert status_of(listed)["message"] == (
        'deployments.apps is forbidden: User "portal-simulator" cannot list resource "deployments" '
        'in API group "apps" in the namespace "shop"'
    )
    assert status_of(patched)["message"] == (
        'nodes "node-1" is forbidden: User "portal-simulator" cannot patch resource "nodes" in API group "" '
        "at the cluster scope"
    )
    assert apps.read_namespaced_deployment("web", NS).metadata.name == "web", "other verbs still pass"
