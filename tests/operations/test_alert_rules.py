"""The alert catalogue as data, exported as a Prometheus rules file that Debian's `promtool` checks and unit-tests:
the catalogue's alerts fire as configured, the SLO burn-rate alerts fire exactly when the portal's own evaluation
does, and every alert's `severity` label opens an incident of the catalogue's severity."""

import os
import shutil
import subprocess
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from contacts.models import Team
from incidents.alert_services import alert_ingest, integration_create
from incidents.alerts import IncomingAlert, severity_code
from incidents.models import Incident, Service, Severity
from operations.alert_rules import BURN_ALERT, duration, promql_problem
from operations.budget import rule_fires
from operations.models import AlertRule, SliSample, Slo
from operations.selectors.alerting import alert_catalogue, catalogue_owner, owner_of, rules_file
from operations.selectors.slo import burn_rules, rule_windows, slo_tallies
from portal.accounts.roles import Role
from tests.factories import AlertRuleFactory
from tests.operations.conftest import T0

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
RULES_URL = "/api/v1/alerts/rules.yaml"


@pytest.fixture
def promtool():
    if not os.path.exists(PROMTOOL):
        if os.environ.get("PORTAL_REQUIRE_SERVICES") == "1":
            pytest.fail("promtool is not installed: `make prometheus` (apt-get install prometheus)")
        pytest.skip("needs Debian's promtool (`apt-get install prometheus`)")

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)

    return run


def exported(rules: str) -> dict[str, dict]:
    """Alert name and severity label -> the exported rule."""
    document = yaml.safe_load(rules)
    return {
        (rule["alert"], rule["labels"]["severity"]): rule
        for group in document["groups"]
        for rule in group["rules"]
        if "alert" in rule and rule["alert"] != BURN_ALERT
    }


def test_the_seeds_critical_alerts_and_thresholds_are_data(db):
    critical = {
        rule.name: (rule.trigger, rule.comparison, rule.threshold, rule.for_seconds, rule.owner_team.name)
        for rule in AlertRule.objects.filter(is_critical_alert=True).select_related("owner_team")
    }
    assert critical == {
        "ServiceDown": ("Service unreachable 2 min", "<", 1, 120, "Backend"),
        "HighErrorRate": ("HTTP 5xx > 5% for 5 min", ">", 5, 300, "Backend"),
        "PodCrashLooping": ("Restarts > 2 in 5 min", ">", 2, 0, "DevOps"),
        "DatabaseDown": ("DB unreachable 1 min", "<", 1, 60, "Database"),
        "DiskSpaceCritical": ("Disk > 95% for 5 min", ">", 95, 300, "DevOps"),
        "CertificateExpiringCritical": ("Cert expires in 7 days", "<", 7, 0, "Security"),
    }
    thresholds: dict[str, dict[str, float]] = {}
    for rule in AlertRule.objects.filter(is_critical_alert=False).select_related("severity"):
        thresholds.setdefault(rule.metric, {})[rule.severity.code] = rule.threshold
    assert thresholds == {
        "API response time (p95)": {"P3": 500, "P1": 1000},
        "Error rate (HTTP 5xx)": {"P3": 1},  # its critical 5% is the critical alert HighErrorRate
        "CPU usage": {"P3": 70, "P1": 90},
        "Memory usage": {"P3": 80, "P1": 95},
        "Disk usage": {"P3": 70, "P1": 90},
        "Database connections (% of max)": {"P3": 80, "P1": 95},
    }
    assert catalogue_owner("DatabaseDown") == Team.objects.get(slug="database")
    assert catalogue_owner("NoSuchAlert") is None


def test_the_owner_of_alert_names_owns_the_most_severe_entry_among_them(db, django_assert_num_queries):
    devops, database = Team.objects.get(slug="devops"), Team.objects.get(slug="database")
    AlertRuleFactory(name="QueueBacklog", severity=Severity.objects.get(code="P3"), owner_team=devops)

    alert_catalogue()  # reads the catalogue, which is then kept
    with django_assert_num_queries(0):
        owners = alert_catalogue().owners

    assert owner_of(["QueueBacklog"], owners) == devops
    assert owner_of(["QueueBacklog", "DatabaseDown"], owners) == database  # P1 outranks P3
    # Both P1: the catalogue's order decides (DatabaseDown comes before HighCPUUsage).
    assert owner_of(["HighCPUUsage", "DatabaseDown"], owners) == database
    assert owner_of(["NoSuchAlert"], owners) is None
    assert owner_of([], owners) is None


def test_a_change_to_the_catalogue_moves_ownership_at_once(db):
    devops, database = Team.objects.get(slug="devops"), Team.objects.get(slug="database")
    assert catalogue_owner("QueueBacklog") is None
    rule = AlertRuleFactory(name="QueueBacklog", severity=Severity.objects.get(code="P3"), owner_team=devops)
    assert catalogue_owner("QueueBacklog") == devops
    rule.owner_team = database
    rule.save()
    assert catalogue_owner("QueueBacklog") == database
    rule.delete()
    assert catalogue_owner("QueueBacklog") is None


def test_promtool_accepts_the_exported_file_with_runbook_urls_to_the_portal(
    promtool, tmp_path, client, settings, make_user
):
    settings.PORTAL_BASE_URL = "https://ops.example.com"
    (tmp_path / "rules.yaml").write_text(rules_file())

    checked = promtool("check", "rules", "rules.yaml", cwd=tmp_path)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = exported((tmp_path / "rules.yaml").read_text())
    assert len(rules) == AlertRule.objects.count()
    high_error_rate = rules["HighErrorRate", "critical"]
    assert high_error_rate["for"] == "5m"
    # The migration ran before any service existed (the demo ties them up): no `service` label here.
    assert high_error_rate["labels"] == {"severity": "critical", "team": "backend"}
    assert high_error_rate["annotations"]["runbook_url"] == "https://ops.example.com/runbooks/high-error-rate/"
    client.force_login(make_user(Role.VIEWER))
    for rule in rules.values():
        if url := rule["annotations"].get("runbook_url"):
            assert client.get(url.removeprefix("https://ops.example.com")).status_code == 200, url


def test_every_exported_severity_label_opens_an_incident_of_the_catalogues_severity(db):
    integration = integration_create(name="alertmanager", created_by=None).integration
    rules = exported(rules_file())
    catalogue = {(rule.name, rule.severity.code) for rule in AlertRule.objects.select_related("severity")}
    for index, ((name, _label), rule) in enumerate(sorted(rules.items())):
        labels = {"alertname": name, **rule["labels"], "instance": f"node-{index}"}
        assert (name, severity_code(labels)) in catalogue
        incoming = IncomingAlert(
            fingerprint=f"{index:016x}", status="firing", labels=labels, annotations=rule["annotations"],
            starts_at=T0, ends_at=None,
        )  # fmt: skip
        summary = alert_ingest(integration=integration, alerts=[incoming], now=T0)
        if summary.results[0].incident is not None:  # else suppressed: a critical of the same alert fires
            incident = Incident.objects.get(pk=summary.results[0].incident)
            assert incident.severity == AlertRule.objects.get(name=name, severity__code=severity_code(labels)).severity
    assert Incident.objects.filter(severity__code="P1").exists()
    assert Incident.objects.filter(severity__code="P3").exists()


def burn_rule_test(rules: dict, *, eval_minutes: int, expected: list[str], slo: Slo) -> dict:
    """A promtool alert_rule_test expecting exactly the burn alerts named in `expected` for `slo`."""
    alerts = [
        rule
        for group in rules["groups"]
        for rule in group["rules"]
        if rule.get("alert") == BURN_ALERT and rule["labels"]["slo"] == slo.slug
    ]
    return {
        "eval_time": f"{eval_minutes}m",
        "alertname": BURN_ALERT,
        "exp_alerts": [
            {"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}
            for rule in alerts
            if rule["labels"]["burn_rule"] in expected
        ],
    }


def portal_fires(slo: Slo, *, at_minute: int) -> list[str]:
    """The burn-rate rules the portal's own evaluation fires at that minute of the test's series."""
    rules = burn_rules()
    now = T0 + timedelta(minutes=at_minute)
    tallies = slo_tallies(slo_ids=[slo.pk], now=now, windows=rule_windows(rules))[slo.pk]
    return [
        rule.name.lower().replace(" ", "-")
        for rule in rules
        if rule_fires(
            rule, long=tallies[rule.long_window], short=tallies[rule.short_window], allowed=slo.allowed_bad_fraction
        )
    ]


def test_burn_rate_rules_fire_in_prometheus_exactly_when_the_portal_fires(db, promtool, tmp_path):
    """4 hours of an error-rate SLI at 0%, then 5% from minute 170: ten minutes in only the slow budget drift
    fires; seventy minutes in all three rules do, in the portal and in Prometheus alike."""
    slo = Slo.objects.get(slug="api-error-rate")
    slo.promql = "sli_error_percent"
    slo.save()
    values = [0.0] * 170 + [5.0] * 71  # minutes 0..240
    SliSample.objects.bulk_create(
        SliSample(slo=slo, start=T0 + timedelta(minutes=minute - 1), seconds=60, value=value,
                  source=SliSample.Source.API)
        for minute, value in enumerate(values)
        if minute > 0
    )  # fmt: skip
    early, late = portal_fires(slo, at_minute=180), portal_fires(slo, at_minute=240)
    assert early == ["budget-drift"]
    assert late == ["fast-burn", "slow-burn", "budget-drift"]
    rules = yaml.safe_load(rules_file())
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": "sli_error_percent", "values": "0x169 5x70"}],
                "alert_rule_test": [
                    burn_rule_test(rules, eval_minutes=180, expected=early, slo=slo),
                    burn_rule_test(rules, eval_minutes=240, expected=late, slo=slo),
                ],
            }
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))

    tested = promtool("test", "rules", "tests.yaml", cwd=tmp_path)

    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_service_down_fires_after_two_minutes_with_the_service_label_the_intake_reads(db, promtool, tmp_path):
    rules = yaml.safe_load(rules_file())
    service_down = exported(yaml.safe_dump(rules))["ServiceDown", "critical"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    expected = {"exp_labels": {**service_down["labels"], "job": "broxiva-api", "service": "api"},
                "exp_annotations": service_down["annotations"]}  # fmt: skip
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": 'up{job="broxiva-api"}', "values": "1x5 0x10"}],
                "alert_rule_test": [
                    {"eval_time": "7m", "alertname": "ServiceDown", "exp_alerts": []},  # pending for 2 minutes
                    {"eval_time": "9m", "alertname": "ServiceDown", "exp_alerts": [expected]},
                ],
            }
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))

    tested = promtool("test", "rules", "tests.yaml", cwd=tmp_path)

    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_rules_file_api_and_command_give_the_same_file(token_client, api_client, tmp_path, django_assert_num_queries):
    viewer = token_client(Role.VIEWER)
    Slo.objects.filter(slug="api-latency").update(active=False)
    with django_assert_num_queries(6):  # token, roles, alert rules, SLOs, burn rules, last-used bookkeeping
        response = viewer.get(RULES_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/yaml; charset=utf-8"
    body = response.content.decode()
    groups = [group["name"] for group in yaml.safe_load(body)["groups"]]
    assert "slo-api-availability" in groups
    assert "slo-api-latency" not in groups  # inactive
    assert "slo-web-page-load" not in groups  # its values are posted through the API: no PromQL
    assert viewer.get(RULES_URL, HTTP_ACCEPT="application/yaml").status_code == 200
    assert api_client.get(RULES_URL).status_code == 401

    out = StringIO()
    call_command("export_alert_rules", stdout=out)
    assert out.getvalue() == body
    call_command("export_alert_rules", output=str(tmp_path / "rules.yaml"), stderr=StringIO())
    assert (tmp_path / "rules.yaml").read_text() == body


def test_admins_edit_the_catalogue_and_bad_promql_is_a_400_naming_it(token_client):
    admin, viewer = token_client(Role.ADMIN), token_client(Role.VIEWER)
    Service.objects.create(name="API", slug="api")
    body = {
        "name": "HighLatency", "metric": "API response time (p95)", "expr": "api_p95_ms", "threshold": 2000,
        "unit": " ms", "for_seconds": 600, "trigger": "p95 > 2 s", "severity": "P2", "owner_team": "backend",
        "runbook": "scale-api-pods", "service": "api",
    }  # fmt: skip

    assert viewer.post("/api/v1/alert-rules/", body, format="json").status_code == 403
    created = admin.post("/api/v1/alert-rules/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["severity_label"] == "high"
    assert created.json()["condition"] == "(api_p95_ms) > 2000"
    rule = exported(rules_file())["HighLatency", "high"]
    assert rule["for"] == "10m"
    assert severity_code(rule["labels"]) == "P2"
    bad = admin.post("/api/v1/alert-rules/", {**body, "severity": "P4", "expr": "sum(rate(x[5m])"}, format="json")
    assert bad.status_code == 400
    assert "expr" in bad.json()["errors"]
    unknown = admin.post("/api/v1/alert-rules/", {**body, "severity": "P4", "owner_team": "nobody"}, format="json")
    assert unknown.status_code == 400
    assert "owner_team" in unknown.json()["errors"]
    assert viewer.get("/api/v1/alert-rules/?is_critical_alert=true").json()["count"] == 6


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("sum(rate(x[5m]))", None),
        ('up{job=~"a(b"}', None),  # brackets inside a string do not count
        ("sum(rate(x[5m])", "Missing ')' in the expression."),
        ("x]", "Unbalanced ']' in the expression."),
        ('up{job="a}', 'Unclosed " in the expression.'),
        ("  ", "Give the PromQL expression."),
    ],
)
def test_promql_problem(expr, problem):
    assert promql_problem(expr) == problem


def test_durations_in_prometheus_syntax():
    assert [duration(s) for s in (0, 60, 90, 120, 3600, 259200)] == ["0s", "1m", "90s", "2m", "1h", "3d"]


def test_catalogue_page_shows_thresholds_side_by_side(client, make_user):
    client.force_login(make_user(Role.VIEWER))
    page = client.get("/alert-rules/").content.decode()
    assert "CertificateExpiringCritical" in page
    assert "above 500 ms for 5m: P3" in page
    assert "above 1000 ms for 5m: P1" in page
    assert "severity=critical" in page
    assert RULES_URL in page
    assert Severity.objects.exists()
