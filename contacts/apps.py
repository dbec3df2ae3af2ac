from django.apps import AppConfig


class ContactsConfig(AppConfig):
    """Who to reach and where to look: teams, vendors, environments, key URLs and dashboards, from the seeds."""

    name = "contacts"
    verbose_name = "Contacts"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from contacts.models import Dashboard, DeploymentEnvironment, KeyLink, Team, Vendor

        auditlog.register(
            Team, mask_fields=["pagerduty_routing_key"], mask_callable="portal.notifications.secrets.mask_secret"
        )
        auditlog.register(Vendor, m2m_fields={"services"})
        auditlog.register(DeploymentEnvironment)
        auditlog.register(KeyLink)
        auditlog.register(Dashboard, m2m_fields={"services"})

        from contacts.selectors import INCIDENT_DIRECTORY
        from incidents.models import Service

        INCIDENT_DIRECTORY.invalidate_on_change(Vendor, Dashboard, KeyLink, Service)  # services: their slugs, deletions
