"""Issue 14, points 7 and 8: the review drafts itself and keeps what was typed; incident details and roles."""

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from incidents import policy
from incidents.models import ActionItem, Incident, PostIncidentReview, Service, Severity, TimelineEvent
from incidents.services import (
    action_item_add,
    action_item_update,
    incident_acknowledge,
    incident_assign_role,
    incident_change_severity,
    incident_transition,
    incident_update_details,
    review_for,
    review_publish,
    review_save,
    review_update,
    timeline_add,
)
from operations.models import Deployment
from portal.accounts.roles import Role
from portal.cluster.models import ActionRun, Target
from portal.errors import ApplicationError, ConflictError
from tests.incidents.conftest import T0

S = Incident.Status
DUE = T0.date() + timedelta(days=14)


@pytest.fixture(autouse=True)
def _clock(time_machine):
    """Action items fall due today or later: the clock starts at T0, which the tests' due dates count from."""
    time_machine.move_to(T0)


@pytest.fixture
def resolved(declare, commander):
    """A P1 acknowledged after 4 min, mitigated after 25 and resolved after 40."""
    incident = declare("P1")
    incident_acknowledge(incident=incident, actor=commander, now=T0 + timedelta(minutes=4))
    incident_transition(incident=incident, to_status=S.INVESTIGATING, actor=commander, now=T0 + timedelta(minutes=5))
    incident_transition(incident=incident, to_status=S.MITIGATING, actor=commander, now=T0 + timedelta(minutes=20))
    incident_transition(incident=incident, to_status=S.MONITORING, actor=commander, now=T0 + timedelta(minutes=25))
    return incident_transition(
        incident=incident, to_status=S.RESOLVED, actor=commander, confirm=True, now=T0 + timedelta(minutes=40)
    )


@pytest.fixture
def review(resolved) -> PostIncidentReview:
    return review_for(incident=resolved)


def review_events(incident: Incident) -> list[str]:
    return list(incident.timeline.filter(kind=TimelineEvent.Kind.REVIEW).values_list("message", flat=True))


class TestDraftFacts:
    def test_the_draft_states_the_response_times_escalations_actions_and_deployments_around_the_incident(
        self, declare, commander, api
    ):
        search = Service.objects.create(name="Search", slug="search")
        common = {"environment": "production", "commit": "abcdef1", "who": "ci", "status": "succeeded"}
        Deployment.objects.create(service=api, version="v41", started_at=T0 - timedelta(hours=2), **common)
        Deployment.objects.create(service=api, version="v40", started_at=T0 - timedelta(hours=30), **common)
        Deployment.objects.create(service=search, version="v9", started_at=T0 - timedelta(hours=1), **common)
        p1 = Severity.objects.get(code="P1")
        incident = incident_change_severity(incident=declare("P2"), severity=p1, reason="All shops", actor=commander,
                                            now=T0 + timedelta(minutes=1))  # fmt: skip
        timeline_add(
            incident=incident,
            kind=TimelineEvent.Kind.ESCALATION,
            message="Paged L2 Platform lead: pat",
            actor=None,
            at=T0 + timedelta(minutes=2),
        )
        target = Target.objects.create(name="Cluster", slug="sim", kind="kubernetes", environment="production")
        run = ActionRun.objects.create(
            kind="restart",
            target=target,
            environment="production",
            reason="pods stuck",
            requested_by=commander,
            incident=incident,
            status="succeeded",
            command="kubectl rollout restart deployment/api",
        )
        incident_acknowledge(incident=incident, actor=commander, now=T0 + timedelta(minutes=4))
        for minutes, status in ((5, S.INVESTIGATING), (10, S.MITIGATING), (20, S.MONITORING)):
            incident_transition(
                incident=incident, to_status=status, actor=commander, now=T0 + timedelta(minutes=minutes)
            )
        incident = incident_transition(
            incident=incident,
            to_status=S.RESOLVED,
            actor=commander,
            confirm=True,
            now=T0 + timedelta(hours=2, minutes=5),
        )

        facts = review_for(incident=incident).facts

        assert "Detected 2026-11-24 10:00 UTC as P2." in facts  # as declared, raised later
        assert "Severity 11-24 10:01: P2 → P1: All shops" in facts
        assert "Time to acknowledge: 4 min (P1 target 5 min)." in facts
        assert "Time to resolve: 2 h 5 min (P1 target 1 h)." in facts
        assert "Paged L2 Platform lead: pat" in facts
        assert f"{run.reference} Rollout restart on Cluster by cora: succeeded; pods stuck" in facts
        assert "Deployments to the affected services from 24 h before detection until resolution:" in facts
        assert "API v41 to production by ci: succeeded" in facts
        assert "v40" not in facts  # 30 h before detection
        assert "v9" not in facts  # another service

    def test_an_incident_without_any_says_none(self, review):
        assert "Time to mitigate: 25 min." in review.facts
        assert review.facts.count("- none") == 3


class TestReviewSave:
    def test_adding_an_item_saves_the_draft_typed_beside_it(self, review, commander):
        review = review_save(
            review=review,
            actor=commander,
            version=review.version,
            draft={"summary": "Checkout down 40 min", "root_cause": ""},
            new_item={"title": "Alert on cert expiry", "owner": commander, "due_date": DUE, "ticket_url": ""},
        )
        assert review.summary == "Checkout down 40 min"
        assert list(review.action_items.values_list("title", flat=True)) == ["Alert on cert expiry"]
        assert review_events(review.incident) == [
            "Review draft edited: summary",
            "Action item added: Alert on cert expiry (owner cora, due 2026-12-08)",
        ]

    def test_a_bad_new_item_saves_nothing(self, review, commander):
        with pytest.raises(ApplicationError) as excinfo:
            review_save(
                review=review,
                actor=commander,
                draft={"summary": "typed"},
                new_item={"title": "x", "owner": commander, "due_date": DUE, "ticket_url": "ftp://x"},
            )
        assert excinfo.value.field == "ticket_url"
        review.refresh_from_db()
        assert review.summary == ""
        assert not review.action_items.exists()

    def test_a_stale_version_is_refused_whole(self, review, commander):
        action_item_add(review=review, title="Someone else's", owner=commander, due_date=DUE, actor=commander)
        with pytest.raises(ConflictError):
            review_save(review=review, actor=commander, version=review.version, draft={"summary": "mine"})
        review.refresh_from_db()
        assert review.summary == ""

    def test_publishing_saves_the_draft_first(self, review, commander):
        review = review_save(review=review, actor=commander, draft={"summary": "s", "root_cause": "r"}, publish=True)
        assert review.status == PostIncidentReview.Status.PUBLISHED
        assert review.root_cause == "r"

    def test_unchanged_sections_record_nothing(self, review, commander):
        version = review.version
        review = review_update(review=review, actor=commander, facts=review.facts, summary="")
        assert review.version == version
        assert review_events(review.incident) == []

    def test_items_of_another_review_are_refused(self, review, commander):
        with pytest.raises(ApplicationError):
            review_save(review=review, actor=commander, item_changes={999: {"status": "done"}})


class TestActionItems:
    def test_an_item_has_an_owner_who_can_move_it_and_is_not_due_in_the_past(self, review, commander, make_user):
        viewer = make_user(Role.VIEWER, username="vera")
        with pytest.raises(ApplicationError) as excinfo:
            action_item_add(review=review, title="Fix it", owner=viewer, due_date=DUE, actor=commander)
        assert (excinfo.value.field, excinfo.value.message) == (
            "owner",
            "vera is not a Responder and cannot own an action item.",
        )
        yesterday = T0.date() - timedelta(days=1)
        with pytest.raises(ApplicationError) as excinfo:
            action_item_add(review=review, title="Fix it", owner=commander, due_date=yesterday, actor=commander)
        assert excinfo.value.field == "due_date"
        assert not ActionItem.objects.exists()

        item = action_item_add(review=review, title="Fix it", owner=commander, due_date=T0.date(), actor=commander)
        for change in ({"due_date": yesterday}, {"owner": viewer}):
            with pytest.raises(ApplicationError) as excinfo:
                action_item_update(item=item, actor=commander, **change)
            assert excinfo.value.field == next(iter(change))
        # Overdue later: the item keeps its date while its other fields move.
        item = action_item_update(item=item, actor=commander, status="done", now=T0 + timedelta(days=3))
        assert (item.status, item.due_date) == ("done", T0.date())

    def test_the_owner_picker_offers_responders_and_above(self, resolved, commander, make_user, client):
        make_user(Role.VIEWER, username="vera")
        client.force_login(commander)
        page = client.get(reverse("incident-review", args=[resolved.pk])).content.decode()
        owner_picker = page.split('name="new-owner"', 1)[1].split("</select>", 1)[0]
        assert f'<option value="{commander.username}"' in owner_picker
        assert 'value="vera"' not in owner_picker

    def test_edit_close_and_link_a_ticket_are_audited_and_on_the_timeline(self, review, commander, responder):
        item = action_item_add(
            review=review, title="Add config validation", owner=commander, due_date=DUE, actor=commander
        )
        item = action_item_update(
            item=item, actor=commander, title="Validate config in CI", owner=responder, due_date=DUE + timedelta(days=7)
        )
        item = action_item_update(
            item=item, actor=responder, status="done", ticket_url="https://tracker.example.com/OPS-12"
        )
        item.refresh_from_db()
        assert (item.title, item.owner, item.status) == ("Validate config in CI", responder, "done")
        assert item.ticket_url == "https://tracker.example.com/OPS-12"
        assert review_events(review.incident)[-2:] == [
            "Action item Validate config in CI: title Validate config in CI; owner rami; due 2026-12-15",
            "Action item Validate config in CI: closed; ticket https://tracker.example.com/OPS-12",
        ]
        changes = [entry.changes_dict for entry in LogEntry.objects.get_for_object(item).order_by("pk")]
        assert changes[-1]["status"] == ["open", "done"]

    def test_a_ticket_must_be_a_web_url(self, review, commander):
        item = action_item_add(review=review, title="t", owner=commander, due_date=DUE, actor=commander)
        with pytest.raises(ApplicationError) as excinfo:
            action_item_update(item=item, actor=commander, ticket_url="javascript:alert(1)")
        assert excinfo.value.field == "ticket_url"

    def test_after_publication_the_work_moves_but_the_title_stays(self, review, commander, responder):
        item = action_item_add(review=review, title="Published title", owner=commander, due_date=DUE, actor=commander)
        review_update(review=review, actor=commander, summary="s", root_cause="r")
        review_publish(review=review, actor=commander)
        with pytest.raises(ConflictError):
            action_item_update(item=item, actor=commander, title="Rewritten")
        item = action_item_update(item=item, actor=commander, owner=responder, status="in_progress")
        assert (item.title, item.owner, item.status) == ("Published title", responder, "in_progress")


class TestRoles:
    def test_roles_are_assigned_versioned_and_on_the_timeline(self, declare, commander, responder):
        incident = declare()
        incident = incident_assign_role(
            incident=incident, role="communications_lead", user=responder, actor=commander, version=incident.version
        )
        incident = incident_assign_role(incident=incident, role="scribe", user=commander, actor=commander)
        incident = incident_assign_role(incident=incident, role="communications_lead", user=None, actor=commander)
        incident.refresh_from_db()
        assert (incident.communications_lead, incident.scribe) == (None, commander)
        assignments = incident.timeline.filter(kind=TimelineEvent.Kind.ASSIGNMENT).values_list("message", flat=True)
        assert list(assignments) == ["Communications lead: rami", "Scribe: cora", "Communications lead: nobody"]
        logged = LogEntry.objects.get_for_object(incident).filter(changes__icontains="scribe")
        assert logged.exists()

    def test_refusals(self, declare, commander, responder, make_user):
        incident = declare()
        with pytest.raises(ApplicationError, match="vera is not a Responder and cannot be operations lead"):
            incident_assign_role(
                incident=incident, role="operations_lead", user=make_user(Role.VIEWER, username="vera"), actor=commander
            )
        with pytest.raises(ApplicationError) as excinfo:
            incident_assign_role(incident=incident, role="cook", user=responder, actor=commander)
        assert excinfo.value.field == "role"
        with pytest.raises(ApplicationError, match="Name the new commander"):
            incident_assign_role(incident=incident, role="commander", user=None, actor=commander)
        with pytest.raises(ConflictError, match="Nobody is scribe"):
            incident_assign_role(incident=incident, role="scribe", user=None, actor=commander)
        with pytest.raises(ConflictError, match="changed since you loaded it"):
            incident_assign_role(incident=incident, role="scribe", user=responder, actor=commander, version=99)


class TestDetails:
    def test_only_what_differs_is_changed_and_recorded(self, declare, commander, api):
        incident = declare(title="Checkout errors", impact_summary="EU")
        search = Service.objects.create(name="Search", slug="search")
        incident = incident_update_details(
            incident=incident,
            actor=commander,
            title=" Checkout errors ",
            impact_summary="EU and US",
            services=[api, search],
            is_public=True,
        )
        message = incident.timeline.filter(message__startswith="Changed").get().message
        assert message == "Changed impact summary: EU and US; services: API, Search; now public"
        version = incident.version
        incident = incident_update_details(
            incident=incident, actor=commander, title="Checkout errors", services=[search, api], is_public=True
        )
        assert incident.version == version


class TestApi:
    @pytest.fixture
    def ic(self, token_client):
        return token_client(Role.INCIDENT_COMMANDER, username="ic")

    def test_roles(self, ic, token_client, declare, responder, make_user):
        incident = declare()
        path = reverse("api:incident-roles", args=[incident.pk])
        body = {"role": "operations_lead", "user": "rami", "version": incident.version}
        response = ic.post(path, body, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["operations_lead"] == "rami"
        assert ic.post(path, body, format="json").status_code == 409  # stale version
        assert ic.post(path, {"role": "operations_lead", "user": "rami"}, format="json").status_code == 409  # holds it
        make_user(Role.VIEWER, username="vera")
        refused = ic.post(path, {"role": "scribe", "user": "vera"}, format="json")
        assert refused.status_code == 400
        assert refused.json()["field"] == "user"
        assert ic.post(path, {"role": "scribe", "user": "nobody-at-all"}, format="json").status_code == 400
        responder_client = token_client(Role.RESPONDER)
        assert responder_client.post(path, {"role": "scribe", "user": None}, format="json").status_code == 403

    def test_details(self, ic, declare, api):
        incident = declare()
        path = reverse("api:incident-detail", args=[incident.pk])
        response = ic.patch(path, {"title": "Payments down", "is_public": True, "services": []}, format="json")
        assert response.status_code == 200
        assert (response.json()["title"], response.json()["is_public"], response.json()["services"]) == (
            "Payments down",
            True,
            [],
        )
        assert ic.patch(path, {"title": "  "}, format="json").status_code == 400

    def test_action_items(self, ic, token_client, review, commander):
        incident = review.incident
        added = ic.post(
            reverse("api:incident-action-items", args=[incident.pk]),
            {
                "title": "Alert on cert expiry",
                "owner": "cora",
                "due_date": "2026-12-08",
                "ticket_url": "https://tracker.example.com/OPS-1",
            },
            format="json",
        )
        assert added.status_code == 201, added.json()
        assert added.json()["ticket_url"] == "https://tracker.example.com/OPS-1"
        path = reverse("api:incident-action-item", args=[incident.pk, added.json()["id"]])
        responder_client = token_client(Role.RESPONDER)
        closed = responder_client.patch(path, {"status": "done", "ticket_url": ""}, format="json")
        assert closed.status_code == 200
        assert (closed.json()["status"], closed.json()["ticket_url"]) == ("done", "")
        assert responder_client.patch(path, {"title": "mine now"}, format="json").status_code == 403
        assert ic.patch(path, {"title": "Alert 30 days before expiry"}, format="json").json()["title"] == (
            "Alert 30 days before expiry"
        )
        assert ic.patch(path, {"ticket_url": "not a url"}, format="json").status_code == 400
        other = reverse("api:incident-action-item", args=[incident.pk + 1, added.json()["id"]])
        assert ic.patch(other, {"status": "done"}, format="json").status_code == 404
        assert ActionItem.objects.get().title == "Alert 30 days before expiry"


def act(client, incident, action, **data):
    return client.post(reverse("incident-act", args=[incident.pk, action]), data, HTTP_HX_REQUEST="true")


class TestPages:
    def test_commander_picker_shows_the_current_holder_and_roles_are_set_in_place(
        self, client, declare, commander, responder
    ):
        incident = declare(commander=commander)
        client.force_login(commander)
        html = client.get(reverse("incident-detail", args=[incident.pk])).content.decode()
        assert '<option value="cora" selected>' in html
        response = act(client, incident, "role", role="scribe", user="rami", version=incident.version)
        assert response.status_code == 200
        assert '<option value="rami" selected>' in response.content.decode()
        assert "scribe rami" in response.content.decode()
        response = act(client, incident, "role", role="scribe", user="rami")
        assert response.status_code == 409

    def test_details_are_edited_in_place(self, client, declare, commander, responder):
        incident = declare()
        client.force_login(commander)
        response = act(
            client,
            incident,
            "details",
            title="Payments down",
            services=["api"],
            impact_summary="EU",
            is_public="on",
            version=incident.version,
        )
        assert response.status_code == 200
        assert "Payments down" in response.content.decode()
        incident.refresh_from_db()
        assert (incident.title, incident.is_public) == ("Payments down", True)
        client.force_login(responder)
        assert act(client, incident, "details", title="mine").status_code == 403

    def test_adding_an_item_keeps_the_draft_and_a_refused_item_keeps_everything(self, client, review, commander):
        client.force_login(commander)
        page = reverse("incident-review", args=[review.incident.pk])
        typed = {
            "version": review.version,
            "facts": review.facts,
            "summary": "Checkout down 40 min",
            "root_cause": "Expired certificate",
            "contributing_factors": "",
        }
        refused = client.post(
            page,
            typed
            | {
                "action": "add-item",
                "new-title": "Alert on expiry",
                "new-owner": "cora",
                "new-due_date": "",
                "new-ticket_url": "",
            },
        )
        assert refused.status_code == 400
        html = refused.content.decode()
        assert "New action item, due date: This field is required." in html
        assert "Checkout down 40 min" in html
        assert 'value="Alert on expiry"' in html

        added = client.post(
            page,
            typed
            | {
                "action": "add-item",
                "new-title": "Alert on expiry",
                "new-owner": "cora",
                "new-due_date": "2026-12-08",
                "new-ticket_url": "",
            },
        )
        assert added.status_code == 302
        review.refresh_from_db()
        assert (review.summary, review.root_cause) == ("Checkout down 40 min", "Expired certificate")
        item = review.action_items.get()
        row = {
            f"item-{item.pk}-{k}": v
            for k, v in {
                "title": item.title,
                "owner": "cora",
                "due_date": "2026-12-08",
                "status": "open",
                "ticket_url": "tracker.example.com/OPS-3",
            }.items()
        }
        closed = client.post(
            page, {"version": review.version, "summary": "Edited too", "action": f"close-{item.pk}"} | row
        )
        assert closed.status_code == 302
        item.refresh_from_db()
        assert (item.status, item.ticket_url) == ("done", "https://tracker.example.com/OPS-3")
        review.refresh_from_db()
        assert review.summary == "Edited too"

    def test_a_responder_tracks_items_but_does_not_write_the_review(self, client, review, commander, responder):
        item = action_item_add(review=review, title="t", owner=commander, due_date=DUE, actor=commander)
        client.force_login(responder)
        page = reverse("incident-review", args=[review.incident.pk])
        html = client.get(page).content.decode()
        assert f'name="item-{item.pk}-title"' in html
        assert f'<input type="text" name="item-{item.pk}-title" value="t" maxlength="200" disabled' in html
        assert client.post(page, {"action": "save", "summary": "mine"}).status_code == 403
        response = client.post(
            page,
            {
                "action": f"close-{item.pk}",
                f"item-{item.pk}-status": "open",
                f"item-{item.pk}-title": "hijacked",
                f"item-{item.pk}-ticket_url": "",
            },
        )
        assert response.status_code == 302
        item.refresh_from_db()
        assert (item.title, item.status) == ("t", "done")

    def test_a_stale_page_is_refused_with_its_text_kept_and_the_latest_version_to_save_again(
        self, client, review, commander
    ):
        client.force_login(commander)
        page = reverse("incident-review", args=[review.incident.pk])
        stale = review.version
        review_update(review=review, actor=commander, root_cause="Someone else's cause")
        refused = client.post(page, {"version": stale, "summary": "Mine", "action": "save"})
        assert refused.status_code == 409
        html = refused.content.decode()
        assert "changed by someone else" in html
        assert "\nMine</textarea>" in html
        review.refresh_from_db()
        assert review.summary == ""
        assert f'name="version" value="{review.version}"' in html
        assert client.post(page, {"version": review.version, "summary": "Mine", "action": "save"}).status_code == 302


@pytest.mark.parametrize(
    ("review_required", "review_status", "closes"),
    [(False, None, True), (True, None, False), (True, "draft", False), (True, "published", True)],
)
def test_a_resolved_incident_closes_once_any_review_it_needs_is_published(review_required, review_status, closes):
    allowed = policy.next_statuses("resolved", review_required=review_required, review_status=review_status)
    assert ("closed" in allowed) is closes
    assert {"review", "investigating"} <= set(allowed)
    assert policy.next_statuses("review", review_required=True, review_status="draft") == ()
