import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The worker's own Prometheus metrics (signal handlers; the server starts only with CELERY_METRICS_PORT).
import portal.core.worker_metrics  # noqa: E402, F401
