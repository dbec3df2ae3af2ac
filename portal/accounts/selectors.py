from django.db.models import QuerySet

from portal.accounts.models import ApiToken


def api_tokens(*, include_revoked: bool = True) -> QuerySet[ApiToken]:
    tokens = ApiToken.objects.select_related("user", "created_by").order_by("revoked_at", "-created_at")
    return tokens if include_revoked else tokens.filter(revoked_at__isnull=True)
