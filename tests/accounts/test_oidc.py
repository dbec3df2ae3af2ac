"""Single sign-on against a real OpenID Provider (django-oidc-provider, in its own process on a free port): sign-in,
IdP groups mapped to roles on every sign-in, role removal, sign-out, and passwords turned off but for break-glass.

Integration-marked: the provider runs in another process on the real clock, and its tokens' `iat`/`exp` are checked
against ours (so `make test-anydate` must leave it out)."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from auditlog.models import LogEntry
from django.contrib.auth.models import Group

from portal.accounts import oidc
from portal.accounts.models import User
from portal.accounts.roles import Role, highest_role, user_roles
from tests.integration.processes import ROOT, wait_for
from tests.servers import free_port

pytestmark = pytest.mark.integration
CALLBACK = "http://testserver/oidc/callback/"


class Provider:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = f"{self.url}/openid"
        self.database = str(workdir / "op.sqlite3")
        self.env = os.environ | {"OP_BASE_URL": self.url, "OP_DATABASE": self.database,
                                 "DJANGO_SETTINGS_MODULE": "tests.oidc_op.settings"}  # fmt: skip
        self.log = (workdir / "op.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.oidc_op.serve", str(self.port), self.database, CALLBACK],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        ok = wait_for(self._up, timeout=60)
        assert ok, (workdir / "op.log").read_text()[-3000:]

    def _up(self) -> bool:
        try:
            return requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def person(self, username: str, groups: list[str], email: str = "") -> None:
        """Create or update someone at the provider, with exactly these groups."""
        script = (
            "import django; django.setup()\n"
            "from django.contrib.auth.models import Group, User\n"
            f"user, _ = User.objects.get_or_create(username={username!r})\n"
            f"user.email = {email or username + '@broxiva.example'!r}; user.first_name = {username.title()!r}\n"
            f"user.set_password('op-password-1'); user.save()\n"
            f"user.groups.set([Group.objects.get_or_create(name=name)[0] for name in {groups!r}])\n"
        )
        subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=self.env, check=True, timeout=60)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    server = Provider(tmp_path_factory.mktemp("op"))
    yield server
    server.stop()


@pytest.fixture
def sso(provider, settings):
    settings.OIDC_OP_ISSUER = provider.issuer
    settings.OIDC_RP_CLIENT_ID = "portal"
    settings.OIDC_RP_CLIENT_SECRET = "portal-secret"
    settings.OIDC_RP_SCOPES = "openid email profile groups"
    settings.OIDC_ROLE_GROUPS = {
        "Viewer": ["ops-viewers"],
        "Responder": ["ops-responders"],
        "Incident Commander": ["ops-commanders", "sre-leads"],
        "Admin": ["ops-admins"],
    }
    oidc.discovery.cache_clear()
    yield provider
    oidc.discovery.cache_clear()


def sign_in(client, provider: Provider, username: str, next_url: str = "/incidents/"):
    """The browser's round trip: portal -> provider's login form -> provider -> portal's callback."""
    start = client.get("/oidc/authenticate/", {"next": next_url})
    assert start.status_code == 302
    assert start["Location"].startswith(f"{provider.issuer}/authorize")
    browser = requests.Session()
    page = browser.get(start["Location"], timeout=10)  # redirected to the provider's login form
    assert page.status_code == 200, page.text[:500]
    answer = browser.post(
        page.url,
        data={"username": username, "password": "op-password-1", "csrfmiddlewaretoken": browser.cookies["csrftoken"],
              "next": parse_qs(urlsplit(page.url).query)["next"][0]},
        allow_redirects=False, timeout=10,
    )  # fmt: skip
    assert answer.status_code == 302, answer.text[:500]
    location = answer.headers["Location"]
    back = browser.get(provider.url + location if location.startswith("/") else location, allow_redirects=False,
                       timeout=10)  # fmt: skip
    callback = back.headers["Location"]
    assert callback.startswith(CALLBACK), callback
    return client.get(urlsplit(callback).path, dict(parse_qs(urlsplit(callback).query)))


def test_sign_in_creates_the_person_with_the_role_their_groups_grant(client, db, sso):
    sso.person("olga", ["ops-commanders", "unrelated-team"])

    landed = sign_in(client, sso, "olga")

    assert landed.status_code == 302
    assert landed["Location"] == "/incidents/"
    user = User.objects.get(username="olga")
    assert user.oidc_subject
    assert user.email == "olga@broxiva.example"
    assert highest_role(user) == Role.INCIDENT_COMMANDER
    assert not user.has_usable_password()
    assert client.get("/incidents/").status_code == 200


def test_roles_follow_the_groups_at_every_sign_in(client, db, sso):
    sso.person("pavel", ["ops-admins"])
    sign_in(client, sso, "pavel")
    user = User.objects.get(username="pavel")
    assert highest_role(user) == Role.ADMIN
    user.groups.add(Group.objects.get(name=Role.RESPONDER))  # given by hand: roles are the IdP's to give

    sso.person("pavel", ["ops-viewers"])  # removed from the admins at the IdP
    client.logout()
    sign_in(client, sso, "pavel")

    user = User.objects.get(pk=user.pk)
    assert user_roles(user) == {Role.VIEWER}  # the Admin role and the hand-given Responder role are gone
    assert User.objects.filter(username__startswith="pavel").count() == 1
    removed = [entry.changes["groups"] for entry in LogEntry.objects.get_for_object(user) if "groups" in entry.changes]
    assert {"type": "m2m", "operation": "delete", "objects": ["Responder", "Admin"]} in removed  # audited

    sso.person("pavel", [])
    client.logout()
    sign_in(client, sso, "pavel")
    assert user_roles(User.objects.get(pk=user.pk)) == set()
    assert client.get("/incidents/").status_code == 403  # signed in, but no role


def test_a_local_account_is_never_taken_over(client, db, sso, make_user):
    local = make_user(Role.ADMIN, username="admin", email="admin@broxiva.example")
    sso.person("admin", ["ops-viewers"], email="admin@broxiva.example")

    sign_in(client, sso, "admin")

    local.refresh_from_db()
    assert local.oidc_subject is None
    assert highest_role(local) == Role.ADMIN
    created = User.objects.exclude(pk=local.pk).get(oidc_subject__isnull=False)
    assert created.username.startswith("admin-")
    assert highest_role(created) == Role.VIEWER


def test_sign_out_ends_the_session_here_and_at_the_provider(client, db, sso):
    sso.person("rosa", ["ops-responders"])
    sign_in(client, sso, "rosa")

    out = client.post("/logout/")

    assert out.status_code == 302
    assert out["Location"].startswith(f"{sso.issuer}/end-session")
    query = parse_qs(urlsplit(out["Location"]).query)
    assert query["post_logout_redirect_uri"] == ["http://testserver/login/"]
    assert query["id_token_hint"][0].count(".") == 2  # the ID token the provider issued
    assert client.get("/incidents/")["Location"].startswith("/login/")


def test_login_page_offers_sso(client, db, sso):
    page = client.get("/login/").content.decode()
    assert "Sign in with single sign-on" in page
    assert "<details" not in page
