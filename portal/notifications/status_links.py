"""Signed links of the public status page's email subscriptions (django.core.signing, keyed by SECRET_KEY)."""

from datetime import timedelta
from typing import TypedDict

from django.conf import settings
from django.core import signing
from django.urls import reverse

from portal.errors import ApplicationError

STATUS_KEY_PREFIX = "status:"  # recipient key of status-page subscribers' deliveries: public template, unsubscribe
CONFIRM_SALT = "status-subscription-confirm"
UNSUBSCRIBE_SALT = "status-subscription-unsubscribe"
CONFIRM_MAX_AGE = timedelta(days=3)


def confirm_url(email: str, service_slugs: list[str]) -> str:
    token = signing.dumps({"email": email, "services": sorted(service_slugs)}, salt=CONFIRM_SALT)
    return settings.PORTAL_BASE_URL + reverse("status-confirm", args=[token])


class ConfirmLinkData(TypedDict):
    email: str
    services: list[str]


def confirm_token_data(token: str) -> ConfirmLinkData:
    """The address and service slugs a confirmation link signs; ApplicationError if it is forged or expired."""
    try:
        data: ConfirmLinkData = signing.loads(token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
    except signing.SignatureExpired:
        raise ApplicationError("This confirmation link has expired; subscribe again.", field="token") from None
    except signing.BadSignature:
        raise ApplicationError("This confirmation link is not valid.", field="token") from None
    return data


def unsubscribe_token_pk(token: str) -> int:
    """The subscription id an unsubscribe link signs; ApplicationError if it is forged."""
    try:
        pk: int = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        raise ApplicationError("This unsubscribe link is not valid.", field="token") from None
    return pk


def unsubscribe_url(subscription_pk: int) -> str:
    """Never expires: an old email's link must still stop the emails. Signs the row's id, not the address, so that
    no address appears in URLs (and request logs) after the one confirmation link."""
    token = signing.dumps(subscription_pk, salt=UNSUBSCRIBE_SALT)
    return settings.PORTAL_BASE_URL + reverse("status-unsubscribe", args=[token])


def status_page_url() -> str:
    return settings.PORTAL_BASE_URL + reverse("status-page")
