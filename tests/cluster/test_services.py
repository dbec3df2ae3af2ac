"""Every Kubernetes action end to end: requested through the service, run by the task function, against the
simulator over real HTTP through the official client. Nothing is mocked."""

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.utils import timezone

from incidents.models import Incident, Severity, TimelineEvent
from incidents.services import incident_declare
from portal import kube
from portal.cluster.models import ActionRun
from portal.cluster.services import (
    action_run_approve,
    action_run_cancel,
    action_run_confirm,
    action_run_request,
)
from portal.cluster.tasks import run_action
from portal.errors import ApplicationError, ConflictError, ForbiddenError, UnavailableError, UpstreamError
from portal.kubesim.patching import MERGE_PATCH, STRATEGIC_MERGE_PATCH
from portal.kubesim.seed import add_pod
from tests.cluster.conftest import PROD_NS, STAGING_NS

Status = ActionRun.Status


def request(user, target, kind, *, confirm=True, incident=None, reason="tests", **parameters) -> ActionRun:
    return action_run_request(
        requester=user, target=target, kind=kind, parameters=parameters, reason=reason, incident=incident,
        confirm=confirm,
    )  # fmt: skip


def execute(run: ActionRun) -> ActionRun:
    """What the worker does with the task message."""
    run_action(run.pk, run.requested_by_id)
    run.refresh_from_db()
    return run


def lines(run: ActionRun) -> list[str]:
    return list(run.lines.values_list("message", flat=True))


def replicas(cluster, namespace=PROD_NS) -> int:
    return cluster.get("deployments", namespace, "web")["spec"]["replicas"]


def web_pods_on(cluster, node: str) -> set[str]:
    listed = cluster.list_objects("pods", field_selector=f"spec.nodeName={node}")["items"]
    return {
        f"{p['metadata']['namespace']}/{p['metadata']['name']}"
        for p in listed
        if "/web-" in f"/{p['metadata']['name']}"
    }


def node_running_web(cluster) -> str:
    pods = cluster.list_objects("pods", namespace=PROD_NS, label_selector="app=web")["items"]
    return sorted(pod["spec"]["nodeName"] for pod in pods)[0]


@pytest.fixture
def incident(people) -> Incident:
    return incident_declare(title="Checkout slow", severity=Severity.objects.get(code="P2"), reporter=people.commander)


class TestScale:
    def test_end_to_end_with_audit_and_timeline(self, shop, k8s, people, incident, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks() as callbacks:
            run = request(people.commander, k8s, "scale", namespace=PROD_NS, deployment="web", replicas=4,
                          incident=incident, reason="checkout latency")  # fmt: skip

        assert (run.status, len(callbacks)) == (Status.QUEUED, 1)
        assert run.command == "kubectl -n shop scale deployment/web --replicas=4"
        assert run.expectation.startswith("shop/web goes from 2 to 4 replicas (shop/web:3)")
        run = execute(run)

        assert run.status == Status.SUCCEEDED, run.error
        assert (run.before["replicas"], run.after["replicas"], run.after["images"]) == (2, 4, ["shop/web:3"])
        assert replicas(shop) == 4
        assert lines(run)[1:] == ["scaled shop/web from 2 to 4 replicas", "succeeded: 2 → 4 replicas"]
        assert run.started_at <= run.finished_at
        events = incident.timeline.filter(kind=TimelineEvent.Kind.ACTION).values_list("message", flat=True)
        assert list(events) == [
            f"{run.reference} Scale shop/web on Simulated cluster: requested (checkout latency); queued",
            f"{run.reference} Scale shop/web on Simulated cluster: succeeded: 2 → 4 replicas",
        ]
        worker_entries = LogEntry.objects.get_for_object(run).filter(changes__icontains="running")
        assert {entry.actor for entry in worker_entries} == {people.commander}, "the task acts as the requester"

    def test_beyond_the_targets_bounds_is_refused_before_anything_is_recorded(self, shop, k8s, people):
        with pytest.raises(ApplicationError, match="allows 0 to 10") as refused:
            request(people.commander, k8s, "scale", namespace=PROD_NS, deployment="web", replicas=50)

        assert (refused.value.status_code, refused.value.field) == (400, "replicas")
        assert not ActionRun.objects.exists()

    def test_an_unknown_deployment_is_a_400_naming_the_field(self, shop, k8s, people):
        with pytest.raises(ApplicationError) as refused:
            request(people.commander, k8s, "scale", namespace=PROD_NS, deployment="nope", replicas=1)

        assert (refused.value.status_code, refused.value.field) == (400, "deployment")
        assert refused.value.message == 'Deployment: deployments.apps "nope" not found in Simulated cluster.'
        assert not ActionRun.objects.exists()

    def test_rbac_refusing_the_patch_fails_the_run_with_the_clusters_words(self, shop, k8s, people, simulator):
        run = request(people.responder, k8s, "scale", namespace=STAGING_NS, deployment="web", replicas=3)
        simulator.deny("patch", "deployments/scale")

        run = execute(run)

        assert run.status == Status.FAILED
        assert run.error == (
            'deployments.apps "web" is forbidden: User "portal-simulator" cannot patch resource "deployments/scale" '
            'in API group "apps" in the namespace "shop-staging"'
        )
        assert replicas(shop, STAGING_NS) == 2

    def test_rbac_refusing_the_read_is_a_502_at_request(self, shop, k8s, people, simulator):
        simulator.deny("get", "deployments")

        with pytest.raises(UpstreamError, match="is forbidden") as refused:
            request(people.commander, k8s, "restart", namespace=PROD_NS, deployment="web")
        assert refused.value.status_code == 502

    def test_an_unreachable_api_is_a_503_at_request(self, shop, k8s, people, simulator, settings):
        settings.KUBE_REQUEST_TIMEOUT = 1
        simulator.stop()

        with pytest.raises(UnavailableError, match="The Kubernetes API did not answer") as refused:
            request(people.commander, k8s, "restart", namespace=PROD_NS, deployment="web")
        assert (refused.value.status_code, refused.value.field) == (503, "target")

    def test_an_api_gone_between_request_and_run_fails_the_run(self, shop, k8s, people, simulator, settings):
        settings.KUBE_REQUEST_TIMEOUT = 1
        run = request(people.commander, k8s, "scale", namespace=PROD_NS, deployment="web", replicas=3)
        simulator.stop()
        kube._api_client.cache_clear()  # the worker is another process, without the web's open connections

        run = execute(run)

        assert run.status == Status.FAILED
        assert run.error.startswith("The Kubernetes API did not answer")


class TestRollouts:
    def test_restart(self, shop, k8s, people):
        run = execute(request(people.commander, k8s, "restart", namespace=PROD_NS, deployment="web"))

        assert run.status == Status.SUCCEEDED, run.error
        assert run.before["restarted_at"] == ""
        assert run.after["restarted_at"] == run.result.get("restarted_at", run.after["restarted_at"]) != ""
        assert run.after["generation"] == run.before["generation"] + 1

    def test_a_paused_deployment_is_refused_at_request(self, shop, k8s, people):
        shop.patch_deployment(PROD_NS, "web", MERGE_PATCH, {"spec": {"paused": True}})

        with pytest.raises(ApplicationError, match="is paused") as refused:
            request(people.commander, k8s, "rollback", namespace=PROD_NS, deployment="web")
        assert refused.value.field == "deployment"

    def test_rollback_to_the_previous_revision(self, shop, k8s, people):
        run = request(people.commander, k8s, "rollback", namespace=PROD_NS, deployment="web")

        assert run.expectation == (
            'shop/web goes from revision 3 (shop/web:3) back to revision 2\'s pod template (shop/web:2, "ship 2"), '
            "which becomes revision 4; the pods roll over."
        )
        run = execute(run)
        assert run.status == Status.SUCCEEDED, run.error
        assert (run.before["images"], run.after["images"]) == (["shop/web:3"], ["shop/web:2"])
        assert run.result == {"to_revision": 2, "changed": True}

    def test_rollback_to_a_chosen_revision_and_to_one_that_is_not_there(self, shop, k8s, people):
        run = execute(request(people.commander, k8s, "rollback", namespace=PROD_NS, deployment="web", to_revision=1))
        assert run.after["images"] == ["shop/web:1"]

        with pytest.raises(ApplicationError, match=r"has no revision 9 \(it has 2, 3, 4\)") as refused:
            request(people.commander, k8s, "rollback", namespace=PROD_NS, deployment="web", to_revision=9)
        assert refused.value.field == "to_revision"

    def test_history_is_read_only_and_open_to_responders_in_production(self, shop, k8s, people):
        run = execute(request(people.responder, k8s, "rollout_history", namespace=PROD_NS, deployment="web"))

        assert run.status == Status.SUCCEEDED
        assert [(r["revision"], r["change_cause"]) for r in run.result["revisions"]] == [
            (1, "ship 1"), (2, "ship 2"), (3, "ship 3"),
        ]  # fmt: skip
        assert "revision 3: shop/web:3 ship 3" in lines(run)

    def test_status_of_a_finished_rollout(self, shop, k8s, people):
        run = execute(request(people.responder, k8s, "rollout_status", namespace=PROD_NS, deployment="web"))

        assert (run.status, run.after["available_replicas"]) == (Status.SUCCEEDED, 2)
        assert lines(run)[-1] == 'succeeded: deployment "web" successfully rolled out'

    def test_status_times_out_when_the_rollout_does_not_finish_in_time(self, shop, k8s, people):
        shop.hold_pods = True
        new_image = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "shop/web:4"}]}}}}
        shop.patch_deployment(PROD_NS, "web", STRATEGIC_MERGE_PATCH, new_image)

        run = execute(request(people.responder, k8s, "rollout_status", namespace=PROD_NS, deployment="web",
                              timeout_seconds=1))  # fmt: skip

        assert run.status == Status.TIMED_OUT
        assert run.error.startswith("timed out after 1s waiting for the rollout")

    def test_status_fails_when_the_progress_deadline_is_exceeded(self, shop, k8s, people, clock):
        shop.hold_pods = True
        new_image = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "shop/web:4"}]}}}}
        shop.patch_deployment(PROD_NS, "web", STRATEGIC_MERGE_PATCH, new_image)
        clock.advance(601)
        shop.step()

        run = execute(request(people.responder, k8s, "rollout_status", namespace=PROD_NS, deployment="web"))

        assert (run.status, run.error) == (Status.FAILED, 'deployment "web" exceeded its progress deadline')


class TestNodes:
    def test_cordon_and_uncordon(self, shop, k8s, people):
        cordoned = execute(request(people.commander, k8s, "cordon", node="node-1"))
        assert (cordoned.before, cordoned.after) == ({"unschedulable": False}, {"unschedulable": True})
        assert shop.get("nodes", "", "node-1")["spec"]["unschedulable"] is True

        uncordoned = execute(request(people.commander, k8s, "uncordon", node="node-1"))
        assert (uncordoned.status, uncordoned.after) == (Status.SUCCEEDED, {"unschedulable": False})

    def test_an_unknown_node_is_a_400(self, shop, k8s, people):
        with pytest.raises(ApplicationError, match='nodes "node-9" not found') as refused:
            request(people.commander, k8s, "cordon", node="node-9")
        assert refused.value.field == "node"

    def test_a_production_drain_waits_for_a_second_person_then_evicts(self, shop, k8s, people, simulator):
        node = node_running_web(shop)
        web_pods = web_pods_on(shop, node)
        # A budget refuses the first eviction; someone then adds replicas, and the retry goes through.
        shop.add_budget(PROD_NS, "web", match_labels={"app": "web"}, min_available=2)
        for pod in web_pods:
            simulator.interleave(
                "POST", f"/api/v1/namespaces/{pod.replace('/', '/pods/')}/eviction",
                lambda: shop.patch_deployment(PROD_NS, "web", MERGE_PATCH, {"spec": {"replicas": 4}}),
            )  # fmt: skip
        run = request(people.commander, k8s, "drain", node=node, grace_period_seconds=0, timeout_seconds=30)
        assert run.status == Status.AWAITING_APPROVAL
        assert run.expectation.startswith(f"Node {node} is cordoned, then its ")

        assert execute(run).status == Status.AWAITING_APPROVAL, "a message before approval runs nothing"
        action_run_approve(run=run, approver=people.second_commander)
        run = execute(run)

        assert run.status == Status.SUCCEEDED, run.error
        assert set(run.result["evicted"]) >= web_pods
        assert any("disruption budget" in line and "retrying" in line for line in lines(run))
        assert not web_pods_on(shop, node)

    def test_a_run_awaiting_approval_tells_the_other_approvers(self, shop, k8s, people):
        from portal.notifications.models import EventKind, Notification

        run = request(people.commander, k8s, "drain", node=node_running_web(shop), grace_period_seconds=0)

        asked = Notification.objects.get(event_kind=EventKind.APPROVAL_REQUESTED)
        assert set(asked.recipients.all()) == {people.second_commander, people.admin}  # never the requester
        assert asked.title.startswith(f"{run.reference} needs a second approval")
        assert run.command in asked.summary
        assert asked.url.endswith(f"/actions/{run.pk}/")

    def test_a_drain_a_budget_never_allows_times_out(self, shop, k8s, people):
        shop.add_budget(PROD_NS, "web", match_labels={"app": "web"}, min_available=2)
        run = request(people.commander, k8s, "drain", node=node_running_web(shop), grace_period_seconds=0,
                      timeout_seconds=1)  # fmt: skip
        action_run_approve(run=run, approver=people.second_commander)

        run = execute(run)

        assert run.status == Status.TIMED_OUT
        assert "disruption budget" in run.error

    def test_a_drain_kubectl_would_refuse_is_refused_at_request(self, shop, k8s, people):
        add_pod(shop, "default", "bare", node="node-2")

        with pytest.raises(ApplicationError, match="Pods declare no controller") as refused:
            request(people.commander, k8s, "drain", node="node-2")
        assert refused.value.field == "node"


class TestLifecycle:
    def test_a_request_waits_for_its_requesters_confirmation(
        self, shop, k8s, people, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks() as callbacks:
            run = request(people.commander, k8s, "restart", confirm=False, namespace=PROD_NS, deployment="web")
        assert (run.status, callbacks) == (Status.REQUESTED, [])

        with pytest.raises(ForbiddenError, match="Only the person who requested it"):
            action_run_confirm(run=run, actor=people.second_commander)
        with django_capture_on_commit_callbacks() as callbacks:
            run = action_run_confirm(run=run, actor=people.commander)
        assert (run.status, len(callbacks)) == (Status.QUEUED, 1)
        with pytest.raises(ConflictError, match="only a request is confirmed"):
            action_run_confirm(run=run, actor=people.commander)

    def test_a_stale_preview_cannot_be_confirmed(self, shop, k8s, people, settings):
        run = request(people.commander, k8s, "restart", confirm=False, namespace=PROD_NS, deployment="web")
        later = timezone.now() + timedelta(seconds=settings.ACTION_CONFIRM_WINDOW_SECONDS)

        with pytest.raises(ConflictError, match="request it again"):
            action_run_confirm(run=run, actor=people.commander, now=later)

    def test_a_cancelled_run_never_starts(self, shop, k8s, people):
        run = request(people.commander, k8s, "scale", namespace=PROD_NS, deployment="web", replicas=5)

        action_run_cancel(run=run, actor=people.commander)
        run = execute(run)

        assert (run.status, run.started_at, replicas(shop)) == (Status.CANCELLED, None, 2)

    def test_who_may_cancel(self, shop, k8s, people):
        run = request(people.responder, k8s, "restart", namespace=STAGING_NS, deployment="web")
        other = request(people.responder, k8s, "restart", namespace=STAGING_NS, deployment="web")

        with pytest.raises(ForbiddenError):
            action_run_cancel(run=run, actor=people.viewer)
        assert action_run_cancel(run=run, actor=people.commander).status == Status.CANCELLED
        assert action_run_cancel(run=other, actor=people.responder).status == Status.CANCELLED
        with pytest.raises(ConflictError, match="nothing to cancel"):
            action_run_cancel(run=other, actor=people.responder)
