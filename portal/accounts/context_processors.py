from django.http import HttpRequest

from portal.accounts.roles import Role, highest_role, user_roles


def roles(request: HttpRequest) -> dict[str, object]:
    held = user_roles(request.user)
    return {
        "user_role": highest_role(request.user),
        "is_admin": Role.ADMIN in held,
        "is_responder": Role.RESPONDER in held,
        "is_commander": Role.INCIDENT_COMMANDER in held,
    }
