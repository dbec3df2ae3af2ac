"""Each adapter function end to end: the real client over HTTPS against the simulator, nothing mocked."""

import base64
import threading
from datetime import UTC, datetime

import pytest
import yaml

from portal import kube
from portal.kubesim import Cluster, ManualClock, Simulator
from portal.kubesim.patching import MERGE_PATCH, STRATEGIC_MERGE_PATCH
from portal.kubesim.seed import add_daemonset, add_deployment, add_pod

NS = "shop"
FAST = 0.05  # seconds between drain retries and checks: the simulator answers at once


@pytest.fixture
def web(cluster, simulator):
    """Three revisions: shop/web:1, :2 and :3 (current), with change-causes."""
    images = ["shop/web:1", "shop/web:2", "shop/web:3"]
    return add_deployment(cluster, NS, "web", images=images, change_causes=["ship 1", "ship 2", "ship 3"], replicas=2)


def new_image(cluster, image: str) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}
    cluster.patch_deployment(NS, "web", STRATEGIC_MERGE_PATCH, patch)


def stored(cluster, name: str = "web") -> dict:
    return cluster.get("deployments", NS, name)


def pods_on(cluster, node: str) -> set[str]:
    listed = cluster.list_objects("pods", field_selector=f"spec.nodeName={node}")["items"]
    return {f"{pod['metadata']['namespace']}/{pod['metadata']['name']}" for pod in listed}


def web_pods_on(cluster, node: str) -> set[str]:
    return {pod for pod in pods_on(cluster, node) if pod.startswith(f"{NS}/web-")}


def node_running_web(cluster) -> str:
    """Where the scheduler put a web pod: the node worth draining."""
    pods = cluster.list_objects("pods", namespace=NS, label_selector="app=web")["items"]
    return sorted(pod["spec"]["nodeName"] for pod in pods)[0]


def test_server_version(simulator):
    assert kube.server_version() == kube.ServerVersion(git_version="v1.31.0+portal-simulator", platform="simulated")


def test_an_unreachable_api_server_is_kube_unavailable(simulator, settings):
    settings.KUBE_REQUEST_TIMEOUT = 1
    simulator.stop()

    with pytest.raises(kube.KubeUnavailable, match="The Kubernetes API did not answer"):
        kube.server_version()


def test_without_a_kubeconfig_nothing_is_configured(settings, tmp_path):
    settings.KUBECONFIG = ""
    with pytest.raises(kube.KubernetesNotConfigured, match="KUBECONFIG is not set"):
        kube.scale(NS, "web", 3)

    settings.KUBECONFIG = str(tmp_path / "missing.yaml")
    with pytest.raises(kube.KubernetesNotConfigured, match="Invalid kube-config file"):
        kube.scale(NS, "web", 3)


def test_scale_patches_the_scale_subresource(cluster, web):
    result = kube.scale(NS, "web", 4)

    assert result == kube.ScaleResult(NS, "web", replicas_before=2, replicas_after=4, dry_run=False)
    assert stored(cluster)["spec"]["replicas"] == 4
    assert stored(cluster)["status"]["availableReplicas"] == 4


def test_a_dry_run_scale_changes_nothing(cluster, web):
    version = stored(cluster)["metadata"]["resourceVersion"]

    result = kube.scale(NS, "web", 7, dry_run=True)

    assert (result.replicas_before, result.replicas_after, result.dry_run) == (2, 7, True)
    assert stored(cluster)["metadata"]["resourceVersion"] == version


def test_scale_with_an_expected_count_replaces_with_the_version_read(cluster, web):
    assert kube.scale(NS, "web", 5, expected_replicas=2).replicas_after == 5
    assert stored(cluster)["spec"]["replicas"] == 5


def test_scale_refuses_when_the_expected_count_does_not_hold(cluster, web):
    with pytest.raises(kube.KubeConflict, match="Expected replicas to be 3, was 2"):
        kube.scale(NS, "web", 5, expected_replicas=3)

    assert stored(cluster)["spec"]["replicas"] == 2


def test_scale_conflicts_when_someone_scales_between_the_read_and_the_write(cluster, simulator, web):
    def someone_else() -> None:
        cluster.patch_scale(NS, "web", MERGE_PATCH, {"spec": {"replicas": 9}})

    simulator.interleave("GET", f"/apis/apps/v1/namespaces/{NS}/deployments/web/scale", someone_else)

    with pytest.raises(kube.KubeConflict, match="the object has been modified") as raised:
        kube.scale(NS, "web", 5, expected_replicas=2)

    assert raised.value.status == 409
    assert stored(cluster)["spec"]["replicas"] == 9


def test_scaling_a_missing_deployment_is_not_found(web):
    with pytest.raises(kube.KubeNotFound, match='deployments.apps "nope" not found'):
        kube.scale(NS, "nope", 1)


def test_rollout_restart_stamps_the_template_and_rolls_the_pods(cluster, web):
    pods_before = {pod["metadata"]["name"] for pod in cluster.list_objects("pods", namespace=NS)["items"]}

    result = kube.rollout_restart(NS, "web", now=datetime(2026, 3, 1, 12, 30, tzinfo=UTC))

    assert result.restarted_at == "2026-03-01T12:30:00Z"
    assert (result.before.restarted_at, result.after.restarted_at) == ("", "2026-03-01T12:30:00Z")
    assert result.after.generation == result.before.generation + 1
    annotations = stored(cluster)["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"kubectl.kubernetes.io/restartedAt": "2026-03-01T12:30:00Z"}
    assert [r.revision for r in kube.rollout_history(NS, "web")] == [1, 2, 3, 4]
    pods_after = {pod["metadata"]["name"] for pod in cluster.list_objects("pods", namespace=NS)["items"]}
    assert len(pods_after) == 2
    assert not pods_before & pods_after


def test_a_dry_run_restart_previews_without_storing(cluster, web):
    generation = stored(cluster)["metadata"]["generation"]

    result = kube.rollout_restart(NS, "web", now=datetime(2026, 3, 1, tzinfo=UTC), dry_run=True)

    assert result.after.restarted_at == "2026-03-01T00:00:00Z"
    assert stored(cluster)["metadata"]["generation"] == generation


def test_restart_needs_an_aware_time(web):
    with pytest.raises(ValueError, match="timezone-aware"):
        kube.rollout_restart(NS, "web", now=datetime(2026, 3, 1))  # noqa: DTZ001 - the point of the test


def pause(cluster) -> None:
    cluster.patch_deployment(NS, "web", MERGE_PATCH, {"spec": {"paused": True}})


def test_a_paused_deployment_is_neither_restarted_nor_rolled_back(cluster, web):
    pause(cluster)
    version = stored(cluster)["metadata"]["resourceVersion"]

    with pytest.raises(kube.DeploymentPaused, match="can't restart paused deployment"):
        kube.rollout_restart(NS, "web", now=datetime(2026, 3, 1, tzinfo=UTC))
    with pytest.raises(kube.DeploymentPaused, match="you cannot rollback a paused deployment"):
        kube.rollout_undo(NS, "web")

    assert stored(cluster)["metadata"]["resourceVersion"] == version


def test_undo_goes_to_the_second_highest_revision_and_renumbers_it(cluster, web):
    first = kube.rollout_undo(NS, "web")

    assert (first.to_revision, first.changed, first.message) == (2, True, "rolled back to revision 2")
    assert (first.before.images, first.after.images) == (("shop/web:3",), ("shop/web:2",))
    assert first.after.change_cause == "ship 2"
    history = kube.rollout_history(NS, "web")
    assert [(r.revision, r.images) for r in history] == [
        (1, ("shop/web:1",)),
        (3, ("shop/web:3",)),
        (4, ("shop/web:2",)),
    ]

    # Revisions are now 1, 3, 4: the next undo goes to 3, not to the revision numbered one less than 3.
    second = kube.rollout_undo(NS, "web")

    assert (second.to_revision, second.after.images) == (3, ("shop/web:3",))
    assert [r.revision for r in kube.rollout_history(NS, "web")] == [1, 4, 5]
    assert stored(cluster)["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "5"


def test_undo_to_a_chosen_revision(cluster, web):
    result = kube.rollout_undo(NS, "web", to_revision=1)

    assert (result.to_revision, result.after.images, result.after.change_cause) == (1, ("shop/web:1",), "ship 1")
    assert stored(cluster)["spec"]["template"]["spec"]["containers"][0]["image"] == "shop/web:1"
    latest = kube.rollout_history(NS, "web")[-1]
    assert (latest.revision, latest.change_cause, latest.images) == (4, "ship 1", ("shop/web:1",))


def test_undo_to_a_revision_that_is_not_there(web):
    with pytest.raises(kube.RevisionNotFound, match="unable to find specified revision 9 in history"):
        kube.rollout_undo(NS, "web", to_revision=9)


def test_undo_to_the_current_template_does_nothing(cluster, web):
    version = stored(cluster)["metadata"]["resourceVersion"]

    result = kube.rollout_undo(NS, "web", to_revision=3)

    assert (result.changed, result.message) == (False, "skipped rollback (current template already matches revision 3)")
    assert result.after == result.before
    assert stored(cluster)["metadata"]["resourceVersion"] == version


def test_a_dry_run_undo_previews_without_storing(cluster, web):
    result = kube.rollout_undo(NS, "web", dry_run=True)

    assert (result.after.images, result.dry_run) == (("shop/web:2",), True)
    assert stored(cluster)["spec"]["template"]["spec"]["containers"][0]["image"] == "shop/web:3"


def test_undo_keeps_template_fields_this_client_version_does_not_know(cluster, simulator):
    """The typed models would drop `futureField`; the adapter reads and writes the template raw."""
    container = {"name": "web", "image": "shop/web:1", "futureField": {"keep": True}}
    cluster.create_deployment(
        {
            "metadata": {"name": "web", "namespace": NS},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}},
            },
        }
    )
    new_image(cluster, "shop/web:2")

    kube.rollout_undo(NS, "web")

    restored = stored(cluster)["spec"]["template"]["spec"]["containers"][0]
    assert (restored["image"], restored["futureField"]) == ("shop/web:1", {"keep": True})


def test_rollout_history_lists_revisions_with_their_change_cause(web):
    history = kube.rollout_history(NS, "web")

    assert [(r.revision, r.change_cause, r.images) for r in history] == [
        (1, "ship 1", ("shop/web:1",)),
        (2, "ship 2", ("shop/web:2",)),
        (3, "ship 3", ("shop/web:3",)),
    ]
    assert all(r.replica_set.startswith("web-") for r in history)


def test_rollout_status_of_a_finished_rollout(web):
    status = kube.rollout_status(NS, "web", timeout_seconds=5)

    assert status.message == 'deployment "web" successfully rolled out'
    assert (status.deployment.updated_replicas, status.deployment.available_replicas) == (2, 2)


def test_rollout_status_waits_for_the_rollout_to_finish(cluster, web):
    cluster.hold_pods = True
    new_image(cluster, "shop/web:4")
    threading.Timer(0.3, cluster.release).start()

    status = kube.rollout_status(NS, "web", timeout_seconds=10)

    assert status.message == 'deployment "web" successfully rolled out'
    assert status.deployment.images == ("shop/web:4",)


def test_rollout_status_times_out(cluster, web):
    cluster.hold_pods = True
    new_image(cluster, "shop/web:4")

    with pytest.raises(kube.RolloutTimeout) as raised:
        kube.rollout_status(NS, "web", timeout_seconds=1)

    assert raised.value.message == (
        'timed out after 1s waiting for the rollout: Waiting for deployment "web" rollout to finish: '
        "2 old replicas are pending termination..."
    )


def test_rollout_status_fails_when_the_progress_deadline_passes(cluster, clock: ManualClock, web):
    cluster.hold_pods = True
    new_image(cluster, "shop/web:4")

    def deadline_passes() -> None:
        clock.advance(601)
        cluster.step()

    threading.Timer(0.3, deadline_passes).start()

    with pytest.raises(kube.RolloutFailed, match='deployment "web" exceeded its progress deadline'):
        kube.rollout_status(NS, "web", timeout_seconds=10)


def test_rollout_status_of_a_missing_deployment(simulator):
    with pytest.raises(kube.KubeNotFound):
        kube.rollout_status(NS, "nope", timeout_seconds=1)


def test_cordon_and_uncordon(cluster, simulator):
    assert kube.cordon("node-1") == kube.NodeResult("node-1", unschedulable_before=False, unschedulable_after=True)
    assert kube.cordon("node-1").changed is False
    assert cluster.get("nodes", "", "node-1")["spec"]["unschedulable"] is True

    uncordoned = kube.uncordon("node-1")

    assert (uncordoned.changed, uncordoned.unschedulable_after) == (True, False)
    assert "unschedulable" not in cluster.get("nodes", "", "node-1")["spec"]
    with pytest.raises(kube.KubeNotFound):
        kube.cordon("node-9")


def test_drain_evicts_replicated_pods_and_leaves_daemon_set_and_mirror_pods(cluster, web):
    node = node_running_web(cluster)
    add_daemonset(cluster, "kube-system", "kube-proxy", image="kube-proxy:1")
    add_pod(cluster, "kube-system", f"etcd-{node}", node=node, mirror=True)
    web_pods = web_pods_on(cluster, node)
    progress: list[kube.DrainProgress] = []

    result = kube.drain(
        node, grace_period_seconds=0, timeout_seconds=10, on_progress=progress.append, poll_seconds=FAST
    )

    assert result.cordoned.changed is True
    assert web_pods
    assert set(result.evicted) == web_pods
    assert result.warnings == (f"ignoring DaemonSet-managed Pods: kube-system/kube-proxy-{node}",)
    assert pods_on(cluster, node) == {f"kube-system/etcd-{node}", f"kube-system/kube-proxy-{node}"}
    assert {(p.kind, p.pod) for p in progress} == {("evicted", pod) for pod in web_pods} | {
        ("gone", pod) for pod in web_pods
    }
    assert stored(cluster)["status"]["availableReplicas"] == 2, "the replacements run on the other nodes"


def test_drain_retries_while_a_disruption_budget_refuses(cluster, web):
    kube.scale(NS, "web", 3)
    cluster.add_budget(NS, "web", match_labels={"app": "web"}, min_available=3)
    refusals: list[kube.DrainProgress] = []

    def on_progress(progress: kube.DrainProgress) -> None:
        if progress.kind == "retrying":
            refusals.append(progress)
            if len(refusals) == 2:
                # Someone adds a replica: the budget can now spare one.
                cluster.patch_deployment(NS, "web", MERGE_PATCH, {"spec": {"replicas": 4}})

    node = node_running_web(cluster)
    web_pods = web_pods_on(cluster, node)

    result = kube.drain(node, grace_period_seconds=0, timeout_seconds=10, on_progress=on_progress, poll_seconds=FAST)

    assert len(refusals) == 2
    assert "Cannot evict pod as it would violate the pod's disruption budget." in refusals[0].message
    assert set(result.evicted) == web_pods
    assert not web_pods_on(cluster, node)


def test_drain_gives_up_when_a_disruption_budget_never_allows(cluster, web):
    cluster.add_budget(NS, "web", match_labels={"app": "web"}, min_available=2)

    with pytest.raises(kube.DrainTimeout, match="disruption budget"):
        kube.drain(node_running_web(cluster), grace_period_seconds=0, timeout_seconds=0.3, poll_seconds=FAST)


def test_drain_refuses_daemon_set_pods_unless_ignored(cluster, web):
    add_daemonset(cluster, "kube-system", "kube-proxy", image="kube-proxy:1")
    before = pods_on(cluster, "node-1")

    with pytest.raises(kube.DrainBlocked) as raised:
        kube.drain("node-1", grace_period_seconds=0, timeout_seconds=5, ignore_daemonsets=False)

    assert raised.value.message == (
        "cannot drain node node-1: cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): "
        "kube-system/kube-proxy-node-1"
    )
    assert pods_on(cluster, "node-1") == before, "nothing was evicted"
    assert cluster.get("nodes", "", "node-1")["spec"]["unschedulable"] is True, (
        "the node stays cordoned, as with kubectl"
    )


def test_drain_refuses_an_unreplicated_pod_unless_forced(cluster, web):
    add_pod(cluster, "batch", "one-off", node="node-1")

    with pytest.raises(
        kube.DrainBlocked, match=r"Pods declare no controller \(use --force to override\): batch/one-off"
    ):
        kube.drain("node-1", grace_period_seconds=0, timeout_seconds=5)
    forced = kube.drain("node-1", grace_period_seconds=0, timeout_seconds=5, force=True, poll_seconds=FAST)

    assert "batch/one-off" in forced.evicted
    assert forced.warnings == ("deleting Pods that declare no controller: batch/one-off",)
    assert "batch/one-off" not in pods_on(cluster, "node-1")


def test_drain_refuses_local_storage_unless_allowed(cluster, simulator):
    owner = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "cache", "uid": "cache-uid"}
    add_pod(cluster, "shop", "cache-0", node="node-2", owner=owner, empty_dir=True)

    with pytest.raises(kube.DrainBlocked, match=r"Pods with local storage \(use --delete-emptydir-data to override\)"):
        kube.drain("node-2", grace_period_seconds=0, timeout_seconds=5)
    allowed = kube.drain(
        "node-2", grace_period_seconds=0, timeout_seconds=5, delete_emptydir_data=True, poll_seconds=FAST
    )

    assert allowed.evicted == ("shop/cache-0",)


def test_drain_waits_for_evicted_pods_to_terminate(settings, tmp_path, clock):
    """With a grace period pods stay Terminating until the controllers run again (here in the background)."""
    cluster = Cluster(clock=clock)
    for node in ("node-1", "node-2"):
        cluster.add_node(node)
    add_deployment(cluster, NS, "web", images=["shop/web:1"], replicas=2)
    with Simulator(cluster, tick=FAST) as ticking:
        settings.KUBECONFIG = str(ticking.write_kubeconfig(tmp_path / "kubeconfig"))
        kube._api_client.cache_clear()
        gone: list[str] = []

        result = kube.drain(
            "node-1",
            grace_period_seconds=30,
            timeout_seconds=10,
            on_progress=lambda p: gone.append(p.pod) if p.kind == "gone" else None,
            poll_seconds=FAST,
        )
    kube._api_client.cache_clear()

    assert result.evicted
    assert set(gone) == set(result.evicted)


def test_drain_times_out_while_pods_are_still_terminating(cluster, web):
    with pytest.raises(kube.DrainTimeout, match="timed out waiting for pods to terminate: shop/web-"):
        kube.drain(node_running_web(cluster), grace_period_seconds=30, timeout_seconds=0.3, poll_seconds=FAST)


def test_drain_reads_every_page_of_pods(cluster, web):
    node = node_running_web(cluster)
    owner = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "many", "uid": "many-uid"}
    for number in range(kube.DRAIN_PAGE_SIZE + 5):
        add_pod(cluster, "many", f"many-{number:04d}", node=node, owner=owner)

    result = kube.drain(node, grace_period_seconds=0, timeout_seconds=10, poll_seconds=FAST)

    (warning,) = result.warnings
    assert warning.count("many/many-") == kube.DRAIN_PAGE_SIZE + 5
    assert set(result.evicted) == {pod for pod in result.evicted if pod.startswith(f"{NS}/web-")} != set()


def test_a_refusal_by_rbac_is_kube_forbidden_with_the_servers_words(cluster, simulator, web):
    simulator.deny("patch", "deployments/scale")

    with pytest.raises(kube.KubeForbidden) as raised:
        kube.scale(NS, "web", 5)

    assert raised.value.status == 403
    assert raised.value.message == (
        'deployments.apps "web" is forbidden: User "portal-simulator" cannot patch resource "deployments/scale" '
        'in API group "apps" in the namespace "shop"'
    )
    assert stored(cluster)["spec"]["replicas"] == 2
    assert kube.read_deployment(NS, "web").replicas == 2, "reading is still allowed"


def test_using_context_sends_calls_to_that_clusters_context(simulator, settings, tmp_path, web):
    """Two contexts in one kubeconfig: the default one points nowhere, `sim` at the simulator."""
    config_text = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "sim",
                "cluster": {
                    "server": simulator.url,
                    "certificate-authority-data": base64.b64encode(simulator.certificates.ca).decode(),
                },
            },
            {"name": "gone", "cluster": {"server": "http://127.0.0.1:9"}},
        ],
        "users": [{"name": "sim", "user": {"token": simulator.token}}],
        "contexts": [
            {"name": "sim", "context": {"cluster": "sim", "user": "sim"}},
            {"name": "gone", "context": {"cluster": "gone", "user": "sim"}},
        ],
        "current-context": "gone",
    }
    path = tmp_path / "two-contexts.yaml"
    path.write_text(yaml.safe_dump(config_text))
    settings.KUBECONFIG, settings.KUBE_REQUEST_TIMEOUT = str(path), 1
    kube._api_client.cache_clear()

    with kube.using_context("sim"):
        assert kube.read_deployment(NS, "web").replicas == 2
    with pytest.raises(kube.KubeUnavailable):
        kube.read_deployment(NS, "web")
    with kube.using_context("nope"), pytest.raises(kube.KubernetesNotConfigured, match="context nope"):
        kube.read_deployment(NS, "web")


def test_read_deployment_and_node(cluster, web):
    state = kube.read_deployment(NS, "web")

    assert (state.replicas, state.revision, state.images, state.change_cause) == (2, 3, ("shop/web:3",), "ship 3")
    assert kube.read_node("node-1") == kube.NodeState("node-1", unschedulable=False, ready=True)
    with pytest.raises(kube.KubeNotFound, match='nodes "node-9" not found'):
        kube.read_node("node-9")


def test_drain_preview_says_what_a_drain_would_do_and_changes_nothing(cluster, web):
    node = node_running_web(cluster)
    add_daemonset(cluster, "kube-system", "kube-proxy", image="kube-proxy:1")
    add_pod(cluster, "kube-system", f"etcd-{node}", node=node, mirror=True)

    preview = kube.drain_preview(node)

    assert set(preview.evict) == web_pods_on(cluster, node)
    assert preview.warnings == (f"ignoring DaemonSet-managed Pods: kube-system/kube-proxy-{node}",)
    assert (preview.errors, preview.unschedulable) == ((), False)
    assert "unschedulable" not in cluster.get("nodes", "", node)["spec"]
    bare = kube.drain_preview(node, ignore_daemonsets=False)
    assert bare.errors == (
        f"DaemonSet-managed Pods (use --ignore-daemonsets to ignore): kube-system/kube-proxy-{node}",
    )
