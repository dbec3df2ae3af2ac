"""Component checks behind /api/health/detailed. Each returns a `ComponentHealth`; none writes anything."""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings
from django.core.mail import get_connection
from django.db import DatabaseError, connection
from django.utils import timezone
from kombu import Connection

from portal import kube
from portal.core.models import WorkerHeartbeat
from portal.core.selectors import audit_chain_state

OK, DOWN, DEGRADED, NOT_CONFIGURED = "ok", "down", "degraded", "not_configured"
# Without these the portal cannot record or hand off work: their failure makes the whole answer a 503.
CRITICAL_COMPONENTS = {"database", "broker"}
CHECK_TIMEOUT = 3.0


@dataclass
class ComponentHealth:
    status: str
    latency_ms: float | None = None
    detail: str = ""
    last_seen: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return {key: value for key, value in asdict(self).items() if value is not None and value != ""}


def _timed(probe: Callable[[], str]) -> ComponentHealth:
    started = time.perf_counter()
    try:
        detail = probe()
    except Exception as exc:  # noqa: BLE001 - any failure of a probe is that component being down
        return ComponentHealth(DOWN, _elapsed_ms(started), f"{type(exc).__name__}: {exc}"[:300])
    return ComponentHealth(OK, _elapsed_ms(started), detail)


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def check_database() -> ComponentHealth:
    def probe() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return connection.vendor

    return _timed(probe)


def check_broker() -> ComponentHealth:
    def probe() -> str:
        with Connection(
            settings.CELERY_BROKER_URL,
            transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
            connect_timeout=CHECK_TIMEOUT,
        ) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=CHECK_TIMEOUT)
            if conn.transport_cls == "filesystem":
                return f"filesystem queue in {conn.transport_options['data_folder_in']}"
            return conn.as_uri()  # the password, if any, is masked

    return _timed(probe)


def check_worker(*, now: datetime | None = None) -> ComponentHealth:
    now = now or timezone.now()
    try:
        beat = WorkerHeartbeat.objects.order_by("-last_seen").first()
    except DatabaseError as exc:
        return ComponentHealth(DOWN, detail=f"Cannot read heartbeats: {exc}"[:300])
    if beat is None:
        return ComponentHealth(DOWN, detail="No worker has answered yet (is the worker running, and beat?).")
    age = (now - beat.last_seen).total_seconds()
    if age > settings.WORKER_HEARTBEAT_STALE_AFTER:
        return ComponentHealth(
            DOWN, detail=f"Last answer {age:.0f}s ago from {beat.hostname}.", last_seen=beat.last_seen
        )
    return ComponentHealth(OK, detail=beat.hostname, last_seen=beat.last_seen)


def check_kubernetes() -> ComponentHealth:
    if not settings.KUBECONFIG:
        return ComponentHealth(NOT_CONFIGURED, detail="KUBECONFIG is not set.")
    return _timed(lambda: kube.server_version().git_version)


def check_email() -> ComponentHealth:
    backend = settings.EMAIL_BACKEND
    if backend != "django.core.mail.backends.smtp.EmailBackend":
        return ComponentHealth(OK, detail=f"not SMTP: {backend.rsplit('.', 2)[-2]}")

    def probe() -> str:
        smtp = get_connection(fail_silently=False, timeout=CHECK_TIMEOUT)
        smtp.open()
        smtp.close()
        return f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"

    return _timed(probe)


def check_audit(*, now: datetime | None = None) -> ComponentHealth:
    """The audit chain: the last full verification (beat's) and the links added since."""
    now = now or timezone.now()
    try:
        state = audit_chain_state(now=now)
    except DatabaseError as exc:
        return ComponentHealth(DOWN, detail=f"Cannot read the audit chain: {exc}"[:300])
    return ComponentHealth(OK if state.ok else DOWN, detail=state.detail[:300], last_seen=state.verified_at)


CHECKS: dict[str, Callable[[], ComponentHealth]] = {
    "database": check_database,
    "broker": check_broker,
    "worker": check_worker,
    "kubernetes": check_kubernetes,
    "email": check_email,
    "audit": check_audit,
}


def detailed_health() -> tuple[str, dict[str, ComponentHealth]]:
    """The overall status (ok, degraded or down) and each component's health."""
    components = {name: check() for name, check in CHECKS.items()}
    if any(components[name].status == DOWN for name in CRITICAL_COMPONENTS):
        return DOWN, components
    if any(component.status == DOWN for component in components.values()):
        return DEGRADED, components
    return OK, components
