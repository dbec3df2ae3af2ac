"""Procedures run step by step: who did each step and when, the effects of steps run for an incident, and DR drills
timed step by step and judged against the RTO."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse

from incidents.models import Incident, PostIncidentReview, Service, Severity, StatusUpdate
from incidents.services import incident_declare, incident_transition
from maintenance.services import window_create_emergency
from oncall.services import rotation_create
from operations.models import DrillPlan, DrillRecord, Procedure, ProcedureRun
from operations.services.procedures import procedure_run_start, procedure_step_done
from portal.accounts.roles import Role
from portal.errors import ApplicationError, ConflictError
from portal.notifications.models import Channel, Notification

T0 = datetime(2027, 7, 14, 12, 0, tzinfo=UTC)  # a quiet Wednesday
RUNS = "/api/v1/procedure-runs/"


def declare(service: Service, *, code: str = "P2") -> Incident:
    return incident_declare(title="Checkout down", severity=Severity.objects.get(code=code), reporter=None,
                            services=[service], detected_at=T0, now=T0)  # fmt: skip


def test_the_seeds_step_lists_are_procedures(db):
    steps = {
        procedure.slug: [(step.text, step.effect) for step in procedure.steps.all()]
        for procedure in Procedure.objects.prefetch_related("steps")
    }
    assert [text for text, _ in steps["database-failover"]] == [
        "Verify replica status", "Promote replica to primary (Azure Portal or CLI)",
        "Update connection strings if needed", "Verify application connectivity", "Monitor for data consistency",
    ]  # fmt: skip
    assert len(steps["regional-failover"]) == 8
    assert steps["regional-failover"][0] == ("Declare disaster event", "declare_p1")
    assert [effect for _, effect in steps["emergency-maintenance"]] == [
        "", "notify_oncall_lead", "notify_incidents", "status_page", "", "open_review",
    ]  # fmt: skip
    assert {"certificate-renewal", "force-logout"} <= set(steps)
    assert Procedure.objects.get(slug="database-failover").objective.rto_minutes == 30


def test_regional_failover_declares_the_p1_and_runs_in_order_with_who_and_when(token_client):
    client = token_client(Role.RESPONDER)
    started = client.post(RUNS, {"procedure": "regional-failover", "kind": "incident"}, format="json")
    assert started.status_code == 201, started.json()
    run = started.json()
    assert run["incident"] is None
    assert [step["done_at"] for step in run["steps"]] == [None] * 8

    skipped = client.post(f"{RUNS}{run['id']}/steps/2/done/", {}, format="json")
    assert skipped.status_code == 409
    assert "Do step 1 first: Declare disaster event" in skipped.json()["detail"]

    declared = client.post(f"{RUNS}{run['id']}/steps/1/done/", {"note": "East US is gone"}, format="json").json()
    incident = Incident.objects.get(pk=declared["incident"])
    assert incident.severity.code == "P1"
    assert incident.reporter == client.user
    assert declared["steps"][0]["done_by"] == client.user.username
    assert declared["steps"][0]["note"] == "East US is gone"
    assert declared["steps"][0]["outcome"] == f"Opened {incident.reference} (P1) and posted it on the status page."
    for position in range(2, 9):
        assert client.post(f"{RUNS}{run['id']}/steps/{position}/done/", {}, format="json").status_code == 200
    finished = client.get(f"{RUNS}{run['id']}/").json()
    assert finished["status"] == "completed"
    assert finished["finished_at"] is not None
    assert client.post(f"{RUNS}{run['id']}/steps/8/done/", {}, format="json").status_code == 409
    assert Incident.objects.count() == 1


def test_emergency_maintenance_notifies_the_lead_and_channel_posts_the_status_page_and_opens_the_review(
    api, responder, make_user
):
    lead = make_user(Role.INCIDENT_COMMANDER, username="cora", email="cora@example.com")
    rotation_create(name="API on-call", start_date=date(2027, 7, 12), participants=[responder], lead=lead,
                    services=[api], actor=None)  # fmt: skip
    incident = declare(api)
    run = procedure_run_start(procedure=Procedure.objects.get(slug="emergency-maintenance"), kind="incident",
                              incident=incident, actor=responder, now=T0)  # fmt: skip
    at = iter(T0 + timedelta(minutes=minute) for minute in range(1, 20))

    procedure_step_done(run=run, position=0, actor=responder, now=next(at))
    notified_lead = procedure_step_done(run=run, position=1, actor=responder, now=next(at))
    assert notified_lead.outcome == "Notified cora."
    to_lead = Notification.objects.get(source=f"procedure-run:{run.pk}", dedup_key__endswith=":1")
    assert list(to_lead.recipients.all()) == [lead]
    posted = procedure_step_done(run=run, position=2, actor=responder, now=next(at))
    assert posted.outcome == "No enabled chat channel posts to #incidents: post there by hand."  # seeded disabled
    assert Notification.objects.filter(source=f"procedure-run:{run.pk}").count() == 1
    procedure_step_done(run=run, position=3, actor=responder, now=next(at))
    assert StatusUpdate.objects.get(incident=incident).description.startswith("Emergency maintenance is under way")
    procedure_step_done(run=run, position=4, actor=responder, now=next(at))

    with pytest.raises(ApplicationError, match="no review before it is resolved"):
        procedure_step_done(run=run, position=5, actor=responder, now=next(at))
    incident_transition(incident=incident, to_status=Incident.Status.RESOLVED, confirm=True, actor=lead, note="Patched",
                        final_update="The maintenance is complete.", now=T0 + timedelta(minutes=30))  # fmt: skip
    last = procedure_step_done(run=run, position=5, actor=responder, now=T0 + timedelta(minutes=31))
    assert PostIncidentReview.objects.filter(incident=incident).exists()
    assert last.outcome.startswith("Review scheduled for")
    run.refresh_from_db()
    assert run.status == ProcedureRun.Status.COMPLETED


def test_an_incident_run_needs_an_open_incident_and_a_drill_none(api, responder):
    failover = Procedure.objects.get(slug="database-failover")
    with pytest.raises(ApplicationError, match="Name the incident"):
        procedure_run_start(procedure=failover, kind="incident", actor=responder, now=T0)
    with pytest.raises(ApplicationError, match="not run for an incident"):
        procedure_run_start(procedure=failover, kind="drill", incident=declare(api), actor=responder, now=T0)


def test_a_drill_times_each_step_against_the_rto_and_records_the_drill(token_client, time_machine):
    time_machine.move_to(T0 + timedelta(hours=1), tick=False)
    client = token_client(Role.RESPONDER)
    failover = Procedure.objects.get(slug="database-failover")
    plan = DrillPlan.objects.get(quarter=1)  # database restore, measured against the database's 30-minute RTO
    run = procedure_run_start(procedure=failover, kind="drill", drill_plan=plan, actor=client.user, now=T0)
    for position, minutes in enumerate((5, 12, 14, 25, 35)):
        procedure_step_done(run=run, position=position, actor=client.user, now=T0 + timedelta(minutes=minutes))

    body = client.get(f"{RUNS}{run.pk}/").json()
    assert [step["took_seconds"] for step in body["steps"]] == [300, 420, 120, 660, 600]
    assert (body["target_rto_minutes"], body["elapsed_seconds"], body["rto_verdict"]) == (30, 2100, "missed")

    recorded = client.post("/api/v1/dr-drills/", {"procedure_run": run.pk, "measured_rpo_minutes": 10},
                           format="json")  # fmt: skip
    assert recorded.status_code == 201, recorded.json()
    record = DrillRecord.objects.get(procedure_run=run)
    assert (record.measured_rto_minutes, record.plan, record.performed_at) == (35, plan, T0)
    assert record.rto_verdict == DrillRecord.Verdict.MISSED
    again = client.post("/api/v1/dr-drills/", {"procedure_run": run.pk, "measured_rpo_minutes": 10}, format="json")
    assert again.status_code == 409


def test_a_regional_failover_drill_opens_no_incident(responder):
    run = procedure_run_start(procedure=Procedure.objects.get(slug="regional-failover"), kind="drill",
                              actor=responder, now=T0)  # fmt: skip
    step = procedure_step_done(run=run, position=0, actor=responder, now=T0 + timedelta(minutes=2))
    assert step.outcome == "Drill: not carried out."
    assert not Incident.objects.exists()
    with pytest.raises(ConflictError):
        procedure_step_done(run=run, position=0, actor=responder, now=T0 + timedelta(minutes=3))


def test_viewers_read_responders_run_through_the_pages(client, make_user, api, responder):
    client.force_login(make_user(Role.VIEWER))
    assert client.get("/procedures/").status_code == 200
    assert client.post("/procedures/runs/start/", {"procedure": "force-logout", "kind": "drill"}).status_code == 403

    client.force_login(responder)
    incident = declare(api)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Start procedure" in page
    started = client.post("/procedures/runs/start/", {"procedure": "force-logout", "kind": "incident",
                                                       "incident": incident.pk})  # fmt: skip
    run = ProcedureRun.objects.get()
    assert started.status_code == 302
    assert started["Location"] == f"/procedures/runs/{run.pk}/"
    assert (
        client.post(f"/procedures/runs/{run.pk}/steps/0/done/", {"note": "told #security-incidents"}).status_code == 302
    )
    page = client.get(f"/procedures/runs/{run.pk}/").content.decode()
    assert "told #security-incidents" in page
    assert f"/procedures/runs/{run.pk}/steps/1/done/" in page  # the next step's button
    refused = client.post(f"/procedures/runs/{run.pk}/steps/3/done/", {})
    assert refused.status_code == 400
    assert "Do step 2 first" in refused.content.decode()
    assert run.steps.filter(done_at__isnull=False).count() == 1
    assert "Force logout all users" in client.get(f"/incidents/{incident.pk}/").content.decode()


# The manual's emergency maintenance: 'Post in #incidents channel' and 'Update status page immediately' reach them.


def chat_channels_on() -> None:
    for channel in Channel.objects.filter(kind=Channel.Kind.CHAT):
        channel.enabled, channel.webhook_url = True, "http://127.0.0.1:9/hook"
        channel.save()


def emergency_run(incident: Incident, actor, lead) -> ProcedureRun:
    rotation_create(name="API on-call", start_date=date(2027, 7, 12), participants=[actor], lead=lead,
                    services=list(incident.services.all()), actor=None)  # fmt: skip
    return procedure_run_start(procedure=Procedure.objects.get(slug="emergency-maintenance"), kind="incident",
                               incident=incident, actor=actor, now=T0)  # fmt: skip


@pytest.mark.parametrize("code", ["P2", "P3", "P4"])
def test_post_in_incidents_reaches_the_incidents_channel_and_only_it(api, responder, make_user, code):
    """Routing sends an incident update at warning to #warnings and email; the step names #incidents."""
    chat_channels_on()
    run = emergency_run(declare(api, code=code), responder, make_user(Role.INCIDENT_COMMANDER, username="cora"))
    for position in range(2):
        procedure_step_done(run=run, position=position, actor=responder, now=T0 + timedelta(minutes=position + 1))
    posted = procedure_step_done(run=run, position=2, actor=responder, now=T0 + timedelta(minutes=3))

    assert posted.outcome == "Posted to #incidents."
    notification = Notification.objects.get(source=f"procedure-run:{run.pk}", dedup_key__endswith=":2")
    assert [(d.channel.name, d.address) for d in notification.deliveries.all()] == [("Slack #incidents", "#incidents")]
    assert "Post in #incidents channel" in notification.summary


def test_update_status_page_immediately_puts_the_internal_incident_on_the_public_status_page(
    client, api, responder, make_user
):
    incident = declare(api, code="P2")
    assert not incident.is_public
    run = emergency_run(incident, responder, make_user(Role.INCIDENT_COMMANDER, username="cora"))
    assert incident.title not in client.get("/status/").content.decode()
    for position in range(3):
        procedure_step_done(run=run, position=position, actor=responder, now=T0 + timedelta(minutes=position + 1))
    step = procedure_step_done(run=run, position=3, actor=responder, now=T0 + timedelta(minutes=4))

    assert step.outcome == "Made the incident public. Posted a status update on the status page."
    incident.refresh_from_db()
    assert incident.is_public
    update = StatusUpdate.objects.get(incident=incident)
    assert (update.is_public, update.label) == (True, "identified")
    page = client.get("/status/").content.decode()
    assert incident.title in page
    assert "<strong>Identified</strong>" in page
    assert "Emergency maintenance is under way; we will post updates as it progresses." in page


def test_the_declared_disaster_is_on_the_public_status_page_at_once(client, token_client):
    responder = token_client(Role.RESPONDER)
    run = responder.post(RUNS, {"procedure": "regional-failover", "kind": "incident"}, format="json").json()
    declared = responder.post(f"{RUNS}{run['id']}/steps/1/done/", {}, format="json").json()

    incident = Incident.objects.get(pk=declared["incident"])
    assert incident.is_public
    page = client.get("/status/").content.decode()
    assert "Disaster event: Regional failover" in page
    assert "<strong>Investigating</strong>" in page
    assert "We are investigating a major outage" in page
    assert 'id="overall-status"' in page


# Emergency maintenance runs the manual's procedure, the two linked both ways.


def test_emergency_maintenance_for_an_incident_starts_its_procedure_linked_both_ways(client, api, make_user):
    commander = make_user(Role.INCIDENT_COMMANDER, username="cora")
    incident = declare(api, code="P2")
    occurrence = window_create_emergency(name="Patch OpenSSL", actor=commander, duration=timedelta(hours=1),
                                         services=[api], incident=incident, now=T0)  # fmt: skip

    run = ProcedureRun.objects.get(maintenance=occurrence)
    assert (run.procedure.slug, run.kind, run.incident, run.started_by) == (
        "emergency-maintenance", "incident", incident, commander,
    )  # fmt: skip
    client.force_login(commander)
    occurrence_page = client.get(reverse("maintenance-occurrence", args=[occurrence.pk])).content.decode()
    assert f'href="{reverse("procedure-run-detail", args=[run.pk])}"' in occurrence_page
    assert "Start the procedure" not in occurrence_page
    run_page = client.get(reverse("procedure-run-detail", args=[run.pk])).content.decode()
    assert f'href="{reverse("maintenance-occurrence", args=[occurrence.pk])}"' in run_page
    listed = client.get(f"{RUNS}?maintenance={occurrence.pk}").json()["results"]
    assert [(item["id"], item["maintenance"]) for item in listed] == [(run.pk, occurrence.pk)]

    # Its status page update says until when the maintenance runs.
    rotation_create(name="API on-call", start_date=date(2027, 7, 12), participants=[commander], lead=commander,
                    services=[api], actor=None)  # fmt: skip
    for position in range(4):
        procedure_step_done(run=run, position=position, actor=commander, now=T0 + timedelta(minutes=position + 1))
    assert StatusUpdate.objects.get(incident=incident).description == (
        "Emergency maintenance is under way until 2027-07-14 13:00 UTC; we will post updates as it progresses."
    )


def test_emergency_maintenance_without_an_incident_offers_its_procedure_for_one(client, api, make_user):
    commander = make_user(Role.INCIDENT_COMMANDER, username="cora")
    occurrence = window_create_emergency(name="Patch OpenSSL", actor=commander, duration=timedelta(hours=1),
                                         services=[api], now=T0)  # fmt: skip
    assert not ProcedureRun.objects.exists()
    incident = declare(api, code="P3")
    client.force_login(commander)
    page = client.get(reverse("maintenance-occurrence", args=[occurrence.pk])).content.decode()
    assert 'id="procedure-runs"' in page
    assert f'<option value="{incident.pk}">{incident.reference} [P3] Checkout down</option>' in page

    form = {"procedure": "emergency-maintenance", "kind": "incident", "maintenance": occurrence.pk}
    refused = client.post(reverse("procedure-run-start"), form)  # no incident named: back to the occurrence
    assert refused["Location"] == reverse("maintenance-occurrence", args=[occurrence.pk])
    started = client.post(reverse("procedure-run-start"), form | {"incident": incident.pk})
    run = ProcedureRun.objects.get()
    assert started["Location"] == reverse("procedure-run-detail", args=[run.pk])
    assert (run.maintenance, run.incident) == (occurrence, incident)
    page = client.get(reverse("maintenance-occurrence", args=[occurrence.pk])).content.decode()
    assert f'href="{reverse("procedure-run-detail", args=[run.pk])}"' in page
    assert "Start the procedure" not in page


def test_a_drill_is_not_run_for_maintenance(api, responder, make_user):
    occurrence = window_create_emergency(name="Patch OpenSSL", actor=make_user(Role.INCIDENT_COMMANDER),
                                         duration=timedelta(hours=1), services=[api], now=T0)  # fmt: skip
    with pytest.raises(ApplicationError) as refused:
        procedure_run_start(procedure=Procedure.objects.get(slug="emergency-maintenance"), kind="drill",
                            maintenance=occurrence, actor=responder, now=T0)  # fmt: skip
    assert refused.value.field == "maintenance"
