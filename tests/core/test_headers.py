"""Browser security headers: a Content-Security-Policy with nothing inline, and a Permissions-Policy. Chromium checks
the pages against the policy (tests/browser); these check the headers and the templates without a browser."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

from portal.accounts.roles import Role

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def directives(header: str) -> set[str]:
    return {part.strip() for part in header.split(";")}


@pytest.mark.parametrize("path", ["/login/", "/status/", "/api/health", "/api/v1/status/"])
def test_every_response_carries_the_policies(client, db, path):
    response = client.get(path)

    assert directives(response["Content-Security-Policy"]) == directives(CSP)
    policy = response["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in policy


def test_the_api_docs_keep_the_strict_policy(client, make_user):
    client.force_login(make_user(Role.VIEWER))
    page = client.get(reverse("swagger-ui"))
    script = client.get(reverse("swagger-ui"), {"script": ""})

    assert directives(page["Content-Security-Policy"]) == directives(CSP)
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def test_pages_ask_htmx_not_to_inject_its_indicator_style(client, make_user):
    client.force_login(make_user(Role.VIEWER))
    html = client.get(reverse("dashboard")).content.decode()
    assert """<meta name="htmx-config" content='{"includeIndicatorStyles": false}'>""" in html


INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "style element": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle=", re.IGNORECASE),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def test_no_template_needs_unsafe_inline():
    """Emails are not pages (no CSP applies, and mail clients want inline styles)."""
    found = [
        f"{path.relative_to(TEMPLATES)}: {what}"
        for path in TEMPLATES.rglob("*.html")
        if "email" not in path.parts
        for what, pattern in INLINE.items()
        if pattern.search(path.read_text())
    ]
    assert found == []
