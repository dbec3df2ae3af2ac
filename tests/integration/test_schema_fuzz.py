"""Schema-driven fuzzing: requests generated from the OpenAPI schema (schemathesis) to every operation, with an Admin's
token and a Viewer's, on PostgreSQL. Fails on any 5xx and on any answer the schema does not describe: an undocumented
status code or content type, or a body that breaks the response schema.

Requests go in-process to Django's WSGI application, each in a savepoint rolled back afterwards: every request sees
the same seeded rows, a generated DELETE or token revoke leaves nothing behind, and no task message is published
(on-commit never fires). Deferred constraints are checked before each rollback, as the commit would have.

The seed comes from the commit, so each commit tries other inputs and a failure reproduces with the seed it prints
(PORTAL_FUZZ_SEED=<seed>); PORTAL_FUZZ_EXAMPLES scales the number of requests per operation.
"""

import logging
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import got_request_exception, request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import IntegrityError, close_old_connections, connection, models, transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from contacts.models import Dashboard, DeploymentEnvironment, KeyLink, Team, Vendor
from incidents.alert_services import alert_ingest, integration_create
from incidents.alerts import IncomingAlert
from incidents.models import (
    ActionItem,
    Alert,
    AlertGroup,
    EscalationLevel,
    EscalationPolicy,
    Incident,
    Integration,
    Service,
    Severity,
    SuppressionRule,
)
from incidents.services import action_item_add, review_for
from maintenance.models import ChecklistItem as OccurrenceChecklistItem
from maintenance.models import FreezeException, FreezeRule, MaintenanceOccurrence, MaintenanceWindow
from maintenance.services import freeze_exception_request, window_create_emergency
from oncall.models import CalendarFeed, Handoff, HandoffItem, Layer, Override, Rotation, Swap
from oncall.selectors import rotation_schedule
from oncall.services import calendar_feed_issue, override_create
from operations.models import (
    AlertRule,
    BackupSchedule,
    BurnRateRule,
    Checklist,
    ChecklistItem,
    ChecklistTemplate,
    Deployment,
    DrillPlan,
    Procedure,
    ProcedureRun,
    ProcedureRunStep,
    RecoveryObjective,
    Runbook,
    Slo,
)
from operations.services.checklists import checklists_generate
from operations.services.procedures import procedure_run_start
from portal.accounts.models import ApiToken, User
from portal.accounts.roles import Role
from portal.accounts.services import api_token_create
from portal.cluster.models import ActionKind, ActionRun, Look, LookKind, Namespace, Target, Workload
from portal.notifications.models import Channel, Delivery, PagerDutyWebhook, RoutingRule, SlackApp, Subscription
from tests.factories import UserFactory

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)

# Generated requests per operation: about 3,900 in all, 2-3 minutes on a quiet 2-core machine. A Viewer is refused
# every write before its input is read, so fewer of theirs find anything new.
EXAMPLES = {Role.ADMIN: 12, Role.VIEWER: 6}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# Where requests by id find real rows: the path up to a parameter, the model, and the column each parameter of that
# prefix takes its value from (a nested item names its parent too).
EXISTING: dict[str, tuple[type[models.Model], dict[str, str]]] = {
    "/api/v1/actions/{id}/": (ActionRun, {"id": "pk"}),
    "/api/v1/actions/looks/{id}/": (Look, {"id": "pk"}),
    "/api/v1/actions/namespaces/{id}/": (Namespace, {"id": "pk"}),
    "/api/v1/actions/targets/{slug}/": (Target, {"slug": "slug"}),
    "/api/v1/actions/workloads/{id}/": (Workload, {"id": "pk"}),
    "/api/v1/alert-rules/{id}/": (AlertRule, {"id": "pk"}),
    "/api/v1/alerts/{id}/": (Alert, {"id": "pk"}),
    "/api/v1/alerts/groups/{id}/": (AlertGroup, {"id": "pk"}),
    "/api/v1/alerts/suppression-rules/{id}/": (SuppressionRule, {"id": "pk"}),
    "/api/v1/backup-schedules/{id}/": (BackupSchedule, {"id": "pk"}),
    "/api/v1/burn-rate-rules/{id}/": (BurnRateRule, {"id": "pk"}),
    "/api/v1/checklist-templates/{id}/": (ChecklistTemplate, {"id": "pk"}),
    "/api/v1/checklists/{id}/": (Checklist, {"id": "pk"}),
    "/api/v1/checklists/{id}/items/{item_pk}/": (ChecklistItem, {"id": "checklist_id", "item_pk": "pk"}),
    "/api/v1/contacts/dashboards/{id}/": (Dashboard, {"id": "pk"}),
    "/api/v1/contacts/environments/{id}/": (DeploymentEnvironment, {"id": "pk"}),
    "/api/v1/contacts/incidents/{id}/": (Incident, {"id": "pk"}),
    "/api/v1/contacts/links/{id}/": (KeyLink, {"id": "pk"}),
    "/api/v1/contacts/teams/{slug}/": (Team, {"slug": "slug"}),
    "/api/v1/contacts/vendors/{slug}/": (Vendor, {"slug": "slug"}),
    "/api/v1/deployments/{id}/": (Deployment, {"id": "pk"}),
    "/api/v1/dr-drill-plans/{id}/": (DrillPlan, {"id": "pk"}),
    "/api/v1/escalation-levels/{id}/": (EscalationLevel, {"id": "pk"}),
    "/api/v1/escalation-policies/{id}/": (EscalationPolicy, {"id": "pk"}),
    "/api/v1/freeze/exceptions/{id}/": (FreezeException, {"id": "pk"}),
    "/api/v1/freeze/rules/{id}/": (FreezeRule, {"id": "pk"}),
    "/api/v1/incidents/{id}/": (Incident, {"id": "pk"}),
    "/api/v1/incidents/{id}/review/action-items/{item_pk}/": (
        ActionItem,
        {"id": "review__incident_id", "item_pk": "pk"},
    ),
    "/api/v1/integrations/{id}/": (Integration, {"id": "pk"}),
    "/api/v1/maintenance/occurrences/{id}/": (MaintenanceOccurrence, {"id": "pk"}),
    "/api/v1/maintenance/occurrences/{id}/checklist/{item_pk}/": (
        OccurrenceChecklistItem,
        {"id": "occurrence_id", "item_pk": "pk"},
    ),
    "/api/v1/maintenance/windows/{id}/": (MaintenanceWindow, {"id": "pk"}),
    "/api/v1/notifications/channels/{id}/": (Channel, {"id": "pk"}),
    "/api/v1/notifications/deliveries/{id}/": (Delivery, {"id": "pk"}),
    "/api/v1/notifications/pagerduty-webhooks/{id}/": (PagerDutyWebhook, {"id": "pk"}),
    "/api/v1/notifications/routing-rules/{id}/": (RoutingRule, {"id": "pk"}),
    "/api/v1/notifications/slack-apps/{id}/": (SlackApp, {"id": "pk"}),
    "/api/v1/notifications/subscriptions/{id}/": (Subscription, {"id": "pk"}),
    "/api/v1/oncall/feeds/{id}/": (CalendarFeed, {"id": "pk"}),
    "/api/v1/oncall/handoffs/{id}/": (Handoff, {"id": "pk"}),
    "/api/v1/oncall/handoffs/{id}/items/{item_pk}/": (HandoffItem, {"id": "handoff_id", "item_pk": "pk"}),
    "/api/v1/oncall/overrides/{id}/": (Override, {"id": "pk"}),
    "/api/v1/oncall/rotations/{id}/": (Rotation, {"id": "pk"}),
    "/api/v1/oncall/swaps/{id}/": (Swap, {"id": "pk"}),
    "/api/v1/procedure-runs/{id}/": (ProcedureRun, {"id": "pk"}),
    "/api/v1/procedure-runs/{id}/steps/{position}/": (ProcedureRunStep, {"id": "run_id", "position": "position"}),
    "/api/v1/procedures/{slug}/": (Procedure, {"slug": "slug"}),
    "/api/v1/recovery-objectives/{id}/": (RecoveryObjective, {"id": "pk"}),
    "/api/v1/runbooks/{slug}/": (Runbook, {"slug": "slug"}),
    "/api/v1/services/{slug}/": (Service, {"slug": "slug"}),
    "/api/v1/severities/{id}/": (Severity, {"id": "pk"}),
    "/api/v1/slos/{slug}/": (Slo, {"slug": "slug"}),
    "/api/v1/tokens/{id}/": (ApiToken, {"id": "pk"}),
}
ROWS_PER_PATH = 5


def fuzz_seed() -> int:
    """PORTAL_FUZZ_SEED, else the commit's: reproducible for a commit, new inputs for the next one."""
    if os.environ.get("PORTAL_FUZZ_SEED"):
        return int(os.environ["PORTAL_FUZZ_SEED"])
    try:
        head = subprocess.run(  # noqa: S603
            ["git", "rev-parse", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return 0
    return int(head[:8], 16)


@dataclass
class Finding:
    operation: str
    role: str
    failures: list[str]
    reproduce: str


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0


class _Undo(Exception):
    """Rolls a request's savepoint back."""


@pytest.fixture
def fuzz_schema(db, demo_cluster):
    """The demo's data and its simulated cluster (cluster reads answer, as in `make run`), and a token per role."""
    assert connection.vendor == "postgresql", "integration tests must run on PostgreSQL (set DATABASE_URL)"
    seed_rows()
    tokens = {
        role: api_token_create(user=UserFactory(role=role), name="fuzz", created_by=None).key
        for role in (Role.ADMIN, Role.VIEWER)
    }
    with in_process():
        schema = schemathesis.openapi.from_wsgi(
            "/api/schema/?format=json",
            get_wsgi_application(),
            headers={"Authorization": f"Token {tokens[Role.VIEWER]}"},
        )
        schema.config.generation.update(with_security_parameters=False)  # the tokens are ours
        yield schema, tokens


def test_every_operation_answers_as_its_schema_says(fuzz_schema):
    schema, tokens = fuzz_schema
    chosen_seed = fuzz_seed()
    scale = float(os.environ.get("PORTAL_FUZZ_EXAMPLES", "1"))
    tallies: dict[str, Tally] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        tally = tallies.setdefault(operation.label, Tally())
        started = time.monotonic()
        for role, examples in EXAMPLES.items():
            fuzz(operation, strategy_for(operation), role, tokens[role], max(1, round(examples * scale)), chosen_seed,
                 tally)  # fmt: skip
        tally.seconds = time.monotonic() - started
    summary = report(tallies, chosen_seed)
    log.info("%s", summary)
    assert not any(tally.findings for tally in tallies.values()), summary


def strategy_for(operation: APIOperation) -> st.SearchStrategy[Case]:
    """Valid and invalid requests; for a path with parameters, a third of them name rows that exist."""
    strategies = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
    if "{" in operation.path:
        rows = existing_path_parameters(operation.path)
        assert rows, f"no rows for {operation.path}: seed some in seed_rows() and name them in EXISTING"
        strategies.insert(
            0,
            st.sampled_from(rows).flatmap(
                lambda path_parameters: operation.as_strategy(GenerationMode.POSITIVE, path_parameters=path_parameters)
            ),
        )
    return st.one_of(strategies)


def fuzz(operation: APIOperation, strategy, role: Role, token: str, examples: int, chosen_seed: int, tally: Tally):
    @seed(chosen_seed)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=strategy)
    def run(case: Case) -> None:
        send(case, role, token, tally)

    run()


def send(case: Case, role: Role, token: str, tally: Tally) -> None:
    """One request, in a savepoint rolled back afterwards; what the checks find is recorded, not raised, so that
    every operation is tried and the report lists all that failed."""
    errors: list[str] = []

    def on_exception(sender: object, **kwargs: object) -> None:
        exc = sys.exc_info()[1]
        errors.append(f"{type(exc).__name__}: {exc}")

    got_request_exception.connect(on_exception)
    try:
        with transaction.atomic():
            response = case.call(headers={"Authorization": f"Token {token}"})
            if response.status_code < 500:
                try:
                    connection.check_constraints()
                except IntegrityError as exc:
                    errors.append(f"IntegrityError at commit: {exc}")
            raise _Undo
    except _Undo:
        pass
    finally:
        got_request_exception.disconnect(on_exception)
    tally.requests += 1
    tally.statuses[response.status_code] += 1
    failures = list(errors)
    try:
        case.validate_response(response, checks=CHECKS)
    except FailureGroup as group:
        failures += [f"{failure.title}: {failure.message}" for failure in group.exceptions]
    if not failures:
        return
    kinds = {finding.failures[0] for finding in tally.findings if finding.role == role.value}
    first = " ".join(failures[0].split())[:300]
    if first not in kinds:  # one example of each failure is enough to act on
        reproduce = case.as_curl_command(headers={"Authorization": "Token ..."})
        tally.findings.append(Finding(case.operation.label, role.value, [first, *failures[1:]], reproduce))


def report(tallies: dict[str, Tally], chosen_seed: int) -> str:
    statuses = sum((tally.statuses for tally in tallies.values()), Counter())
    findings = [finding for tally in tallies.values() for finding in tally.findings]
    slowest = sorted(tallies.items(), key=lambda item: -item[1].seconds)[:3]
    lines = [
        f"seed {chosen_seed}: {len(tallies)} operations, {sum(t.requests for t in tallies.values())} requests in "
        f"{sum(t.seconds for t in tallies.values()):.0f} s, statuses {dict(sorted(statuses.items()))}",
        "slowest: " + ", ".join(f"{label} {tally.seconds:.1f} s" for label, tally in slowest),
        f"{len(findings)} failures (rerun with PORTAL_FUZZ_SEED={chosen_seed}):",
    ]
    for finding in findings:
        lines += [f"- {finding.operation} as {finding.role}: {finding.failures[0]}", f"    {finding.reproduce}"]
    return "\n".join(lines)


@contextmanager
def in_process() -> Iterator[None]:
    """As Django's test client does: a request must not close the test's connection in mid-transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def existing_path_parameters(path: str) -> list[dict[str, object]]:
    """Up to ROWS_PER_PATH sets of path parameters naming real rows, for the longest EXISTING prefix of `path`."""
    prefix = max((prefix for prefix in EXISTING if path.startswith(prefix)), key=len, default=None)
    if prefix is None:
        return []
    model, columns = EXISTING[prefix]
    rows = model._default_manager.order_by("pk").values(*columns.values())[:ROWS_PER_PATH]
    return [{name: row[column] for name, column in columns.items()} for row in rows]


def seed_rows() -> None:
    """The demo data, plus a row of each kind the demo leaves out, so that requests by id have something to act on."""
    call_command("seed_demo", stdout=StringIO())
    now = timezone.now()
    cora, rami, sam = (User.objects.get(username=name) for name in ("cora.commander", "rami.responder", "sam.sre"))
    rotation = Rotation.objects.get(name="Platform on-call")
    target = Target.objects.get(slug="demo-cluster")
    for status in (ActionRun.Status.REQUESTED, ActionRun.Status.AWAITING_APPROVAL, ActionRun.Status.ABANDONED):
        ActionRun.objects.create(
            kind=ActionKind.RESTART, target=target, environment="production", reason="Fuzzing",
            parameters={"namespace": "broxiva-production", "deployment": "broxiva-api"}, requested_by=rami,
            command="kubectl rollout restart deployment/broxiva-api", status=status,
        )  # fmt: skip
    Look.objects.create(kind=LookKind.PODS, target=target, parameters={"namespace": "broxiva-production"},
                        requested_by=rami, command="kubectl get pods", created_at=now)  # fmt: skip
    integration = integration_create(name="alertmanager-fuzz", created_by=cora).integration
    alert = IncomingAlert(fingerprint="f00d", status="firing", labels={"alertname": "Down", "service": "api"},
                          annotations={"summary": "api is down"}, starts_at=now, ends_at=None)  # fmt: skip
    alert_ingest(integration=integration, alerts=[alert], now=now)
    checklists_generate(now=now, assignee=lambda service, at: None)  # nobody on call: no assignee
    freeze_exception_request(change="deploy-42", reason="Hotfix", environment="production", starts_at=now,
                             ends_at=now + timedelta(hours=1), actor=rami, now=now)  # fmt: skip
    resolved = Incident.objects.get(title="Search results stale")
    action_item_add(review=review_for(incident=resolved, now=now), title="Alert on stale index", owner=cora,
                    due_date=now.date() + timedelta(days=7), actor=cora)  # fmt: skip
    window_create_emergency(name="Fuzz emergency", actor=cora, duration=timedelta(hours=1), now=now)
    procedure_run_start(procedure=Procedure.objects.get(slug="database-failover"), kind="drill", actor=rami, now=now)
    Subscription.objects.create(email="status@example.com", event_kinds=["incident.opened"])
    SlackApp.objects.create(
        name="Slack", signing_secret="fuzz-signing-secret"
    )  # signed Slack requests: all refused, unsigned
    PagerDutyWebhook.objects.create(name="pagerduty-fuzz", secret="fuzz-webhook-secret")
    calendar_feed_issue(owner=rami, rotation=rotation, now=now)
    handoff = Handoff.objects.create(rotation=rotation, at=now, outgoing=rami, incoming=sam)
    HandoffItem.objects.create(handoff=handoff, side=HandoffItem.Side.OUTGOING, position=0, text="Hand over")
    # Someone who is not the secondary that day: one person is never on both layers at once.
    tomorrow = rotation_schedule(rotation, start=now + timedelta(days=1), end=now + timedelta(days=2))
    backups = {segment.person for segment in tomorrow.segments(layer=Layer.SECONDARY)}
    cover = next(user for user in (sam, rami, cora) if user not in backups)
    override_create(rotation=rotation, layer=Layer.PRIMARY, user=cover, start=now + timedelta(days=1),
                    end=now + timedelta(days=2), actor=cora, now=now)  # fmt: skip
    Swap.objects.create(rotation=rotation, requester=rami, counterparty=sam, start=now + timedelta(days=7),
                        end=now + timedelta(days=14), counterparty_start=now + timedelta(days=14),
                        counterparty_end=now + timedelta(days=21))  # fmt: skip
