"""Responders are guided, not refused after the fact (issue 14, point 10): a production change is a request for an
Incident Commander's approval; the freeze in force where the action runs is shown before Continue and follows the
namespace; a runbook's quick action brings its reason; nodes are picked from the cluster. At desktop and phone size."""

import pytest
from playwright.sync_api import Page, expect

from portal.accounts.roles import Role
from tests.browser.axe import serious_violations, serve_axe
from tests.browser.helpers import htmx_settled, off_loop, sign_in

pytestmark = pytest.mark.browser
SCREENS = pytest.mark.parametrize("viewport", ["desktop", "phone"], indirect=True)


@pytest.fixture
def guided(site, freeze_rules_off, make_user, settings, tmp_path):
    """Rami (Responder), Cora and Ivan (Incident Commanders); a P2 on the API, which runs as `web` in the production
    namespace `shop` (with a staging twin) of a simulated cluster of two nodes, one cordoned; production frozen
    today (emergency fixes only); a runbook whose quick action restarts `web`."""
    from django.utils import timezone

    from incidents.models import Service, Severity
    from incidents.services import incident_declare
    from maintenance.models import FreezeRule
    from operations.models import QuickAction, Runbook
    from portal import kube
    from portal.cluster.models import Namespace, Target, Workload
    from portal.kubesim import Cluster, Simulator
    from portal.kubesim.seed import add_deployment

    cluster = Cluster()
    cluster.add_node("node-1")
    cluster.add_node("node-2", unschedulable=True)
    for namespace in ("shop", "shop-staging"):
        add_deployment(cluster, namespace, "web", images=["shop/web:1"], replicas=2)
    api = Service.objects.create(name="API", slug="api")
    target = Target.objects.create(name="Cluster", slug="sim", kind="kubernetes", environment="production")
    shop = Namespace.objects.create(target=target, name="shop", environment="production")
    Namespace.objects.create(target=target, name="shop-staging", environment="staging")
    Workload.objects.create(service=api, target=target, namespace=shop, deployment="web")
    make_user(Role.RESPONDER, username="rami")
    for name in ("cora", "ivan"):
        make_user(Role.INCIDENT_COMMANDER, username=name)
    incident = incident_declare(title="Checkout slow", severity=Severity.objects.get(code="P2"), reporter=None,
                                services=[api])  # fmt: skip
    today = timezone.now().date()
    FreezeRule.objects.create(name="Stabilisation freeze", kind=FreezeRule.Kind.ONE_OFF, level="emergency-only",
                              environments=["production"], first_day=today, last_day=today)  # fmt: skip
    runbook = Runbook.objects.create(
        slug="slow-checkout", title="Slow checkout", body="Restart it.", last_reviewed_on=today
    )
    QuickAction.objects.create(runbook=runbook, position=0, label="Restart web", kind="restart", deployment="web",
                               namespace="shop")  # fmt: skip
    with Simulator(cluster) as simulator:
        settings.KUBECONFIG = str(simulator.write_kubeconfig(tmp_path / "kubeconfig.yaml"))
        kube._api_client.cache_clear()
        yield {"incident": incident.pk, "runbook": runbook.slug}
    kube._api_client.cache_clear()


def no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


@SCREENS
def test_a_responder_asks_an_incident_commander_seeing_the_freeze_before_continue(guided, page, axe):
    serve_axe(page, axe)
    sign_in(page, "rami")
    page.goto(f"/incidents/{guided['incident']}/")
    actions = page.locator("#incident-actions")
    expect(actions.locator("#asks-approval")).to_contain_text("go to an Incident Commander for approval")
    actions.get_by_role("link", name="Restart (request approval)").click()

    guidance = page.locator("#action-guidance")
    expect(page.get_by_label("Namespace")).to_have_value("shop")
    expect(guidance.locator("#freeze-notice")).to_contain_text("Stabilisation freeze")
    expect(guidance.locator("#guidance-approval")).to_contain_text("Request approval from an Incident Commander")
    expect(guidance.locator("#guidance-refusal")).to_contain_text("Production is frozen (emergency-only)")
    page.evaluate("window.__sameDocument = true")
    assert serious_violations(page) == []
    no_sideways_scroll(page)

    page.get_by_label("Namespace").select_option("shop-staging")  # the environment changes: so does the guidance
    expect(guidance.locator("#freeze-notice")).to_have_count(0)
    expect(guidance.locator("#guidance-approval")).to_have_count(0)
    expect(guidance).to_contain_text("Freezes hold production changes only.")
    page.get_by_label("Namespace").select_option("shop")
    expect(guidance.locator("#guidance-refusal")).to_be_visible()
    page.get_by_label("Emergency change").check()  # the incident is an open P2: the way through the freeze
    expect(guidance.locator("#guidance-refusal")).to_have_count(0)
    expect(guidance.locator("#freeze-notice")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True, "redrawn in place, not reloaded"
    page.get_by_role("button", name="Continue").click()

    expect(page.locator("dl.facts")).to_contain_text("waits for the approval of an Incident Commander, who is notified")
    page.get_by_role("button", name="Request approval from an Incident Commander").click()
    expect(page.locator("#run-body .pill").first).to_have_text("awaiting approval")
    no_sideways_scroll(page)

    def asked() -> tuple[str, set[str]]:
        from portal.cluster.models import ActionRun
        from portal.notifications.models import EventKind, Notification

        notice = Notification.objects.get(event_kind=EventKind.APPROVAL_REQUESTED)
        return ActionRun.objects.get().status, {user.username for user in notice.recipients.all()}

    assert off_loop(asked) == ("awaiting_approval", {"cora", "ivan"})


@SCREENS
def test_a_runbook_quick_action_brings_its_reason_and_nodes_are_picked_from_the_cluster(guided, page):
    sign_in(page, "cora")
    page.goto(f"/runbooks/{guided['runbook']}/?incident={guided['incident']}")
    page.get_by_role("link", name="Restart web").click()

    expect(page.get_by_label("Reason")).to_have_value("Runbook “Slow checkout”: Restart web")
    expect(page.locator("#action-guidance")).to_contain_text("Refused as it stands")  # a commander is frozen too
    page.get_by_label("Action").select_option("drain")  # redraws the form with the drain's fields

    node = page.get_by_label("Node", exact=True)
    expect(node.locator("option")).to_have_text(["—", "node-1", "node-2 (SchedulingDisabled)"])
    htmx_settled(page)  # the redrawn node picker redraws the guidance once htmx has wired it
    node.select_option("node-1")
    expect(page.locator("#action-guidance #guidance-approval")).to_contain_text("another Incident Commander")
    no_sideways_scroll(page)
