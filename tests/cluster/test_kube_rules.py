"""The adapter's pure decisions, with the table cases of kubectl's own tests ported.

Sources: kubectl pkg/polymorphichelpers rollback_test.go, rollout_status_test.go and history_test.go,
pkg/drain/filters_test.go, and the deployment controller's TestEqualIgnoreHash (which kubectl's rollback relies on).
"""

import pytest

from portal import kube
from portal.kube import DrainOptions, PodDeleteStatus

REVISION = "deployment.kubernetes.io/revision"


def replica_set(revision: int | str | None, name: str = "", image: str = "nginx", **annotations: str) -> dict:
    if revision is not None:
        annotations[REVISION] = str(revision)
    return {
        "metadata": {"name": name or f"rs-{revision}", "annotations": annotations},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
    }


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"matchLabels": {"app": "web"}}, "app=web"),
        ({"matchLabels": {"tier": "edge", "app": "web"}}, "app=web,tier=edge"),
        (
            {
                "matchLabels": {"app": "api"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["edge", "backend"]}],
            },
            "app=api,tier in (backend,edge)",
        ),
        ({"matchExpressions": [{"key": "canary", "operator": "NotIn", "values": ["true"]}]}, "canary notin (true)"),
        (
            {
                "matchExpressions": [
                    {"key": "legacy", "operator": "DoesNotExist"},
                    {"key": "app", "operator": "Exists"},
                ]
            },
            "app,!legacy",
        ),
    ],
)
def test_label_selector_string(selector, expected):
    assert kube.label_selector_string(selector) == expected


def test_an_unknown_selector_operator_is_an_error():
    with pytest.raises(kube.KubeError, match="'Near' is not a valid label selector operator"):
        kube.label_selector_string({"matchExpressions": [{"key": "a", "operator": "Near", "values": ["b"]}]})


def test_owned_replica_sets_are_those_the_deployment_controls():
    deployment = {"metadata": {"uid": "d-1"}}
    controlled = {"metadata": {"name": "a", "ownerReferences": [{"uid": "d-1", "controller": True}]}}
    merely_owned = {"metadata": {"name": "b", "ownerReferences": [{"uid": "d-1"}]}}
    someone_elses = {"metadata": {"name": "c", "ownerReferences": [{"uid": "d-2", "controller": True}]}}
    orphan = {"metadata": {"name": "d"}}

    owned = kube.owned_replica_sets(deployment, [controlled, merely_owned, someone_elses, orphan])

    assert owned == [controlled]


@pytest.mark.parametrize(
    ("revisions", "to_revision", "expected"),
    [
        pytest.param([1, 2, 3], None, 2, id="previous revision"),
        pytest.param([1, 3, 4], None, 3, id="an undo left a gap: second-highest, not current-1's neighbour"),
        pytest.param([1, 5, 9], None, 5, id="gaps everywhere"),
        pytest.param([9, 1, 5], None, 5, id="order of the list does not matter"),
        pytest.param([1, None, 2, "x", 3], None, 2, id="ReplicaSets without a valid revision are not history"),
        pytest.param([1, 2, 3], 0, 2, id="revision 0 means the previous one, as in kubectl"),
        pytest.param([1, 3, 4], 1, 1, id="a chosen revision"),
        pytest.param([1, 3, 4], 4, 4, id="the current revision may be chosen (and then is a no-op)"),
    ],
)
def test_rollback_target(revisions, to_revision, expected):
    target = kube.rollback_target([replica_set(r) for r in revisions], to_revision, deployment_name="web")

    assert kube.revision_of(target) == expected


def test_two_replica_sets_with_the_same_highest_revision_make_the_second_the_previous():
    first, second = replica_set(3, name="first"), replica_set(3, name="second")

    target = kube.rollback_target([replica_set(1), first, second], None, deployment_name="web")

    assert target is second


@pytest.mark.parametrize(
    ("revisions", "to_revision", "message"),
    [
        ([1, 2], 7, "unable to find specified revision 7 in history"),
        ([1, 2], -1, "unable to find specified revision -1 in history"),
        ([1], None, 'no rollout history found for deployment "web"'),
        ([], None, 'no rollout history found for deployment "web"'),
    ],
)
def test_rollback_target_errors(revisions, to_revision, message):
    with pytest.raises(kube.RevisionNotFound) as raised:
        kube.rollback_target([replica_set(r) for r in revisions], to_revision, deployment_name="web")

    assert raised.value.message == message


def pod_template(name: str, node_name: str, annotations: dict, labels: dict) -> dict:
    """The deployment controller test's generatePodTemplateSpec."""
    return {
        "metadata": {"name": name, "annotations": annotations, "labels": labels},
        "spec": {"nodeName": node_name},
    }


HASH = "pod-template-hash"


@pytest.mark.parametrize(
    ("former", "latter", "expected"),
    [
        pytest.param(
            pod_template("foo", "foo-node", {}, {HASH: "value-1", "something": "else"}),
            pod_template("foo", "foo-node", {}, {HASH: "value-1", "something": "else"}),
            True,
            id="Same spec, same labels",
        ),
        pytest.param(
            pod_template("foo", "foo-node", {}, {HASH: "value-1", "something": "else"}),
            pod_template("foo", "foo-node", {}, {HASH: "value-2", "something": "else"}),
            True,
            id="Same spec, only pod-template-hash label value is different",
        ),
        pytest.param(
            pod_template("foo", "foo-node", {}, {"something": "else"}),
            pod_template("foo", "foo-node", {}, {HASH: "value-2", "something": "else"}),
            True,
            id="Same spec, the former doesn't have pod-template-hash label",
        ),
        pytest.param(
            pod_template("foo", "foo-node", {}, {"something": "else"}),
            pod_template("foo", "foo-node", {}, {HASH: "value-2"}),
            False,
            id="Same spec, the label is different, the former has no pod-template-hash label, same number of labels",
        ),
        pytest.param(
            pod_template("foo", "foo-node", {}, {HASH: "value-1"}),
            pod_template("foo", "foo-node", {}, {"something": "else"}),
            False,
            id="Same spec, the label is different, the latter has no pod-template-hash label, same number of labels",
        ),
        pytest.param(
            pod_template("foo", "foo-node", {}, {HASH: "value-1"}),
            pod_template("foo", "foo-node", {}, {HASH: "value-1", "something": "else"}),
            False,
            id="Same spec, the label is different, and the pod-template-hash label value is the same",
        ),
        pytest.param(
            pod_template("foo", "foo-node", {"former": "value"}, {HASH: "value-1", "something": "else"}),
            pod_template("foo", "foo-node", {"latter": "value"}, {HASH: "value-1", "something": "else"}),
            False,
            id="Different spec, same labels",
        ),
        pytest.param(
            pod_template("foo-1", "foo-node", {}, {HASH: "value-1", "something": "else"}),
            pod_template("foo-2", "foo-node", {}, {HASH: "value-2", "something": "else"}),
            False,
            id="Different spec, different pod-template-hash label value",
        ),
        pytest.param(
            pod_template("foo-1", "foo-node-1", {}, {"something": "else"}),
            pod_template("foo-2", "foo-node-2", {}, {HASH: "value-2", "something": "else"}),
            False,
            id="Different spec, the former doesn't have pod-template-hash label",
        ),
        pytest.param(
            pod_template("foo", "foo-node-1", {}, {"something": "else"}),
            pod_template("foo", "foo-node-2", {}, {"nothing": "else"}),
            False,
            id="Different spec, different labels",
        ),
        pytest.param(
            {
                "metadata": {"labels": {"app": "web"}, "annotations": {}},
                "spec": {"containers": [{"name": "a", "env": []}]},
            },
            {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a"}]}},
            True,
            id="Empty and missing are equal, as in semantic equality",
        ),
    ],
)
def test_templates_equal_ignoring_the_hash_label(former, latter, expected):
    assert kube.templates_equal(former, latter) is expected
    assert kube.templates_equal(latter, former) is expected, "in reverse order"
    assert former["metadata"].get("labels") is not None, "the inputs are left alone"


def test_rollback_patch_replaces_template_and_annotations():
    """kubectl's TestGetDeploymentPatch, plus the annotations it keeps from the deployment."""
    deployment = {
        "metadata": {
            "annotations": {
                REVISION: "4",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
                "kubernetes.io/change-cause": "ship 4",
                "team": "shop",
            }
        }
    }
    target = {
        "metadata": {"annotations": {REVISION: "2", "kubernetes.io/change-cause": "ship 2", "a": "true"}},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "web", HASH: "abc"}},
                "spec": {"containers": [{"image": "foo"}]},
            }
        },
    }

    patch = kube.rollback_patch(deployment, target)

    assert patch == [
        {
            "op": "replace",
            "path": "/spec/template",
            "value": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"image": "foo"}]}},
        },
        {
            "op": "replace",
            "path": "/metadata/annotations",
            "value": {
                REVISION: "4",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
                "kubernetes.io/change-cause": "ship 2",
                "a": "true",
            },
        },
    ]
    assert target["spec"]["template"]["metadata"]["labels"][HASH] == "abc", "the ReplicaSet is left alone"


def test_restart_patch_stamps_the_pod_template():
    assert kube.restart_patch("2026-03-01T12:00:00Z") == {
        "spec": {
            "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-03-01T12:00:00Z"}}}
        }
    }


def deployment(generation: int, spec_replicas: int | None, **status: object) -> dict:
    spec = {} if spec_replicas is None else {"replicas": spec_replicas}
    return {"metadata": {"name": "foo", "namespace": "bar", "generation": generation}, "spec": spec, "status": status}


@pytest.mark.parametrize(
    ("generation", "spec_replicas", "status", "message", "done"),
    [
        pytest.param(
            0,
            1,
            {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 0, "availableReplicas": 1},
            'Waiting for deployment "foo" rollout to finish: 0 out of 1 new replicas have been updated...',
            False,
            id="test1",
        ),
        pytest.param(
            1,
            1,
            {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 2},
            'Waiting for deployment "foo" rollout to finish: 1 old replicas are pending termination...',
            False,
            id="test2",
        ),
        pytest.param(
            1,
            2,
            {
                "observedGeneration": 1,
                "replicas": 2,
                "updatedReplicas": 2,
                "availableReplicas": 1,
                "unavailableReplicas": 1,
            },
            'Waiting for deployment "foo" rollout to finish: 1 of 2 updated replicas are available...',
            False,
            id="test3",
        ),
        pytest.param(
            1,
            2,
            {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2},
            'deployment "foo" successfully rolled out',
            True,
            id="test4",
        ),
        pytest.param(
            2,
            2,
            {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2},
            "Waiting for deployment spec update to be observed...",
            False,
            id="test5",
        ),
        pytest.param(
            1,
            0,
            {"observedGeneration": 1},
            'deployment "foo" successfully rolled out',
            True,
            id="zero counts are omitted from the JSON and read as zero",
        ),
        pytest.param(
            1,
            None,
            {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1},
            'deployment "foo" successfully rolled out',
            True,
            id="no spec.replicas: only the status counts",
        ),
    ],
)
def test_rollout_progress(generation, spec_replicas, status, message, done):
    progress = kube.rollout_progress(deployment(generation, spec_replicas, **status))

    assert (progress.message, progress.done, progress.failed) == (message, done, False)


def test_a_progress_deadline_exceeded_is_a_failure():
    stuck = deployment(
        3,
        2,
        observedGeneration=3,
        replicas=3,
        updatedReplicas=1,
        conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}],
    )

    progress = kube.rollout_progress(stuck)

    assert (progress.done, progress.failed) == (False, True)
    assert progress.message == 'deployment "foo" exceeded its progress deadline'


def test_a_deadline_not_yet_observed_is_still_waiting():
    stale = deployment(
        4, 2, observedGeneration=3, conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]
    )

    assert kube.rollout_progress(stale).failed is False


def test_rollout_history_of_a_deployment():
    """kubectl's TestViewDeploymentHistory: revisions 1-4, change-causes on 3 and 4."""
    replica_sets = [
        replica_set(4, name="moons-4", image="foo:4", **{"kubernetes.io/change-cause": "bar change cause"}),
        replica_set(2, name="moons-2", image="foo:2"),
        replica_set(None, name="stray", image="foo:0"),
        replica_set(3, name="moons-3", image="foo:3", **{"kubernetes.io/change-cause": "foo change cause"}),
        replica_set(1, name="moons-1", image="foo:1"),
    ]

    history = kube.rollout_history_of(replica_sets)

    assert history == (
        kube.Revision(1, "", ("foo:1",), "moons-1"),
        kube.Revision(2, "", ("foo:2",), "moons-2"),
        kube.Revision(3, "foo change cause", ("foo:3",), "moons-3"),
        kube.Revision(4, "bar change cause", ("foo:4",), "moons-4"),
    )


def pod(
    *,
    owner_kind: str | None = None,
    controller: bool = True,
    phase: str = "Running",
    deleting: bool = False,
    mirror: bool = False,
    empty_dir: bool = False,
) -> dict:
    metadata: dict = {"name": "pod", "namespace": "default"}
    if owner_kind:
        metadata["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": owner_kind, "name": "bar", "controller": controller}
        ]
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    if mirror:
        metadata["annotations"] = {"kubernetes.io/config.mirror": "hash"}
    spec = {"volumes": [{"name": "scratch", "emptyDir": {}}]} if empty_dir else {}
    return {"metadata": metadata, "spec": spec, "status": {"phase": phase}}


OKAY = PodDeleteStatus(True, "Okay")
SKIP = PodDeleteStatus(False, "Skip")


@pytest.mark.parametrize(
    ("deleting", "expected_delete"),
    [pytest.param(False, True, id="not being deleted"), pytest.param(True, False, id="already being deleted")],
)
def test_skip_deleted_filter(deleting, expected_delete):
    verdict = kube.drain_filter(pod(owner_kind="ReplicaSet", deleting=deleting), DrainOptions())

    assert verdict.delete is expected_delete


@pytest.mark.parametrize(
    ("owner_kind", "ignore_daemonsets", "force", "phase", "expected"),
    [
        ("DaemonSet", True, True, "Running", PodDeleteStatus(False, "Warning", kube.DAEMONSET_WARNING)),
        ("DaemonSet", False, True, "Running", PodDeleteStatus(False, "Error", kube.DAEMONSET_FATAL)),
        ("DaemonSet", False, False, "Running", PodDeleteStatus(False, "Error", kube.DAEMONSET_FATAL)),
        ("DaemonSet", True, False, "Running", PodDeleteStatus(False, "Warning", kube.DAEMONSET_WARNING)),
        ("DaemonSet", True, False, "Failed", OKAY),
        ("ReplicaSet", False, False, "Running", OKAY),
        ("ReplicaSet", True, False, "Running", OKAY),
    ],
)
def test_daemon_set_filter(owner_kind, ignore_daemonsets, force, phase, expected):
    """kubectl's TestDaemonSetFilter."""
    options = DrainOptions(ignore_daemonsets=ignore_daemonsets, force=force)

    assert kube.drain_filter(pod(owner_kind=owner_kind, phase=phase), options) == expected


@pytest.mark.parametrize(
    ("candidate", "options", "expected"),
    [
        pytest.param(pod(owner_kind="Node", mirror=True), DrainOptions(), SKIP, id="mirror pods are skipped"),
        pytest.param(pod(mirror=True), DrainOptions(), SKIP, id="mirror pods are skipped before the controller check"),
        pytest.param(
            pod(owner_kind="ReplicaSet", empty_dir=True),
            DrainOptions(),
            PodDeleteStatus(False, "Error", kube.LOCAL_STORAGE_FATAL),
            id="emptyDir refused",
        ),
        pytest.param(
            pod(owner_kind="ReplicaSet", empty_dir=True),
            DrainOptions(delete_emptydir_data=True),
            OKAY,
            id="emptyDir allowed; the later filter's verdict stands, as in kubectl",
        ),
        pytest.param(
            pod(owner_kind="ReplicaSet", empty_dir=True, phase="Succeeded"),
            DrainOptions(),
            OKAY,
            id="a finished pod's emptyDir does not matter",
        ),
        pytest.param(
            pod(), DrainOptions(), PodDeleteStatus(False, "Error", kube.UNMANAGED_FATAL), id="bare pod refused"
        ),
        pytest.param(
            pod(owner_kind="ReplicaSet", controller=False),
            DrainOptions(),
            PodDeleteStatus(False, "Error", kube.UNMANAGED_FATAL),
            id="an owner that is not the controller does not replicate it",
        ),
        pytest.param(
            pod(),
            DrainOptions(force=True),
            PodDeleteStatus(True, "Warning", kube.UNMANAGED_WARNING),
            id="bare pod forced",
        ),
        pytest.param(pod(phase="Failed"), DrainOptions(), OKAY, id="a finished bare pod may go"),
        pytest.param(
            pod(empty_dir=True),
            DrainOptions(delete_emptydir_data=True),
            PodDeleteStatus(False, "Error", kube.UNMANAGED_FATAL),
            id="emptyDir allowed, still unreplicated",
        ),
        pytest.param(
            pod(owner_kind="DaemonSet", empty_dir=True),
            DrainOptions(ignore_daemonsets=False),
            PodDeleteStatus(False, "Error", kube.DAEMONSET_FATAL),
            id="the DaemonSet filter comes before local storage",
        ),
        pytest.param(pod(owner_kind="StatefulSet"), DrainOptions(), OKAY, id="replicated pods go"),
    ],
)
def test_drain_filters_in_kubectls_order(candidate, options, expected):
    assert kube.drain_filter(candidate, options) == expected


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            kube.scale_command("broxiva-production", "broxiva-api", 5),
            "kubectl -n broxiva-production scale deployment/broxiva-api --replicas=5",
        ),
        (
            kube.scale_command("prod", "api", 5, expected_replicas=3, dry_run=True),
            "kubectl -n prod scale deployment/api --replicas=5 --current-replicas=3 --dry-run=server",
        ),
        (kube.rollout_restart_command("prod", "api"), "kubectl -n prod rollout restart deployment/api"),
        (kube.rollout_undo_command("prod", "api"), "kubectl -n prod rollout undo deployment/api"),
        (
            kube.rollout_undo_command("prod", "api", to_revision=3, dry_run=True),
            "kubectl -n prod rollout undo deployment/api --to-revision=3 --dry-run=server",
        ),
        (
            kube.rollout_status_command("prod", "api", timeout_seconds=90),
            "kubectl -n prod rollout status deployment/api --timeout=90s",
        ),
        (kube.rollout_history_command("prod", "api"), "kubectl -n prod rollout history deployment/api"),
        (kube.cordon_command("node-1"), "kubectl cordon node-1"),
        (kube.uncordon_command("node-1"), "kubectl uncordon node-1"),
        (
            kube.drain_command("node-1", grace_period_seconds=30, timeout_seconds=300),
            "kubectl drain node-1 --ignore-daemonsets --grace-period=30 --timeout=300s",
        ),
        (
            kube.drain_command(
                "node-1",
                grace_period_seconds=-1,
                timeout_seconds=60,
                ignore_daemonsets=False,
                delete_emptydir_data=True,
                force=True,
            ),
            "kubectl drain node-1 --delete-emptydir-data --force --grace-period=-1 --timeout=60s",
        ),
        (kube.scale_command("it's", "x", 1), "kubectl -n 'it'\"'\"'s' scale deployment/x --replicas=1"),
    ],
)
def test_kubectl_equivalents(command, expected):
    assert command == expected
