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


def scrub(text: str, *secrets: str) -> str:
    """`text` (an error, a response) without the secrets in it; a URL's path counts, as HTTP errors quote it alone."""
    parts = set(filter(None, secrets))
    for secret in list(parts):
        url = urlsplit(secret)
        if url.scheme in {"http", "https"} and len(path := url._replace(scheme="", netloc="").geturl()) > 1:
            parts.add(path)
    for secret in sorted(parts, key=len, reverse=True):
        text = text.replace(secret, mask_secret(secret))
    return text
