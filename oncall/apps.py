from django.apps import AppConfig


class OncallConfig(AppConfig):
    name = "oncall"
    verbose_name = "On-call"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from oncall.models import (
            CalendarFeed,
            Handoff,
            HandoffItem,
            Override,
            Participant,
            Rotation,
            RotationVersion,
            Swap,
        )

        auditlog.register(Rotation, m2m_fields={"services"})
        auditlog.register(RotationVersion)
        auditlog.register(Participant)
        auditlog.register(Override)
        auditlog.register(Swap)
        auditlog.register(Handoff)
        auditlog.register(HandoffItem)
        # The token's hash is a secret's stand-in and fetches are not changes; `regenerated_at` records a new URL.
        auditlog.register(CalendarFeed, exclude_fields=["token_hash", "last_used_at"])

        from incidents.models import Service
        from oncall.selectors import ONCALL_NOW
        from portal.accounts.models import User

        # What "on call now" shows: the schedule, the people's names and contact methods, the services' slugs.
        ONCALL_NOW.invalidate_on_change(Rotation, RotationVersion, Participant, Override, Service, User)
