"""Who may do what with rotations. Services enforce these; pages and the API ask them to show or hide controls."""

from datetime import datetime

from django.contrib.auth.models import AnonymousUser

from oncall.models import CalendarFeed, HandoffItem, Rotation, Swap
from oncall.selectors import member_ids
from portal.accounts.models import User
from portal.accounts.roles import Role, has_role

AnyUser = User | AnonymousUser


def may_be_on_call(user: User) -> bool:
    """On-call people respond to incidents: an active account holding the Responder role or higher."""
    return user.is_active and has_role(user, Role.RESPONDER)


def can_edit_rotations(user: AnyUser) -> bool:
    return has_role(user, Role.ADMIN)


def is_member(user: AnyUser, rotation: Rotation, *, now: datetime) -> bool:
    """On the rotation now or in a version already scheduled."""
    return user.is_authenticated and user.pk in member_ids(rotation, at=now)


def can_manage_overrides(user: AnyUser, rotation: Rotation, *, now: datetime) -> bool:
    """Admins, and the rotation's own people arranging cover among themselves."""
    return can_edit_rotations(user) or (has_role(user, Role.RESPONDER) and is_member(user, rotation, now=now))


def can_request_swap(user: AnyUser, rotation: Rotation, *, now: datetime) -> bool:
    return has_role(user, Role.VIEWER) and is_member(user, rotation, now=now)


def can_decide_swap(user: AnyUser, swap: Swap) -> bool:
    """The other party, or an Admin, accepts or declines."""
    return user.is_authenticated and (user.pk == swap.counterparty_id or can_edit_rotations(user))


def can_cancel_swap(user: AnyUser, swap: Swap) -> bool:
    return user.is_authenticated and (user.pk == swap.requester_id or can_edit_rotations(user))


def can_tick(user: AnyUser, item: HandoffItem) -> bool:
    """Each person ticks only their own side of the handoff."""
    handoff = item.handoff
    owner_id = handoff.outgoing_id if item.side == HandoffItem.Side.OUTGOING else handoff.incoming_id
    return user.is_authenticated and owner_id is not None and user.pk == owner_id


def can_revoke_feed(user: AnyUser, feed: CalendarFeed) -> bool:
    return user.is_authenticated and (user.pk == feed.owner_id or can_edit_rotations(user))
