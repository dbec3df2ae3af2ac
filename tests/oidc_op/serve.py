"""Start the test OpenID Provider: `python -m tests.oidc_op.serve PORT DATABASE REDIRECT_URI`.

Migrates its own SQLite database, creates its signing key and one confidential client (`portal`, secret
`portal-secret`, no consent screen), then serves until terminated. People and groups are added by the test through
`manage` commands in the same database (see tests/accounts/test_oidc.py)."""

import os
import sys

port, database, redirect_uri = sys.argv[1], sys.argv[2], sys.argv[3]
os.environ["OP_BASE_URL"] = f"http://127.0.0.1:{port}"
os.environ["OP_DATABASE"] = database
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oidc_op.settings"

import django  # noqa: E402

django.setup()
from django.core.management import call_command  # noqa: E402
from oidc_provider.models import Client, ResponseType  # noqa: E402

call_command("migrate", verbosity=0)
call_command("creatersakey")
client = Client.objects.create(
    name="Ops Portal", client_id="portal", client_secret="portal-secret", client_type="confidential",
    redirect_uris=[redirect_uri], require_consent=False, reuse_consent=True,
    post_logout_redirect_uris=["http://testserver/login/"],
)  # fmt: skip
client.response_types.add(ResponseType.objects.get(value="code"))
call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, use_threading=True, skip_checks=True)
