from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "portal.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from auditlog.registry import auditlog
        from axes.signals import user_locked_out
        from django.contrib.auth.models import Group

        from portal.accounts.lockout import on_user_locked_out
        from portal.accounts.models import ApiToken, User

        user_locked_out.connect(on_user_locked_out, dispatch_uid="portal-audit-lockout")

        auditlog.register(User, exclude_fields=["password", "last_login"], m2m_fields={"groups"})
        auditlog.register(Group, m2m_fields={"permissions"})
        auditlog.register(ApiToken, exclude_fields=["key_hash", "last_used_at"])

        from portal.accounts.selectors import HOLDERS

        HOLDERS.invalidate_on_change(User, Group)  # a user's groups: User.groups' through model
