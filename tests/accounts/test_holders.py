"""Whom pickers offer for a role (portal.accounts.selectors.HOLDERS), kept: a change to a user, their groups or a
group shows at once, however it was made (the admin, SSO's role sync, the other side of the membership)."""

import pytest
from django.contrib.auth.models import Group

from portal.accounts.roles import Role, holders
from portal.accounts.selectors import holder_choices
from portal.accounts.services import user_sync_roles

pytestmark = pytest.mark.django_db


def offered(role: Role = Role.RESPONDER) -> list[str]:
    return [username for username, _label in holder_choices(role)]


def test_the_choices_are_the_holders_a_picker_offers(make_user):
    make_user(Role.RESPONDER, username="rami")
    make_user(Role.VIEWER, username="vic")
    make_user(Role.ADMIN, username="ada", first_name="Ada", last_name="Admin")
    assert holder_choices(Role.RESPONDER) == [(user.username, str(user)) for user in holders(Role.RESPONDER)]
    assert set(offered()) == {"rami", "ada"}
    assert offered(Role.ADMIN) == ["ada"]


def test_a_change_to_a_user_or_their_roles_shows_at_once(make_user, settings):
    rami, vic = make_user(Role.RESPONDER, username="rami"), make_user(Role.VIEWER, username="vic")
    assert offered() == ["rami"]
    Group.objects.get(name=Role.RESPONDER.value).user_set.add(vic)  # from the group's side
    assert set(offered()) == {"rami", "vic"}
    rami.is_active = False
    rami.save()
    assert offered() == ["vic"]
    vic.username = "victoria"
    vic.save()
    assert offered() == ["victoria"]
    settings.OIDC_ROLE_GROUPS = {Role.VIEWER.value: ["staff"]}
    user_sync_roles(user=vic, idp_groups={"staff"})  # SSO takes the Responder role away
    assert offered() == []
