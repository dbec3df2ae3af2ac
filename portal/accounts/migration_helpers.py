"""Used by data migrations of every app to give the role groups their model permissions."""

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.management import create_permissions


def grant_permissions(apps: Any, grants: dict[str, Iterable[str]]) -> None:
    """Add permissions ("app_label.codename") to role groups, creating groups and permissions as needed.

    Permissions are normally created after all migrations ran; create them now so a fresh database gets
    the grants in the same `migrate`.
    """
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, perms in grants.items():
        group, _ = group_model.objects.get_or_create(name=role)
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.add(permission_model.objects.get(content_type__app_label=app_label, codename=codename))
