from datetime import UTC, datetime

import pytest

from incidents.models import Incident, Service, Severity
from incidents.services import incident_declare
from portal.accounts.roles import Role

# A Tuesday morning, inside business hours.
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def severities(db) -> dict[str, Severity]:
    return {severity.code: severity for severity in Severity.objects.all()}


@pytest.fixture
def api(db) -> Service:
    return Service.objects.create(name="API", slug="api", tier=Service.Tier.CRITICAL)


@pytest.fixture
def commander(make_user):
    return make_user(Role.INCIDENT_COMMANDER, username="cora", email="cora@example.com")


@pytest.fixture
def responder(make_user):
    return make_user(Role.RESPONDER, username="rami")


@pytest.fixture
def declare(severities, api, responder):
    def make(code: str = "P2", *, at: datetime = T0, **fields) -> Incident:
        fields.setdefault("title", "Checkout errors")
        fields.setdefault("services", [api])
        return incident_declare(severity=severities[code], reporter=responder, detected_at=at, now=at, **fields)

    return make
