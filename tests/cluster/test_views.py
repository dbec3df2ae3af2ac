"""Action pages: list with filters and live refresh, the request form, the confirmation, the run with live progress,
approvals through htmx, and the incident page's quick actions. Permissions per role."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.models import Service, Severity
from incidents.services import incident_declare
from portal.cluster.models import ActionRun, Target, Workload
from portal.cluster.services import action_run_request
from portal.core.models import Environment
from tests.cluster.conftest import PROD_NS, STAGING_NS, datastore
from tests.cluster.test_services import execute

Status = ActionRun.Status
NEW = reverse("action-new")


def flush_request(user, target) -> ActionRun:
    return action_run_request(requester=user, target=target, kind="redis_flush", parameters={}, reason="stale",
                              confirm=False)  # fmt: skip


@pytest.fixture
def cache(db) -> Target:
    return datastore(Target.Kind.REDIS, "redis://:s3cret@127.0.0.1:6379/13", Environment.PRODUCTION, slug="cache")


class TestList:
    def test_viewers_see_runs_and_the_table_refreshes_itself(self, client, people, cache):
        flush_request(people.commander, cache)
        client.force_login(people.viewer)

        html = client.get(reverse("action-list")).content.decode()
        assert "Redis FLUSHDB" in html
        assert 'hx-trigger="every 10s"' in html
        assert "Request an action" not in html
        partial = client.get(reverse("action-list"), {"status": "requested"}, HTTP_HX_REQUEST="true")
        assert partial.content.decode().lstrip().startswith('<section class="card" id="action-table"')

    def test_filters_and_a_constant_query_count(self, client, people, cache):
        client.force_login(people.viewer)
        flush_request(people.commander, cache)
        client.get(reverse("action-list"))
        with CaptureQueriesContext(connection) as one:
            client.get(reverse("action-list"))
        for _ in range(10):
            flush_request(people.commander, cache)
        with CaptureQueriesContext(connection) as eleven:
            response = client.get(reverse("action-list"))
        assert len(response.context["page"].object_list) == 11
        assert len(eleven) == len(one)
        assert len(client.get(reverse("action-list"), {"status": "queued"}).context["page"].object_list) == 0
        assert "Some filters are invalid" in client.get(reverse("action-list"), {"kind": "x"}).content.decode()

    def test_a_runs_row_names_its_incident_and_reads_only_what_the_table_shows(self, client, people, cache):
        """Values, not models: the run's incident and people are not read whole, the row still names them."""
        incident = incident_declare(title="Cache stale", severity=Severity.objects.get(code="P2"), reporter=None)
        action_run_request(requester=people.commander, target=cache, kind="redis_flush", parameters={},
                           reason="stale", confirm=False, incident=incident)  # fmt: skip
        client.force_login(people.viewer)
        with CaptureQueriesContext(connection) as ctx:
            html = client.get(reverse("action-list")).content.decode()
        assert f'<a href="/incidents/{incident.pk}/">INC-{incident.pk}</a> <span class="pill sev-p2">P2</span>' in html
        assert f"<td>{people.commander.username}</td>" in html
        read = next(q["sql"] for q in ctx.captured_queries if q["sql"].startswith('SELECT "cluster_actionrun"."id"'))
        unread = ('"incidents_incident"."title"', "escalation_snapshot", "password", '"cluster_target"."url"')
        assert [column for column in unread if column in read] == []

    def test_the_nav_links_to_actions(self, client, people):
        client.force_login(people.viewer)
        assert f'href="{reverse("action-list")}"' in client.get(reverse("dashboard")).content.decode()


class TestRequestForm:
    def test_a_prefilled_form_shows_the_actions_fields(self, client, people, k8s):
        client.force_login(people.responder)

        response = client.get(NEW, {"target": "sim", "kind": "scale", "namespace": PROD_NS, "deployment": "web"})

        html = response.content.decode()
        assert 'name="replicas"' in html
        assert 'name="node"' not in html
        assert '<option value="shop" selected>shop (Production)</option>' in html
        partial = client.get(NEW, {"target": "sim", "kind": "drain"}, HTTP_HX_REQUEST="true").content.decode()
        assert partial.lstrip().startswith('<section class="card" id="action-form"')
        assert 'name="node"' in partial

    def test_viewers_may_not_request(self, client, people):
        client.force_login(people.viewer)
        assert client.get(NEW).status_code == 403

    def test_a_change_goes_to_its_confirmation(self, client, people, shop, k8s):
        client.force_login(people.responder)

        response = client.post(NEW, {"target": "sim", "kind": "scale", "namespace": STAGING_NS, "deployment": "web",
                                     "replicas": 3, "reason": "load"})  # fmt: skip

        run = ActionRun.objects.get()
        assert response.status_code == 302
        assert response["Location"] == reverse("action-confirm", args=[run.pk])
        assert run.status == Status.REQUESTED

    def test_a_read_only_action_runs_at_once(self, client, people, shop, k8s):
        client.force_login(people.responder)

        response = client.post(NEW, {"target": "sim", "kind": "rollout_history", "namespace": PROD_NS,
                                     "deployment": "web", "reason": "look"})  # fmt: skip

        run = ActionRun.objects.get()
        assert response["Location"] == reverse("action-detail", args=[run.pk])
        assert run.status == Status.QUEUED

    @pytest.mark.parametrize(("data", "field", "status"), [
        ({"replicas": 99}, "replicas", 400),
        ({"deployment": "gone"}, "deployment", 400),
        ({"replicas": ""}, "replicas", 400),
        ({"namespace": "elsewhere"}, "namespace", 400),
        ({"reason": ""}, "reason", 400),
    ])  # fmt: skip
    def test_bad_input_is_a_4xx_naming_the_field(self, client, people, shop, k8s, data, field, status):
        client.force_login(people.commander)
        base = {"target": "sim", "kind": "scale", "namespace": PROD_NS, "deployment": "web", "replicas": 3,
                "reason": "load"}  # fmt: skip

        response = client.post(NEW, base | data)

        assert response.status_code == status
        assert response.context["form"].errors[field]
        assert not ActionRun.objects.exists()

    def test_a_responder_posting_a_production_change_gets_an_approval_request_never_a_run(
        self, client, people, shop, k8s
    ):
        from portal.notifications.models import EventKind, Notification

        client.force_login(people.responder)

        response = client.post(NEW, {"target": "sim", "kind": "restart", "namespace": PROD_NS, "deployment": "web",
                                     "reason": "r"})  # fmt: skip

        run = ActionRun.objects.get()
        assert (response.status_code, response["Location"]) == (302, reverse("action-confirm", args=[run.pk]))
        confirm = client.get(response["Location"]).content.decode()
        assert "Request approval from an Incident Commander" in confirm
        assert "waits for the approval of an Incident Commander, who is notified" in confirm
        client.post(reverse("action-confirm", args=[run.pk]))
        run.refresh_from_db()
        assert run.status == Status.AWAITING_APPROVAL
        asked = Notification.objects.get(event_kind=EventKind.APPROVAL_REQUESTED)
        assert set(asked.recipients.all()) == {people.commander, people.second_commander, people.admin}

    def test_a_viewer_posting_is_refused(self, client, people, shop, k8s):
        client.force_login(people.viewer)

        response = client.post(NEW, {"target": "sim", "kind": "restart", "namespace": STAGING_NS,
                                     "deployment": "web", "reason": "r"})  # fmt: skip

        assert response.status_code == 403
        assert not ActionRun.objects.exists()


class TestGuidance:
    """Before Continue: the chosen environment's freeze, and who must approve."""

    PROD_RESTART = {"target": "sim", "kind": "restart", "namespace": PROD_NS, "deployment": "web"}

    def test_a_responder_sees_a_production_change_as_an_approval_request(self, client, people, k8s):
        client.force_login(people.responder)

        html = client.get(NEW, self.PROD_RESTART).content.decode()

        assert "Request approval from an Incident Commander:" in html
        assert "No freeze holds production changes now." in html
        assert 'hx-get="/actions/new/guidance/"' in html, "the namespace redraws the guidance"

    def test_changing_the_namespace_redraws_only_the_guidance(self, client, people, k8s):
        client.force_login(people.responder)

        staging = client.get(reverse("action-guidance"), self.PROD_RESTART | {"namespace": STAGING_NS})
        commander = client.get(reverse("action-guidance"), self.PROD_RESTART)

        html = staging.content.decode()
        assert html.lstrip().startswith('<div id="action-guidance"')
        assert "Freezes hold production changes only." in html
        assert "Request approval" not in html
        assert "Request approval from an Incident Commander" in commander.content.decode()
        client.force_login(people.commander)
        assert "Request approval" not in client.get(reverse("action-guidance"), self.PROD_RESTART).content.decode()

    def test_the_freeze_in_force_is_shown_before_continue_and_an_emergency_clears_it(
        self, client, people, k8s, severities_p1_incident
    ):
        client.force_login(people.commander)

        frozen = client.get(NEW, self.PROD_RESTART).content.decode()
        emergency = client.get(reverse("action-guidance"), self.PROD_RESTART | {
            "incident": severities_p1_incident.pk, "emergency": "on"}).content.decode()  # fmt: skip

        assert 'id="freeze-notice"' in frozen
        assert "Stabilisation freeze" in frozen
        assert "Refused as it stands: Production is frozen (blocked)" in frozen
        assert frozen.index('id="freeze-notice"') < frozen.index(">Continue</button>")
        assert 'id="freeze-notice"' in emergency
        assert "Request approval from another Incident Commander:" in emergency, "a blocked freeze's second person"
        assert "Refused as it stands" not in emergency

    @pytest.mark.parametrize("incident", ["99999999999999999999", "x", "-1"])
    def test_a_bad_incident_in_the_query_is_no_incident_not_a_500(self, client, people, k8s, incident):
        client.force_login(people.responder)

        response = client.get(reverse("action-guidance"), self.PROD_RESTART | {"incident": incident})

        assert response.status_code == 200
        assert "Request approval from an Incident Commander" in response.content.decode()

    def test_staff_without_a_role_get_no_guidance(self, client, people, k8s):
        client.force_login(people.viewer)
        assert client.get(reverse("action-guidance"), self.PROD_RESTART).status_code == 403


@pytest.fixture
def severities_p1_incident(people):
    """An open P1, during a blocked freeze of production today."""
    from django.utils import timezone

    from maintenance.models import FreezeRule

    today = timezone.now().date()
    FreezeRule.objects.create(name="Stabilisation freeze", kind=FreezeRule.Kind.ONE_OFF, level="blocked",
                              environments=["production"], first_day=today, last_day=today)  # fmt: skip
    return incident_declare(title="Checkout down", severity=Severity.objects.get(code="P1"), reporter=people.commander)


class TestNodePicker:
    def test_nodes_are_picked_from_the_cluster(self, client, people, cluster, simulator, k8s):
        cluster.add_node("node-4", unschedulable=True)
        client.force_login(people.commander)

        html = client.get(NEW, {"target": "sim", "kind": "drain"}).content.decode()

        assert '<select name="node"' in html
        assert '<option value="node-1">node-1</option>' in html
        assert '<option value="node-4">node-4 (SchedulingDisabled)</option>' in html
        assert 'id="nodes-unavailable"' not in html

    def test_a_node_the_cluster_does_not_list_is_a_400_naming_the_field(self, client, people, simulator, k8s):
        client.force_login(people.commander)

        response = client.post(NEW, {"target": "sim", "kind": "cordon", "node": "node-9", "reason": "r"})

        assert response.status_code == 400
        assert response.context["form"].errors["node"]
        assert not ActionRun.objects.exists()

    def test_an_unreachable_cluster_falls_back_to_typing_the_name(self, client, people, k8s, settings):
        settings.KUBECONFIG = ""
        client.force_login(people.commander)

        response = client.get(NEW, {"target": "sim", "kind": "drain"})

        html = response.content.decode()
        assert response.status_code == 200
        assert '<input type="text" name="node"' in html
        assert "could not be listed (Simulated cluster: KUBECONFIG is not set.): type the node&#x27;s name." in html


class TestConfirmation:
    def test_it_states_what_will_happen_and_who_approves(self, client, people, cache):
        run = flush_request(people.commander, cache)
        client.force_login(people.commander)

        html = client.get(reverse("action-confirm", args=[run.pk])).content.decode()

        assert "Every key of redis://:****@127.0.0.1:6379/13 is deleted (FLUSHDB)" in html
        assert "redis-cli -h 127.0.0.1 -p 6379 -n 13 FLUSHDB" in html
        assert "This cannot be undone." in html
        assert "waits for the approval of another Incident Commander, who is notified" in html
        assert "s3cret" not in html

    def test_confirming_submits_it(self, client, people, cache):
        run = flush_request(people.commander, cache)
        client.force_login(people.commander)

        response = client.post(reverse("action-confirm", args=[run.pk]))

        assert response["Location"] == reverse("action-detail", args=[run.pk])
        run.refresh_from_db()
        assert run.status == Status.AWAITING_APPROVAL
        assert client.get(reverse("action-confirm", args=[run.pk])).status_code == 302, "nothing left to confirm"

    def test_only_the_requester_confirms(self, client, people, cache):
        run = flush_request(people.commander, cache)
        client.force_login(people.second_commander)

        assert "Only cora, who requested it" in client.get(reverse("action-confirm", args=[run.pk])).content.decode()
        response = client.post(reverse("action-confirm", args=[run.pk]))
        assert response.status_code == 403
        run.refresh_from_db()
        assert run.status == Status.REQUESTED


class TestRunPage:
    def test_a_live_run_polls_and_a_finished_one_stops(self, client, people, shop, k8s):
        run = action_run_request(requester=people.responder, target=k8s, kind="rollout_history", reason="r",
                                 parameters={"namespace": PROD_NS, "deployment": "web"}, confirm=True)  # fmt: skip
        client.force_login(people.viewer)

        assert 'hx-trigger="every 2s"' in client.get(reverse("action-detail", args=[run.pk])).content.decode()
        execute(run)
        partial = client.get(reverse("action-detail", args=[run.pk]), HTTP_HX_REQUEST="true").content.decode()
        assert partial.lstrip().startswith('<div id="run-body"')
        assert 'hx-trigger="every 2s"' not in partial
        assert "revision 3: shop/web:3 ship 3" in partial
        assert "<html" not in partial

    def test_before_and_after(self, client, people, shop, k8s):
        run = execute(action_run_request(requester=people.responder, target=k8s, kind="scale", reason="r",
                                         parameters={"namespace": STAGING_NS, "deployment": "web", "replicas": 3},
                                         confirm=True))  # fmt: skip
        client.force_login(people.viewer)

        html = client.get(reverse("action-detail", args=[run.pk])).content.decode()
        assert "<tr><th>replicas</th><td>2</td><td>3</td></tr>" in html
        assert "<tr><th>images</th><td>shop/web:3</td><td>shop/web:3</td></tr>" in html

    def test_approval_through_htmx(self, client, people, cache):
        run = flush_request(people.commander, cache)
        from portal.cluster.services import action_run_confirm

        action_run_confirm(run=run, actor=people.commander)
        client.force_login(people.commander)
        own = client.post(reverse("action-act", args=[run.pk, "approve"]), HTTP_HX_REQUEST="true")
        assert own.status_code == 403
        assert "a second person must approve it" in own.content.decode()
        assert "Approval needed" not in client.get(reverse("action-detail", args=[run.pk])).content.decode()

        client.force_login(people.second_commander)
        assert "Approval needed" in client.get(reverse("action-detail", args=[run.pk])).content.decode()
        empty = client.post(reverse("action-act", args=[run.pk, "reject"]), HTTP_HX_REQUEST="true")
        assert (empty.status_code, "Say why you reject it." in empty.content.decode()) == (400, True)
        approved = client.post(reverse("action-act", args=[run.pk, "approve"]), {"comment": "ok"},
                               HTTP_HX_REQUEST="true")  # fmt: skip
        assert approved.status_code == 200
        assert approved.content.decode().lstrip().startswith('<div id="run-body"')
        run.refresh_from_db()
        assert run.status == Status.QUEUED

    def test_cancel_and_unknown_verbs(self, client, people, cache):
        run = flush_request(people.commander, cache)
        client.force_login(people.responder)
        assert client.post(reverse("action-act", args=[run.pk, "cancel"])).status_code == 403
        assert client.post(reverse("action-act", args=[run.pk, "explode"])).status_code == 403

        client.force_login(people.commander)
        response = client.post(reverse("action-act", args=[run.pk, "cancel"]))
        assert response.status_code == 302
        run.refresh_from_db()
        assert run.status == Status.CANCELLED

    def test_viewers_may_not_act(self, client, people, cache):
        run = flush_request(people.commander, cache)
        client.force_login(people.viewer)
        assert client.post(reverse("action-act", args=[run.pk, "cancel"])).status_code == 403
        assert client.get(reverse("action-confirm", args=[run.pk])).status_code == 403


class TestIncidentQuickActions:
    @pytest.fixture
    def incident(self, people, k8s, cache):
        api = Service.objects.create(name="API", slug="api")
        namespace = k8s.namespaces.get(name=PROD_NS)
        Workload.objects.create(service=api, target=k8s, namespace=namespace, deployment="web")
        Workload.objects.create(service=api, target=cache)
        return incident_declare(title="Checkout slow", severity=Severity.objects.get(code="P2"),
                                reporter=people.commander, services=[api])  # fmt: skip

    def test_responders_get_prefilled_actions_for_the_incidents_services(self, client, people, incident):
        client.force_login(people.responder)

        response = client.get(reverse("incident-detail", args=[incident.pk]))

        html = response.content.decode()
        assert 'id="incident-actions"' in html
        links = response.context["workloads"][0].actions
        assert [link.label for link in links] == ["Status", "History", "Scale", "Restart", "Roll back"]
        query = parse_qs(urlsplit(links[2].url).query)
        assert query == {
            "target": ["sim"], "kind": ["scale"], "namespace": ["shop"], "deployment": ["web"],
            "incident": [str(incident.pk)], "reason": [f"INC-{incident.pk}: Checkout slow"],
        }  # fmt: skip
        assert "Flush (FLUSHDB)" in html
        form = client.get(links[2].url).context["form"]
        assert form["incident"].value() == str(incident.pk)
        # Production changes are offered as requests for approval; reads are not.
        assert [link.asks_approval for link in links] == [False, False, True, True, True]
        assert 'id="asks-approval"' in html
        assert 'Scale <span class="muted">(request approval)</span>' in html

    def test_a_commander_is_not_told_to_ask(self, client, people, incident):
        client.force_login(people.commander)

        response = client.get(reverse("incident-detail", args=[incident.pk]))

        assert not any(link.asks_approval for entry in response.context["workloads"] for link in entry.actions)
        assert 'id="asks-approval"' not in response.content.decode()

    def test_viewers_see_the_runs_but_no_buttons(self, client, people, incident, cache):
        action_run_request(requester=people.commander, target=cache, kind="redis_flush", parameters={}, reason="r",
                           incident=incident, confirm=True)  # fmt: skip
        client.force_login(people.viewer)

        html = client.get(reverse("incident-detail", args=[incident.pk])).content.decode()

        assert "Redis FLUSHDB" in html
        assert "Flush (FLUSHDB)" not in html
        assert f"All actions for INC-{incident.pk}" in html


def test_a_kinds_own_defaults_fill_its_form(client, people, k8s):
    """Rollout status waits 120 s by default; a drain gives up after 300 s: same field name, its own default."""
    client.force_login(people.commander)

    drain = client.get(NEW, {"target": "sim", "kind": "drain"}).context["form"]
    status = client.get(NEW, {"target": "sim", "kind": "rollout_status"}).context["form"]

    assert (drain["timeout_seconds"].initial, drain["timeout_seconds"].label) == (300, "Give up after (s)")
    assert (status["timeout_seconds"].initial, status["timeout_seconds"].label) == (120, "Wait at most (s)")


class TestRunbookLinks:
    """Runbook quick actions link to /actions/new/ without a target slug, and call a node or a key pattern `target`."""

    def test_a_deployment_action_finds_the_cluster_with_that_namespace(self, client, people, k8s):
        client.force_login(people.commander)
        datastore(Target.Kind.KUBERNETES, "", slug="other")  # a second cluster, without the namespace

        form = client.get(NEW, {"kind": "scale", "deployment": "web", "namespace": "shop", "replicas": "4",
                                "incident": "1"}).context["form"]  # fmt: skip

        assert (form["target"].value(), form["replicas"].value(), form["namespace"].value()) == ("sim", "4", "shop")

    def test_node_and_pattern_come_as_target(self, client, people, k8s, cache):
        client.force_login(people.commander)

        drain = client.get(NEW, {"kind": "drain", "target": "node-1"}).context["form"]
        pattern = client.get(NEW, {"kind": "redis_delete_pattern", "target": "user:*"}).context["form"]

        assert (drain["target"].value(), drain["node"].value()) == ("sim", "node-1")
        assert (pattern["target"].value(), pattern["pattern"].value()) == ("cache", "user:*")

    def test_no_guess_when_several_targets_fit(self, client, people, cache):
        client.force_login(people.commander)
        datastore(Target.Kind.REDIS, "redis://127.0.0.1:6379/12", slug="cache-2")

        form = client.get(NEW, {"kind": "redis_flush"}).context["form"]

        assert form["target"].value() is None
