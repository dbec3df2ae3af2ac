import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from portal import kube
from portal.accounts.roles import Role
from portal.core.models import WorkerHeartbeat
from tests.servers import free_port, http_server, smtp_server

SMTP = "django.core.mail.backends.smtp.EmailBackend"
ROOT = Path(__file__).resolve().parents[2]


def test_health_is_public_and_reads_nothing(api_client, django_assert_num_queries, db):
    with django_assert_num_queries(0):
        response = api_client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_detailed_health_requires_authentication(api_client, db):
    response = api_client.get("/api/health/detailed")
    assert response.status_code == 401


def test_detailed_health_reports_each_component(token_client):
    WorkerHeartbeat.objects.create(hostname="celery@box", last_seen=timezone.now() - timedelta(seconds=10))

    response = token_client(Role.VIEWER).get("/api/health/detailed")

    assert response.status_code == 200
    body = response.json()
    assert set(body["components"]) == {"database", "broker", "worker", "kubernetes", "email", "audit"}
    assert body["components"]["database"]["status"] == "ok"
    assert body["components"]["database"]["latency_ms"] >= 0
    assert body["components"]["broker"]["status"] == "ok"
    assert body["components"]["worker"] == {
        "status": "ok",
        "detail": "celery@box",
        "last_seen": body["components"]["worker"]["last_seen"],
    }
    assert body["components"]["kubernetes"]["status"] == "not_configured"
    assert body["components"]["audit"]["status"] == "ok"
    assert body["components"]["audit"]["detail"].startswith("intact through entry")
    assert body["status"] == "ok"


def test_a_silent_worker_degrades_but_does_not_fail_health(token_client):
    WorkerHeartbeat.objects.create(hostname="celery@old", last_seen=timezone.now() - timedelta(minutes=10))

    response = token_client(Role.VIEWER).get("/api/health/detailed")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    worker = response.json()["components"]["worker"]
    assert worker["status"] == "down"
    assert "celery@old" in worker["detail"]


def test_no_worker_ever_is_reported(token_client):
    worker = token_client(Role.VIEWER).get("/api/health/detailed").json()["components"]["worker"]
    assert worker["status"] == "down"
    assert "No worker has answered" in worker["detail"]


def test_broker_down_answers_503(token_client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}

    response = token_client(Role.VIEWER).get("/api/health/detailed")

    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["components"]["broker"]["status"] == "down"
    assert response.json()["components"]["database"]["status"] == "ok"


def test_email_probe_talks_smtp(token_client, settings):
    settings.EMAIL_BACKEND = SMTP
    with smtp_server() as smtp:
        settings.EMAIL_HOST, settings.EMAIL_PORT = smtp.host, smtp.port
        email = token_client(Role.VIEWER).get("/api/health/detailed").json()["components"]["email"]
    assert email["status"] == "ok"
    assert email["detail"] == f"127.0.0.1:{smtp.port}"


def test_email_down_is_reported(token_client, settings):
    settings.EMAIL_BACKEND = SMTP
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()

    response = token_client(Role.VIEWER).get("/api/health/detailed")

    assert response.status_code == 200
    assert response.json()["components"]["email"]["status"] == "down"
    assert response.json()["status"] == "degraded"


def write_kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters: [{{name: sim, cluster: {{server: "{server}"}}}}]
users: [{{name: ops, user: {{token: sim-token}}}}]
contexts: [{{name: sim, context: {{cluster: sim, user: ops}}}}]
current-context: sim
"""
    )
    return path


def test_kubernetes_probe_asks_the_api_server_for_its_version(token_client, settings, tmp_path):
    version = {
        "major": "1",
        "minor": "31",
        "gitVersion": "v1.31.0-sim",
        "gitCommit": "0" * 40,
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23",
        "compiler": "gc",
        "platform": "linux/amd64",
    }
    with http_server({("GET", "/version/"): (200, version), ("GET", "/version"): (200, version)}) as api:
        settings.KUBECONFIG = str(write_kubeconfig(tmp_path / "kubeconfig", api.url))
        kube._api_client.cache_clear()
        component = token_client(Role.VIEWER).get("/api/health/detailed").json()["components"]["kubernetes"]
    assert component["status"] == "ok"
    assert component["detail"] == "v1.31.0-sim"
    assert api.requests[0].headers["authorization"] == "Bearer sim-token"


def test_kubernetes_unreachable_is_reported(token_client, settings, tmp_path):
    settings.KUBECONFIG = str(write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{free_port()}"))
    settings.KUBE_REQUEST_TIMEOUT = 2
    kube._api_client.cache_clear()

    component = token_client(Role.VIEWER).get("/api/health/detailed").json()["components"]["kubernetes"]

    assert component["status"] == "down"


@pytest.mark.parametrize("path", ["/api/health", "/api/health/"])
def test_health_answers_with_or_without_slash(api_client, path, db):
    assert api_client.get(path).status_code == 200


def test_database_down_answers_503_not_500(tmp_path):
    """With the database unreachable even authentication cannot run; the API says 503, as monitors expect."""
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "r = Client().get('/api/health/detailed', HTTP_AUTHORIZATION='Token whatever')\n"
        "print(r.status_code, r.json()['detail'])\n"
        "print(Client().get('/api/health').status_code)\n"
    )
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/nowhere",
        "PORTAL_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.splitlines() == ["503 The database is unavailable; try again shortly.", "200"], result.stderr
