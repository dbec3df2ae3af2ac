"""Benchmark Alertmanager intake on PostgreSQL through gunicorn: a payload of new alerts in groups, the same payload
again (dedup), and the payload resolving them all.

    createdb -h 127.0.0.1 -U postgres portal_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench .venv/bin/python bench/alert_intake.py \
        [--alerts 2000] [--groups 100] [--workers 2] [--timeout 60] [--rounds 3]

Workers are warmed up first (a few small payloads). Each round uses a fresh integration (grouping by the `service`
label, one service per group) and fresh fingerprints, so "new" is new every time. gunicorn runs with DEBUG=0 on a
free port; the query counts come from one extra in-process round through Django's test client. Prints wall time per
payload, alerts per second and queries.
"""

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("PORTAL_ENV_FILE", "")

import django  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from incidents.alert_services import integration_create  # noqa: E402
from incidents.models import Integration  # noqa: E402

WEBHOOK = "/api/v1/integrations/alertmanager/"


def build(run: str, alerts: int, groups: int) -> tuple[dict[str, object], dict[str, object]]:
    """(firing payload, resolved payload): alert n is in group n % groups (its `service` label)."""
    starts = datetime(2026, 11, 24, 9, 30, tzinfo=UTC).isoformat().replace("+00:00", "Z")
    ends = datetime(2026, 11, 24, 9, 45, tzinfo=UTC).isoformat().replace("+00:00", "Z")
    firing = []
    for n in range(alerts):
        labels = {
            "alertname": f"HighLatency{n // groups}",
            "service": f"svc-{n % groups:03d}",
            "instance": f"10.0.{n // 250}.{n % 250}:9100",
            "severity": "warning",
            "run": run,
        }
        firing.append({
            "status": "firing", "labels": labels, "annotations": {"summary": f"p99 latency above 1 s on {n}"},
            "startsAt": starts, "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=latency", "fingerprint": f"{run}{n:08x}",
        })  # fmt: skip
    body = {"version": "4", "groupKey": "{}:{service=~\".*\"}", "status": "firing", "receiver": "portal",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093",
            "truncatedAlerts": 0, "alerts": firing}  # fmt: skip
    resolved = [{**alert, "status": "resolved", "endsAt": ends} for alert in firing]
    return body, {**body, "status": "resolved", "alerts": resolved}


def new_integration(name: str) -> str:
    issued = integration_create(name=name, created_by=None)
    if hasattr(Integration, "grouping_labels"):  # the grouping branch: one group per service label
        Integration.objects.filter(pk=issued.integration.pk).update(grouping_labels=["service"])
    return issued.token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(port: int, token: str, body: bytes) -> tuple[int, float, dict[str, object]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{WEBHOOK}",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310 - our own local server
            status, text = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError) as exc:  # a worker killed by gunicorn's timeout
        return 0, time.perf_counter() - started, {"error": str(exc)}
    elapsed = time.perf_counter() - started
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = {"body": text[:200].decode(errors="replace")}
    return status, elapsed, parsed


def warm(port: int, workers: int) -> None:
    """Each worker imports the URLconf (and with it the Kubernetes client, seconds) on its first request."""
    token = new_integration(f"bench-warm-{secrets.token_hex(3)}")
    body = json.dumps(build(secrets.token_hex(3), 20, 2)[0]).encode()
    threads = [threading.Thread(target=post, args=(port, token, body)) for _ in range(workers * 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def count_queries(client: Client, body: dict[str, object]) -> tuple[int, int]:
    queries: list[str] = []

    def record(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        response = client.post(WEBHOOK, json.dumps(body), content_type="application/json")
    return response.status_code, len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=60, help="gunicorn's worker timeout (s)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database: this benchmark is about PostgreSQL.")
    call_command("migrate", verbosity=0)
    settings.ALLOWED_HOSTS = ["testserver"]

    port = free_port()
    env = {
        **os.environ, "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0", "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }  # fmt: skip
    command = [sys.executable, "-m", "gunicorn", "portal.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(args.workers),
               "--timeout", str(args.timeout), "--log-level", "warning"]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        warm(port, args.workers)
        print(f"gunicorn -w {args.workers} --timeout {args.timeout}; {args.alerts} alerts in {args.groups} groups")  # noqa: T201
        for round_ in range(args.rounds):
            run = secrets.token_hex(3)
            token = new_integration(f"bench-{run}")
            firing, resolved = build(run, args.alerts, args.groups)
            line = []
            for name, body in (("new", firing), ("dedup", firing), ("resolve", resolved)):
                status, elapsed, answer = post(port, token, json.dumps(body).encode())
                counts = {key: answer.get(key) for key in ("opened", "attached", "updated", "resolved", "unchanged")}
                counts = {key: value for key, value in counts.items() if value}
                shown = counts or answer.get("detail") or answer.get("error") or answer
                line.append(f"{name}: HTTP {status} {elapsed:6.2f} s {args.alerts / elapsed:7.0f} alerts/s {shown}")
            print(f"round {round_ + 1}\n  " + "\n  ".join(line))  # noqa: T201
    finally:
        server.terminate()
        server.wait(timeout=30)

    run = secrets.token_hex(3)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {new_integration(f'bench-{run}')}")
    firing, resolved = build(run, args.alerts, args.groups)
    for name, body in (("new", firing), ("dedup", firing), ("resolve", resolved)):
        status, queries = count_queries(client, body)
        print(f"queries, in-process, {name}: HTTP {status}, {queries} queries")  # noqa: T201


if __name__ == "__main__":
    main()
