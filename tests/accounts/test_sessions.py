"""Signed-in pages read their session from the cache: every page and htmx refresh reads it."""

from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.accounts.roles import Role


def test_a_signed_in_page_reads_its_session_from_the_cache_and_signing_out_ends_it(client, db, make_user):
    make_user(Role.VIEWER, username="vera", password="a-long-password-1")
    assert client.post("/login/", {"username": "vera", "password": "a-long-password-1"}).status_code == 302
    assert Session.objects.count() == 1  # kept in the database too, for when the cache loses it

    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/incidents/").status_code == 200
    assert [query["sql"] for query in ctx.captured_queries if "django_session" in query["sql"]] == []

    client.post("/logout/")
    assert Session.objects.count() == 0
    assert client.get("/incidents/").status_code == 302  # to sign in
