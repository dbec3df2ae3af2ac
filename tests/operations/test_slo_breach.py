"""SLO "max acceptable" breaches: the service's on-call is told once per episode (issue 15, point 6)."""

from datetime import timedelta

from operations.models import SloBreach
from operations.services.slo import slo_evaluate
from portal.notifications.models import Notification, PagerAction
from tests.operations.conftest import T0


def test_a_breach_tells_the_on_call_once_per_episode(availability, api, add_samples, responder):
    availability.service = api
    availability.save()
    asked = []

    def oncall(service, at):
        asked.append(service)
        return responder

    add_samples(availability, value=99.7, minutes=5)  # below the 99.9% target, above the 99.5% maximum acceptable
    slo_evaluate(slo=availability, now=T0, oncall=oncall)
    assert not SloBreach.objects.exists()

    add_samples(availability, value=99.0, minutes=5, end=T0 + timedelta(minutes=5))
    slo_evaluate(slo=availability, now=T0 + timedelta(minutes=5), oncall=oncall)
    add_samples(availability, value=98.0, minutes=5, end=T0 + timedelta(minutes=10))
    slo_evaluate(slo=availability, now=T0 + timedelta(minutes=10), oncall=oncall)  # still the same episode

    episode = SloBreach.objects.get()
    assert (episode.started_at, episode.ended_at, episode.value) == (T0 + timedelta(minutes=5), None, 99.0)
    told = Notification.objects.filter(dedup_key__startswith="slo-breach:")
    assert told.count() == 1
    assert told.get().severity == "critical"
    assert list(told.get().recipients.all()) == [responder]
    assert api in asked
    assert "worse than the maximum acceptable 99.5%" in told.get().title

    add_samples(availability, value=99.95, minutes=5, end=T0 + timedelta(minutes=15))
    slo_evaluate(slo=availability, now=T0 + timedelta(minutes=15), oncall=oncall)
    episode.refresh_from_db()
    assert episode.ended_at == T0 + timedelta(minutes=15)
    ended = told.exclude(pk=episode.notified_id).get()
    assert (ended.pager_action, ended.dedup_key) == (PagerAction.RESOLVE, f"slo-breach:{episode.pk}")

    add_samples(availability, value=97.0, minutes=5, end=T0 + timedelta(minutes=20))
    slo_evaluate(slo=availability, now=T0 + timedelta(minutes=20), oncall=oncall)
    assert SloBreach.objects.count() == 2  # a new episode, told again
    assert told.filter(pager_action="trigger").count() == 2
