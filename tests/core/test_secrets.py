"""Secrets at rest: channel secrets and data-store URLs are encrypted in the database, masked in the audit log, and
readable again after a key rotation. Rows are read with plain SQL, as a database dump would see them."""

import base64
import importlib
from io import StringIO
from types import SimpleNamespace

import pytest
from auditlog.models import LogEntry
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldError
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Model
from django.urls import reverse

from portal.accounts.roles import Role
from portal.cluster.models import Target
from portal.core.encryption import EncryptionKeyError, encrypted_fields
from portal.notifications.models import Channel

WEBHOOK = "https://hooks.slack.com/services/T0SECRET/B0SECRET/webhookSECRETtoken123"
ROUTING_KEY = "routingKEYsecret0000000000000042"
GATEWAY_TOKEN = "smsGATEWAYtokenSECRET9876"
REDIS_URL = "redis://:redisPASSWORDsecret@cache.internal:6379/2"
SECRETS = ("webhookSECRET", "routingKEYsecret", "smsGATEWAYtoken", "redisPASSWORD")
KEY_A = base64.urlsafe_b64encode(b"A" * 32).decode()
KEY_B = base64.urlsafe_b64encode(b"B" * 32).decode()

notifications_0003 = importlib.import_module("portal.notifications.migrations.0003_encrypt_secrets")
cluster_0002 = importlib.import_module("portal.cluster.migrations.0002_encrypt_secrets")
notifications_0004 = importlib.import_module("portal.notifications.migrations.0004_mask_secrets_in_audit_log")


def raw_row(model: type[Model], pk: int) -> str:
    """The whole row as the database holds it."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {model._meta.db_table} WHERE id = %s", [pk])  # noqa: S608
        return repr(cursor.fetchone())


def raw_value(model: type[Model], column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {model._meta.db_table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def store_in_clear(model: type[Model], column: str, pk: int, value: str) -> None:
    """What a row written before encryption holds."""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {model._meta.db_table} SET {column} = %s WHERE id = %s", [value, pk])  # noqa: S608


def raw_audit_rows(model: type[Model], pk: int) -> str:
    content_type = ContentType.objects.get_for_model(model)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM auditlog_logentry WHERE content_type_id = %s AND object_pk = %s", [content_type.pk, str(pk)]
        )
        return repr(cursor.fetchall())


def leaked(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


@pytest.fixture
def admin(token_client):
    return token_client(Role.ADMIN, username="ada")


def configure(admin) -> dict[str, Channel | Target]:
    """The seeded channels' secrets and a Redis target, set through the API as an Admin sets them."""
    channels = {name: Channel.objects.get(name=name) for name in ("PagerDuty", "Slack #critical", "SMS")}
    for name, secret in (("PagerDuty", {"routing_key": ROUTING_KEY}), ("Slack #critical", {"webhook_url": WEBHOOK}),
                         ("SMS", {"auth_token": GATEWAY_TOKEN})):  # fmt: skip
        response = admin.patch(reverse("api:channel-detail", args=[channels[name].pk]), secret, format="json")
        assert response.status_code == 200, response.json()
    response = admin.post(reverse("api:action-target-list"), {
        "name": "Cache", "slug": "cache", "kind": "redis", "environment": "staging", "url": REDIS_URL,
    }, format="json")  # fmt: skip
    assert response.status_code == 201, response.json()
    return {
        "pager": channels["PagerDuty"], "slack": channels["Slack #critical"], "sms": channels["SMS"],
        "cache": Target.objects.get(slug="cache"),
    }  # fmt: skip


@pytest.fixture
def configured(admin) -> dict[str, Channel | Target]:
    return configure(admin)


def read_back() -> tuple[str, str, str, str]:
    return (
        Channel.objects.get(name="Slack #critical").webhook_url,
        Channel.objects.get(name="PagerDuty").routing_key,
        Channel.objects.get(name="SMS").auth_token,
        Target.objects.get(slug="cache").url,
    )


PLAINTEXT = (WEBHOOK, ROUTING_KEY, GATEWAY_TOKEN, REDIS_URL)


class TestAtRest:
    def test_the_database_holds_ciphertext_and_the_models_read_plaintext(self, configured):
        rows = "".join(raw_row(type(obj), obj.pk) for obj in configured.values())

        assert leaked(rows) == []
        assert raw_value(Channel, "webhook_url", configured["slack"].pk).startswith("fernet:")
        assert raw_value(Target, "url", configured["cache"].pk).startswith("fernet:")
        assert read_back() == PLAINTEXT

    def test_an_empty_secret_stays_empty(self, db):
        assert raw_value(Channel, "webhook_url", Channel.objects.get(name="Email").pk) == ""

    def test_the_audit_log_masks_every_secret(self, configured):
        rows = "".join(raw_audit_rows(type(obj), obj.pk) for obj in configured.values())

        assert leaked(rows) == []
        slack, pager = configured["slack"], configured["pager"]
        assert LogEntry.objects.get_for_object(slack).get().changes_dict["webhook_url"] == [
            "",
            "https://hooks.slack.com/…n123",
        ]
        assert LogEntry.objects.get_for_object(pager).get().changes_dict["routing_key"] == ["", "…0042"]

    def test_the_api_still_shows_secrets_masked(self, configured, admin):
        body = admin.get(reverse("api:channel-detail", args=[configured["pager"].pk])).json()
        assert body["secrets"] == {"routing_key": "…0042"}

    def test_the_admin_form_never_shows_the_url_and_keeps_it_when_left_empty(self, configured, client, make_user):
        client.force_login(make_user(Role.ADMIN, is_staff=True, is_superuser=True))
        cache = configured["cache"]
        change = reverse("admin:cluster_target_change", args=[cache.pk])
        form = {
            "name": "Cache", "slug": "cache", "kind": "redis", "environment": "staging", "enabled": "on",
            "min_replicas": "0", "max_replicas": "50", "url": "",
            "namespaces-TOTAL_FORMS": "0", "namespaces-INITIAL_FORMS": "0",
        }  # fmt: skip

        assert leaked(client.get(change).content.decode()) == []
        assert client.post(change, form | {"description": "kept"}).status_code == 302
        assert Target.objects.get(pk=cache.pk).url == REDIS_URL
        new_url = "redis://:redisPASSWORDrotated@cache.internal:6379/3"
        assert client.post(change, form | {"url": new_url}).status_code == 302
        assert Target.objects.get(pk=cache.pk).url == new_url
        assert leaked(raw_row(Target, cache.pk) + raw_audit_rows(Target, cache.pk)) == []

    def test_a_filter_on_a_secret_fails_instead_of_matching_nothing(self, configured):
        with pytest.raises(FieldError, match="Unsupported lookup"):
            Channel.objects.filter(webhook_url=WEBHOOK).exists()
        assert Channel.objects.filter(webhook_url__isnull=True).count() == 0

    def test_a_value_in_clear_is_refused_when_read(self, configured):
        store_in_clear(Channel, "routing_key", configured["pager"].pk, ROUTING_KEY)

        with pytest.raises(EncryptionKeyError, match="PagerDuty|stored in clear"):
            Channel.objects.get(name="PagerDuty")


class TestRotation:
    def test_rotating_moves_every_value_to_the_new_key(self, admin, settings):
        settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
        cache = configure(admin)["cache"]
        before = raw_value(Target, "url", cache.pk)

        settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
        out = rotate()
        again = rotate()
        settings.FIELD_ENCRYPTION_KEYS = [KEY_B]

        assert read_back() == PLAINTEXT
        assert raw_value(Target, "url", cache.pk) != before
        channels, rows = Channel.objects.count(), encrypted_rows()
        assert f"notifications.Channel: {channels} rows: 3 values re-encrypted, 0 encrypted from clear" in out
        assert f"Total: {rows} rows: 4 values re-encrypted, 0 encrypted from clear, 0 already current" in out
        assert f"Total: {rows} rows: 0 values re-encrypted, 0 encrypted from clear, 4 already current" in again

    def test_rotating_encrypts_a_value_left_in_clear(self, configured):
        store_in_clear(Channel, "auth_token", configured["sms"].pk, GATEWAY_TOKEN)

        out = rotate()

        assert "1 encrypted from clear" in out
        assert leaked(raw_row(Channel, configured["sms"].pk)) == []
        assert Channel.objects.get(name="SMS").auth_token == GATEWAY_TOKEN

    def test_batches_cover_every_row(self, configured):
        rows = encrypted_rows()
        assert f"Total: {rows} rows: 0 values re-encrypted, 0 encrypted from clear, 4 already current" in rotate(
            "--batch-size", "2"
        )

    def test_without_the_old_key_nothing_is_readable_and_rotation_says_which_rows(self, admin, settings):
        settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
        target = configure(admin)["cache"]
        stored = raw_value(Target, "url", target.pk)
        settings.FIELD_ENCRYPTION_KEYS = [KEY_B]

        with pytest.raises(EncryptionKeyError, match="No key in FIELD_ENCRYPTION_KEYS decrypts cluster.Target.url"):
            Target.objects.get(pk=target.pk)
        with pytest.raises(CommandError, match=rf"cluster.Target\(pk={target.pk}\).url"):
            rotate()
        assert raw_value(Target, "url", target.pk) == stored


def encrypted_rows() -> int:
    """Every row of every model with an encrypted field: what a rotation walks."""
    return sum(model.objects.count() for model in apps.get_models() if encrypted_fields(model))


def rotate(*args: str) -> str:
    out = StringIO()
    call_command("rotate_encryption_keys", *args, stdout=out)
    return out.getvalue()


class TestMigrations:
    def test_the_data_migrations_encrypt_rows_in_clear_and_decrypt_them_on_the_way_back(self, configured):
        editor = SimpleNamespace(connection=connection)
        slack, cache = configured["slack"], configured["cache"]
        store_in_clear(Channel, "webhook_url", slack.pk, WEBHOOK)
        store_in_clear(Target, "url", cache.pk, REDIS_URL)

        notifications_0003.encrypt(apps, editor)
        cluster_0002.encrypt(apps, editor)
        assert leaked(raw_row(Channel, slack.pk) + raw_row(Target, cache.pk)) == []
        assert read_back() == PLAINTEXT

        notifications_0003.decrypt(apps, editor)
        cluster_0002.decrypt(apps, editor)
        assert raw_value(Channel, "webhook_url", slack.pk) == WEBHOOK
        assert raw_value(Target, "url", cache.pk) == REDIS_URL

    def test_audit_entries_written_before_masking_are_masked(self, configured):
        slack = configured["slack"]
        entry = LogEntry.objects.get_for_object(slack).get()
        if connection.vendor == "postgresql":  # as it was before core's 0003 made audit history append-only
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE waits for no deferred checks
                cursor.execute("ALTER TABLE auditlog_logentry DISABLE TRIGGER USER")
        LogEntry.objects.filter(pk=entry.pk).update(
            changes={"webhook_url": ["", WEBHOOK], "routing_key": ["", "****************00000000000042"]}
        )

        notifications_0004.mask_audit_entries(apps, None)

        assert leaked(raw_audit_rows(Channel, slack.pk)) == []
        assert LogEntry.objects.get(pk=entry.pk).changes == {
            "webhook_url": ["", "https://hooks.slack.com/…n123"],
            "routing_key": ["", "…0042"],
        }


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_migrating_a_database_with_secrets_in_clear_encrypts_them():
    """The real migrations, backwards and forwards, on whichever database the suite runs on (PostgreSQL in CI)."""
    before = [("notifications", "0002_seed_channels_and_routing"), ("cluster", "0001_initial")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    slack = old.get_model("notifications", "Channel").objects.get(name="Slack #critical")
    slack.webhook_url = WEBHOOK
    slack.save()
    old.get_model("cluster", "Target").objects.create(
        name="Cache", slug="cache", kind="redis", environment="staging", url=REDIS_URL, min_replicas=0, max_replicas=1
    )
    assert raw_value(Channel, "webhook_url", slack.pk) == WEBHOOK

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    slack, cache = Channel.objects.get(name="Slack #critical"), Target.objects.get(slug="cache")
    assert leaked(raw_row(Channel, slack.pk) + raw_row(Target, cache.pk)) == []
    assert (slack.webhook_url, cache.url) == (WEBHOOK, REDIS_URL)
