from django.db import models


class Environment(models.TextChoices):
    """The seeds' deployment environments, shared by freeze rules, deployments and cluster-action targets."""

    PRODUCTION = "production", "Production"
    STAGING = "staging", "Staging"
    DEVELOPMENT = "development", "Development"


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker ran the heartbeat task that beat schedules."""

    hostname = models.CharField(max_length=255, unique=True)
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"{self.hostname} @ {self.last_seen:%Y-%m-%d %H:%M:%S}Z"
