"""django-axes glue: the lockout page, and the audit entry when a lockout begins. Settings: portal/settings.py."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from portal.accounts.services import login_lockout_audit


def lockout_response(request: HttpRequest, original_response: HttpResponse | None, credentials: Any) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a 429 page saying what happened and when to try again, for the sign-in form and the
    admin's alike."""
    cool_off = settings.AXES_COOLOFF_TIME
    context = {"cool_off_minutes": max(round(cool_off.total_seconds() / 60), 1)}
    response = render(request, "accounts/locked_out.html", context, status=429)
    # The lockout ends a cool-off after the failure that started it: at most this long from now.
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response


def on_user_locked_out(
    sender: object, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    """axes' `user_locked_out`: audit the lockout once, when it begins. Axes also signals each refused retry during a
    lockout; those come without a failure count (`axes_failures_since_start` is None) and are not audited again."""
    if getattr(request, "axes_failures_since_start", None) is None:
        return
    login_lockout_audit(
        username=username, ip_address=ip_address, user_agent=getattr(request, "axes_user_agent", ""), now=timezone.now()
    )
