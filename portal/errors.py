"""The domain error hierarchy. Services raise these; the API and htmx views turn them into 4xx answers."""


class ApplicationError(Exception):
    """A request the rules refuse. `field` names the input at fault, when there is one."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, extra: dict[str, object] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}


class ForbiddenError(ApplicationError):
    """The rules refuse this caller whatever their role (another person's item, approving their own request)."""

    status_code = 403


class NotFoundError(ApplicationError):
    status_code = 404


class ConflictError(ApplicationError):
    """The state changed under the caller (a stale version, a transition already taken)."""

    status_code = 409


class ChecklistOpenError(ConflictError):
    """A gating checklist has open items; `extra["open_items"]` lists them. An override reason lets the step past."""


class TooLargeError(ApplicationError):
    """The request is over a documented limit (a body, a batch); the message names the limit."""

    status_code = 413


class UpstreamError(ApplicationError):
    """A system the request relies on (a cluster's API) refused or failed it."""

    status_code = 502


class UnavailableError(ApplicationError):
    """A system the request relies on did not answer, or is not configured; trying later may work."""

    status_code = 503
