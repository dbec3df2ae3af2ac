"""The actions API: permissions per role, 4xx naming the field, the request/confirm/approve/cancel flow, filters,
constant query counts, and targets whose secrets never come back."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.accounts.roles import Role
from portal.cluster.models import ActionRun, Target
from portal.cluster.services import action_run_request
from portal.core.models import Environment
from tests.cluster.conftest import PROD_NS, STAGING_NS, datastore

LIST = reverse("api:action-list")
Status = ActionRun.Status


def url(name: str, run: ActionRun) -> str:
    return reverse(f"api:action-{name}", args=[run.pk])


@pytest.fixture
def cache(db) -> Target:
    return datastore(Target.Kind.REDIS, "redis://:s3cret@127.0.0.1:6379/13", Environment.PRODUCTION, slug="cache")


@pytest.fixture
def staging_cache(db) -> Target:
    return datastore(Target.Kind.REDIS, "redis://:s3cret@127.0.0.1:6379/12", Environment.STAGING, slug="staging-cache")


class TestRequest:
    def test_a_commander_scales_production_over_the_api(self, token_client, shop, k8s):
        client = token_client(Role.INCIDENT_COMMANDER)

        response = client.post(LIST, {"kind": "scale", "target": "sim", "namespace": PROD_NS, "deployment": "web",
                                      "replicas": 3, "reason": "load"}, format="json")  # fmt: skip

        assert response.status_code == 201, response.json()
        body = response.json()
        assert (body["status"], body["environment"], body["parameters"]) == (
            "queued", "production", {"namespace": "shop", "deployment": "web", "replicas": 3},
        )  # fmt: skip
        assert body["command"] == "kubectl -n shop scale deployment/web --replicas=3"
        assert body["requested_by"] == client.user.username
        assert body["lines"] == []

    def test_a_responders_production_change_waits_for_an_incident_commander(self, token_client, shop, k8s):
        responder, commander = token_client(Role.RESPONDER), token_client(Role.INCIDENT_COMMANDER)

        response = responder.post(
            LIST, {"kind": "restart", "target": "sim", "namespace": PROD_NS, "deployment": "web", "reason": "r"},
            format="json",
        )  # fmt: skip

        assert response.status_code == 201, response.json()
        run = ActionRun.objects.get()
        assert (response.json()["status"], run.status) == ("awaiting_approval", Status.AWAITING_APPROVAL)
        assert response.json()["approval_from"] == "an Incident Commander"
        assert responder.post(url("approve", run), {}, format="json").status_code == 403
        assert token_client(Role.RESPONDER).post(url("approve", run), {}, format="json").status_code == 403
        approved = commander.post(url("approve", run), {"comment": "go"}, format="json")
        assert approved.status_code == 200
        assert approved.json()["status"] == "queued"

    def test_a_responder_may_change_staging_and_read_production(self, token_client, shop, k8s):
        client = token_client(Role.RESPONDER)
        staging = {"kind": "restart", "target": "sim", "namespace": STAGING_NS, "deployment": "web", "reason": "r"}
        history = {"kind": "rollout_history", "target": "sim", "namespace": PROD_NS, "deployment": "web",
                   "reason": "r"}  # fmt: skip

        assert client.post(LIST, staging, format="json").status_code == 201
        assert client.post(LIST, history, format="json").status_code == 201

    def test_viewers_read_but_may_not_request(self, token_client, cache):
        client = token_client(Role.VIEWER)

        assert client.get(LIST).status_code == 200
        response = client.post(LIST, {"kind": "redis_flush", "target": "cache", "reason": "r"}, format="json")
        assert response.status_code == 403

    def test_anonymous_is_turned_away(self, api_client):
        assert api_client.get(LIST).status_code == 401

    @pytest.mark.parametrize(("payload", "field"), [
        ({"kind": "explode", "target": "sim"}, "kind"),
        ({"kind": "scale", "target": "nope"}, "target"),
        ({"kind": "scale", "target": "sim", "namespace": PROD_NS, "deployment": "web"}, "replicas"),
        ({"kind": "scale", "target": "sim", "namespace": PROD_NS, "deployment": "web", "replicas": 11}, "replicas"),
        ({"kind": "scale", "target": "sim", "namespace": "kube-system", "deployment": "web", "replicas": 1},
         "namespace"),
        ({"kind": "scale", "target": "sim", "namespace": PROD_NS, "deployment": "gone", "replicas": 1}, "deployment"),
        ({"kind": "cordon", "target": "sim", "node": "node-9"}, "node"),
        ({"kind": "rollback", "target": "sim", "namespace": PROD_NS, "deployment": "web", "to_revision": 7},
         "to_revision"),
        ({"kind": "redis_flush", "target": "sim"}, "target"),
        ({"kind": "restart", "target": "sim", "namespace": PROD_NS, "deployment": "web", "emergency": True},
         "incident"),
        ({"kind": "restart", "target": "sim", "namespace": PROD_NS, "deployment": "web", "reason": " "}, "reason"),
    ])  # fmt: skip
    def test_bad_input_is_a_400_naming_the_field(self, token_client, shop, k8s, payload, field):
        response = token_client(Role.ADMIN).post(LIST, {"reason": "r", **payload}, format="json")

        assert response.status_code == 400, response.json()
        assert response.json()["field"] == field
        assert not ActionRun.objects.exists()


class TestFlow:
    def test_preview_then_confirm(self, token_client, shop, k8s):
        client = token_client(Role.INCIDENT_COMMANDER)
        payload = {"kind": "rollback", "target": "sim", "namespace": PROD_NS, "deployment": "web", "reason": "bad",
                   "confirm": False}  # fmt: skip
        preview = client.post(LIST, payload, format="json").json()

        assert (preview["status"], preview["approval_from"]) == ("requested", "")
        assert "back to revision 2" in preview["expectation"]
        run = ActionRun.objects.get()
        assert client.post(url("confirm", run)).json()["status"] == "queued"
        assert client.post(url("confirm", run)).status_code == 409

    def test_a_second_person_approves(self, token_client, cache):
        requester, second = token_client(Role.INCIDENT_COMMANDER), token_client(Role.INCIDENT_COMMANDER)
        created = requester.post(LIST, {"kind": "redis_flush", "target": "cache", "reason": "poisoned cache"},
                                 format="json").json()  # fmt: skip
        run = ActionRun.objects.get(pk=created["id"])
        assert (created["status"], created["approval_from"]) == ("awaiting_approval", "another Incident Commander")

        own = requester.post(url("approve", run), {}, format="json")
        assert (own.status_code, own.json()["detail"]) == (
            403,
            "You requested this action: a second person must approve it.",
        )
        assert token_client(Role.RESPONDER).post(url("approve", run), {}, format="json").status_code == 403
        approved = second.post(url("approve", run), {"comment": "go"}, format="json")

        assert approved.status_code == 200
        assert (approved.json()["status"], approved.json()["approval_from"]) == ("queued", "")
        assert approved.json()["approvals"] == [
            {"approver": second.user.username, "decision": "approved", "comment": "go",
             "decided_at": approved.json()["approvals"][0]["decided_at"]},
        ]  # fmt: skip

    def test_rejecting_needs_a_reason(self, token_client, cache):
        created = (
            token_client(Role.INCIDENT_COMMANDER)
            .post(LIST, {"kind": "redis_flush", "target": "cache", "reason": "r"}, format="json")
            .json()
        )
        run = ActionRun.objects.get(pk=created["id"])
        second = token_client(Role.INCIDENT_COMMANDER)

        missing = second.post(url("reject", run), {}, format="json")
        assert (missing.status_code, missing.json()["field"]) == (400, "comment")
        rejected = second.post(url("reject", run), {"comment": "use a pattern"}, format="json").json()
        assert (rejected["status"], rejected["error"]) == (
            "rejected",
            f"Rejected by {second.user.username}: use a pattern",
        )

    def test_cancel(self, token_client, staging_cache):
        client = token_client(Role.RESPONDER)
        created = client.post(LIST, {"kind": "redis_delete_pattern", "target": "staging-cache", "pattern": "cart:*",
                                     "reason": "r"}, format="json").json()  # fmt: skip
        run = ActionRun.objects.get(pk=created["id"])

        assert token_client(Role.RESPONDER).post(url("cancel", run)).status_code == 403
        assert client.post(url("cancel", run)).json()["status"] == "cancelled"
        assert client.post(url("cancel", run)).status_code == 409
        assert token_client(Role.VIEWER).post(url("cancel", run)).status_code == 403

    def test_detail_shows_progress_lines(self, token_client, shop, k8s, people):
        from tests.cluster.test_services import execute, request

        run = execute(request(people.responder, k8s, "rollout_history", namespace=PROD_NS, deployment="web"))

        body = token_client(Role.VIEWER).get(url("detail", run)).json()
        assert body["status"] == "succeeded"
        assert [line["message"] for line in body["lines"]][1:4] == [
            "revision 1: shop/web:1 ship 1", "revision 2: shop/web:2 ship 2", "revision 3: shop/web:3 ship 3",
        ]  # fmt: skip
        assert token_client(Role.VIEWER).get(reverse("api:action-detail", args=[999])).status_code == 404


class TestList:
    def make_runs(self, people, target, count: int) -> list[ActionRun]:
        return [
            action_run_request(requester=people.responder, target=target, kind="redis_delete_pattern",
                               parameters={"pattern": f"k{n}:*"}, reason="r", confirm=True)
            for n in range(count)
        ]  # fmt: skip

    def test_filters(self, token_client, people, staging_cache, cache):
        self.make_runs(people, staging_cache, 2)
        flush = action_run_request(requester=people.commander, target=cache, kind="redis_flush", parameters={},
                                   reason="r", confirm=True)  # fmt: skip
        client = token_client(Role.VIEWER)

        def ids(**query) -> list[int]:
            return [row["id"] for row in client.get(LIST, query).json()["results"]]

        assert ids(status="awaiting_approval") == [flush.pk]
        assert ids(environment="production") == [flush.pk]
        assert len(ids(target="staging-cache", kind="redis_delete_pattern")) == 2
        assert ids(requested_by="CORA") == [flush.pk]
        assert len(ids(active="true")) == 3
        assert ids(active="false") == []
        bad = client.get(LIST, {"status": "exploded"})
        assert (bad.status_code, bad.json()["field"]) == (400, "status")

    def test_pages_and_a_constant_query_count(self, token_client, people, staging_cache):
        client = token_client(Role.VIEWER)
        self.make_runs(people, staging_cache, 1)
        client.get(LIST)
        with CaptureQueriesContext(connection) as one:
            client.get(LIST)
        self.make_runs(people, staging_cache, 10)
        with CaptureQueriesContext(connection) as eleven:
            body = client.get(LIST, {"page_size": 5}).json()

        assert (body["count"], len(body["results"])) == (11, 5)
        assert body["next"] is not None
        assert len(eleven) == len(one)


class TestTargets:
    def test_an_admin_adds_a_data_store_whose_url_never_comes_back(self, token_client):
        client = token_client(Role.ADMIN)
        response = client.post(reverse("api:action-target-list"), {
            "name": "Session cache", "slug": "sessions", "kind": "redis", "environment": "production",
            "url": "redis://:hunter2@cache.internal:6379/4",
        }, format="json")  # fmt: skip

        assert response.status_code == 201, response.json()
        assert response.json()["url_masked"] == "redis://:****@cache.internal:6379/4"
        listed = client.get(reverse("api:action-target-list")).content.decode()
        assert "hunter2" not in listed + response.content.decode()
        assert Target.objects.get(slug="sessions").url == "redis://:hunter2@cache.internal:6379/4"

    def test_the_broker_database_is_refused(self, token_client, settings):
        settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"

        response = token_client(Role.ADMIN).post(reverse("api:action-target-list"), {
            "name": "Oops", "slug": "oops", "kind": "redis", "environment": "staging", "url": "redis://localhost:6379",
        }, format="json")  # fmt: skip

        assert (response.status_code, response.json()["field"]) == (400, "url")

    def test_namespaces_follow_their_clusters_environment(self, token_client, k8s):
        client = token_client(Role.ADMIN)
        staging = client.post(reverse("api:action-target-list"), {
            "name": "Staging cluster", "slug": "staging", "kind": "kubernetes", "environment": "staging",
            "context": "staging-eu",
        }, format="json")  # fmt: skip
        assert staging.status_code == 201

        response = client.post(
            reverse("api:action-namespace-list"),
            {"target": "staging", "name": "shop", "environment": "production"},
            format="json",
        )
        assert (response.status_code, response.json()["field"]) == (400, "environment")
        ok = client.post(
            reverse("api:action-namespace-list"),
            {"target": "staging", "name": "shop", "environment": "development"},
            format="json",
        )
        assert ok.status_code == 201

    def test_only_admins_edit_targets(self, token_client, k8s):
        client = token_client(Role.INCIDENT_COMMANDER)

        assert (
            client.get(reverse("api:action-target-detail", args=["sim"])).json()["namespaces"][0]["name"] == "sandbox"
        )
        assert client.patch(reverse("api:action-target-detail", args=["sim"]), {"max_replicas": 99},
                            format="json").status_code == 403  # fmt: skip

    def test_replica_bounds_out_of_order_are_a_400_not_a_constraint_error(self, token_client, k8s):
        client = token_client(Role.ADMIN)
        url = reverse("api:action-target-detail", args=["sim"])

        response = client.patch(url, {"min_replicas": 60, "max_replicas": 5}, format="json")

        assert (response.status_code, response.json()["field"]) == (400, "max_replicas")
        assert client.patch(url, {"min_replicas": 60}, format="json").json()["field"] == "max_replicas"


class TestNodes:
    """The names a node action takes, as the request form's picker offers them."""

    def test_a_viewer_lists_the_nodes_and_the_list_is_cached_briefly(self, token_client, cluster, simulator, k8s):
        client = token_client(Role.VIEWER)
        nodes = reverse("api:action-target-nodes", args=["sim"])
        cluster.add_node("node-4")

        response = client.get(nodes)

        assert response.status_code == 200
        assert [node["name"] for node in response.json()["results"]] == ["node-1", "node-2", "node-3", "node-4"]
        assert response.json()["results"][0] == {"name": "node-1", "ready": True, "unschedulable": False}
        cluster.add_node("node-5")
        assert client.get(nodes).json()["count"] == 4, "a redraw within seconds asks the cache, not the cluster"
        second = client.get(nodes, {"page_size": 2, "page": 2}).json()
        assert ([node["name"] for node in second["results"]], second["next"]) == (["node-3", "node-4"], None)

    def test_unreachable_and_unknown_are_4xx_or_503_never_500(self, token_client, api_client, k8s, cache, settings):
        client = token_client(Role.VIEWER)
        settings.KUBECONFIG = ""

        unreachable = client.get(reverse("api:action-target-nodes", args=["sim"]))

        assert unreachable.status_code == 503
        assert "KUBECONFIG is not set" in unreachable.json()["detail"]
        assert client.get(reverse("api:action-target-nodes", args=["cache"])).status_code == 404
        assert client.get(reverse("api:action-target-nodes", args=["nope"])).status_code == 404
        assert api_client.get(reverse("api:action-target-nodes", args=["sim"])).status_code == 401


def test_the_schema_documents_the_actions_api(token_client):
    schema = token_client(Role.VIEWER).get(reverse("schema"), {"format": "json"}).json()

    assert {"/api/v1/actions/", "/api/v1/actions/{id}/", "/api/v1/actions/{id}/approve/",
            "/api/v1/actions/{id}/cancel/", "/api/v1/actions/{id}/confirm/", "/api/v1/actions/{id}/reject/",
            "/api/v1/actions/targets/", "/api/v1/actions/targets/{slug}/nodes/"} <= set(schema["paths"])  # fmt: skip
    nodes = schema["paths"]["/api/v1/actions/targets/{slug}/nodes/"]["get"]["responses"]
    assert {"200", "401", "403", "404", "502", "503"} <= set(nodes)
    create = schema["paths"]["/api/v1/actions/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert create == {"$ref": "#/components/schemas/ActionRunCreateInputRequest"}
    assert "url" not in schema["components"]["schemas"]["Target"]["properties"]
