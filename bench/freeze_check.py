"""Benchmark the deploy gate: N token-authenticated GETs of /api/v1/freeze/check/ through Django's test client.

    .venv/bin/python bench/freeze_check.py [--requests 2000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench .venv/bin/python bench/freeze_check.py

Uses a throw-away SQLite database under a temp folder unless DATABASE_URL is set (that database is migrated and
left with a `bench` user). Prints latency percentiles and the queries one request makes.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

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

from portal.accounts.models import User  # noqa: E402
from portal.accounts.services import api_token_create  # noqa: E402

CASES = [
    ("open (staging)", {"environment": "staging", "at": "2026-11-27T10:00:00Z"}),
    ("frozen (Black Friday)", {"environment": "production", "at": "2026-11-27T10:00:00Z", "change": "deploy-1"}),
    ("now", {"environment": "production"}),
]


def count_queries(client: Client, params: dict[str, str]) -> int:
    """Queries one request makes (Django resets its query log when a request starts, so count at the cursor)."""
    queries: list[str] = []

    def record(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        response = client.get("/api/v1/freeze/check/", params)
    if response.status_code != 200:
        raise SystemExit(f"{params}: HTTP {response.status_code} {response.content!r}")
    return len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="requests per case")
    args = parser.parse_args()
    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    user, _ = User.objects.get_or_create(username="bench")
    user.groups.add(Group.objects.get(name="Viewer"))
    user.api_tokens.filter(name="bench", revoked_at__isnull=True).delete()
    key = api_token_create(user=user, name="bench", created_by=None).key
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    print(f"database: {connection.vendor}; {args.requests} requests per case")  # noqa: T201
    for name, params in CASES:
        client.get("/api/v1/freeze/check/", params)  # warm caches and the token's last_used_at
        queries = count_queries(client, params)
        timings = []
        for _ in range(args.requests):
            started = time.perf_counter()
            client.get("/api/v1/freeze/check/", params)
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        p95 = timings[int(len(timings) * 0.95) - 1]
        print(  # noqa: T201
            f"{name:24} mean {statistics.fmean(timings):6.2f} ms  p50 {statistics.median(timings):6.2f} ms  "
            f"p95 {p95:6.2f} ms  max {timings[-1]:6.2f} ms  {queries} queries/request"
        )


if __name__ == "__main__":
    main()
