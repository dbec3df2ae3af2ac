"""The beat job: scheduled, thin, idempotent; notices enqueued only when the transaction commits."""

from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from maintenance import policy
from maintenance.models import MaintenanceNotice, MaintenanceWindow
from maintenance.tasks import sweep_maintenance
from portal.notifications.models import Delivery, EventKind


def test_beat_runs_the_sweep_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-maintenance"]
    assert (entry["task"], entry["schedule"]) == (sweep_maintenance.name, 60.0)
    assert sweep_maintenance.name == "maintenance.tasks.sweep_maintenance"


def test_running_the_sweep_twice_sends_one_notice(one_off, subscriber, django_capture_on_commit_callbacks):
    for seeded in MaintenanceWindow.objects.filter(kind="recurring"):  # whose notices may be due today too
        seeded.active = False
        seeded.save()
    window = one_off(start=timezone.now() + timedelta(hours=12), now=timezone.now())  # 24 h notice: due already

    with django_capture_on_commit_callbacks() as enqueued:
        assert sweep_maintenance() == 1
    assert sweep_maintenance() == 0

    assert MaintenanceNotice.objects.filter(occurrence__window=window).count() == 1
    # One batch of emails, handed to Celery only after the commit (beside the status page's cache being dropped).
    assert len([callback for callback in enqueued if "enqueue_on_commit" in callback.__qualname__]) == 1
    delivery = Delivery.objects.get(notification__event_kind=EventKind.MAINTENANCE_SCHEDULED)
    assert (delivery.address, delivery.status) == ("stakeholders@example.com", Delivery.Status.QUEUED)


def test_demo_data_gives_the_seeded_windows_owners_services_and_coming_occurrences(db, capsys):
    call_command("seed_demo")
    call_command("seed_demo")

    assert "0 maintenance notices" in capsys.readouterr().out.splitlines()[-1]
    standard = MaintenanceWindow.objects.get(name="Standard updates")
    assert standard.owner.username == "cora.commander"
    assert {service.slug for service in standard.services.all()} == {"api", "web", "workers"}
    now = timezone.now()
    for window in MaintenanceWindow.objects.filter(kind="recurring"):
        due = policy.generated_spans(window, start=now, end=now + window.notice_lead + policy.MATERIALIZE_MARGIN)
        rows = set(window.occurrences.values_list("original_start", flat=True))
        assert {span.start for span in due if span.start > now} <= rows
