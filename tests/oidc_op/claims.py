from django.utils.translation import gettext_lazy as _
from oidc_provider.lib.claims import ScopeClaims


class GroupClaims(ScopeClaims):
    """The `groups` scope: the user's Django groups, as an IdP's group claim."""

    info_groups = (_("Groups"), _("Your groups."))

    def scope_groups(self) -> dict[str, list[str]]:
        return {"groups": sorted(self.user.groups.values_list("name", flat=True))}
