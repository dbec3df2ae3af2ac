"""The UI in real headless Chromium (Debian's), driven by Playwright; the fixtures are in conftest.py."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from oncall.services import rotation_create
from portal.accounts.roles import Role
from tests.browser.helpers import sign_in
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def ada(site, make_user):
    return make_user(Role.ADMIN, username="ada")


@pytest.fixture
def vera(site, make_user):
    return make_user(Role.VIEWER, username="vera")


def test_admin_signs_in_sees_live_health_and_filters_the_audit_log(ada, page, tmp_path):
    sign_in(page, "ada")
    assert page.evaluate("typeof window.htmx") == "object"
    health = page.locator("#system-health")
    expect(health.get_by_role("row", name="Database")).to_contain_text("ok")
    expect(health.get_by_role("row", name="Kubernetes")).to_contain_text("not configured")
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    page.get_by_role("link", name="Audit").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(page.locator("#audit-chain")).to_contain_text("Hash chain intact")  # the htmx line came in
    page.get_by_label("Actor (username)").fill("nobody-at-all")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#audit-table")).to_contain_text("No entries match.")
    expect(page).to_have_url("/audit/?actor=nobody-at-all&model=&object_pk=&action=&since=&until=")
    assert page.evaluate("document.querySelectorAll('header.topbar').length") == 1  # swapped the table, not the page


def test_viewer_has_no_admin_navigation_and_is_refused_the_audit_page(vera, page, browser_log):
    browser_log.allow(r"/audit/: Failed to load resource: the server responded with a status of 403")
    sign_in(page, "vera")

    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Dashboard")).to_be_visible()
    expect(nav.get_by_role("link", name="Audit")).to_have_count(0)
    response = page.goto("/audit/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()


def test_wrong_password_is_refused_with_a_message(vera, page):
    page.goto("/login/")
    page.get_by_label("Username").fill("vera")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("enter a correct username and password")


def test_sign_out(vera, page):
    sign_in(page, "vera")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url("/login/")


@pytest.fixture
def cora(site, make_user):
    from incidents.models import Service

    Service.objects.create(name="API", slug="api")
    return make_user(Role.INCIDENT_COMMANDER, username="cora")


def test_commander_runs_an_incident_without_reloading_the_page(cora, page):
    sign_in(page, "cora")
    page.get_by_role("link", name="Incidents").click()
    page.get_by_role("link", name="Declare incident").click()
    page.get_by_label("Title").fill("Checkout errors")
    page.get_by_label("Severity").select_option("P2")
    page.get_by_label("Services").select_option("api")
    page.get_by_role("button", name="Declare").click()
    expect(page.get_by_role("heading", name="Checkout errors")).to_be_visible()
    expect(page.locator(".timers")).to_contain_text("Acknowledge due in")

    page.evaluate("window.__sameDocument = true")  # survives only if no full page load happens
    page.get_by_role("button", name="Investigating").click()
    expect(page.locator("#incident-status")).to_have_text("Investigating")
    expect(page.get_by_label("Description")).to_have_value(
        "We are currently investigating the issue affecting API (Checkout errors)."
    )
    page.get_by_label("Description").fill("A config push broke payments.")
    page.get_by_role("button", name="Post update").click()
    expect(page.locator(".timeline")).to_contain_text("Investigating (internal): A config push broke payments.")
    expect(page.get_by_role("button", name="Monitoring")).to_have_count(0)  # not an allowed move from here
    page.get_by_role("button", name="Resolved").click()
    confirm = page.locator("#confirm-resolve")  # a P2 never monitored: the commander confirms
    expect(confirm).to_contain_text("was never monitored after a mitigation")
    confirm.get_by_role("button", name="Resolve anyway").click()
    expect(page.locator("#incident-status")).to_have_text("Resolved")
    assert page.evaluate("window.__sameDocument") is True


@pytest.fixture
def planned(site, make_user):
    """A responder and a one-off window three days ahead, with its checklists."""
    from datetime import timedelta

    from django.utils import timezone

    from maintenance.services import window_create

    admin = make_user(Role.ADMIN, username="ops-admin")
    make_user(Role.RESPONDER, username="rami")
    window = window_create(
        name="LB swap",
        kind="one_off",
        actor=admin,
        starts_at=timezone.now() + timedelta(days=3),
        duration=timedelta(hours=2),
        notice_lead=timedelta(hours=24),
    )
    return window.occurrences.get()


def test_calendar_shows_a_freeze_and_a_checklist_ticks_without_reloading(planned, page):
    sign_in(page, "rami")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Maintenance").click()
    page.goto("/maintenance/?month=2026-11")
    black_friday = page.locator('td[data-day="2026-11-27"]')
    expect(black_friday).to_contain_text("Black Friday / Cyber Monday 2026")
    expect(page.locator('td[data-day="2026-11-24"]')).to_contain_text("Standard updates")

    page.goto(f"/maintenance/occurrences/{planned.pk}/")
    page.evaluate("window.__sameDocument = true")
    item = page.get_by_label("Verify backup completed")
    expect(item).not_to_be_checked()
    item.check()
    line = page.locator("li", has_text="Verify backup completed")
    expect(line).to_contain_text("— rami,")
    expect(line).to_have_class("done")
    expect(page.get_by_label("Verify backup completed")).to_be_checked()
    assert page.evaluate("window.__sameDocument") is True


@pytest.fixture
def on_call(site, make_user):
    """A daily rotation since last week: ann primary, ben secondary; cat may cover."""
    ann = make_user(Role.RESPONDER, username="ann", first_name="Ann")
    ben = make_user(Role.RESPONDER, username="ben", first_name="Ben")
    make_user(Role.RESPONDER, username="cat", first_name="Cat")
    return rotation_create(
        name="Checkout on-call",
        start_date=(timezone.now() - timedelta(days=7)).date(),
        handoff_rrule="FREQ=DAILY",
        participants=[ann],
        secondary_participants=[ben],
        actor=None,
    )


def test_schedule_shows_who_is_on_call_and_an_override_added_in_place(on_call, page):
    start = (timezone.now() + timedelta(minutes=30)).replace(second=0, microsecond=0)
    sign_in(page, "ann")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="On-call").click()
    expect(page.get_by_role("row", name="Checkout on-call")).to_contain_text("Ann")
    page.get_by_role("link", name="Checkout on-call").click()
    expect(page.locator("#now-primary")).to_contain_text("Ann")
    expect(page.locator("#now-secondary")).to_contain_text("Ben")
    expect(page.locator("#schedule .shift.primary").first).to_contain_text("Ann")

    page.evaluate("window.__sameDocument = true")
    form = page.get_by_role("form", name="Add override")
    form.get_by_label("Who covers").select_option("cat")
    form.get_by_label("Start", exact=True).fill(start.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_label("End", exact=True).fill((start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    form.get_by_label("Reason").fill("Dentist")
    form.get_by_role("button", name="Add override").click()
    expect(page.locator("#overrides")).to_contain_text("Dentist")
    assert page.evaluate("window.__sameDocument") is True  # htmx swapped the body in place

    page.goto(f"/oncall/rotations/{on_call.pk}/?view=week&start={start:%Y-%m-%d}")
    cover = page.locator(f'#schedule [data-day="{start:%Y-%m-%d}"] .shift.override')
    expect(cover).to_contain_text("Cat")
    expect(cover).to_contain_text("override")


@pytest.fixture
def scale_setup(site, freeze_rules_off, make_user, settings, tmp_path):
    """Cora, a P2 on the API, which runs as `shop/web` (two replicas) on a simulated cluster the live server reaches."""
    from incidents.models import Service, Severity
    from incidents.services import incident_declare
    from portal import kube
    from portal.cluster.models import Namespace, Target, Workload
    from portal.kubesim import Cluster, Simulator
    from portal.kubesim.seed import add_deployment

    cluster = Cluster()
    cluster.add_node("node-1")
    add_deployment(cluster, "shop", "web", images=["shop/web:1"], replicas=2)
    api = Service.objects.create(name="API", slug="api")
    target = Target.objects.create(name="Cluster", slug="sim", kind="kubernetes", environment="production")
    namespace = Namespace.objects.create(target=target, name="shop", environment="production")
    Workload.objects.create(service=api, target=target, namespace=namespace, deployment="web")
    cora = make_user(Role.INCIDENT_COMMANDER, username="cora")
    incident = incident_declare(title="Checkout slow", severity=Severity.objects.get(code="P2"), reporter=cora,
                                services=[api])  # fmt: skip
    with Simulator(cluster) as simulator:
        settings.KUBECONFIG = str(simulator.write_kubeconfig(tmp_path / "kubeconfig.yaml"))
        kube._api_client.cache_clear()
        yield cluster, incident.pk
    kube._api_client.cache_clear()


def run_in_a_worker_thread(run_id: int) -> None:
    """What the worker does with the task message, off Playwright's event loop (where the ORM refuses to run)."""
    import threading

    from django.db import connection

    from portal.cluster.models import ActionRun
    from portal.cluster.tasks import run_action

    def work() -> None:
        try:
            run_action(run_id, ActionRun.objects.get(pk=run_id).requested_by_id)
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=30)


def test_commander_scales_from_the_incident_confirms_and_watches_it_run(scale_setup, page):
    cluster, incident_id = scale_setup
    sign_in(page, "cora")
    page.goto(f"/incidents/{incident_id}/")
    page.locator("#incident-actions").get_by_role("link", name="Scale").click()
    expect(page.get_by_label("Namespace")).to_have_value("shop")
    page.get_by_label("Replicas").fill("3")
    page.get_by_role("button", name="Continue").click()

    expect(page.locator("#expectation")).to_contain_text("shop/web goes from 2 to 3 replicas")
    expect(page.locator("#command")).to_have_text("kubectl -n shop scale deployment/web --replicas=3")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#run-body .pill").first).to_have_text("queued")
    page.evaluate("window.__sameDocument = true")

    run_in_a_worker_thread(int(page.url.rstrip("/").rsplit("/", 1)[1]))

    expect(page.locator("#run-body .pill").first).to_have_text("succeeded", timeout=10_000)  # polled, not reloaded
    expect(page.locator("#progress")).to_contain_text("scaled shop/web from 2 to 3 replicas")
    assert page.evaluate("window.__sameDocument") is True
    assert cluster.get("deployments", "shop", "web")["spec"]["replicas"] == 3


def fetch_looks_in_a_worker_thread() -> None:
    """What the worker does with each queued look's message, off Playwright's event loop."""
    import threading

    from django.db import connection

    from portal.cluster.models import Look
    from portal.cluster.tasks import fetch_look

    def work() -> None:
        try:
            for look in Look.objects.filter(status=Look.Status.QUEUED):
                fetch_look(look.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=30)


def test_commander_looks_at_the_pods_from_the_incident_and_watches_them_come_in(scale_setup, page):
    _, incident_id = scale_setup
    sign_in(page, "cora")
    page.goto(f"/incidents/{incident_id}/")
    page.evaluate("window.__sameDocument = true")

    page.locator("#incident-looks").get_by_role("button", name="Pods", exact=True).click()
    look = page.locator("#look-result .look").first
    expect(look).to_contain_text("Waiting for a worker")
    fetch_looks_in_a_worker_thread()

    expect(look).to_contain_text("2 pods, all running", timeout=10_000)  # polled, not reloaded
    expect(look.locator("tbody tr")).to_have_count(2)
    assert page.evaluate("window.__sameDocument") is True


# Every page of the UI is walked below with an Admin signed in, so a CSP violation or script error anywhere fails.
# What is not a page of its own is named here with why; a URL in neither list fails the coverage test.
NOT_PAGES = {
    # POST-only: each redirects to, or swaps part of, a page walked here.
    "token-revoke", "lockout-release", "incident-act", "maintenance-window-materialize", "maintenance-checklist-tick",
    "maintenance-occurrence-act", "freeze-add", "freeze-exception-request", "freeze-exception-decide",
    "backup-verify", "drill-record", "checklist-tick", "oncall-override-create", "oncall-override-delete",
    "oncall-swap-request", "oncall-swap-act", "oncall-handoff-item", "oncall-handoff-test-page", "oncall-feed-revoke",
    "action-act", "delivery-retry", "logout", "procedure-run-start", "procedure-step-done", "procedure-run-abandon",
    "procedure-run-drill", "deployment-start", "look-new",
    "oncall-feed-issue",  # POST, answered with a page: walked by pressing its button
    "oncall-calendar",  # iCalendar, not HTML
    "system-health",  # the dashboard's htmx panel, loaded by the dashboard
    "audit-chain",  # the audit page's hash chain line, loaded by the audit page
    "incident-live",  # the incident page's poll: a 204, or the page's body, loaded by the incident page
    "action-guidance",  # the request form's guidance, redrawn by the request form when the namespace changes
    "incident-update-preview",  # the status update's preview, redrawn by the incident page as the update is typed
    "status-subscribe",  # POST, answered with the status page
    "login",  # walked signed out, before the rest
    "health", "health-detailed", "schema",  # JSON
    "favicon",  # a redirect to the icon
    "metrics",  # Prometheus text
    "oidc_authentication_init", "oidc_authentication_callback",  # redirects to the OpenID Provider and back
}  # fmt: skip


@pytest.fixture
def everything(site, make_user):
    """The demo data, plus one of each object the demo lacks, and the URL of every page (by URL name)."""
    import io
    from urllib.parse import urlsplit

    from django.core.management import call_command
    from django.urls import reverse

    from incidents.models import Incident
    from maintenance.services import window_create, window_create_emergency
    from oncall.models import Handoff, Rotation
    from operations.models import Checklist, Deployment, Procedure, Runbook, Slo
    from operations.services.checklists import checklists_generate
    from operations.services.procedures import procedure_run_start
    from portal.cluster.models import ActionRun, Look, Target
    from portal.notifications.status_links import confirm_url, unsubscribe_url

    admin = make_user(Role.ADMIN, username="ada", is_staff=True, is_superuser=True)  # the admin site too
    call_command("seed_demo", stdout=io.StringIO())
    occurrence = window_create(
        name="LB swap", kind="one_off", actor=admin, starts_at=timezone.now() + timedelta(days=3),
        duration=timedelta(hours=2), notice_lead=timedelta(hours=24),
    ).occurrences.get()  # fmt: skip
    # Declared without an incident, it offers its procedure for one.
    emergency = window_create_emergency(name="Patch OpenSSL", actor=admin, duration=timedelta(hours=1))
    checklists_generate()  # seed_demo made the current periods' checklists
    checklist = Checklist.objects.first()
    rotation = Rotation.objects.first()
    handoff = Handoff.objects.create(rotation=rotation, at=timezone.now(), outgoing=admin, incoming=admin)
    target = Target.objects.first()
    run = ActionRun.objects.create(
        kind="scale", target=target, environment="production", reason="walk every page", requested_by=admin,
        parameters={"namespace": "broxiva-production", "deployment": "broxiva-api", "replicas": 3},
        command="kubectl -n broxiva-production scale deployment/broxiva-api --replicas=3",
    )  # fmt: skip
    incident = Incident.objects.order_by("pk").first()
    resolved = Incident.objects.filter(status="resolved").first()
    procedure_run = procedure_run_start(procedure=Procedure.objects.get(slug="emergency-maintenance"),
                                        kind="incident", incident=incident, actor=admin)  # fmt: skip
    look = Look.objects.create(
        kind="logs", target=target, incident=incident, requested_by=admin, status="done", created_at=timezone.now(),
        parameters={"namespace": "broxiva-production", "deployment": "broxiva-api", "tail": 2},
        command="kubectl -n broxiva-production logs -l app=broxiva-api --tail=2", summary="2 lines from 1 pods",
        text="INFO  starting\nINFO  ready\n",
    )  # fmt: skip
    return {
        "dashboard": reverse("dashboard"),
        "audit-log": reverse("audit-log"),
        "token-list": reverse("token-list"),
        "lockout-list": reverse("lockout-list"),
        "incident-list": reverse("incident-list"),
        "incident-declare": reverse("incident-declare"),
        "severity-list": reverse("severity-list"),
        "incident-detail": reverse("incident-detail", args=[incident.pk]),
        "incident-review": reverse("incident-review", args=[resolved.pk]),
        "maintenance-calendar": reverse("maintenance-calendar"),
        "maintenance-window-create": reverse("maintenance-window-create"),
        "maintenance-emergency": reverse("maintenance-emergency"),
        "maintenance-window": reverse("maintenance-window", args=[occurrence.window_id]),
        "maintenance-occurrence": reverse("maintenance-occurrence", args=[occurrence.pk]),
        "maintenance-occurrence-emergency": reverse("maintenance-occurrence", args=[emergency.pk]),
        "freeze-calendar": reverse("freeze-calendar"),
        "status-page": reverse("status-page"),
        # The pages behind the subscription emails' signed links (GET asks; only the button acts).
        "status-confirm": urlsplit(confirm_url("walk@example.com", [])).path,
        "status-unsubscribe": urlsplit(unsubscribe_url(1)).path,
        "slo-list": reverse("slo-list"),
        "slo-detail": reverse("slo-detail", args=[Slo.objects.first().slug]),
        "runbook-list": reverse("runbook-list"),
        "runbook-detail": reverse("runbook-detail", args=[Runbook.objects.first().slug]),
        "deployment-list": reverse("deployment-list"),
        "deployment-detail": reverse("deployment-detail", args=[Deployment.objects.first().pk]),
        "recovery": reverse("recovery"),
        "alert-catalogue": reverse("alert-catalogue"),
        "contacts": reverse("contacts"),
        "procedure-list": reverse("procedure-list"),
        "procedure-run-detail": reverse("procedure-run-detail", args=[procedure_run.pk]),
        "checklist-list": reverse("checklist-list"),
        "checklist-detail": reverse("checklist-detail", args=[checklist.pk]),
        "oncall-index": reverse("oncall-index"),
        "oncall-rotation-create": reverse("oncall-rotation-create"),
        "oncall-rotation": reverse("oncall-rotation", args=[rotation.pk]),
        "oncall-rotation-edit": reverse("oncall-rotation-edit", args=[rotation.pk]),
        "oncall-handoff": reverse("oncall-handoff", args=[handoff.pk]),
        "action-list": reverse("action-list"),
        "action-new": reverse("action-new"),
        "action-detail": reverse("action-detail", args=[run.pk]),
        "action-confirm": reverse("action-confirm", args=[run.pk]),
        "look-detail": reverse("look-detail", args=[look.pk]),
        "delivery-list": reverse("delivery-list"),
        "profile": reverse("profile"),
        "swagger-ui": reverse("swagger-ui"),
        "admin": reverse("admin:index"),
        "admin-changelist": reverse("admin:incidents_service_changelist"),
        "admin-change": reverse("admin:accounts_user_change", args=[admin.pk]),
    }


def ui_url_names() -> set[str]:
    """Every named URL outside the API and the admin site."""
    from django.urls import URLResolver, get_resolver

    def walk(patterns, namespace=None):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace is None:
                    yield from walk(pattern.url_patterns)
            elif pattern.name:
                yield pattern.name

    return set(walk(get_resolver().url_patterns))


def test_every_ui_url_is_walked_or_explained(everything):
    assert ui_url_names() - set(everything) - NOT_PAGES == set()


def test_every_page_loads_without_a_csp_violation_or_script_error(everything, page, browser_log):
    page.goto("/login/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(page, "ada")
    expect(page.locator("#system-health")).to_contain_text("Database")  # the htmx panel came in
    for name, url in everything.items():
        response = page.goto(url)
        assert response.status == 200, f"{name} {url}: {response.status}"
        page.wait_for_load_state("networkidle")
    expect(page.locator("#swagger-ui, body")).not_to_have_count(0)

    page.goto("/oncall/")
    page.get_by_role("button", name="Feed of my shifts").click()  # answered with a page of its own
    expect(page.get_by_text(".ics")).not_to_have_count(0)


def test_repeated_failed_sign_ins_show_the_lockout_page(vera, page, browser_log):
    browser_log.allow(r"/login/: Failed to load resource: the server responded with a status of 429")
    page.goto("/login/")
    for _ in range(5):
        page.get_by_label("Username").fill("vera")
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Sign-in locked")).to_be_visible()
    page.get_by_role("link", name="Back to sign-in").click()
    page.get_by_label("Username").fill("vera")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sign-in locked")).to_be_visible()  # the right password too


@pytest.fixture
def bot_token(ada):
    from portal.accounts.services import api_token_create

    return api_token_create(user=ada, name="bot", created_by=None).token


def test_revoking_a_token_asks_first(bot_token, page):
    """The confirmation comes from portal.js (no inline handler)."""
    sign_in(page, "ada")
    page.goto("/tokens/")
    row = page.get_by_role("row", name="bot")
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name="Revoke").click()
    expect(row.get_by_role("button", name="Revoke")).to_be_visible()  # not revoked

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("listitem").filter(has_text="Token 'bot' for ada revoked.")).to_be_visible()


@pytest.fixture
def rami(site, make_user):
    return make_user(Role.RESPONDER, username="rami")


def test_responder_runs_a_dr_drill_step_by_step_and_records_it(rami, page):
    sign_in(page, "rami")
    page.get_by_role("link", name="Procedures").click()
    page.locator("#start-drill select[name=procedure]").select_option("database-failover")
    page.get_by_role("button", name="Start drill").click()
    expect(page.get_by_role("heading", name=re.compile("Database failover"))).to_be_visible()
    steps = page.locator("#run-steps tbody tr")
    expect(steps).to_have_count(5)

    page.locator("#run-steps input[name=note]").fill("replica lag 2 s")
    page.get_by_role("button", name="Done").click()
    expect(steps.nth(0)).to_contain_text("by rami")
    expect(steps.nth(0)).to_contain_text("replica lag 2 s")
    for _ in range(4):
        page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("heading", name=re.compile("Completed"))).to_be_visible()
    expect(page.locator("#rto-verdict")).to_have_text("met")  # well inside the database's 30-minute RTO

    page.get_by_label("Measured RPO (min)").fill("5")
    page.get_by_role("button", name="Record the drill").click()
    expect(page.locator("#drill-record")).to_contain_text("Recorded: RTO 1 min, RPO 5 min (Met the target)")


# Django's admin site and Swagger UI bring their own layouts.
NOT_OURS = {"admin", "admin-changelist", "admin-change", "swagger-ui"}


@pytest.mark.parametrize("viewport", ["phone"], indirect=True)
def test_no_page_scrolls_sideways_on_a_phone(everything, page):
    """Issue 14, point 3: at 390x844 every page fits the screen's width (wide tables scroll inside their card)."""
    sign_in(page, "ada")
    too_wide = {}
    for name, url in everything.items():
        if name in NOT_OURS:
            continue
        page.goto(url)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            too_wide[name] = width
    assert too_wide == {}
