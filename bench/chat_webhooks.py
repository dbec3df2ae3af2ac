"""Benchmark what Slack and PagerDuty send back: signed requests through Django's test client, against Slack's 3 s
budget for a slash command's answer.

    .venv/bin/python bench/chat_webhooks.py [--requests 200]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench .venv/bin/python bench/chat_webhooks.py

Uses a throw-away SQLite database under a temp folder unless DATABASE_URL is set (that database is migrated and left
with the rows made here). No worker runs: what the endpoints enqueue stays queued. Prints latency percentiles.
"""

import argparse
import hashlib
import hmac
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("PORTAL_VAR_DIR", tempfile.mkdtemp(prefix="portal-bench-"))
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from incidents.models import Severity  # noqa: E402
from incidents.services import incident_declare  # noqa: E402
from portal.accounts.models import User  # noqa: E402
from portal.notifications.models import PagerDutyWebhook, SlackApp  # noqa: E402

SLACK_SECRET, PD_SECRET = "bench-slack-secret", "bench-pd-secret"


def slack(client: Client, n: int, text: str, command: str = "/incident") -> int:
    body = urlencode({"command": command, "text": text, "user_id": "UBENCH", "user_name": "bench",
                      "trigger_id": f"bench.{n}.{time.time_ns()}"}).encode()  # fmt: skip
    timestamp = str(int(time.time()))
    signature = "v0=" + hmac.new(SLACK_SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    response = client.post(
        "/api/v1/integrations/slack/commands/", body, content_type="application/x-www-form-urlencoded",
        HTTP_X_SLACK_REQUEST_TIMESTAMP=timestamp, HTTP_X_SLACK_SIGNATURE=signature,
    )  # fmt: skip
    return response.status_code


def pagerduty(client: Client, n: int, incident_key: str) -> int:
    body = json.dumps({"event": {"id": f"bench-{n}-{time.time_ns()}", "event_type": "incident.reassigned",
                                 "data": {"incident_key": incident_key}}}).encode()  # fmt: skip
    signature = "v1=" + hmac.new(PD_SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = client.post("/api/v1/integrations/pagerduty/", body, content_type="application/json",
                           HTTP_X_PAGERDUTY_SIGNATURE=signature)  # fmt: skip
    return response.status_code


def measure(name: str, requests: int, send: Callable[[int], int]) -> None:
    timings = []
    for n in range(requests):
        started = time.perf_counter()
        status = send(n)
        timings.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise SystemExit(f"{name}: HTTP {status}")
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(  # noqa: T201
        f"{name:32} mean {statistics.fmean(timings):7.2f} ms  p50 {statistics.median(timings):7.2f} ms  "
        f"p95 {p95:7.2f} ms  max {timings[-1]:7.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="requests per case")
    args = parser.parse_args()
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        "user": None, "anon": None, "integration": None}}  # fmt: skip
    call_command("migrate", verbosity=0)
    user, _ = User.objects.get_or_create(username="bench", defaults={"chat_handle": "@bench"})
    user.groups.add(Group.objects.get(name="Responder"))
    SlackApp.objects.get_or_create(name="bench", defaults={"signing_secret": SLACK_SECRET})
    PagerDutyWebhook.objects.get_or_create(name="bench", defaults={"secret": PD_SECRET})
    incident = incident_declare(title="Bench", severity=Severity.objects.get(code="P3"), reporter=user)
    client = Client()
    print(f"database: {connection.vendor}; {args.requests} requests per case")  # noqa: T201
    measure("/oncall", args.requests, lambda n: slack(client, n, "", command="/oncall"))
    measure("/incident status INC-n <text>", args.requests,
            lambda n: slack(client, n, f"status {incident.reference} still looking ({n})"))  # fmt: skip
    measure("/incident declare <title> P4", args.requests, lambda n: slack(client, n, f"declare Bench {n} P4"))
    measure("PagerDuty webhook (recorded)", args.requests, lambda n: pagerduty(client, n, f"incident:{incident.pk}"))


if __name__ == "__main__":
    main()
