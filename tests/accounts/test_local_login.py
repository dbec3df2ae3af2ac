"""Password sign-in beside single sign-on: PORTAL_LOCAL_LOGIN=0 keeps it for the break-glass accounts only."""

from portal.accounts.roles import Role


def test_passwords_off_except_break_glass(client, db, settings, make_user):
    settings.OIDC_OP_ISSUER = "https://login.example.com"  # never called: no one signs in with SSO here
    settings.PORTAL_LOCAL_LOGIN = False
    settings.PORTAL_BREAK_GLASS_USERS = ["breakglass"]
    make_user(Role.RESPONDER, username="rami", password="a-long-password-1")
    make_user(Role.ADMIN, username="breakglass", password="a-long-password-2")

    refused = client.post("/login/", {"username": "rami", "password": "a-long-password-1"})
    assert refused.status_code == 200
    assert "<details open" in refused.content.decode()  # the form, folded away, shows its error
    assert "_auth_user_id" not in client.session

    allowed = client.post("/login/", {"username": "breakglass", "password": "a-long-password-2"})
    assert allowed.status_code == 302
    assert client.get("/incidents/").status_code == 200


def test_sso_is_off_until_configured(client, db):
    assert client.get("/oidc/authenticate/").status_code == 404
    assert "single sign-on" not in client.get("/login/").content.decode()


def test_a_callback_the_portal_did_not_start_fails_to_the_sign_in_page(client, db, settings):
    settings.OIDC_OP_ISSUER = "https://login.example.com"  # never called: the state check fails first
    response = client.get("/oidc/callback/", {"code": "forged", "state": "forged"})
    assert response.status_code == 302
    assert response["Location"] == "/login/?sso=failed"
    assert "did not complete" in client.get(response["Location"]).content.decode()
    assert "_auth_user_id" not in client.session
