"""On PostgreSQL, audit history becomes append-only for every role but the maintenance role.

A trigger, not a GRANT: the application's role usually owns its tables (it runs the migrations), and an owner, like
a superuser, gets past privileges but not triggers. The role is compared by name with `current_user`, so neither a
superuser nor a member of the maintenance role is exempt until it `SET ROLE`s to it. SQLite has no roles: there the
hash chain alone makes changes evident.
"""

from django.conf import settings
from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION portal_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_user = TG_ARGV[0] THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    -- Deleting a user empties actor_id on its entries (ON DELETE SET NULL); their seals keep who it was.
    -- (Through to_jsonb: NEW.actor_id would not even compile for the other tables.)
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'auditlog_logentry' THEN
        IF to_jsonb(NEW) -> 'actor_id' = 'null'::jsonb AND to_jsonb(NEW) - 'actor_id' = to_jsonb(OLD) - 'actor_id' THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit history is append-only: % on % refused for role %', TG_OP, TG_TABLE_NAME, current_user
        USING ERRCODE = 'insufficient_privilege',
              HINT = format('Only the role %s may change or prune audit rows (manage.py audit_prune).', TG_ARGV[0]);
END
$$
"""
# Entries and seals may only be appended; anchors are written by audit_prune alone.
TRIGGERS = {
    ("auditlog", "LogEntry"): "UPDATE OR DELETE",
    ("core", "AuditSeal"): "UPDATE OR DELETE",
    ("core", "AuditAnchor"): "INSERT OR UPDATE OR DELETE",
}


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    role = settings.AUDIT_MAINTENANCE_ROLE  # a plain identifier: settings check it
    schema_editor.execute(FUNCTION, params=None)  # no placeholders: its % are PL/pgSQL's
    for (app_label, model), events in TRIGGERS.items():
        table = schema_editor.quote_name(apps.get_model(app_label, model)._meta.db_table)
        schema_editor.execute(
            f"CREATE TRIGGER portal_audit_append_only BEFORE {events} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION portal_audit_append_only('{role}')"
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for app_label, model in TRIGGERS:
        table = schema_editor.quote_name(apps.get_model(app_label, model)._meta.db_table)
        schema_editor.execute(f"DROP TRIGGER IF EXISTS portal_audit_append_only ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS portal_audit_append_only()")


class Migration(migrations.Migration):
    dependencies = [
        ("auditlog", "0017_add_actor_email"),
        ("core", "0002_audit_chain"),
    ]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
