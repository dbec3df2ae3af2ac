"""The portal's roles and the one check every view and API endpoint uses.

Roles are Django groups ranked Viewer < Responder < Incident Commander < Admin; a higher role
includes every lower one. Superusers hold every role.
"""

from django.contrib.auth.models import AnonymousUser
from django.db import models
from django.db.models import Q, QuerySet

from portal.accounts.models import User


class Role(models.TextChoices):
    VIEWER = "Viewer"
    RESPONDER = "Responder"
    INCIDENT_COMMANDER = "Incident Commander"
    ADMIN = "Admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


def user_roles(user: User | AnonymousUser) -> set[Role]:
    """Every role the user holds, including those implied by a higher one."""
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return set(Role)
    names = getattr(user, "_portal_group_names", None)
    if names is None:
        names = set(user.groups.values_list("name", flat=True))
        user._portal_group_names = names  # cached per request object
    held = [role for role in Role if role.value in names]
    if not held:
        return set()
    top = max(role.rank for role in held)
    return {role for role in Role if role.rank <= top}


def has_role(user: User | AnonymousUser, role: Role) -> bool:
    return role in user_roles(user)


def highest_role(user: User | AnonymousUser) -> Role | None:
    roles = user_roles(user)
    return max(roles, key=lambda role: role.rank) if roles else None


def holders(role: Role) -> QuerySet[User]:
    """Active users holding `role`, directly or through a higher one: whom a picker offers for it."""
    names = [held.value for held in Role if held.rank >= role.rank]
    return User.objects.filter(Q(is_superuser=True) | Q(groups__name__in=names), is_active=True).distinct()
