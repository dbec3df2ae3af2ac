from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "portal.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from auditlog.registry import auditlog
        from django.contrib.auth.models import Group

        from portal.accounts.models import ApiToken, User

        auditlog.register(User, exclude_fields=["password", "last_login"], m2m_fields={"groups"})
        auditlog.register(Group, m2m_fields={"permissions"})
        auditlog.register(ApiToken, exclude_fields=["key_hash", "last_used_at"])
