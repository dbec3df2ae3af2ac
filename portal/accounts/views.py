from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCLogoutView

from portal.accounts.forms import ContactForm, TokenCreateForm
from portal.accounts.models import ApiToken
from portal.accounts.oidc import PortalOIDCRequestView
from portal.accounts.permissions import role_required
from portal.accounts.roles import Role
from portal.accounts.selectors import api_tokens, login_lockouts
from portal.accounts.services import (
    api_token_create,
    api_token_revoke,
    login_lockout_release,
    user_update_contact,
)
from portal.errors import ApplicationError


@require_http_methods(["GET", "POST"])
@role_required(Role.ADMIN)
def token_list(request: HttpRequest) -> HttpResponse:
    form = TokenCreateForm(request.POST or None)
    issued = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                issued = api_token_create(**form.cleaned_data, created_by=request.user)
            except ApplicationError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        if issued is None:
            status = 400
        else:
            form = TokenCreateForm()
    context = {"form": form, "tokens": api_tokens(), "issued": issued}
    return render(request, "accounts/token_list.html", context, status=status)


@require_POST
@role_required(Role.ADMIN)
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk)
    try:
        api_token_revoke(token=token)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Token {token.name!r} for {token.user} revoked.")
    return redirect("token-list")


@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """The signed-in user's own contact methods."""
    form = ContactForm(request.POST or None, instance=request.user)
    if request.method == "POST":
        if form.is_valid():
            user_update_contact(user=request.user, **{field: form.cleaned_data[field] for field in form.fields})
            messages.success(request, "Contact methods saved.")
            return redirect("profile")
        return render(request, "accounts/profile.html", {"form": form}, status=400)
    return render(request, "accounts/profile.html", {"form": form})


@require_GET
@role_required(Role.ADMIN)
def lockout_list(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/lockout_list.html", {"lockouts": login_lockouts(now=timezone.now())})


@require_POST
@role_required(Role.ADMIN)
def lockout_release(request: HttpRequest) -> HttpResponse:
    username, ip_address = request.POST.get("username", ""), request.POST.get("ip_address", "")
    try:
        released = login_lockout_release(actor=request.user, username=username, ip_address=ip_address)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        who = " from ".join(part for part in (username.strip(), ip_address.strip()) if part)
        messages.success(request, f"Unlocked {who}: {released} failed sign-in record(s) cleared.")
    return redirect("lockout-list")


# Single sign-on (portal.accounts.oidc): the views mozilla-django-oidc provides, public like the login page.
oidc_authenticate = login_not_required(PortalOIDCRequestView.as_view())
oidc_callback = login_not_required(OIDCAuthenticationCallbackView.as_view())
_local_logout = LogoutView.as_view()
_sso_logout = OIDCLogoutView.as_view()


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Sign out; someone who came through SSO is signed out at the provider too."""
    if settings.OIDC_OP_ISSUER and "oidc_id_token" in request.session:
        return _sso_logout(request)  # type: ignore[no-any-return]
    return _local_logout(request)  # type: ignore[no-any-return]


class PortalLoginView(LoginView):
    """The sign-in page: single sign-on when configured, and the password form (only for the break-glass accounts
    once PORTAL_LOCAL_LOGIN=0)."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(**kwargs) | {
            "sso_enabled": bool(settings.OIDC_OP_ISSUER),
            "local_login": settings.PORTAL_LOCAL_LOGIN,
            "sso_failed": self.request.GET.get("sso") == "failed",
        }
