from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from portal.accounts.models import ApiToken, User
from portal.accounts.services import api_token_authenticate
from portal.core.audit import bind_actor


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>` against hashed `ApiToken` rows."""

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid token header: expected 'Token <key>'."))
        try:
            key = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed(_("Invalid token header: the key must be ASCII.")) from exc
        token = api_token_authenticate(key=key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked token."))
        # The audit middleware ran before DRF authenticated the request; give it the real actor.
        bind_actor(token.user)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
