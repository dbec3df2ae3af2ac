"""Logs: one JSON object per line in production (`LOG_FORMAT=json`, the default without DEBUG), readable lines for
`make run` (`console`). Every line carries the request id (`X-Request-ID`, or a new one) and the user of the request
it belongs to; a task enqueued during a request carries that request id too. Secrets are masked on the way out.

Everything logs through the standard library; structlog only formats (`ProcessorFormatter`), so Django's, Celery's
and the libraries' records come out the same way.
"""

import logging
import re
import time
import uuid
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog
from celery import signals
from django.http import HttpRequest, HttpResponseBase

logger = logging.getLogger("portal.request")
MASK = "****"
# Fields whose whole value is secret, whatever it looks like.
SECRET_FIELD = re.compile(
    r"pass(word|wd)?|secret|token|authorization|cookie|api_?key|routing_?key|webhook|kubeconfig|client_?key|"
    r"credential|private",
    re.IGNORECASE,
)
# Secrets inside free text: messages, exceptions, URLs.
SECRET_TEXT = [
    (re.compile(r"\b(Bearer|Token|Basic)\s+[\w.~+/=-]{6,}", re.IGNORECASE), rf"\1 {MASK}"),
    (re.compile(r"\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE), rf"\1{MASK}@"),  # URL passwords
    (re.compile(r"(https://hooks\.slack\.com/)\S+"), rf"\1{MASK}"),  # the key is the webhook URL's path
    (re.compile(r"(/oncall/calendar/)[^/\s.]+"), rf"\1{MASK}"),  # the feed's secret token
    (
        re.compile(r"([?&](?:token|key|secret|password|sig|signature|api_key|access_token|code)=)[^&\s\"']+", re.I),
        rf"\1{MASK}",
    ),
    (  # kubeconfig and JSON bodies: `client-key-data: ...`, `"routing_key": "..."`
        re.compile(
            r"((?:client-key|client-certificate|certificate-authority)-data|\btoken|password|routing_key|secret)"
            r"([\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+",
            re.IGNORECASE,
        ),
        rf"\1\2{MASK}",
    ),
]
REQUEST_ID = re.compile(r"[\w.-]{1,64}")


def mask_text(text: str) -> str:
    for pattern, replacement in SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


def mask_secrets(_logger: object, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: secret fields hidden whole, secrets in text hidden where they stand."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = MASK if value and SECRET_FIELD.search(key) else mask_text(value)
        elif value is not None and SECRET_FIELD.search(key) and not isinstance(value, bool | int | float):
            event[key] = MASK
    return event


def _pre_chain() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def formatter(format: str = "json") -> structlog.stdlib.ProcessorFormatter:  # noqa: A002 - dictConfig's key
    """The formatter LOGGING names: `json` (one object per line) or `console` (for people)."""
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    processors: list[Any] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if format == "json":
        processors.append(structlog.processors.format_exc_info)  # the console renderer prints tracebacks itself
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_pre_chain(), processors=[*processors, mask_secrets, renderer]
    )


class RequestLogMiddleware:
    """Binds a request id (the caller's `X-Request-ID` when well-formed, else a new one) and the user to every line
    logged while the request runs, answers with the id, and logs one line per request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        structlog.contextvars.clear_contextvars()  # a thread serves many requests
        given = request.headers.get("X-Request-ID", "")
        request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            self._bind_user(request)  # DRF authenticates tokens inside the view
            match = request.resolver_match
            logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "view": match.view_name if match else None,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            response["X-Request-ID"] = request_id
            return response
        finally:
            structlog.contextvars.clear_contextvars()

    def process_view(self, request: HttpRequest, *args: object) -> None:
        self._bind_user(request)

    @staticmethod
    def _bind_user(request: HttpRequest) -> None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            structlog.contextvars.bind_contextvars(user=user.get_username())


@signals.before_task_publish.connect
def _send_request_id(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    context = structlog.contextvars.get_contextvars()
    if headers is not None:
        for key in ("request_id", "user"):
            if key in context:
                headers[f"portal_{key}"] = context[key]


@signals.task_prerun.connect
def _bind_task(task_id: str, task: Any, **kwargs: Any) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(task_id=task_id, task=task.name)
    for key in ("request_id", "user"):
        if value := getattr(task.request, f"portal_{key}", None):
            structlog.contextvars.bind_contextvars(**{key: value})


@signals.task_postrun.connect
def _unbind_task(**kwargs: Any) -> None:
    structlog.contextvars.clear_contextvars()


@signals.setup_logging.connect
def _django_logging(**kwargs: Any) -> None:
    """Worker and beat log with Django's LOGGING (JSON or console) rather than Celery's own format."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
    logging.captureWarnings(True)  # warnings.warn (Celery's superuser warning, deprecations) as log lines too
