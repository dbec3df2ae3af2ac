import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from incidents.models import Alert, Incident, Integration, Severity
from incidents.services import incident_declare
from incidents.views import ALERTS_SHOWN
from operations.markdown import render_markdown
from operations.models import AlertRule, QuickAction, Runbook, RunbookAlert
from operations.quick_actions import parameter_errors, runbook_quick_action_url
from operations.selectors.runbooks import runbooks_for_incident
from operations.services.runbooks import QuickActionSpec, runbook_save
from portal.accounts.roles import Role
from portal.errors import ApplicationError

SEEDED = {"scale-api-pods", "database-failover", "clear-redis-cache", "force-logout", "node-failure", "high-cpu",
          "pod-crashes", "high-error-rate", "db-connection-issues", "certificate-expiry"}  # fmt: skip


class TestMarkdown:
    def test_script_tags_are_text(self):
        html = render_markdown("Hello <script>alert('x')</script>\n\n<img src=x onerror=alert(1)>")
        assert "<script" not in html
        assert "<img" not in html
        assert "&lt;script&gt;" in html

    @pytest.mark.parametrize(
        "link", ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html;base64,PHNjcmlwdD4=", "vbscript:x"]
    )
    def test_dangerous_links_lose_their_href(self, link):
        html = render_markdown(f"[click]({link}) and <{link}> and [ok](https://example.com)")
        assert re.findall(r'href="([^"]*)"', html) == ["https://example.com"]

    def test_sanitizer_strips_what_markdown_would_let_through(self):
        from operations import markdown

        dirty = '<a href="javascript:alert(1)" onclick="x()">a</a><script>x</script><p style="x">ok</p>'
        cleaned = markdown.nh3.clean(dirty, tags=markdown.ALLOWED_TAGS, attributes=markdown.ALLOWED_ATTRIBUTES,
                                     url_schemes=markdown.ALLOWED_URL_SCHEMES)  # fmt: skip
        assert "javascript" not in cleaned
        assert "onclick" not in cleaned
        assert "<script" not in cleaned
        assert "style" not in cleaned

    def test_runbook_formatting_survives(self):
        html = render_markdown("1. Check\n\n```bash\nkubectl get pods\n```\n\n[Grafana](https://grafana.broxiva.com)")
        assert "<ol>" in html
        assert "<pre><code" in html
        assert 'href="https://grafana.broxiva.com"' in html
        assert 'rel="noopener noreferrer nofollow"' in html


class TestQuickActions:
    def test_url_builder_prefills_the_cluster_action_form(self):
        url = runbook_quick_action_url(kind="scale", deployment="broxiva-api", namespace="broxiva-production",
                                       replicas=5, incident=42)  # fmt: skip
        parts = urlsplit(url)
        assert parts.path == "/actions/new/"
        assert parse_qs(parts.query) == {
            "kind": ["scale"], "deployment": ["broxiva-api"], "namespace": ["broxiva-production"], "replicas": ["5"],
            "incident": ["42"],
        }  # fmt: skip

    def test_url_builder_leaves_out_empty_parameters_and_encodes(self):
        assert runbook_quick_action_url(kind="drain") == "/actions/new/?kind=drain"
        assert runbook_quick_action_url(kind="redis_delete_pattern", target="user:* &x") == (
            "/actions/new/?kind=redis_delete_pattern&target=user%3A%2A+%26x"
        )
        assert "replicas=0" in runbook_quick_action_url(kind="scale", deployment="d", namespace="n", replicas=0)

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"kind": "scale", "deployment": "api", "namespace": "ns"}, "replicas"),
            ({"kind": "restart", "namespace": "ns"}, "deployment"),
            ({"kind": "redis_flush", "replicas": 3}, "replicas"),
            ({"kind": "redis_delete_pattern"}, "target"),
            ({"kind": "reboot"}, "kind"),
        ],
    )
    def test_parameters_are_checked_per_kind(self, params, field):
        assert field in parameter_errors(**params)

    def test_every_seeded_quick_action_is_complete(self, db):
        for action in QuickAction.objects.all():
            action.full_clean()
        assert QuickAction.objects.get(runbook__slug="scale-api-pods", position=0).url() == (
            "/actions/new/?kind=scale&deployment=broxiva-api&namespace=broxiva-production&replicas=5"
            "&reason=Runbook+%E2%80%9CScale+API+pods%E2%80%9D%3A+Scale+broxiva-api+to+5"
        )


class TestRunbooks:
    def test_the_seeds_runbooks_are_there_with_owner_and_review_date(self, db):
        runbooks = {runbook.slug: runbook for runbook in Runbook.objects.all()}
        assert set(runbooks) >= SEEDED
        assert all(runbook.last_reviewed_on and runbook.owner_team for runbook in runbooks.values())
        assert "kubectl scale deployment/broxiva-api --replicas=5" in runbooks["scale-api-pods"].body
        assert "Promote replica to primary" in runbooks["database-failover"].body

    def test_save_replaces_links_and_actions_all_or_nothing(self, db):
        runbook = Runbook.objects.get(slug="high-cpu")
        bad = [QuickActionSpec(label="ok", kind="restart", deployment="a", namespace="b"),
               QuickActionSpec(label="bad", kind="scale", deployment="a", namespace="b")]  # fmt: skip
        with pytest.raises(ApplicationError) as raised:
            runbook_save(runbook=runbook, fields={"title": "Hot CPU"}, alertnames=["X"], quick_actions=bad)
        assert raised.value.field == "quick_actions[1].replicas"
        runbook.refresh_from_db()
        assert runbook.title == "High CPU"
        assert [link.alertname for link in runbook.alert_links.all()] == ["HighCPUUsage"]

        runbook_save(runbook=runbook, fields={}, alertnames=["HighCPUUsage", "CPUThrottlingHigh", "CPUThrottlingHigh"])
        assert sorted(link.alertname for link in runbook.alert_links.all()) == ["CPUThrottlingHigh", "HighCPUUsage"]


@pytest.fixture
def alert_incident(db, make_user):
    """An incident opened by a PodCrashLooping alert, as the alert intake leaves it."""
    now = timezone.now()
    incident = incident_declare(title="PodCrashLooping api", severity=Severity.objects.get(code="P2"), reporter=None)
    integration = Integration.objects.create(name="am", token_prefix="x", token_hash="h" * 64, token_issued_at=now)
    for name in ("PodCrashLooping", "SomethingUnlinked"):
        Alert.objects.create(integration=integration, fingerprint=name, status="firing", alertname=name,
                             starts_at=now, first_received_at=now, last_received_at=now, incident=incident)  # fmt: skip
    return incident


def title_of(slug: str) -> str:
    return Runbook.objects.get(slug=slug).title


class TestIncidentRunbooks:
    def test_selector_finds_runbooks_by_the_incidents_alert_names(self, alert_incident, django_assert_num_queries):
        runbooks_for_incident(Incident.objects.get(pk=alert_incident.pk))  # reads the catalogue, which is then kept
        incident = Incident.objects.get(pk=alert_incident.pk)
        with django_assert_num_queries(1):  # the incident's alert names
            found = runbooks_for_incident(incident)
            labels = [action.label for action in found[0].quick_actions.all()]
        assert [runbook.slug for runbook in found] == ["pod-crashes"]
        assert labels == list(QuickAction.objects.filter(runbook__slug="pod-crashes").values_list("label", flat=True))

    def test_a_runbook_linked_to_one_of_its_alerts_shows_at_once(self, alert_incident):
        assert [runbook.slug for runbook in runbooks_for_incident(alert_incident)] == ["pod-crashes"]
        disk = Runbook.objects.get(slug="disk-space")
        link = RunbookAlert.objects.create(runbook=disk, alertname="SomethingUnlinked")

        found = runbooks_for_incident(Incident.objects.get(pk=alert_incident.pk))

        assert [runbook.slug for runbook in found] == sorted(["pod-crashes", "disk-space"], key=title_of)
        link.delete()
        assert [runbook.slug for runbook in runbooks_for_incident(alert_incident)] == ["pod-crashes"]
        Runbook.objects.filter(slug="pod-crashes").get().quick_actions.all().delete()
        assert not runbooks_for_incident(alert_incident)[0].quick_actions.all()

    def test_incident_page_shows_the_runbook_and_prefilled_quick_actions(self, client, make_user, alert_incident):
        client.force_login(make_user(Role.VIEWER))
        html = client.get(reverse("incident-detail", args=[alert_incident.pk])).content.decode()
        assert 'id="incident-runbooks"' in html
        assert f'href="/runbooks/pod-crashes/?incident={alert_incident.pk}"' in html
        expected = (
            "/actions/new/?kind=restart&amp;deployment=broxiva-api&amp;namespace=broxiva-production"
            f"&amp;incident={alert_incident.pk}"
        )
        assert expected in html

    def test_the_page_names_its_runbooks_from_the_alerts_it_lists_when_it_lists_them_all(
        self, client, make_user, alert_incident
    ):
        """The alerts card reads one more alert than it shows: with every alert read, their names give the runbooks
        and the owner without another query; with more than it shows, the names of all of them are read."""
        client.force_login(make_user(Role.VIEWER))
        url = reverse("incident-detail", args=[alert_incident.pk])

        def page() -> tuple[str, list[str]]:
            with CaptureQueriesContext(connection) as ctx:
                html = client.get(url).content.decode()
            names = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('SELECT DISTINCT "incidents_alert"')]
            listed = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('SELECT "incidents_alert"')]
            assert len(listed) == 1
            assert '"incidents_alert"."labels"' not in listed[0]  # the card shows neither labels nor annotations
            return html, names

        html, names_read = page()
        assert f'href="/runbooks/pod-crashes/?incident={alert_incident.pk}"' in html
        assert names_read == []

        later = timezone.now() + timedelta(minutes=1)  # received after the PodCrashLooping alert: listed before it
        integration = Integration.objects.get(name="am")
        Alert.objects.bulk_create(
            Alert(integration=integration, fingerprint=f"other-{i}", status="firing", alertname="SomethingUnlinked",
                  starts_at=later, first_received_at=later, last_received_at=later, incident=alert_incident)
            for i in range(ALERTS_SHOWN)
        )  # fmt: skip
        html, names_read = page()
        card = html[html.index('id="incident-alerts"') :]
        assert "<strong>PodCrashLooping</strong>" not in card[: card.index("</section>")]  # not among those shown
        assert f'href="/runbooks/pod-crashes/?incident={alert_incident.pk}"' in html
        assert len(names_read) == 1

    def test_a_quick_action_prefills_the_reason_with_its_runbook_step(self, client, make_user, alert_incident):
        action = QuickAction.objects.select_related("runbook").filter(runbook__slug="pod-crashes").first()
        reason = f"Runbook “{action.runbook.title}”: {action.label}"

        assert parse_qs(urlsplit(action.url(alert_incident.pk)).query)["reason"] == [reason]
        client.force_login(make_user(Role.RESPONDER))
        form = client.get(action.url(alert_incident.pk)).content.decode()
        assert f'id="id_reason">\n{escape(reason)}</textarea>' in form

    def test_incident_without_alerts_has_no_runbooks_card(self, client, make_user, db):
        incident = incident_declare(title="Manual", severity=Severity.objects.get(code="P3"), reporter=None)
        client.force_login(make_user(Role.VIEWER))
        assert (
            'id="incident-runbooks"' not in client.get(reverse("incident-detail", args=[incident.pk])).content.decode()
        )

    def test_runbook_page_renders_safely_and_carries_the_incident(self, client, make_user, alert_incident):
        Runbook.objects.filter(slug="pod-crashes").update(body="Run <script>alert(1)</script> [x](javascript:alert(1))")
        client.force_login(make_user(Role.VIEWER))
        response = client.get(reverse("runbook-detail", args=["pod-crashes"]), {"incident": alert_incident.pk})
        html = response.content.decode()
        assert "<script>alert(1)</script>" not in html
        assert 'href="javascript' not in html
        assert f"incident={alert_incident.pk}" in html


class TestDiskSpaceRunbook:
    """The disk alerts (the manual's DiskSpaceCritical, the guide's HighDiskUsage) were the catalogue's only alerts
    without a runbook: their incidents showed none and rules.yaml gave them no runbook_url."""

    def test_the_disk_alerts_link_the_disk_space_runbook_in_the_catalogue_and_the_rules_file(self, token_client):
        runbook = Runbook.objects.get(slug="disk-space")
        assert sorted(link.alertname for link in runbook.alert_links.all()) == ["DiskSpaceCritical", "HighDiskUsage"]
        assert runbook.owner_team == "DevOps Team"
        assert {"70%", "90%", "95%"} <= set(re.findall(r"\d+%", runbook.body))
        rules = {
            (rule.name, rule.severity.code): rule.runbook.slug if rule.runbook else None
            for rule in AlertRule.objects.filter(name__in=["DiskSpaceCritical", "HighDiskUsage"])
        }
        assert rules == {("DiskSpaceCritical", "P1"): "disk-space", ("HighDiskUsage", "P3"): "disk-space",
                         ("HighDiskUsage", "P1"): "disk-space"}  # fmt: skip

        body = token_client(Role.VIEWER).get("/api/v1/alerts/rules.yaml").content.decode()
        disk = [
            rule
            for group in yaml.safe_load(body)["groups"]
            for rule in group["rules"]
            if rule.get("alert") in {"DiskSpaceCritical", "HighDiskUsage"}
        ]
        assert len(disk) == 3
        url = settings.PORTAL_BASE_URL + reverse("runbook-detail", args=["disk-space"])
        assert {rule["annotations"].get("runbook_url") for rule in disk} == {url}

    def test_an_incident_opened_by_a_disk_alert_shows_the_runbook(self, db):
        now = timezone.now()
        incident = incident_declare(title="DiskSpaceCritical", severity=Severity.objects.get(code="P1"), reporter=None)
        integration = Integration.objects.create(name="am", token_prefix="x", token_hash="h" * 64, token_issued_at=now)
        Alert.objects.create(
            integration=integration, fingerprint="disk", status="firing", alertname="DiskSpaceCritical",
            starts_at=now, first_received_at=now, last_received_at=now, incident=incident,
        )  # fmt: skip
        assert [runbook.slug for runbook in runbooks_for_incident(incident)] == ["disk-space"]
