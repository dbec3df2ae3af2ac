from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from operations import policy
from operations.models import BackupVerification, Checklist, ChecklistItem, DrillPlan, DrillRecord, RecoveryObjective
from operations.selectors.recovery import backup_status
from operations.services.checklists import checklist_item_set_done, checklists_generate
from operations.services.recovery import backup_verification_record, drill_record
from operations.tasks import generate_checklists
from portal.accounts.roles import Role
from portal.errors import ApplicationError, ConflictError
from tests.operations.conftest import T0


def nobody(service, at):
    return None


class TestPeriods:
    @pytest.mark.parametrize(
        ("kind", "start", "end"),
        [
            ("daily", datetime(2026, 11, 24, tzinfo=UTC), datetime(2026, 11, 25, tzinfo=UTC)),
            ("weekly", datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)),  # from Monday
            ("monthly", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
            ("quarterly", datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ],
    )
    def test_periods_contain_the_instant(self, kind, start, end):
        period = policy.checklist_period(kind, at=T0)
        assert (period.start, period.end) == (start, end)

    def test_periods_are_local_midnights_across_dst(self, settings):
        settings.OPERATIONS_TIMEZONE = "Europe/Berlin"
        period = policy.checklist_period("daily", at=datetime(2026, 3, 29, 12, tzinfo=UTC))  # spring forward
        assert (period.start, period.end) == (
            datetime(2026, 3, 28, 23, tzinfo=UTC),
            datetime(2026, 3, 29, 22, tzinfo=UTC),
        )


class TestGeneration:
    def test_each_period_gets_one_checklist_with_the_seeds_tasks(self, db, responder):
        created = checklists_generate(now=T0, assignee=lambda service, at: responder)
        assert {c.kind for c in created} == {"daily", "weekly", "monthly", "quarterly"}
        daily = next(c for c in created if c.kind == "daily")
        assert daily.title == "Daily operations tasks: 2026-11-24"
        assert [i.text for i in daily.items.all()] == ["Review error logs in Sentry", "Check monitoring dashboards",
                                                      "Verify backup completion", "Review security alerts"]  # fmt: skip
        assert daily.assignee == responder
        assert checklists_generate(now=T0 + timedelta(hours=3), assignee=nobody) == []  # same periods: nothing new
        tomorrow = checklists_generate(now=T0 + timedelta(days=1), assignee=nobody)
        assert [c.kind for c in tomorrow] == ["daily"]

    def test_the_database_refuses_a_second_checklist_for_a_period(self, db):
        checklist = checklists_generate(now=T0, assignee=nobody)[0]
        with pytest.raises(IntegrityError), transaction.atomic():
            Checklist.objects.create(template=checklist.template, title="x", kind=checklist.kind,
                                     period_start=checklist.period_start, period_end=checklist.period_end)  # fmt: skip

    def test_the_assignee_is_the_primary_on_call_now(self, db):
        asked = []
        checklists_generate(now=T0, assignee=lambda service, at: asked.append(at))
        assert set(asked) == {T0}

    def test_until_on_call_lands_nobody_is_assigned(self, db):
        assert policy.primary_oncall(None, T0) is None  # oncall.selectors is not on this branch

    def test_the_beat_task_runs_the_generation(self, db):
        assert generate_checklists() == 4
        assert generate_checklists() == 0


class TestTicking:
    def test_ticking_every_item_completes_the_checklist_and_unticking_reopens_it(self, db, responder):
        checklist = next(c for c in checklists_generate(now=T0, assignee=nobody) if c.kind == "daily")
        items = list(checklist.items.all())
        for item in items:
            checklist_item_set_done(item=item, done=True, actor=responder, now=T0)
        checklist.refresh_from_db()
        assert checklist.completed_at == T0
        checklist_item_set_done(item=items[0], done=True, actor=responder)  # again: no change
        assert ChecklistItem.objects.get(pk=items[0].pk).done_at == T0
        checklist_item_set_done(item=items[0], done=False, actor=responder)
        checklist.refresh_from_db()
        assert checklist.completed_at is None

    def test_htmx_tick_swaps_the_checklist(self, client, db, responder):
        checklist = checklists_generate(now=timezone.now(), assignee=nobody)[0]
        item = checklist.items.first()
        client.force_login(responder)
        url = reverse("checklist-tick", args=[checklist.pk, item.pk])
        response = client.post(url, {"done": "on"}, HTTP_HX_REQUEST="true")
        html = response.content.decode()
        assert response.status_code == 200
        assert html.lstrip().startswith(f'<section class="card checklist" id="checklist-{checklist.pk}"')
        assert "<html" not in html
        assert "checked" in html
        assert ChecklistItem.objects.get(pk=item.pk).done_by == responder

    def test_viewers_cannot_tick(self, client, make_user, db):
        checklist = checklists_generate(now=timezone.now(), assignee=nobody)[0]
        client.force_login(make_user(Role.VIEWER))
        response = client.post(
            reverse("checklist-tick", args=[checklist.pk, checklist.items.first().pk]), {"done": "on"}
        )
        assert response.status_code == 403

    def test_api_tick(self, token_client, db):
        checklist = checklists_generate(now=timezone.now(), assignee=nobody)[0]
        item = checklist.items.first()
        url = reverse("api:checklist-item", args=[checklist.pk, item.pk])
        assert token_client(Role.VIEWER).patch(url, {"done": True}, format="json").status_code == 403
        response = token_client(Role.RESPONDER, username="tick").patch(url, {"done": True}, format="json")
        assert response.json()["done_by"] == "tick"
        assert token_client(Role.RESPONDER).patch(url, {}, format="json").json()["field"] == "done"

    def test_overdue_checklists_show_on_the_dashboard_and_in_the_filter(self, client, make_user, token_client, db):
        checklists_generate(now=timezone.now() - timedelta(days=1), assignee=nobody)  # yesterday's daily is overdue
        client.force_login(make_user(Role.VIEWER))
        html = client.get(reverse("dashboard")).content.decode()
        tile = html.split('id="overdue-checklists"', 1)[1].split("</section>", 1)[0]
        assert "Daily operations tasks" in tile
        overdue = token_client(Role.VIEWER).get(reverse("api:checklist-list"), {"overdue": "true"}).json()["results"]
        daily = [row for row in overdue if row["kind"] == "daily"]
        assert len(daily) == 1
        assert daily[0]["overdue"] is True

    def test_checklist_list_queries_do_not_grow(self, client, make_user, db, django_assert_max_num_queries):
        client.force_login(make_user(Role.VIEWER))
        for day in range(6):
            checklists_generate(now=T0 + timedelta(days=day), assignee=nobody)
        with django_assert_max_num_queries(6):
            response = client.get(reverse("checklist-list"), {"kind": "daily"})
        assert len(response.context["page"].object_list) == 6


class TestRecovery:
    def test_seeded_objectives_and_plan(self, db):
        database = RecoveryObjective.objects.get(component="Database (PostgreSQL)")
        assert (database.rpo_minutes, database.rto_minutes, database.priority) == (15, 30, "critical")
        assert RecoveryObjective.objects.get(component="Logs").rto_minutes is None
        assert [plan.test_type for plan in DrillPlan.objects.all()] == [
            "Database restore", "Regional failover", "Ransomware simulation", "Full disaster drill"]  # fmt: skip

    @pytest.mark.parametrize(
        ("quarter", "rto", "rpo", "verdict"),
        [(1, 25, 10, "met"), (1, 45, 10, "missed"), (2, 120, 30, "acceptable"), (2, 300, 30, "missed")],
    )
    def test_drills_are_judged_against_the_targets_in_force(self, db, responder, quarter, rto, rpo, verdict):
        plan = DrillPlan.objects.get(quarter=quarter)
        record = drill_record(plan=plan, performed_at=T0, measured_rto_minutes=rto, measured_rpo_minutes=rpo,
                              actor=responder, now=T0)  # fmt: skip
        assert record.verdict == verdict
        plan.objective.rto_minutes, plan.objective.rto_max_minutes = 500, None
        plan.objective.save()
        assert DrillRecord.objects.get(pk=record.pk).verdict == verdict  # a later target does not rewrite it

    def test_a_drill_needs_an_objective_and_a_past(self, db):
        with pytest.raises(ApplicationError) as raised:
            drill_record(performed_at=T0, measured_rto_minutes=1, measured_rpo_minutes=1, actor=None, now=T0)
        assert raised.value.field == "objective"
        with pytest.raises(ApplicationError) as raised:
            drill_record(plan=DrillPlan.objects.first(), performed_at=T0 + timedelta(hours=1), measured_rto_minutes=1,
                         measured_rpo_minutes=1, actor=None, now=T0)  # fmt: skip
        assert raised.value.field == "performed_at"

    def test_backup_verification_once_per_day(self, db, responder):
        backup_verification_record(day=date(2026, 11, 24), result="ok", actor=responder, now=T0)
        with pytest.raises(ConflictError):
            backup_verification_record(day=date(2026, 11, 24), result="ok", actor=responder, now=T0)
        with pytest.raises(ApplicationError) as raised:
            backup_verification_record(day=date(2026, 11, 25), result="ok", actor=responder, now=T0)
        assert raised.value.field == "day"

    def test_a_missing_day_turns_red(self, db):
        assert backup_status(now=T0).state == "missing"  # nobody verified yesterday
        BackupVerification.objects.create(day=date(2026, 11, 23), result="ok", verified_at=T0)
        assert backup_status(now=T0).state == "pending"  # today is still open
        BackupVerification.objects.create(day=date(2026, 11, 24), result="ok", verified_at=T0)
        assert backup_status(now=T0).state == "ok"
        assert backup_status(now=T0 + timedelta(days=2)).state == "missing"

    def test_dashboard_tile_is_red_when_missing(self, client, make_user, db):
        client.force_login(make_user(Role.VIEWER))
        html = client.get(reverse("dashboard")).content.decode()
        assert 'class="card tile red" id="backup-tile"' in html
        yesterday = policy.operations_day(timezone.now()) - timedelta(days=1)
        BackupVerification.objects.create(day=yesterday, result="ok", verified_at=timezone.now())
        assert 'class="card tile" id="backup-tile"' in client.get(reverse("dashboard")).content.decode()

    def test_recording_through_the_page_and_the_api(self, client, token_client, responder, db):
        client.force_login(responder)
        today = policy.operations_day(timezone.now())
        response = client.post(reverse("backup-verify"), {"day": today.isoformat(), "result": "failed", "notes": ""})
        assert response.status_code == 400
        assert "Say what failed" in response.content.decode()
        assert client.post(reverse("backup-verify"), {"day": today.isoformat(), "result": "ok"}).status_code == 302
        api = token_client(Role.RESPONDER)
        clash = api.post(reverse("api:backup-verification-list"), {"day": today.isoformat(), "result": "ok"})
        assert clash.status_code == 409
        assert clash.json()["field"] == "day"
        drill_input = {"plan": 1, "performed_at": "2026-01-10T10:00:00Z", "measured_rto_minutes": 20,
                       "measured_rpo_minutes": 5}  # fmt: skip
        drill = api.post(reverse("api:drill-record-list"), drill_input)
        assert drill.status_code == 201, drill.json()
        assert (drill.json()["objective"], drill.json()["verdict"]) == ("Database (PostgreSQL)", "met")

    def test_recovery_page(self, client, make_user, db):
        client.force_login(make_user(Role.VIEWER))
        html = client.get(reverse("recovery")).content.decode()
        assert "Database full backup" in html
        assert "Daily (2:00 AM UTC)" in html
        assert "Ransomware simulation" in html
        assert "Record verification" not in html  # Viewers read only
