"""The seeds' rotation (a data migration) and the demo's people on it (seed_demo, idempotent)."""

from datetime import time

from django.core.management import call_command
from django.utils import timezone

from incidents.models import Service
from oncall.models import Rotation
from oncall.selectors import oncall_at, service_rotations


def test_the_seeds_weekly_monday_0900_utc_rotation_exists(db):
    rotation = Rotation.objects.get(name="Platform on-call")
    version = rotation.versions.get()
    assert (version.timezone, version.handoff_rrule, version.handoff_time) == ("UTC", "FREQ=WEEKLY;BYDAY=MO", time(9))
    assert version.start_date.weekday() == 0
    assert not version.participants.exists()  # Admins name the people


def test_seed_demo_puts_people_on_it_once(db):
    call_command("seed_demo")
    call_command("seed_demo")
    rotation = Rotation.objects.get(name="Platform on-call")
    assert rotation.versions.count() == 2
    current = rotation.versions.order_by("-effective_from").first()
    assert [p.user.username for p in current.participants.all()] == ["rami.responder", "sam.sre", "cora.commander"]
    assert rotation.lead.username == "cora.commander"
    assert oncall_at(rotation, at=timezone.now()) is not None
    assert list(service_rotations(service=Service.objects.get(slug="payments"))) == [rotation]
