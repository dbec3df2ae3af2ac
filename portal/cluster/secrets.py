"""Data-store URLs carry passwords: what may be shown or logged of them."""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
