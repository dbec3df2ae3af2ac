import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Signal handlers: the worker's own Prometheus metrics (served only with CELERY_METRICS_PORT), and logs that carry the
# request id of the request that enqueued a task, formatted as Django's LOGGING says.
import portal.core.logs  # noqa: E402, F401
import portal.core.worker_metrics  # noqa: E402, F401
