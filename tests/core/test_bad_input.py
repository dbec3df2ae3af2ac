"""Bad input is a 4xx naming the field, never a 500: instants the database or the calendars cannot handle, control
characters in titles and names, deletes of configuration still in use, model constraints. (NUL characters and JSON
nested too deep: test_request_guards.py.)

Each class has one mechanism (portal.instants, portal.text, the API's exception handler, CleanedModelSerializer);
the structural tests at the end keep every endpoint on the shared fields.
"""

import json
from datetime import UTC, datetime, timedelta

import django_filters
import pytest
from django.urls import get_resolver
from rest_framework import serializers

from incidents.models import Service, Severity
from operations.models import Checklist, ChecklistTemplate, Deployment, RecoveryObjective
from portal.accounts.roles import Role
from portal.core.filters import InstantFilter
from portal.notifications.models import Channel, Delivery, EventKind, Notification

# (query value, what the 400 says): years datetime arithmetic overflows near, and an offset PostgreSQL cannot store.
UNUSABLE_INSTANTS = [
    ("9999-12-31T00:00:00Z", "between 1970 and 2999"),
    ("0001-01-02T00:00:00Z", "between 1970 and 2999"),
    ("2026-01-01T00:00:00-17:19", "between -14:00 and +14:00"),
]
API_LISTS_WITH_SINCE_UNTIL = [
    "/api/v1/audit/",
    "/api/v1/notifications/deliveries/",
    "/api/v1/actions/",
    "/api/v1/incidents/",
    "/api/v1/maintenance/occurrences/",
    "/api/v1/oncall/overrides/",
    "/api/v1/oncall/handoffs/",
    "/api/v1/deployments/",
]
PAGES_WITH_SINCE_UNTIL = ["/audit/", "/notifications/", "/actions/", "/incidents/", "/deployments/"]


@pytest.mark.parametrize(("value", "says"), UNUSABLE_INSTANTS, ids=["year-9999", "year-1", "offset-17:19"])
@pytest.mark.parametrize("param", ["since", "until"])
@pytest.mark.parametrize("path", API_LISTS_WITH_SINCE_UNTIL)
def test_an_unusable_instant_in_an_api_filter_is_a_400_naming_it(token_client, path, param, value, says):
    response = token_client(Role.ADMIN).get(path, {param: value})
    assert response.status_code == 400, response.content[:300]
    assert response.json()["field"] == param
    assert says in response.json()["detail"]


@pytest.mark.parametrize(("value", "says"), UNUSABLE_INSTANTS, ids=["year-9999", "year-1", "offset-17:19"])
@pytest.mark.parametrize("param", ["since", "until"])
@pytest.mark.parametrize("path", PAGES_WITH_SINCE_UNTIL)
def test_an_unusable_instant_in_a_page_filter_is_shown_on_the_form(client, admin_user, path, param, value, says):
    client.force_login(admin_user)
    response = client.get(path, {param: value})
    assert response.status_code == 200
    assert "filters are invalid" in response.content.decode()
    assert says in response.content.decode()


# Control characters in titles and names: a CR or LF in a title made every email about it fail (BadHeaderError).

LINE_BREAKS = ["Checkout\r\nBcc: everyone@example.com", "Checkout\nerrors", "Checkout\x1b[31m", "Checkout\u2028errors"]
TITLES_AND_NAMES = [
    ("/api/v1/incidents/", {"title": "{}", "severity": "P3"}, "title"),
    ("/api/v1/services/", {"name": "{}", "slug": "api", "tier": 1}, "name"),
    (
        "/api/v1/maintenance/windows/",
        {
            "name": "{}",
            "kind": "one_off",
            "starts_at": "2026-12-01T02:00:00Z",
            "duration": "02:00:00",
            "notice_lead": "1 00:00:00",
        },
        "name",
    ),
    ("/api/v1/oncall/rotations/", {"name": "{}", "start_date": "2026-01-05", "participants": []}, "name"),
    (
        "/api/v1/runbooks/",
        {"slug": "x", "title": "{}", "when": "now", "body": "b", "last_reviewed_on": "2026-01-01"},
        "title",
    ),
    ("/api/v1/checklist-templates/", {"name": "{}", "kind": "daily", "items": ["one"]}, "name"),
    ("/api/v1/checklist-templates/", {"name": "x", "kind": "daily", "items": ["{}"]}, "items"),
    ("/api/v1/notifications/channels/", {"name": "{}", "kind": "email"}, "name"),
    ("/api/v1/escalation-policies/", {"name": "{}"}, "name"),
    (
        "/api/v1/freeze/rules/",
        {"name": "{}", "kind": "black_friday", "level": "blocked", "environments": ["production"]},
        "name",
    ),
    ("/api/v1/tokens/", {"user": "ada.admin", "name": "{}"}, "name"),
]


@pytest.mark.parametrize("text", LINE_BREAKS, ids=["crlf", "lf", "escape", "line-separator"])
@pytest.mark.parametrize(("path", "body", "field"), TITLES_AND_NAMES, ids=[f"{p}:{f}" for p, _, f in TITLES_AND_NAMES])
def test_a_title_or_name_with_a_line_break_or_control_character_is_a_400(token_client, admin_user, path, body, field,
                                                                        text):  # fmt: skip
    body = json.loads(json.dumps(body).replace("{}", json.dumps(text)[1:-1]))
    response = token_client(Role.ADMIN).post(path, body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["field"] == field
    assert "control characters" in response.json()["detail"]


def test_text_keeps_its_line_breaks_but_not_other_control_characters(token_client):
    commander = token_client(Role.INCIDENT_COMMANDER)
    body = {"title": "Checkout errors", "severity": "P3", "impact_summary": "Line one\r\nLine two\n\tindented"}
    assert commander.post("/api/v1/incidents/", body, format="json").status_code == 201
    body["impact_summary"] = "bell\x07"
    response = commander.post("/api/v1/incidents/", body, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "impact_summary"


def test_the_declare_page_refuses_a_title_with_a_line_break(client, make_user):
    client.force_login(make_user(Role.RESPONDER))
    response = client.post("/incidents/declare/", {"title": "Checkout\r\nerrors", "severity": "P3"})
    assert response.status_code == 400
    assert "control characters" in response.content.decode()


# Configuration still referred to: a 409 naming what refers to it, the row kept.


def _referenced_service():
    service = Service.objects.create(name="API", slug="api", tier=Service.Tier.CRITICAL)
    Deployment.objects.create(service=service, environment="staging", version="1.4.2", commit="a" * 40, who="ci",
                              started_at=datetime(2026, 1, 5, tzinfo=UTC))  # fmt: skip
    return f"/api/v1/services/{service.slug}/", "1 deployment"


def _referenced_channel():
    channel = Channel.objects.get(name="Slack #critical")
    notification = Notification.objects.create(event_kind=EventKind.INCIDENT_UPDATED, severity="critical", title="x")
    Delivery.objects.create(notification=notification, channel=channel, recipient_key="chat",
                            next_attempt_at=datetime(2026, 1, 5, tzinfo=UTC))  # fmt: skip
    return f"/api/v1/notifications/channels/{channel.pk}/", "1 delivery"


def _referenced_objective():
    objective = RecoveryObjective.objects.get(component="Database (PostgreSQL)")  # seeded with its drill plan
    return f"/api/v1/recovery-objectives/{objective.pk}/", "drill plan"


def _referenced_template():
    template = ChecklistTemplate.objects.get(name="Daily operations tasks")
    start = datetime(2026, 1, 5, tzinfo=UTC)
    Checklist.objects.create(template=template, title="Daily", kind=template.kind, period_start=start,
                             period_end=start + timedelta(days=1))  # fmt: skip
    return f"/api/v1/checklist-templates/{template.pk}/", "1 checklist"


@pytest.mark.parametrize(
    "referenced", [_referenced_service, _referenced_channel, _referenced_objective, _referenced_template],
    ids=["service", "channel", "recovery-objective", "checklist-template"],
)  # fmt: skip
def test_deleting_configuration_still_referred_to_is_a_409_naming_the_references(token_client, referenced):
    path, says = referenced()
    admin = token_client(Role.ADMIN)
    response = admin.delete(path)
    assert response.status_code == 409, response.content[:300]
    assert says in response.json()["detail"]
    assert sum(response.json()["referenced_by"].values()) >= 1
    assert admin.get(path).status_code == 200


# Model constraints are validated before saving: a 400 naming the field, not an IntegrityError.

BURN_RULE = {"name": "Fast", "long_window_minutes": 60, "short_window_minutes": 5, "action": "page"}
TARGET = {"name": "prod", "slug": "prod", "kind": "kubernetes", "environment": "staging"}
CONSTRAINED = {
    "factor-0": ("post", "/api/v1/burn-rate-rules/", BURN_RULE | {"factor": 0}, "factor"),
    "factor-negative": ("post", "/api/v1/burn-rate-rules/", BURN_RULE | {"factor": -2}, "factor"),
    "severity-without-target": (
        "patch",
        "/api/v1/severities/{P1}/",
        {"response_minutes": None, "response_business_days": None},
        "response_business_days",
    ),
    "replicas-min-over-max": (
        "post",
        "/api/v1/actions/targets/",
        TARGET | {"min_replicas": 5, "max_replicas": 1},
        "max_replicas",
    ),
}


@pytest.mark.parametrize(("method", "path", "body", "field"), CONSTRAINED.values(), ids=CONSTRAINED.keys())
def test_a_model_constraint_is_a_400_naming_the_field(token_client, method, path, body, field):
    path = path.format(P1=Severity.objects.get(code="P1").pk)
    response = getattr(token_client(Role.ADMIN), method)(path, body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["field"] == field


# Every door uses the shared fields: no writable plain DRF CharField, DateTimeField or DateField, and no unbounded
# date-time filter, in any API serializer or filter set.

# Alertmanager's payload is taken as Alertmanager sends it: refusing an alert over a character would lose it (its
# text becomes one line where it becomes a title), and its endsAt is Go's zero time, year 1, while an alert fires.
ALERTMANAGER = {"AlertInput", "AlertmanagerPayload"}
APPS = ("portal", "incidents", "maintenance", "oncall", "operations")


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(_subclasses(sub) for sub in found))


def _ours(cls: type) -> bool:
    return cls.__module__.split(".")[0] in APPS and not cls.__module__.startswith("portal.core.api")


def _plain_fields(serializer: serializers.Serializer) -> list[str]:
    plain = []
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        inner = field.child if isinstance(field, serializers.ListField | serializers.DictField) else field
        if type(inner) in {serializers.CharField, serializers.DateTimeField, serializers.DateField}:
            plain.append(f"{name}: {type(inner).__name__}")
    return plain


def test_every_api_input_takes_text_instants_and_dates_through_the_shared_fields():
    get_resolver().url_patterns  # noqa: B018 - imports every view, and so every serializer
    inputs = [
        cls
        for cls in _subclasses(serializers.Serializer)
        if _ours(cls) and not cls.__name__.endswith("Output") and cls.__name__ not in ALERTMANAGER
    ]
    found = {}
    for cls in sorted(inputs, key=lambda c: f"{c.__module__}.{c.__qualname__}"):
        if plain := _plain_fields(cls()):
            found[f"{cls.__module__}.{cls.__qualname__}"] = plain
    assert found == {}, "use portal.core.api.fields (LineField, TextField, DateTimeField, DateField)"


def test_every_date_time_filter_is_bounded():
    get_resolver().url_patterns  # noqa: B018
    unbounded = [
        f"{cls.__module__}.{cls.__qualname__}.{name}"
        for cls in _subclasses(django_filters.FilterSet)
        if _ours(cls)
        for name, declared in cls.base_filters.items()
        if isinstance(declared, django_filters.DateTimeFilter) and not isinstance(declared, InstantFilter)
    ]
    assert unbounded == []
