"""Data-store URLs and Kubernetes Secret values are secrets: what may be shown or logged of them."""

import hashlib
import hmac
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings

MASK = "****"
# Query parameters libpq and redis-py read a password from.
_SECRET_PARAMETERS = frozenset({"password", "passwd", "sslpassword"})


def mask_url(url: str) -> str:
    """The URL with its password hidden, e.g. `redis://:****@cache:6379/0`; something unparsable is hidden whole."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return MASK
    if not parts.scheme or not parts.hostname:
        return MASK
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = host if port is None else f"{host}:{port}"
    if parts.password is not None:
        netloc = f"{parts.username or ''}:{MASK}@{netloc}"
    elif parts.username:
        netloc = f"{parts.username}@{netloc}"
    query = [(key, MASK if key.lower() in _SECRET_PARAMETERS else value) for key, value in parse_qsl(parts.query)]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*"), ""))


def scrub(text: str, url: str) -> str:
    """`text` (an error message, say) without the URL's password in it, in case a driver quoted it."""
    secrets = [urlsplit(url).password or ""]
    secrets += [value for key, value in parse_qsl(urlsplit(url).query) if key.lower() in _SECRET_PARAMETERS]
    for secret in filter(None, secrets):
        text = text.replace(secret, MASK)
    return text


def fingerprint(value: str) -> str:
    """A short keyed hash of a secret value for the record: two runs that set the same value show the same
    fingerprint, and nobody can guess a short password back from it without the portal's SECRET_KEY."""
    key = hashlib.sha256(b"portal secret fingerprint:" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]
