"""The demo on any date: `seed_demo` places its data around the instant it runs, and at that instant the freeze
calendar (the seeded rules, not switched off here) is shown, refuses production changes with its reasons and lets
the emergency path through; outside a freeze the demo's actions run on the simulated cluster, over HTTP."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from incidents.models import Incident
from maintenance.models import FreezePass
from maintenance.policy import freeze_status, frozen_since
from maintenance.services import freeze_exception_decide, freeze_exception_request
from operations.models import Checklist, ChecklistTemplate, Deployment
from operations.policy import RECENT_CHANGES_BEFORE, checklist_period
from operations.services.deployments import DeploymentFrozenError, deployment_record
from portal.accounts.models import User
from portal.accounts.roles import Role
from portal.cluster.models import ActionRun, Target
from portal.cluster.services import action_run_approve, action_run_confirm, action_run_execute, action_run_request
from portal.errors import ForbiddenError
from portal.kubesim import Cluster

# Black Friday 2027 is 26 November: the seeded rule freezes production from Tuesday 23 through Tuesday 30 (UTC).
BLACK_FRIDAY_WEEK = datetime(2027, 11, 24, 12, 0, tzinfo=UTC)
BLACK_FRIDAY_FREEZE_BEGINS = datetime(2027, 11, 23, tzinfo=UTC)
# A Wednesday in July with no freeze for days either side (Independence Day is the 4th and 5th).
QUIET_DAY = datetime(2027, 7, 14, 12, 0, tzinfo=UTC)
SCALE_API = {"namespace": "broxiva-production", "deployment": "broxiva-api", "replicas": 5}


def seed(at: datetime) -> str:
    out = StringIO()
    with time_machine.travel(at, tick=False):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


def demo(username: str) -> User:
    return User.objects.get(username=username)


def checkout() -> Incident:
    return Incident.objects.get(title="Checkout latency above SLO")


def api_replicas(cluster: Cluster) -> int:
    return cluster.get("deployments", "broxiva-production", "broxiva-api")["spec"]["replicas"]


class TestPlacement:
    @pytest.mark.parametrize("at", [BLACK_FRIDAY_WEEK, QUIET_DAY])
    def test_incidents_and_checklists_are_those_of_the_instant(self, db, at):
        seed(at)

        open_incident, resolved = checkout(), Incident.objects.get(title="Search results stale")
        assert open_incident.is_open
        assert at - timedelta(hours=1) < open_incident.detected_at < at
        assert resolved.status == Incident.Status.RESOLVED
        assert at - timedelta(days=3) < resolved.detected_at < resolved.resolved_at < at
        assert resolved.resolved_at - resolved.detected_at <= timedelta(minutes=resolved.severity.resolution_minutes)
        periodic = Checklist.objects.filter(kind__in=ChecklistTemplate.PERIODIC)
        assert {checklist.kind for checklist in periodic} == set(ChecklistTemplate.PERIODIC)
        for checklist in periodic:
            period = checklist_period(checklist.kind, at=at)
            assert (checklist.period_start, checklist.period_end) == (period.start, period.end)
            assert checklist.assignee is not None, "given to whoever is on call at the instant"
            assert not checklist.is_overdue(at)

    def test_during_a_freeze_production_deployments_are_those_before_it(self, db):
        out = seed(BLACK_FRIDAY_WEEK)

        assert frozen_since("production", BLACK_FRIDAY_WEEK) == BLACK_FRIDAY_FREEZE_BEGINS
        production = list(Deployment.objects.filter(environment="production").order_by("started_at"))
        assert [deployment.version for deployment in production] == ["2.4.0", "2.4.1"]
        for deployment in production:
            assert deployment.finished_at < BLACK_FRIDAY_FREEZE_BEGINS
            assert freeze_status("production", deployment.started_at).allowed
            assert deployment.freeze_level == ""
        assert "Production is frozen now" in out
        staging = Deployment.objects.get(environment="staging")
        assert (staging.version, staging.status) == ("2.5.0-rc.1", Deployment.Status.SUCCEEDED)
        assert BLACK_FRIDAY_WEEK - timedelta(hours=4) < staging.started_at < BLACK_FRIDAY_WEEK

    def test_on_a_quiet_day_the_hotfix_went_out_shortly_before_the_incident(self, db):
        out = seed(QUIET_DAY)

        latest = Deployment.objects.filter(environment="production").latest("started_at")
        detected = checkout().detected_at
        assert latest.version == "2.4.1"
        assert detected - RECENT_CHANGES_BEFORE < latest.started_at < latest.finished_at < detected
        assert "frozen" not in out
        pre, post = (latest.checklists.get(kind=kind) for kind in ("pre_deployment", "post_deployment"))
        assert pre.completed_at is not None
        assert pre.completed_at <= latest.started_at
        assert 0 < post.items.filter(done_at__isnull=False).count() < post.items.count(), "verification under way"
        assert all(item.done_at <= QUIET_DAY for item in post.items.exclude(done_at=None))

    def test_seeding_again_at_another_instant_adds_nothing(self, db):
        seed(QUIET_DAY)
        again = seed(QUIET_DAY + timedelta(hours=1))

        assert "0 new incidents, 0 maintenance notices, 0 new deployments, 0 new checklists" in again
        assert Deployment.objects.count() == 3


class TestDuringAFreeze:
    def test_the_incident_says_so_before_anything_is_refused(self, db, client):
        seed(BLACK_FRIDAY_WEEK)

        with time_machine.travel(BLACK_FRIDAY_WEEK, tick=False):
            client.force_login(demo("cora.commander"))
            page = client.get(reverse("incident-detail", args=[checkout().pk])).content.decode()

        assert 'id="freeze-notice"' in page
        assert "Black Friday / Cyber Monday 2027" in page
        assert f"{checkout().reference} is an open P2: production changes from here may run as an emergency" in page

    def test_a_production_scale_is_refused_naming_the_freeze_and_runs_as_an_approved_emergency(
        self, db, demo_cluster, make_user
    ):
        seed(BLACK_FRIDAY_WEEK)
        second = make_user(Role.ADMIN, username="ada.admin")
        target, commander = Target.objects.get(slug="demo-cluster"), demo("cora.commander")

        with time_machine.travel(BLACK_FRIDAY_WEEK + timedelta(minutes=5), tick=False):
            with pytest.raises(ForbiddenError) as refused:
                action_run_request(requester=commander, target=target, kind="scale", parameters=SCALE_API,
                                   reason="checkout latency", incident=checkout(), confirm=True)  # fmt: skip
            assert "Production is frozen (blocked) until 2027-12-01 00:00 UTC" in refused.value.message
            assert "Black Friday / Cyber Monday 2027" in refused.value.message
            assert refused.value.field == "emergency"
            assert not ActionRun.objects.exists()

            run = action_run_request(requester=commander, target=target, kind="scale", parameters=SCALE_API,
                                     reason="checkout latency", incident=checkout(), emergency=True,
                                     confirm=True)  # fmt: skip
            # The freeze is blocked: an emergency also needs a second person.
            assert run.status == ActionRun.Status.AWAITING_APPROVAL
            run = action_run_approve(run=run, approver=second)
            assert run.status == ActionRun.Status.QUEUED
            action_run_execute(run_id=run.pk, worker="test")

        run.refresh_from_db()
        assert (run.status, run.error) == (ActionRun.Status.SUCCEEDED, "")
        assert api_replicas(demo_cluster) == 5
        listed = FreezePass.objects.get()
        assert (listed.subject, listed.level, listed.passed_by) == ("cluster_action", "blocked", "approved-emergency")
        assert (listed.incident, listed.approved_by, listed.actor) == (checkout(), second, commander)

    def test_the_request_form_shows_the_refusal_beside_the_emergency_flag(self, db, client, demo_cluster):
        seed(BLACK_FRIDAY_WEEK)
        data = {"target": "demo-cluster", "kind": "scale", "reason": "checkout latency", "incident": checkout().pk,
                **SCALE_API}  # fmt: skip

        with time_machine.travel(BLACK_FRIDAY_WEEK, tick=False):
            client.force_login(demo("cora.commander"))
            refused = client.post(reverse("action-new"), data)
            passed = client.post(reverse("action-new"), {**data, "emergency": "on"})

        assert refused.status_code == 403
        assert 'id="freeze-notice"' in refused.content.decode()
        [error] = refused.context["form"].errors["emergency"]
        assert "Black Friday / Cyber Monday 2027" in error
        assert passed.status_code == 302
        run = ActionRun.objects.get()
        assert passed.url == reverse("action-confirm", args=[run.pk])
        assert run.emergency

    def test_a_freeze_that_began_before_confirming_offers_an_emergency_request(self, db, client, demo_cluster):
        before = BLACK_FRIDAY_FREEZE_BEGINS - timedelta(minutes=5)
        seed(before)
        commander = demo("cora.commander")
        with time_machine.travel(before, tick=False):
            run = action_run_request(requester=commander, target=Target.objects.get(slug="demo-cluster"),
                                     kind="scale", parameters=SCALE_API, reason="ahead of the peak",
                                     incident=checkout())  # fmt: skip

        with time_machine.travel(BLACK_FRIDAY_FREEZE_BEGINS + timedelta(minutes=5), tick=False):
            client.force_login(commander)
            page = client.get(reverse("action-confirm", args=[run.pk]))
            with pytest.raises(ForbiddenError, match="Black Friday / Cyber Monday 2027"):
                action_run_confirm(run=run, actor=commander)

            again = page.context["emergency_url"]
            form = client.get(again).context["form"]

        assert again in page.content.decode().replace("&amp;", "&")
        assert form.initial["emergency"] == "1"
        assert (form.initial["deployment"], form.initial["replicas"]) == ("broxiva-api", "5")

    def test_a_production_deployment_is_refused_and_only_an_approved_emergency_lets_it_through(self, db, client):
        seed(BLACK_FRIDAY_WEEK)
        api = Deployment.objects.get(version="2.4.1").service
        record = {"service": api, "environment": "production", "version": "2.4.2", "commit": "0d1e2f3a4b",
                  "who": "ci", "actor": None, "override_reason": "ticked in CI"}  # fmt: skip

        with time_machine.travel(BLACK_FRIDAY_WEEK, tick=False):
            client.force_login(demo("cora.commander"))
            page = client.get(reverse("deployment-list")).content.decode()
            with pytest.raises(DeploymentFrozenError, match="Black Friday / Cyber Monday 2027"):
                deployment_record(**record)
            exception = freeze_exception_request(
                change="CHG-42", reason="payment retries fix", environment="production", actor=demo("sam.sre"),
                starts_at=BLACK_FRIDAY_WEEK, ends_at=BLACK_FRIDAY_WEEK + timedelta(hours=2),
            )  # fmt: skip
            freeze_exception_decide(exception=exception, approve=True, actor=demo("cora.commander"))
            # A blocked freeze: an approved exception is not enough without an emergency.
            with pytest.raises(DeploymentFrozenError, match="Blocked: only an emergency"):
                deployment_record(**record, change="CHG-42")
            emergency = freeze_exception_request(
                change="CHG-43", reason="payment retries fix", environment="production", actor=demo("sam.sre"),
                starts_at=BLACK_FRIDAY_WEEK, ends_at=BLACK_FRIDAY_WEEK + timedelta(hours=2), incident=checkout(),
            )  # fmt: skip
            freeze_exception_decide(exception=emergency, approve=True, actor=demo("cora.commander"))
            deployment, created = deployment_record(**record, change="CHG-43")

        assert "Black Friday / Cyber Monday 2027" in page
        assert reverse("freeze-calendar") + "#request-exception" in page
        assert created
        assert (deployment.freeze_level, deployment.freeze_pass) == ("blocked", "approved-emergency")
        assert FreezePass.objects.get().incident == checkout()


class TestOnAQuietDay:
    def test_the_demos_scale_from_the_incident_runs(self, db, client, demo_cluster):
        seed(QUIET_DAY)
        commander = demo("cora.commander")

        with time_machine.travel(QUIET_DAY + timedelta(minutes=5), tick=False):
            client.force_login(commander)
            page = client.get(reverse("incident-detail", args=[checkout().pk])).content.decode()
            run = action_run_request(requester=commander, target=Target.objects.get(slug="demo-cluster"),
                                     kind="scale", parameters=SCALE_API, reason="checkout latency",
                                     incident=checkout(), confirm=True)  # fmt: skip
            action_run_execute(run_id=run.pk, worker="test")

        assert 'id="freeze-notice"' not in page
        run.refresh_from_db()
        assert (run.status, run.error, run.emergency) == (ActionRun.Status.SUCCEEDED, "", False)
        assert api_replicas(demo_cluster) == 5
        assert checkout().timeline.filter(message__contains="succeeded: 3 → 5 replicas").exists()
