"""Prometheus metrics of the portal itself: request latency by view and status, measured in the web process, and
gauges read from the database and the broker when Prometheus scrapes `/metrics`.

Several processes (gunicorn workers, Celery's prefork children) each count their own requests and tasks: with
`PROMETHEUS_MULTIPROC_DIR` set (the container does), prometheus_client keeps those counts in files there and the scrape
adds them up; without it (`make run`, tests) the process's own registry answers.
"""

import hmac
import ipaddress
import os
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from kombu import Connection
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

REQUEST_DURATION = Histogram(
    "portal_http_request_duration_seconds",
    "Time to answer an HTTP request, by view, method and status (its _count is the request count).",
    ["view", "method", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class RequestMetricsMiddleware:
    """Outermost middleware: times every request. The view's URL name is the label (never the path, whose ids would
    make a series per object)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        view = (match.view_name or match._func_path) if match else "<unresolved>"
        REQUEST_DURATION.labels(view, request.method or "", str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response


class PortalCollector(Collector):
    """The portal's state, read at scrape time: a handful of grouped queries, whatever the data's size."""

    def collect(self) -> Iterator[Metric]:
        from incidents.models import Incident
        from portal.cluster.models import ActionRun
        from portal.core.models import WorkerHeartbeat
        from portal.core.selectors import audit_chain_state
        from portal.notifications.models import Delivery

        now = timezone.now()
        open_incidents = Incident.objects.exclude(
            status__in=[Incident.Status.RESOLVED, Incident.Status.REVIEW, Incident.Status.CLOSED]
        )
        by_severity = GaugeMetricFamily("portal_incidents_open", "Open incidents by severity.", labels=["severity"])
        for severity in open_incidents.values("severity__code").annotate(n=Count("pk")).order_by("severity__code"):
            by_severity.add_metric([severity["severity__code"]], severity["n"])
        yield by_severity
        yield GaugeMetricFamily(
            "portal_incidents_unacknowledged",
            "Open incidents nobody has acknowledged.",
            value=open_incidents.filter(acknowledged_at__isnull=True).count(),
        )

        deliveries = GaugeMetricFamily(
            "portal_notification_deliveries",
            "Notification deliveries by channel and state (failed ones stay until retried).",
            labels=["channel", "state"],
        )
        for row in (
            Delivery.objects.exclude(status=Delivery.Status.DELIVERED)
            .values("channel__name", "status")
            .annotate(n=Count("pk"))
            .order_by("channel__name", "status")
        ):
            deliveries.add_metric([row["channel__name"], row["status"]], row["n"])
        yield deliveries

        runs = GaugeMetricFamily("portal_action_runs", "Cluster action runs by state.", labels=["state"])
        counts = dict(ActionRun.objects.values_list("status").annotate(n=Count("pk")).order_by())
        for state in ActionRun.Status.values:
            runs.add_metric([state], counts.get(state, 0))
        yield runs

        # Beat schedules the heartbeat beside the sweeps and a worker runs it: its age is how long ago beat and a
        # worker last did their periodic work together. (Each task's own last success is in the worker's metrics.)
        last_beat = WorkerHeartbeat.objects.aggregate(last=Max("last_seen"))["last"]
        if last_beat is not None:
            yield GaugeMetricFamily(
                "portal_beat_heartbeat_age_seconds",
                "Seconds since a worker last ran beat's scheduled heartbeat.",
                value=(now - last_beat).total_seconds(),
            )

        depth = queue_depth(CELERY_QUEUE)
        if depth is not None:
            queue = GaugeMetricFamily(
                "portal_celery_queue_depth", "Messages waiting in a Celery queue.", labels=["queue"]
            )
            queue.add_metric([CELERY_QUEUE], depth)
            yield queue
        chain = audit_chain_state(now=now)
        yield GaugeMetricFamily("portal_audit_chain_ok", "1 while the audit hash chain verifies.", value=int(chain.ok))


CELERY_QUEUE = "celery"  # Celery's default queue, the only one the portal uses


def queue_depth(queue: str) -> int | None:
    """Messages waiting in the broker's queue, or None when the broker cannot say (it is down). (Declaring a queue
    Celery declares anyway: a passive declare fails before the first message.)"""
    try:
        with Connection(
            settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS, connect_timeout=2
        ) as conn:
            return int(conn.default_channel.queue_declare(queue=queue).message_count)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a broker that cannot answer is reported by the absent series (and by health)
        return None


def scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(REGISTRY)
    registry.register(PortalCollector())
    return registry


def metrics_allowed(request: HttpRequest) -> bool:
    """A bearer token equal to METRICS_TOKEN, or a direct client inside METRICS_ALLOWED_NETWORKS. A request a proxy
    relayed (X-Forwarded-For) is never direct: behind an Ingress, REMOTE_ADDR is the controller's in-cluster address,
    which the allow-list would otherwise let anyone on the internet borrow."""
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode()):
        return True
    if "HTTP_X_FORWARDED_FOR" in request.META:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_NETWORKS)


def metrics_response(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return HttpResponse(
            "Forbidden: a METRICS_TOKEN bearer token or an allowed address is needed.\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
