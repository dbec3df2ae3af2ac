"""Signed webhooks from Slack and PagerDuty: is this request theirs?"""

import hashlib
import hmac
from datetime import datetime

SLACK_MAX_AGE_SECONDS = 300  # Slack's own advice: refuse requests more than five minutes from now


def _hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def slack_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    return "v0=" + _hmac(secret, b"v0:" + timestamp.encode() + b":" + body)


def slack_refusal(*, secret: str, timestamp: str, signature: str, body: bytes, now: datetime) -> str:
    """Why the request is not Slack's ("" when it is): `X-Slack-Signature` is v0=HMAC-SHA256 of
    `v0:{X-Slack-Request-Timestamp}:{body}` with the signing secret, and the timestamp is recent."""
    if not timestamp or not signature:
        return "X-Slack-Request-Timestamp and X-Slack-Signature are required."
    try:
        age = abs(now.timestamp() - int(timestamp))
    except ValueError:
        return "X-Slack-Request-Timestamp is not a Unix time."
    if age > SLACK_MAX_AGE_SECONDS:
        return "X-Slack-Request-Timestamp is more than five minutes away from now."
    if not hmac.compare_digest(slack_signature(secret=secret, timestamp=timestamp, body=body), signature):
        return "X-Slack-Signature does not match."
    return ""


def pagerduty_signature(*, secret: str, body: bytes) -> str:
    return "v1=" + _hmac(secret, body)


def pagerduty_matches(*, secrets: list[str], header: str, body: bytes) -> bool:
    """`X-PagerDuty-Signature` holds one or more comma-separated `v1=` signatures (several while a secret rotates);
    any of them made with any of our subscriptions' secrets will do."""
    offered = [part.strip() for part in header.split(",") if part.strip().startswith("v1=")]
    expected = [pagerduty_signature(secret=secret, body=body) for secret in secrets if secret]
    # Compare every pair, without stopping early, in constant time each.
    return any([hmac.compare_digest(mine, theirs) for mine in expected for theirs in offered])  # noqa: C419
