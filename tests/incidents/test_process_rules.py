"""The rest of the incident process (issue 15, point 6): resolving a P1/P2 soon after mitigation asks for a
confirmation, the review is due 48 h after resolution with a reminder at 24 h, security flags reach the Security
team's channel, P3/P4 escalate on their own clock; and the severity page shows where the seeds disagree."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse

from incidents.models import Incident, PostIncidentReview, Severity, TimelineEvent, TimerReminder
from incidents.services import incident_sweep_timers, incident_transition, review_publish
from portal.accounts.roles import Role
from portal.errors import ConflictError
from portal.notifications.models import Notification
from tests.incidents.conftest import T0

S = Incident.Status


def mitigate(incident, commander, at):
    """Walk to monitoring (mitigated) at `at`."""
    for status in (S.INVESTIGATING, S.IDENTIFIED, S.MITIGATING, S.MONITORING):
        incident = incident_transition(incident=incident, to_status=status, actor=commander, now=at)
    return incident


class TestResolveConfirmation:
    @pytest.mark.parametrize("code", ["P1", "P2"])
    def test_resolving_within_the_hour_after_mitigation_asks_for_a_confirmation(self, declare, commander, code):
        incident = mitigate(declare(code), commander, T0 + timedelta(minutes=10))

        with pytest.raises(ConflictError) as refused:
            incident_transition(incident=incident, to_status=S.RESOLVED, actor=commander,
                                now=T0 + timedelta(minutes=40))  # fmt: skip
        assert refused.value.field == "confirm"
        assert "mitigated 30 min ago: monitor" in refused.value.message

        resolved = incident_transition(incident=incident, to_status=S.RESOLVED, actor=commander, confirm=True,
                                       now=T0 + timedelta(minutes=40))  # fmt: skip
        assert resolved.status == S.RESOLVED

    def test_the_hour_counts_from_the_mitigation_that_held(self, declare, commander):
        """Back to mitigating, or re-opened: the earlier mitigation did not hold."""
        incident = mitigate(declare("P2"), commander, T0)
        for status, minutes in ((S.MITIGATING, 90), (S.MONITORING, 100)):
            incident = incident_transition(incident=incident, to_status=status, actor=commander,
                                           now=T0 + timedelta(minutes=minutes))  # fmt: skip
        with pytest.raises(ConflictError) as refused:
            incident_transition(incident=incident, to_status=S.RESOLVED, actor=commander,
                                now=T0 + timedelta(minutes=110))  # fmt: skip
        assert "mitigated 10 min ago" in refused.value.message

        incident = incident_transition(incident=incident, to_status=S.RESOLVED, actor=commander,
                                       now=T0 + timedelta(minutes=160))  # fmt: skip
        incident = incident_transition(incident=incident, to_status=S.INVESTIGATING, actor=commander,
                                       now=T0 + timedelta(minutes=170))  # fmt: skip
        assert incident.mitigated_at is None  # re-opened: not mitigated any more
        for status in (S.MITIGATING, S.MONITORING):
            incident = incident_transition(incident=incident, to_status=status, actor=commander,
                                           now=T0 + timedelta(minutes=180))  # fmt: skip
        assert incident.mitigated_at == T0 + timedelta(minutes=180)

    @pytest.mark.parametrize("code", ["P1", "P2"])
    def test_resolving_one_never_monitored_asks_for_a_confirmation(self, declare, commander, code):
        """Straight from investigating (a false alarm, or a fix nobody watched): the seeds' hour of monitoring
        was skipped, which the commander confirms."""
        incident = incident_transition(incident=declare(code), to_status=S.INVESTIGATING, actor=commander, now=T0)

        with pytest.raises(ConflictError) as refused:
            incident_transition(incident=incident, to_status=S.RESOLVED, actor=commander,
                                now=T0 + timedelta(hours=3))  # fmt: skip
        assert refused.value.field == "confirm"
        assert refused.value.message == (
            f"INC-{incident.pk} was never monitored after a mitigation: monitor a {code} for 1-2 hours before "
            "resolving it, or confirm to resolve it anyway."
        )
        assert incident_transition(incident=incident, to_status=S.RESOLVED, actor=commander, confirm=True,
                                   now=T0 + timedelta(hours=3)).status == S.RESOLVED  # fmt: skip

    def test_after_an_hour_of_monitoring_or_for_a_p3_no_confirmation_is_needed(self, declare, commander):
        p1 = mitigate(declare("P1"), commander, T0)
        assert incident_transition(incident=p1, to_status=S.RESOLVED, actor=commander,
                                   now=T0 + timedelta(hours=1)).status == S.RESOLVED  # fmt: skip
        p3 = mitigate(declare("P3", title="Search slow"), commander, T0)
        assert incident_transition(incident=p3, to_status=S.RESOLVED, actor=commander,
                                   now=T0 + timedelta(minutes=5)).status == S.RESOLVED  # fmt: skip
        never_monitored = declare("P4", title="Typo on the help page")
        assert incident_transition(incident=never_monitored, to_status=S.RESOLVED, actor=commander,
                                   now=T0 + timedelta(minutes=5)).status == S.RESOLVED  # fmt: skip

    def test_the_api_answers_409_then_resolves_with_confirm(self, declare, commander, token_client, time_machine):
        incident = mitigate(declare("P1"), commander, T0)
        time_machine.move_to(T0 + timedelta(minutes=20), tick=False)
        client = token_client(Role.INCIDENT_COMMANDER)
        url = reverse("api:incident-transition", args=[incident.pk])

        refused = client.post(url, {"to_status": "resolved"}, format="json")
        assert (refused.status_code, refused.json()["field"]) == (409, "confirm")
        assert client.post(url, {"to_status": "resolved", "confirm": True}, format="json").status_code == 200

    def test_the_page_offers_to_resolve_anyway(self, declare, commander, client, time_machine):
        incident = mitigate(declare("P2"), commander, T0)
        time_machine.move_to(T0 + timedelta(minutes=20), tick=False)
        client.force_login(commander)
        url = reverse("incident-act", args=[incident.pk, "transition"])

        # Not a refusal on the page but the next step, in a card of its own: portal.js shows no 4xx body.
        asked = client.post(url, {"to_status": "resolved", "version": incident.version}, HTTP_HX_REQUEST="true")
        assert asked.status_code == 200
        card = asked.content.decode().split('id="confirm-resolve"', 1)[1]
        assert "was mitigated 20 min ago: monitor a P2 for 1-2 hours before resolving it" in card
        assert "Resolve anyway" in card
        assert Incident.objects.get(pk=incident.pk).status == S.MONITORING
        without_htmx = client.post(url, {"to_status": "resolved", "version": incident.version})
        assert without_htmx.status_code == 200
        assert 'id="confirm-resolve"' in without_htmx.content.decode()
        done = client.post(url, {"to_status": "resolved", "version": incident.version, "confirm": "on"},
                           HTTP_HX_REQUEST="true")  # fmt: skip
        assert done.status_code == 200
        assert Incident.objects.get(pk=incident.pk).status == S.RESOLVED


class TestReviewDue:
    def test_the_review_is_due_48_h_after_resolution_with_one_reminder_at_24_h(self, declare, commander):
        incident = declare("P2")
        incident.commander = commander
        incident.save()
        resolved_at = T0 + timedelta(hours=2)
        incident_transition(incident=incident, to_status=S.RESOLVED, confirm=True, actor=commander, now=resolved_at)
        review = PostIncidentReview.objects.get(incident=incident)
        assert review.due_at == resolved_at + timedelta(hours=48)

        assert incident_sweep_timers(now=resolved_at + timedelta(hours=23, minutes=59)) == 0
        assert incident_sweep_timers(now=resolved_at + timedelta(hours=24)) == 1
        assert incident_sweep_timers(now=resolved_at + timedelta(hours=25)) == 0  # once

        reminder = Notification.objects.get(source=f"incident:{incident.pk}:review-reminder")
        assert list(reminder.recipients.all()) == [commander]
        assert "post-incident review due" in reminder.title
        assert TimerReminder.objects.filter(incident=incident, timer="review").count() == 1
        assert incident.timeline.filter(kind=TimelineEvent.Kind.REMINDER, message__contains="review is due").exists()

    def test_a_published_review_is_not_reminded(self, declare, commander):
        incident = declare("P3")
        incident_transition(incident=incident, to_status=S.RESOLVED, confirm=True, actor=commander, now=T0)
        review = PostIncidentReview.objects.get(incident=incident)
        review.summary = review.root_cause = "done"
        review.save()
        review_publish(review=review, actor=commander, now=T0 + timedelta(hours=3))
        assert incident_sweep_timers(now=T0 + timedelta(hours=30)) == 0


class TestEscalationClocks:
    @pytest.mark.parametrize(("code", "level_2", "level_3"), [
        ("P1", timedelta(0), timedelta(0)),
        ("P2", timedelta(0), timedelta(hours=1)),
        ("P3", timedelta(hours=4), timedelta(hours=8)),
        ("P4", timedelta(days=1), timedelta(days=2)),
    ])  # fmt: skip
    def test_each_severity_escalates_on_its_own_clock(self, declare, code, level_2, level_3):
        incident = declare(code)
        due = {step.level: step.due_at for step in incident.escalation_steps.filter(kind="level")}
        assert (due[2], due[3]) == (T0 + level_2, T0 + level_3)


def test_the_severity_page_shows_both_seeds_response_times(client, make_user, db):
    client.force_login(make_user(Role.VIEWER))
    page = client.get(reverse("severity-list")).content.decode()
    p2 = page.split('id="severity-P2"', 1)[1].split("</tr>", 1)[0]
    assert "<td>15 min</td>" in p2  # the operations manual's severity table
    assert "<td>30 min</td>" in p2  # the operations guide's incident table
    p4 = page.split('id="severity-P4"', 1)[1].split("</tr>", 1)[0]
    assert "<td>next business day</td>" in p4
    assert "<td>24 h</td>" in p4
    assert "L2 Platform lead: 24 h; L3 Engineering manager / CTO: 2 d" in p4


def test_the_severity_page_shows_the_manuals_routing_labels_beside_the_portals_routing(client, make_user, db):
    client.force_login(make_user(Role.VIEWER))
    page = client.get(reverse("severity-list")).content.decode()
    cells = {code: page.split(f'id="severity-{code}"', 1)[1].split("</tr>", 1)[0] for code in ("P1", "P2", "P3", "P4")}
    for code, level, label in [("P1", "critical", "P0"), ("P2", "critical", "P0"), ("P3", "warning", "P1"),
                               ("P4", "info", "P2")]:  # fmt: skip
        assert f'<td>{level} <span class="muted">(manual\'s routing table: {label})</span></td>' in cells[code]
    assert "Critical = P0, Warning = P1, Info = P2" in page.split('id="routing-labels"', 1)[1]
    assert "<td>60 min / next business day</td>" in cells["P4"]  # the data the README's table shows


def test_the_readmes_severity_table_gives_the_portals_response_times(db):
    """The README's 'Respond (portal)' column is the seeded data (its P4 once said 'next business day' only)."""

    def minutes(value: int) -> str:
        return f"{value // 60} h" if value % 60 == 0 else f"{value} min"

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rows = {line.split("|")[1].split()[0]: line.split("|")[2].strip() for line in readme.splitlines()
            if re.match(r"\| P[1-4] [A-Z]", line)}  # fmt: skip
    for severity in Severity.objects.all():
        after = (minutes(severity.after_hours_response_minutes) if severity.after_hours_response_minutes
                 else "next business day")  # fmt: skip
        assert rows[severity.code] == f"{minutes(severity.response_minutes)} / {after}", severity.code
