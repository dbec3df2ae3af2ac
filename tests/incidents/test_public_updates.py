"""Public communication is deliberate: each status update is public or internal, the template follows the chosen
status, and resolving a public incident asks for its final public update (services, API and page alike)."""

from datetime import timedelta

import pytest
from django.urls import reverse

from incidents import policy
from incidents.models import Incident, StatusUpdate
from incidents.services import incident_post_update, incident_transition
from portal.accounts.roles import Role
from portal.errors import ApplicationError
from portal.notifications.models import EventKind, Notification
from tests.incidents.conftest import T0


def act(client, incident, action, **data):
    return client.post(reverse("incident-act", args=[incident.pk, action]), data, HTTP_HX_REQUEST="true")


class TestDefaultAudience:
    def test_responders_post_internal_commanders_follow_the_incident(self, declare, responder, commander):
        public, internal = declare(is_public=True), declare()
        assert policy.update_public_by_default(public, responder) is False
        assert policy.update_public_by_default(public, commander) is True
        assert policy.update_public_by_default(internal, commander) is False

        by_responder = incident_post_update(incident=public, label="investigating", description="A", actor=responder)
        by_commander = incident_post_update(incident=public, label="investigating", description="B", actor=commander)
        assert (by_responder.is_public, by_commander.is_public) == (False, True)

    def test_only_public_updates_tell_the_status_pages_subscribers(self, declare, responder):
        public = declare(is_public=True)
        incident_post_update(incident=public, label="identified", description="Internal", actor=responder)
        assert not Notification.objects.filter(event_kind=EventKind.INCIDENT_UPDATED).exists()
        incident_post_update(incident=public, label="identified", description="Out", actor=responder, is_public=True)
        assert Notification.objects.filter(event_kind=EventKind.INCIDENT_UPDATED).count() == 1
        # #incidents hears of both
        assert Notification.objects.filter(event_kind=EventKind.INCIDENT_STATUS_UPDATE).count() == 2

    def test_a_public_update_needs_a_public_incident(self, declare, commander):
        internal = declare()
        with pytest.raises(ApplicationError) as excinfo:
            incident_post_update(incident=internal, label="investigating", description="x", actor=commander,
                                 is_public=True)  # fmt: skip
        assert excinfo.value.field == "is_public"
        assert not StatusUpdate.objects.exists()

    def test_the_timeline_says_which(self, declare, responder):
        incident = declare(is_public=True)
        incident_post_update(incident=incident, label="identified", description="Bad push", actor=responder)
        assert incident.timeline.filter(message="Identified (internal): Bad push").exists()


class TestTemplate:
    @pytest.mark.parametrize(
        ("label", "text"),
        [
            ("investigating", "We are currently investigating the issue affecting API (API latency on EU nodes)."),
            ("identified", "We have identified the cause of the issue affecting API (API latency on EU nodes)"),
            ("monitoring", "A fix for the issue affecting API (API latency on EU nodes) is in place"),
            ("resolved", "The issue affecting API (API latency on EU nodes) has been resolved."),
        ],
    )
    def test_follows_the_status_and_keeps_the_titles_case(self, declare, label, text):
        draft = policy.update_draft(declare(title="API latency on EU nodes"), label)
        assert draft.startswith(text)
        if label != "investigating":
            assert "investigating" not in draft

    def test_the_form_carries_every_draft_and_starts_from_the_incidents_phase(self, client, declare, commander):
        incident = declare(is_public=True)
        incident_transition(incident=incident, to_status="investigating", actor=commander)
        incident_transition(incident=incident, to_status="identified", actor=commander)
        client.force_login(commander)
        response = client.get(reverse("incident-detail", args=[incident.pk]))
        form = response.context["update_form"]
        assert form.initial["label"] == "identified"
        assert form.initial["is_public"] is True
        html = response.content.decode()
        assert "data-drafts=" in html
        assert "has been resolved" in html
        assert "Status page preview" in html


class TestPreview:
    def test_public_ones_show_the_status_page_text(self, client, declare, responder):
        incident = declare(is_public=True, impact_summary="Slow checkouts")
        client.force_login(responder)
        url = reverse("incident-update-preview", args=[incident.pk])
        public = client.get(url, {"label": "monitoring", "description": "Fix deployed.", "is_public": "on"},
                            HTTP_HX_REQUEST="true").content.decode()  # fmt: skip
        assert public.lstrip().startswith('<div id="update-preview"')
        assert "<strong>Monitoring</strong>" in public
        assert "<p>Fix deployed.</p>" in public
        assert "Affected services: API. Impact: Slow checkouts" in public
        internal = client.get(url, {"label": "monitoring", "description": "Fix deployed."}).content.decode()
        assert "Status page preview" not in internal
        assert "the status page and its subscribers do not" in internal

    def test_needs_the_responder_role(self, client, declare, make_user):
        client.force_login(make_user(Role.VIEWER))
        response = client.get(reverse("incident-update-preview", args=[declare().pk]))
        assert response.status_code == 403


class TestFinalUpdate:
    def test_resolving_a_public_incident_asks_for_it(self, declare, commander):
        incident = declare(is_public=True)
        with pytest.raises(ApplicationError) as excinfo:
            incident_transition(incident=incident, to_status="resolved", confirm=True, actor=commander)
        assert excinfo.value.field == "final_update"
        assert "has been resolved" in excinfo.value.extra["draft"]
        incident.refresh_from_db()
        assert incident.status == Incident.Status.TRIAGE

    def test_with_it_posts_the_public_resolved_update_and_resolves(self, declare, commander):
        incident = declare(is_public=True)
        incident_transition(incident=incident, to_status="resolved", confirm=True, actor=commander,
                            final_update="All good now.", now=T0 + timedelta(hours=1))  # fmt: skip
        incident.refresh_from_db()
        update = incident.status_updates.get()
        assert (incident.status, update.label, update.is_public, update.description) == (
            "resolved", "resolved", True, "All good now."
        )  # fmt: skip
        assert incident.last_update_at == T0 + timedelta(hours=1)

    def test_not_needed_when_already_posted_or_internal(self, declare, commander):
        public, internal = declare(is_public=True), declare()
        incident_post_update(incident=public, label="resolved", description="Fixed.", actor=commander, is_public=True)
        incident_transition(incident=public, to_status="resolved", confirm=True, actor=commander)
        incident_transition(incident=internal, to_status="resolved", confirm=True, actor=commander)
        assert set(Incident.objects.values_list("status", flat=True)) == {"resolved"}

    def test_a_newer_public_update_that_is_not_resolved_asks_again(self, declare, commander):
        incident = declare(is_public=True)
        incident_post_update(incident=incident, label="resolved", description="Fixed.", actor=commander, now=T0)
        incident_post_update(incident=incident, label="investigating", description="Back.", actor=commander,
                             now=T0 + timedelta(minutes=5))  # fmt: skip
        with pytest.raises(ApplicationError) as excinfo:
            incident_transition(incident=incident, to_status="resolved", confirm=True, actor=commander)
        assert excinfo.value.field == "final_update"

    def test_the_page_asks_for_it_in_the_status_update_card(self, client, declare, commander):
        incident = declare(is_public=True)
        client.force_login(commander)
        response = act(client, incident, "transition", to_status="resolved", confirm=True, version=incident.version)
        html = response.content.decode()
        assert response.status_code == 200
        assert 'id="final-update"' in html
        assert "write the final public update" in html
        assert 'name="final_update"' in html
        incident.refresh_from_db()
        assert incident.status == "triage"

        response = act(client, incident, "transition", to_status="resolved", confirm=True, version=incident.version,
                       final_update="Checkout works again.")  # fmt: skip
        assert response.status_code == 200
        incident.refresh_from_db()
        assert incident.status == "resolved"
        assert incident.status_updates.get(is_public=True).description == "Checkout works again."


class TestApi:
    def test_status_updates_take_is_public_with_the_same_default(self, token_client, declare):
        incident = declare(is_public=True)
        url = reverse("api:incident-updates", args=[incident.pk])
        body = {"label": "investigating", "description": "Looking."}
        assert token_client(Role.RESPONDER).post(url, body, format="json").json()["is_public"] is False
        assert token_client(Role.INCIDENT_COMMANDER).post(url, body, format="json").json()["is_public"] is True
        explicit = token_client(Role.RESPONDER).post(url, body | {"is_public": True}, format="json")
        assert (explicit.status_code, explicit.json()["is_public"]) == (201, True)

    def test_public_update_on_an_internal_incident_names_the_field(self, token_client, declare):
        incident = declare()
        response = token_client(Role.RESPONDER).post(
            reverse("api:incident-updates", args=[incident.pk]),
            {"label": "investigating", "description": "x", "is_public": True},
            format="json",
        )
        assert response.status_code == 400
        assert "is_public" in response.content.decode()

    def test_resolving_a_public_incident_needs_final_update(self, token_client, declare):
        incident = declare(is_public=True)
        client = token_client(Role.INCIDENT_COMMANDER)
        url = reverse("api:incident-transition", args=[incident.pk])
        refused = client.post(url, {"to_status": "resolved", "confirm": True}, format="json")
        assert refused.status_code == 400
        assert "final_update" in refused.content.decode()
        assert "has been resolved" in refused.content.decode()
        done = client.post(url, {"to_status": "resolved", "confirm": True, "final_update": "Fixed for good."},
                           format="json")  # fmt: skip
        assert (done.status_code, done.json()["status"]) == (200, "resolved")

    def test_preview_shows_the_status_page_text_and_the_drafts_posting_nothing(self, token_client, declare):
        incident = declare(is_public=True, title="API latency")
        url = reverse("api:incident-update-preview", args=[incident.pk])
        response = token_client(Role.RESPONDER).post(
            url, {"label": "monitoring", "description": "Fixed."}, format="json"
        )
        body = response.json()
        assert response.status_code == 200
        assert body["text"].startswith("[Status: Monitoring]\n\nFixed.\n\nAffected services: API")
        assert body["drafts"]["resolved"] == "The issue affecting API (API latency) has been resolved."
        assert not StatusUpdate.objects.exists()
        assert token_client(Role.VIEWER).post(url, {"label": "monitoring"}, format="json").status_code == 403
