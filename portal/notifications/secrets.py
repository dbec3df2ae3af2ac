"""Channel secrets (chat webhook URL, pager routing key, SMS gateway token): what may be shown or logged of them."""

from urllib.parse import urlsplit

MASK = "****"


def mask_secret(value: str) -> str:
    """Enough to recognise it, e.g. `https://hooks.slack.com/…f00d` or `…f00d`; a short value is hidden whole."""
    if len(value) <= 8:
        return MASK if value else ""
    parts = urlsplit(value)
    site = f"{parts.scheme}://{parts.hostname}/" if parts.scheme in {"http", "https"} and parts.hostname else ""
    return f"{site}…{value[-4:]}"

