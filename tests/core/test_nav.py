"""The top bar's navigation (portal.core.nav): rendered once per variant and shared by every request, so each page
must still get its own variant: its link marked current, the Admin links only for Admins."""

import re

import pytest
from django.urls import reverse

from portal.accounts.roles import Role
from portal.core.nav import ADMIN_LINKS, LINKS

pytestmark = pytest.mark.django_db


def _nav(client, url: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The nav's links (href, label) in order, and the hrefs marked current."""
    response = client.get(url)
    assert response.status_code == 200, url
    nav = re.search(r'<nav class="mainnav".*?</nav>', response.content.decode(), re.S).group(0)
    links = re.findall(r'<a class="navlink[^"]*" href="([^"]+)"[^>]*>([^<]+)</a>', nav)
    current = re.findall(r'href="([^"]+)" aria-current="page"', nav)
    assert len(re.findall(r"navlink active", nav)) == len(current)
    return links, current


def test_every_page_in_the_nav_marks_its_own_link_and_only_it(client, admin_user):
    client.force_login(admin_user)
    expected = [(reverse(name), label.replace("&", "&amp;")) for label, name in LINKS + ADMIN_LINKS]
    for _label, name in LINKS + ADMIN_LINKS:
        links, current = _nav(client, reverse(name))
        assert links == expected
        assert current == [reverse(name)], name


def test_a_page_outside_the_nav_marks_none(client, admin_user):
    client.force_login(admin_user)
    assert _nav(client, reverse("incident-list"))[1] == [reverse("incident-list")]
    assert _nav(client, reverse("profile"))[1] == []
    assert _nav(client, reverse("incident-list") + "?status=closed")[1] == [reverse("incident-list")]


def test_admin_links_show_to_admins_only(client, make_user, admin_user):
    admin_hrefs = {reverse(name) for _label, name in ADMIN_LINKS}
    client.force_login(admin_user)
    assert admin_hrefs <= {href for href, _ in _nav(client, reverse("dashboard"))[0]}
    for role in (Role.VIEWER, Role.RESPONDER, Role.INCIDENT_COMMANDER):
        client.force_login(make_user(role))
        links = _nav(client, reverse("dashboard"))[0]
        assert [href for href, _ in links] == [reverse(name) for _label, name in LINKS], role
