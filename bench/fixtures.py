"""What a benchmark run needs in its database: the schema, a loaded data size, a user with a token and a session."""

from dataclasses import dataclass

from data import SIZES, load
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from incidents.alert_services import integration_create
from incidents.models import Incident
from portal.accounts.models import User
from portal.accounts.services import api_token_create
from portal.core.services import audit_chain_record_verification


@dataclass(frozen=True)
class World:
    incidents: int
    sample_incident_id: int
    token: str
    session: str
    user_id: int


def prepare(size: str) -> World:
    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)  # pages link hashed static files, as in production
    user = User.objects.filter(username="bench").first()
    if user is None:
        user = User.objects.create_superuser("bench", "bench@example.com", None)
    if not Incident.objects.exists():
        print(f"loading {size} ({SIZES[size]} incidents)...")  # noqa: T201
        started = timezone.now()
        load(size, user=user, now=started)
        print(f"loaded in {(timezone.now() - started).total_seconds():.0f} s")  # noqa: T201
    # Beat verifies the audit chain regularly; the audit page then checks only the links added since. Start where a
    # running system would be, not with the previous run's entries unverified.
    audit_chain_record_verification(now=timezone.now())
    if connection.vendor == "postgresql":
        # Autovacuum keeps a running database's statistics and visibility map current (index-only scans then skip
        # the table), whatever the load or the previous run wrote: each run starts from that state.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
    sample = Incident.objects.filter(status=Incident.Status.CLOSED, title__contains=" #").order_by("-pk").first()
    assert sample is not None  # noqa: S101 - the loaded data has closed incidents
    user.api_tokens.filter(name="bench").delete()
    token = api_token_create(user=user, name="bench", created_by=None).key
    client = Client()
    client.force_login(user)
    return World(
        incidents=Incident.objects.count(),
        sample_incident_id=sample.pk,
        token=token,
        session=client.cookies["sessionid"].value,
        user_id=user.pk,
    )


def intake_integration() -> str:
    """A new integration's token. It groups by alert rule and service, so the intake payloads are the groups they name
    (they share one Alertmanager groupKey), and its groups are new to it: every measured "new" payload opens its
    incidents."""
    name = f"bench {timezone.now():%Y%m%d%H%M%S%f}"
    return integration_create(name=name, created_by=None, grouping_labels=("alertname", "service")).token
