"""Signed links of the public status page's email subscriptions (django.core.signing, keyed by SECRET_KEY)."""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

STATUS_KEY_PREFIX = "status:"  # recipient key of status-page subscribers' deliveries: public template, unsubscribe
CONFIRM_SALT = "status-subscription-confirm"
UNSUBSCRIBE_SALT = "status-subscription-unsubscribe"
CONFIRM_MAX_AGE = timedelta(days=3)


def confirm_url(email: str, service_slugs: list[str]) -> str:
    token = signing.dumps({"email": email, "services": sorted(service_slugs)}, salt=CONFIRM_SALT)
    return settings.PORTAL_BASE_URL + reverse("status-confirm", args=[token])


def unsubscribe_url(subscription_pk: int) -> str:
    """Never expires: an old email's link must still stop the emails. Signs the row's id, not the address, so that
    no address appears in URLs (and request logs) after the one confirmation link."""
    token = signing.dumps(subscription_pk, salt=UNSUBSCRIBE_SALT)
    return settings.PORTAL_BASE_URL + reverse("status-unsubscribe", args=[token])


def status_page_url() -> str:
    return settings.PORTAL_BASE_URL + reverse("status-page")
