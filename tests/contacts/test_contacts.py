"""Contacts and links: seeded from the seeds, edited by Admins, on a Contacts page and on the incidents they concern;
the escalation matrix's contact methods, and demo people behind its levels."""

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Dashboard, DeploymentEnvironment, KeyLink, Team, Vendor
from contacts.selectors import INCIDENT_DIRECTORY
from incidents.escalation import recipients
from incidents.models import EscalationLevel, EscalationStep, Incident, Service, Severity
from incidents.services import incident_declare
from portal.accounts.roles import Role

T0 = datetime(2027, 7, 14, 12, 0, tzinfo=UTC)  # a quiet Wednesday


@pytest.fixture
def services(db) -> dict[str, Service]:
    return {slug: Service.objects.create(name=slug.title(), slug=slug) for slug in ("api", "payments", "web")}


def declare(title: str, *, services: list[Service], flags: tuple[str, ...] = (), code: str = "P2") -> Incident:
    return incident_declare(
        title=title, severity=Severity.objects.get(code=code), reporter=None, services=services, flags=flags,
        detected_at=T0, now=T0,
    )  # fmt: skip


def test_the_seeds_contacts_are_data(db):
    assert {team.name: (team.slack_channel, team.email) for team in Team.objects.exclude(slug="backend")} == {
        "On-Call": ("#broxiva-oncall", "oncall@broxiva.com"),
        "DevOps": ("#broxiva-devops", "devops@broxiva.com"),
        "Security": ("#broxiva-security", "security@broxiva.com"),
        "Database": ("#broxiva-database", "database@broxiva.com"),
    }
    vendors = {vendor.name: (vendor.support_url, vendor.sla, vendor.get_priority_display()) for vendor in
               Vendor.objects.all()}  # fmt: skip
    assert vendors == {
        "Azure": ("https://portal.azure.com", "Enterprise", "Business Critical"),
        "AWS": ("https://aws.amazon.com/support", "", "Business Critical"),
        "Stripe": ("https://support.stripe.com", "24/7", "Critical"),
        "SendGrid": ("https://support.sendgrid.com", "", "High"),
        "Sentry": ("https://sentry.io", "Business", "Normal"),
    }
    assert Vendor.objects.get(slug="stripe").console_url == "https://dashboard.stripe.com"  # the guide's URL
    assert {env.environment: (env.branch, env.auto_deploy, env.url) for env in DeploymentEnvironment.objects.all()} == {
        "development": ("develop", True, "https://dev.broxiva.com"),
        "staging": ("staging", True, "https://staging.broxiva.com"),
        "production": ("main", False, "https://www.broxiva.com"),
    }
    assert {link.name for link in KeyLink.objects.filter(on_incidents=True)} == {"Status Page", "Grafana", "Sentry"}
    assert list(Dashboard.objects.values_list("name", flat=True)) == [
        "Broxiva Overview", "API Detailed Metrics", "Infrastructure Metrics", "Database Performance",
        "Business Metrics",
    ]  # fmt: skip
    levels = {level.level: (level.chat_handle, level.contact_methods) for level in
              EscalationLevel.objects.filter(policy__is_default=True)}  # fmt: skip
    assert levels[1] == ("@oncall-engineer", ["pager", "chat"])
    assert levels[2] == ("@platform-lead", ["chat", "phone"])
    assert levels[3] == ("@eng-manager", ["chat", "email", "phone"])


def test_a_payment_failure_shows_stripe_support_and_incidents_link_their_services_dashboards(
    services, client, make_user, django_assert_max_num_queries
):
    Dashboard.objects.get(name="API Detailed Metrics").services.add(services["api"])
    for name in ("Infrastructure Metrics", "Database Performance", "Business Metrics"):
        Dashboard.objects.get(name=name).services.add(services["web"])
    payment = declare("Card payments failing", services=[services["payments"]], flags=("payment_failure",), code="P1")
    slow_api = declare("Slow API", services=[services["api"]])
    client.force_login(make_user(Role.VIEWER))

    page = client.get(f"/incidents/{payment.pk}/").content.decode()
    assert "Stripe support (Critical, SLA 24/7)" in page
    assert "https://support.stripe.com" in page
    assert "https://grafana.broxiva.com/d/broxiva-overview" in page  # for every incident
    assert "https://grafana.broxiva.com/d/api-detailed-metrics" not in page
    assert "https://sentry.io/broxiva" in page
    page = client.get(f"/incidents/{slow_api.pk}/").content.decode()
    assert "Stripe" not in page
    assert "https://grafana.broxiva.com/d/api-detailed-metrics" in page
    assert "https://grafana.broxiva.com/d/business-metrics" not in page

    # A vendor linked by service shows without the flag, at once; the API answers what the page shows, in as many
    # queries whatever the number of vendors and dashboards (the cache dropped), and none of them once cached.
    INCIDENT_DIRECTORY.invalidate()
    with CaptureQueriesContext(connection) as few:
        client.get(f"/api/v1/contacts/incidents/{slow_api.pk}/")
    Vendor.objects.get(slug="stripe").services.add(services["api"])
    Vendor.objects.get(slug="aws").services.add(services["api"], services["web"])
    with django_assert_max_num_queries(len(few)):
        body = client.get(f"/api/v1/contacts/incidents/{slow_api.pk}/").json()
    assert [vendor["slug"] for vendor in body["vendors"]] == ["aws", "stripe"]
    assert [dashboard["name"] for dashboard in body["dashboards"]] == ["Broxiva Overview", "API Detailed Metrics"]
    with CaptureQueriesContext(connection) as cached:
        assert client.get(f"/api/v1/contacts/incidents/{slow_api.pk}/").json() == body
    assert [query["sql"] for query in cached.captured_queries if '"contacts_' in query["sql"]] == []
    services["web"].slug = "www"  # a service renamed shows at once
    services["web"].save()
    aws = client.get(f"/api/v1/contacts/incidents/{slow_api.pk}/").json()["vendors"][0]
    assert sorted(aws["services"]) == ["api", "www"]
    assert {link["name"] for link in body["links"]} == {"Status Page", "Grafana", "Sentry"}


def test_admins_edit_contacts_viewers_read_them(token_client):
    admin, viewer = token_client(Role.ADMIN), token_client(Role.VIEWER)
    vendor = {"name": "Cloudflare", "slug": "cloudflare", "support_url": "https://dash.cloudflare.com/support",
              "sla": "Enterprise", "priority": "high", "incident_flags": ["active_attack"]}  # fmt: skip

    assert viewer.post("/api/v1/contacts/vendors/", vendor, format="json").status_code == 403
    assert admin.post("/api/v1/contacts/vendors/", vendor, format="json").status_code == 201
    bad = admin.post("/api/v1/contacts/vendors/", {**vendor, "slug": "cf", "name": "CF", "incident_flags": ["nope"]},
                     format="json")  # fmt: skip
    assert bad.status_code == 400
    assert "incident_flags" in bad.json()["errors"]
    changed = admin.patch("/api/v1/contacts/teams/devops/", {"slack_channel": "#platform"}, format="json")
    assert changed.status_code == 200
    assert Team.objects.get(slug="devops").slack_channel == "#platform"
    no_hash = admin.patch("/api/v1/contacts/teams/devops/", {"slack_channel": "platform"}, format="json")
    assert no_hash.status_code == 400
    assert "slack_channel" in no_hash.json()["errors"]
    assert viewer.get("/api/v1/contacts/environments/").json()["count"] == 3
    assert viewer.get("/api/v1/contacts/links/?on_incidents=true").json()["count"] == 3
    assert viewer.get("/api/v1/contacts/dashboards/").json()["count"] == 5

    level = EscalationLevel.objects.get(policy__is_default=True, level=4)
    url = f"/api/v1/escalation-levels/{level.pk}/"
    assert admin.patch(url, {"contact_methods": ["phone"], "chat_handle": "@ceo"}, format="json").status_code == 200
    refused = admin.patch(url, {"contact_methods": ["carrier-pigeon"]}, format="json")
    assert refused.status_code == 400
    assert "contact_methods" in refused.json()["errors"]


def test_contacts_page(client, make_user):
    lead = make_user(Role.INCIDENT_COMMANDER, username="pia", phone="+14155550111", email="pia@example.com")
    lead.groups.add(EscalationLevel.objects.get(policy__is_default=True, level=2).group)
    client.force_login(make_user(Role.VIEWER))

    page = client.get("/contacts/").content.decode()

    for text in ("#broxiva-security", "security@broxiva.com", "https://support.sendgrid.com", "Business Critical",
                 "<code>develop</code>", "https://grafana.broxiva.com", "Database Performance", "@platform-lead",
                 "+14155550111"):  # fmt: skip
        assert text in page, text
    assert "nobody: pages reach no one" in page  # level 3 has nobody in this database


def test_the_demos_level_2_and_3_pages_reach_someone(db):
    with time_machine.travel(T0, tick=False):
        call_command("seed_demo", stdout=StringIO())
    incident = Incident.objects.get(title="Checkout latency above SLO")
    reached = {}
    for level in (2, 3, 4):
        step = incident.escalation_steps.get(kind=EscalationStep.Kind.LEVEL, level=level)
        name, people = recipients(incident, step, now=T0)
        reached[level] = sorted(person.username for person in people)
        assert all(person.phone and person.email for person in people)
    assert reached == {2: ["pia.lead"], 3: ["cai.cto", "eli.manager"], 4: ["eve.exec"]}
    assert Vendor.objects.get(slug="stripe").services.filter(slug="payments").exists()


def test_admins_set_a_teams_pagerduty_routing_key_shown_masked_and_audited_masked(token_client):
    from auditlog.models import LogEntry

    admin, viewer = token_client(Role.ADMIN), token_client(Role.VIEWER)
    key = "DBTEAMKEY0000000000000000000abcd"
    url = "/api/v1/contacts/teams/database/"

    assert viewer.patch(url, {"pagerduty_routing_key": key}, format="json").status_code == 403
    answer = admin.patch(url, {"pagerduty_routing_key": key}, format="json")
    assert answer.status_code == 200
    assert Team.objects.get(slug="database").pagerduty_routing_key == key
    assert "pagerduty_routing_key" not in answer.json()  # write-only
    assert viewer.get(url).json()["pagerduty"] == "…abcd"
    assert viewer.get("/api/v1/contacts/teams/devops/").json()["pagerduty"] == ""
    entry = LogEntry.objects.get_for_object(Team.objects.get(slug="database")).latest("pk")
    assert key not in json.dumps(entry.changes)
    too_long = admin.patch(url, {"pagerduty_routing_key": "k" * 65}, format="json")
    assert too_long.status_code == 400
    assert "pagerduty_routing_key" in too_long.json()["errors"]
    assert admin.patch(url, {"pagerduty_routing_key": ""}, format="json").status_code == 200
    assert Team.objects.get(slug="database").pagerduty_routing_key == ""


def test_the_contacts_page_shows_the_guides_on_call_chain_beside_the_manuals_matrix(client, make_user):
    client.force_login(make_user(Role.VIEWER))
    page = client.get("/contacts/").content.decode()
    chain = page.split('id="guide-oncall-chain"', 1)[1].split("</p>", 1)[0]
    assert "primary <strong>DevOps Team (PagerDuty)</strong>" in chain
    assert "secondary <strong>Backend Team Lead</strong>" in chain
    assert "escalation <strong>CTO</strong>" in chain
