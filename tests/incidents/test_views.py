from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import empty

from incidents.models import Incident, Severity, StatusUpdate
from incidents.services import incident_add_note, incident_change_severity, incident_transition
from portal.accounts.roles import Role
from tests.incidents.conftest import T0


def act(client, incident, action, **data):
    return client.post(reverse("incident-act", args=[incident.pk, action]), data, HTTP_HX_REQUEST="true")


class TestList:
    def test_shows_open_incidents_with_timers(self, client, declare, make_user):
        declare("P1", title="db down", at=timezone.now() - timedelta(minutes=17, seconds=30))
        client.force_login(make_user(Role.VIEWER))
        html = client.get(reverse("incident-list")).content.decode()
        assert "db down" in html
        assert "update overdue by 2 min" in html
        assert "resolution due in 42 min" in html

    def test_htmx_refresh_returns_the_table_only(self, client, declare, make_user):
        declare()
        client.force_login(make_user(Role.VIEWER))
        html = client.get(reverse("incident-list"), {"open": "true"}, HTTP_HX_REQUEST="true").content.decode()
        assert html.lstrip().startswith('<section class="card" id="incident-table"')
        assert 'hx-trigger="every 15s"' in html

    def test_query_count_is_constant(self, client, declare, make_user):
        client.force_login(make_user(Role.VIEWER))
        declare()
        client.get(reverse("incident-list"))
        with CaptureQueriesContext(connection) as one:
            client.get(reverse("incident-list"))
        for _ in range(10):
            declare()
        with CaptureQueriesContext(connection) as eleven:
            assert len(client.get(reverse("incident-list")).context["page"].object_list) == 11
        assert len(eleven) == len(one) <= 10


class TestDeclare:
    def test_responder_declares_and_lands_on_the_incident(self, client, make_user, api, severities):
        client.force_login(make_user(Role.RESPONDER))
        response = client.post(
            reverse("incident-declare"), {"title": "Search slow", "severity": "P3", "services": ["api"]}
        )
        incident = Incident.objects.get()
        assert response.status_code == 302
        assert response["Location"] == reverse("incident-detail", args=[incident.pk])

    def test_the_page_gives_each_severitys_timers_from_its_data(self, client, make_user, severities):
        client.force_login(make_user(Role.RESPONDER))
        page = client.get(reverse("incident-declare")).content.decode()
        targets = page.split('id="severity-targets"', 1)[1].split("</ul>", 1)[0]
        for line in (
            "P1: acknowledge within 5 min (15 min after hours), update every 15 min, resolve within 1 h",
            "P3: acknowledge within 1 h (by the next business day after hours), update every 2 h, resolve within 24 h",
            "P4: acknowledge within 1 h (by the next business day after hours), update as needed, resolve within 7 d",
        ):
            assert f"<li>{line}</li>" in targets

    def test_bad_form_is_a_400_with_the_field_error(self, client, make_user, severities):
        client.force_login(make_user(Role.RESPONDER))
        response = client.post(reverse("incident-declare"), {"title": "", "severity": "P3"})
        assert response.status_code == 400
        assert response.context["form"].errors["title"]

    def test_viewer_cannot_declare(self, client, make_user):
        client.force_login(make_user(Role.VIEWER))
        assert client.get(reverse("incident-declare")).status_code == 403


class TestDetail:
    def test_commander_sees_only_allowed_moves(self, client, declare, commander):
        incident = declare()
        client.force_login(commander)
        html = client.get(reverse("incident-detail", args=[incident.pk])).content.decode()
        assert 'name="to_status" value="investigating"' in html
        assert 'name="to_status" value="resolved"' in html
        assert 'name="to_status" value="monitoring"' not in html

    def test_viewer_sees_no_controls(self, client, declare, make_user):
        incident = declare()
        client.force_login(make_user(Role.VIEWER))
        html = client.get(reverse("incident-detail", args=[incident.pk])).content.decode()
        assert "Post update" not in html
        assert "Move to" not in html

    def test_forms_are_built_only_for_the_cards_the_page_shows(self, client, declare, commander, make_user):
        """The page's forms are built when the template first uses one: an open incident's commander gets them all,
        a viewer or a closed incident none of those it does not show."""
        lazy = ("update_form", "update_preview", "severity_form", "flag_form", "procedure_form")
        incident = declare("P3", is_public=True)  # its updates are public by default: the page previews them

        def built(user) -> dict[str, bool]:
            client.force_login(user)
            context = client.get(reverse("incident-detail", args=[incident.pk])).context
            return {name: context[name]._wrapped is not empty for name in (*lazy, "details_form", "note_form")}

        assert built(commander) == dict.fromkeys((*lazy, "details_form", "note_form"), True)
        assert built(make_user(Role.VIEWER)) == dict.fromkeys((*lazy, "details_form", "note_form"), False)
        incident = incident_transition(incident=incident, to_status="resolved", confirm=True, actor=commander,
                                       final_update="Fixed.")  # fmt: skip
        incident = incident_transition(incident=incident, to_status="closed", actor=commander)
        assert built(commander) == {**dict.fromkeys(lazy, False), "details_form": True, "note_form": True}

    def test_update_form_is_prefilled_from_the_template(self, client, declare, commander):
        incident = declare("P2", impact_summary="5% of checkouts fail")
        client.force_login(commander)
        form = client.get(reverse("incident-detail", args=[incident.pk])).context["update_form"]
        assert form.initial["label"] == StatusUpdate.Label.INVESTIGATING
        assert (
            form.initial["description"] == "We are currently investigating the issue affecting API (Checkout errors)."
        )
        assert form.initial["impact"] == "5% of checkouts fail"
        assert form.initial["next_update_minutes"] == 30

    def test_htmx_update_swaps_the_body_in_place(self, client, declare, responder):
        incident = declare()
        client.force_login(responder)
        response = act(client, incident, "update", label="identified", description="Bad config push", impact="",
                       next_update_minutes=30)  # fmt: skip
        html = response.content.decode()
        assert response.status_code == 200
        assert html.lstrip().startswith('<div id="incident-body"')
        assert "Identified (internal): Bad config push" in html
        assert "<html" not in html

    def test_transition_by_commander(self, client, declare, commander):
        incident = declare()
        client.force_login(commander)
        response = act(client, incident, "transition", to_status="investigating", version=incident.version)
        assert response.status_code == 200
        incident.refresh_from_db()
        assert incident.status == Incident.Status.INVESTIGATING

    def test_stale_version_shows_a_conflict(self, client, declare, commander):
        incident = declare()
        client.force_login(commander)
        act(client, incident, "transition", to_status="investigating", version=incident.version)
        response = act(client, incident, "transition", to_status="resolved", confirm=True, version=incident.version)
        assert response.status_code == 409
        assert "changed since you loaded it" in response.content.decode()

    def test_invalid_form_is_a_400_naming_the_field(self, client, declare, responder):
        incident = declare()
        client.force_login(responder)
        response = act(client, incident, "update", label="investigating", description="")
        assert response.status_code == 400
        assert "description" in response.content.decode()

    def test_responder_cannot_transition(self, client, declare, responder):
        incident = declare()
        client.force_login(responder)
        assert act(client, incident, "transition", to_status="investigating").status_code == 403
        incident.refresh_from_db()
        assert incident.status == Incident.Status.TRIAGE

    def test_unknown_action_is_refused(self, client, declare, commander):
        incident = declare()
        client.force_login(commander)
        assert act(client, incident, "delete").status_code == 403


class TestLive:
    """The incident page polls /live/ with the token it shows (issue 14, point 1)."""

    def poll(self, client, incident, since):
        return client.get(reverse("incident-live", args=[incident.pk]), {"since": since}, HTTP_HX_REQUEST="true")

    def token(self, client, incident) -> str:
        return client.get(reverse("incident-detail", args=[incident.pk])).context["live_token"]

    def test_unchanged_is_an_empty_204_and_a_change_sends_the_fresh_body(self, client, declare, commander):
        incident = declare()
        client.force_login(commander)
        token = self.token(client, incident)
        response = self.poll(client, incident, token)
        assert (response.status_code, response.content) == (204, b"")

        incident_add_note(incident=incident, text="Payments team paged", actor=commander)  # no version bump
        response = self.poll(client, incident, token)
        html = response.content.decode()
        assert response.status_code == 200
        assert html.lstrip().startswith('<div id="incident-body"')
        assert "Payments team paged" in html
        assert f"since={self.token(client, incident)}" in html  # the next poll asks about the new state
        assert self.token(client, incident) != token

        incident_change_severity(incident=incident, severity=Severity.objects.get(code="P3"), actor=commander,
                                 reason="EU only")  # fmt: skip
        assert self.poll(client, incident, self.token(client, incident)).status_code == 204

    def test_a_stale_token_for_a_changed_severity_is_not_204(self, client, declare, commander):
        incident = declare()
        client.force_login(commander)
        token = self.token(client, incident)
        incident_change_severity(incident=incident, severity=Severity.objects.get(code="P3"), actor=commander,
                                 reason="EU only")  # fmt: skip
        assert "P3" in self.poll(client, incident, token).content.decode()

    def test_an_unchanged_poll_costs_the_same_queries_however_long_the_timeline(self, client, declare, commander):
        incident = declare()
        client.force_login(commander)
        self.poll(client, incident, "warm-up")
        counts = []
        for notes in (1, 200):
            for n in range(notes):
                incident_add_note(incident=incident, text=f"note {n}", actor=commander)
            token = self.token(client, incident)
            with CaptureQueriesContext(connection) as queries:
                assert self.poll(client, incident, token).status_code == 204
            counts.append(len(queries))
        assert counts[0] == counts[1] <= 4  # session, user, roles, the token

    def test_a_removed_incident_is_a_404(self, client, commander):
        client.force_login(commander)
        assert client.get(reverse("incident-live", args=[999]), HTTP_HX_REQUEST="true").status_code == 404


class TestReviewPage:
    def test_commander_drafts_and_publishes(self, client, declare, commander, time_machine):
        from incidents.services import incident_transition

        time_machine.move_to(T0)  # the action item's due date counts from it
        incident = declare("P1")
        incident_transition(incident=incident, to_status="resolved", confirm=True, actor=commander)
        client.force_login(commander)
        page = reverse("incident-review", args=[incident.pk])
        client.post(page, {"action": "save", "summary": "API down 20 min", "root_cause": "Expired certificate"})
        client.post(
            page,
            {
                "action": "add-item",
                "new-title": "Alert on cert expiry",
                "new-owner": "cora",
                "new-due_date": "2026-12-01",
            },
        )
        response = client.post(page, {"action": "publish"}, follow=True)
        html = response.content.decode()
        assert "published" in html
        assert "Alert on cert expiry" in html
        assert "Expired certificate" in html

    def test_review_before_resolution_explains_why_not(self, client, declare, commander):
        client.force_login(commander)
        response = client.get(reverse("incident-review", args=[declare().pk]))
        assert response.status_code == 400
        assert "no review before it is resolved" in response.content.decode()


class TestEscalation:
    def test_detail_shows_the_snapshot_and_a_commander_escalates_by_hand(self, client, declare, commander):
        incident = declare("P3")
        client.force_login(commander)
        html = client.get(reverse("incident-detail", args=[incident.pk])).content.decode()
        assert "Escalation matrix" in html
        assert "L2 Platform lead" in html
        response = act(client, incident, "escalate", reason="Customers tweeting")
        assert response.status_code == 200
        assert "Paged L1 On-call engineer" in response.content.decode()

    def test_responder_cannot_escalate_by_hand(self, client, declare, responder):
        incident = declare("P3")
        client.force_login(responder)
        assert act(client, incident, "escalate", reason="x").status_code == 403
