"""Single sign-on with OpenID Connect (mozilla-django-oidc), configured from the issuer alone: its discovery document
gives the endpoints. People are matched by the issuer's stable `sub`, never by email or username, so nobody at the
IdP can take over a local account (the break-glass admin's, say). Their roles follow the IdP's groups on every
sign-in (`user_sync_roles`): a group removed there is a role removed here at the next sign-in."""

import functools
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationRequestView

from portal.accounts.models import User
from portal.accounts.services import user_sync_roles


@functools.cache
def discovery() -> dict[str, Any]:
    """The issuer's OpenID configuration, fetched once per process."""
    issuer = settings.OIDC_OP_ISSUER
    response = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=settings.OIDC_TIMEOUT)
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    if document.get("issuer", "").rstrip("/") != issuer:
        raise ImproperlyConfigured(f"OIDC_OP_ISSUER is {issuer} but the provider calls itself {document.get('issuer')}")
    return document


class PortalOIDCBackend(OIDCAuthenticationBackend):  # type: ignore[misc]
    """Signs in whoever the provider vouches for (the callback's code), creating them the first time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The parent reads the endpoints from settings; here they come from the issuer's discovery document.
        ModelBackend.__init__(self, *args, **kwargs)
        from django.contrib.auth import get_user_model

        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None
        self.OIDC_OP_TOKEN_ENDPOINT = self.OIDC_OP_USER_ENDPOINT = self.OIDC_OP_JWKS_ENDPOINT = None

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> User | None:
        if not settings.OIDC_OP_ISSUER or not request or "code" not in request.GET:  # a password sign-in
            return None
        document = discovery()
        self.OIDC_OP_TOKEN_ENDPOINT = document["token_endpoint"]
        self.OIDC_OP_USER_ENDPOINT = document["userinfo_endpoint"]
        self.OIDC_OP_JWKS_ENDPOINT = document["jwks_uri"]
        user: User | None = super().authenticate(request, **kwargs)
        return user

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        return bool(claims.get("sub"))

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        return self.UserModel.objects.filter(oidc_subject=claims["sub"])

    def create_user(self, claims: dict[str, Any]) -> User:
        wanted = str(claims.get("preferred_username") or claims.get("email", "").split("@")[0] or "sso-user")[:100]
        username = wanted
        if self.UserModel.objects.filter(username=username).exists():
            username = f"{wanted}-{claims['sub'][:12]}"  # a local account keeps its name
        user: User = self.UserModel.objects.create_user(username=username, oidc_subject=claims["sub"])
        return self.update_user(user, claims)

    def update_user(self, user: User, claims: dict[str, Any]) -> User:
        changed = {
            field: value
            for field, value in {
                "email": claims.get("email", ""),
                "first_name": claims.get("given_name", ""),
                "last_name": claims.get("family_name", ""),
            }.items()
            if value and getattr(user, field) != value
        }
        if changed:
            for field, value in changed.items():
                setattr(user, field, value)
            user.save(update_fields=list(changed))
        groups = claims.get(settings.OIDC_GROUPS_CLAIM) or []
        if isinstance(groups, str):
            groups = [groups]
        user_sync_roles(user=user, idp_groups={str(group) for group in groups})
        return user


class PortalOIDCRequestView(OIDCAuthenticationRequestView):  # type: ignore[misc]
    """Sends the browser to the provider's authorization endpoint (404 while SSO is not configured)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID

    def get(self, request: HttpRequest) -> Any:
        if not settings.OIDC_OP_ISSUER:
            raise Http404("Single sign-on is not configured.")
        self.OIDC_OP_AUTH_ENDPOINT = discovery()["authorization_endpoint"]
        return super().get(request)


def provider_logout_url(request: HttpRequest) -> str:
    """Where signing out of the portal sends the browser: the provider's end-session endpoint, when it has one."""
    back = request.build_absolute_uri(reverse("login"))
    endpoint = discovery().get("end_session_endpoint")
    if not endpoint:
        return back
    params = {"post_logout_redirect_uri": back}
    if id_token := request.session.get("oidc_id_token"):
        params["id_token_hint"] = id_token
    return f"{endpoint}?{urlencode(params)}"


class LocalPasswordBackend(ModelBackend):
    """Passwords, unless PORTAL_LOCAL_LOGIN=0 turned them off: then only the break-glass accounts
    (PORTAL_BREAK_GLASS_USERS) sign in with one."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if not settings.PORTAL_LOCAL_LOGIN and username not in settings.PORTAL_BREAK_GLASS_USERS:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
