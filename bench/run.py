"""The portal's benchmark: each target against a floor view, measured interleaved in the same run, on gunicorn and
PostgreSQL.

    make bench                                   # SIZE=small; the 10k and 100k sizes load once and are kept
    make bench SIZE=100k BENCH_ARGS="--compare bench/results/100k-before.json"
    .venv/bin/python bench/run.py --size 10k --only incidents,dashboard --out /tmp/10k.json

The database is DATABASE_URL, else postgres://postgres@127.0.0.1:5432/portal_bench_<size> (created and loaded the
first time; `--reload` drops and loads it again). The broker is CELERY_BROKER_URL, else redis://127.0.0.1:6379/0.

The floor is a DRF APIView with the API's token authentication and permission and nothing else (served only in
bench mode, see portal/core/bench.py). For each HTTP target, rounds alternate a block of floor requests and a block
of target requests over two keep-alive connections, one to each of gunicorn's two workers, so machine noise hits
both alike; `ratio` is the target's p50 over the floor's. `queries` is what one request made, counted by the server.
Alert intake posts whole Alertmanager payloads (new, the same again, then resolved); notification fan-out sends 1,000
emails through a Celery worker with two processes to a local SMTP server; the cluster action measures queued ->
running on the worker. Results go to bench/results/<size>.json (or --out) and a table; `--compare FILE` adds the
change against a saved run.
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

TARGET_FLOOR_RATIO = {"freeze check": 1.5, "on-call now": 1.5, "list": 5.0, "page": 5.0}


def _environment(args: argparse.Namespace) -> dict[str, str]:
    """What the runner, gunicorn and the worker share: production-like settings (DEBUG off) in bench mode."""
    database = os.environ.get("DATABASE_URL") or f"postgres://postgres@127.0.0.1:5432/portal_bench_{args.size}"
    key = base64.urlsafe_b64encode(hashlib.sha256(b"portal-bench").digest()).decode()
    unlimited = "1000000/min"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_ENV_FILE": "/dev/null",
        "PORTAL_BENCH": "1",
        "DATABASE_URL": database,
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"),
        "DEBUG": "0",
        "SECRET_KEY": "portal-bench-" + "x" * 50,
        "FIELD_ENCRYPTION_KEYS": key,
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "API_THROTTLE_USER": unlimited,
        "API_THROTTLE_INTEGRATION": unlimited,
        "LOG_LEVEL": "WARNING",
        "STATIC_ROOT": str(ROOT / "var" / "bench-static"),
    }


def _ensure_database(url: str, *, reload: bool) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and reload:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(port: int, path: str, deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server on port {port} did not come up")


class Http:
    """One keep-alive connection to gunicorn."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port, self.headers = port, headers
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.worker = ""  # the process id that served the last answer (bench mode's X-Bench-Worker)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, float, int, bytes]:
        headers = self.headers | (headers or {})
        if body is not None:
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
            return 599, time.perf_counter() - started, 0, b""
        elapsed = time.perf_counter() - started
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()
        self.worker = response.getheader("X-Bench-Worker") or ""
        return response.status, elapsed, int(response.getheader("X-Bench-Queries") or 0), data


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def one_per_worker(port: int, headers: dict, *, workers: int = 2, patience: float = 30) -> list[Http]:
    """Keep-alive connections, one served by each worker. gunicorn's threaded workers keep a connection where it was
    accepted, and nothing stops one worker accepting both: it then serves their requests in turn, doubling a heavy
    target's p50 while the other worker idles, and a run's ratio depended on where its connections landed.
    A worker still starting (the first run after a migration, say) accepts nothing: wait for it a little."""
    kept: dict[str, Http] = {}
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        client = Http(port, headers)
        client.request("GET", "/api/health")  # public: pins the anonymous status page's connections too
        if client.worker in kept:
            client.conn.close()
            time.sleep(0.05)
        else:
            kept[client.worker] = client
        if len(kept) == workers:
            return list(kept.values())
    raise SystemExit(f"connections reached {len(kept)} of {workers} workers in {patience:.0f} s")


def measure(port: int, floor_headers: dict, target_headers: dict, path: str, *, rounds: int, block: int) -> dict:
    """Interleave blocks of floor and target requests over two connections, one per worker; latencies in ms."""
    samples: dict[str, list[float]] = {"floor": [], "target": []}
    wall = {"floor": 0.0, "target": 0.0}
    queries = {"floor": 0, "target": 0}
    statuses: set[int] = set()
    pairs = list(zip(one_per_worker(port, floor_headers), one_per_worker(port, target_headers), strict=True))
    for client_pair in pairs:  # warm up each connection and worker
        client_pair[0].request("GET", "/api/v1/bench/floor/")
        client_pair[1].request("GET", path)
    for _ in range(rounds):
        for kind, index, url in (("floor", 0, "/api/v1/bench/floor/"), ("target", 1, path)):

            def run(client: Http, kind: str = kind, url: str = url) -> None:
                for _ in range(block):
                    status, elapsed, count, _body = client.request("GET", url)
                    samples[kind].append(elapsed * 1000)
                    queries[kind] = count
                    if kind == "target":
                        statuses.add(status)

            started = time.perf_counter()
            threads = [threading.Thread(target=run, args=(pair[index],)) for pair in pairs]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall[kind] += time.perf_counter() - started
    result = {}
    for kind in ("target", "floor"):
        result[kind] = {
            "p50_ms": round(statistics.median(samples[kind]), 2),
            "p99_ms": round(_percentile(samples[kind], 0.99), 2),
            "rps": round(len(samples[kind]) / wall[kind], 1),
            "queries": queries[kind],
        }
    result["ratio"] = round(result["target"]["p50_ms"] / result["floor"]["p50_ms"], 2)
    result["statuses"] = sorted(statuses)
    return result


def _floor_p50(port: int, headers: dict, n: int = 40) -> float:
    client = Http(port, headers)
    return statistics.median(client.request("GET", "/api/v1/bench/floor/")[1] * 1000 for _ in range(n))


def alert_payload(run: str, count: int, *, status: str, groups: int) -> bytes:
    """`count` alerts of `groups` alert rules, each rule on one of the loaded services: a storm's groups open
    incidents that have a service, its rotation, escalation policy and routing, as real ones do."""
    from data import SERVICES  # bench/data.py, which needs Django set up

    starts = datetime.now(UTC) - timedelta(minutes=5)
    ends = "0001-01-01T00:00:00Z" if status == "firing" else datetime.now(UTC).isoformat().replace("+00:00", "Z")
    alerts = []
    for i in range(count):
        group = i % groups
        labels = {
            "alertname": f"BenchAlert{group}",
            "service": SERVICES[group % len(SERVICES)].lower(),
            "instance": f"10.0.{i // 250}.{i % 250}:9100",
            "run": run,
            "severity": "warning",
        }
        alerts.append({
            "status": status,
            "labels": labels,
            "annotations": {"summary": f"alert {i} of bench run {run}"},
            "startsAt": starts.isoformat().replace("+00:00", "Z"),
            "endsAt": ends,
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": hashlib.sha256(f"{run}:{i}".encode()).hexdigest()[:16],
        })  # fmt: skip
    return json.dumps({
        "version": "4", "groupKey": f"{{}}:{{run=\"{run}\"}}", "status": status, "receiver": "portal",
        "groupLabels": {"run": run}, "commonLabels": {"run": run}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0, "alerts": alerts,
    }).encode()  # fmt: skip


def measure_intake(port: int, tokens: tuple[str, str], floor_headers: dict, count: int) -> dict:
    """New, dedup and resolve payloads of `count` alerts in 100 groups, sent with the first token after the second's
    warm-up: a worker's first payload also imports and connects what intake needs (the broker, for one)."""
    token, warm_token = tokens
    run = f"{count}-{int(time.time())}"
    client = Http(port, {"Authorization": f"Bearer {token}", "Host": "127.0.0.1"})
    for status in ("firing", "resolved"):
        warm = alert_payload(f"warm-{run}", 20, status=status, groups=2)
        client.request("POST", "/api/v1/integrations/alertmanager/", warm, {"Authorization": f"Bearer {warm_token}"})
    firing = alert_payload(run, count, status="firing", groups=100)
    results = {}
    # Dedup is Alertmanager's repeat: the same payload again, byte for byte.
    for phase, payload in (("new", firing), ("dedup", firing), ("resolve", None)):
        floor = _floor_p50(port, floor_headers)
        code, elapsed, queries, body = client.request(
            "POST",
            "/api/v1/integrations/alertmanager/",
            payload or alert_payload(run, count, status="resolved", groups=100),
        )
        results[phase] = {
            "status": code,
            "seconds": round(elapsed, 3),
            "alerts_per_s": round(count / elapsed, 1),
            "queries": queries,
            "queries_per_alert": round(queries / count, 2),
            "ratio": round(elapsed * 1000 / floor, 1),
        }
        if code >= 300:
            results[phase]["error"] = body[:300].decode(errors="replace")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=["small", "10k", "100k"], default="small")
    parser.add_argument("--out", type=Path, help="JSON results (default bench/results/<size>.json)")
    parser.add_argument("--compare", type=Path, help="a saved run to print the change against")
    parser.add_argument("--rounds", type=int, default=6, help="floor/target block pairs per HTTP target")
    parser.add_argument("--block", type=int, default=15, help="requests per block and connection")
    parser.add_argument("--only", default="", help="comma-separated substrings of the targets to run")
    parser.add_argument("--reload", action="store_true", help="drop the bench database and load it again")
    args = parser.parse_args()
    env = _environment(args)
    os.environ.update(env)
    _ensure_database(env["DATABASE_URL"], reload=args.reload)

    import django

    django.setup()
    from fixtures import intake_integration, prepare  # bench/fixtures.py, which needs Django set up

    world = prepare(args.size)
    port = _free_port()
    # A long keep-alive (gunicorn's default is 2 s) keeps each connection on the worker it was pinned to.
    gunicorn = subprocess.Popen(  # noqa: S603 - our own command line
        [str(ROOT / ".venv/bin/gunicorn"), "portal.wsgi:application", "--workers", "2", "--bind",
         f"127.0.0.1:{port}", "--timeout", "30", "--keep-alive", "600", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    results: dict = {"size": args.size, "incidents": world.incidents, "at": datetime.now(UTC).isoformat(),
                     "commit": _commit(), "targets": {}}  # fmt: skip
    only = [part.strip() for part in args.only.split(",") if part.strip()]
    try:
        _wait_http(port, "/api/health")
        api = {"Authorization": f"Token {world.token}", "Host": "127.0.0.1"}
        page = {"Cookie": f"sessionid={world.session}", "Host": "127.0.0.1"}
        sample = world.sample_incident_id
        http_targets = [
            ("freeze check open", api, "/api/v1/freeze/check/?environment=production&at=2027-07-14T12:00:00Z"),
            ("freeze check frozen", api, "/api/v1/freeze/check/?environment=production&at=2026-11-27T10:00:00Z"),
            ("on-call now", api, "/api/v1/oncall/now/"),
            ("incidents list (API)", api, "/api/v1/incidents/"),
            ("incidents list open (API)", api, "/api/v1/incidents/?open=true"),
            ("incidents page (open)", page, "/incidents/"),
            ("incidents page (closed)", page, "/incidents/?status=closed"),
            ("incident detail (API)", api, f"/api/v1/incidents/{sample}/"),
            ("incident page", page, f"/incidents/{sample}/"),
            ("dashboard page", page, "/"),
            ("audit list (API)", api, "/api/v1/audit/"),
            ("audit page", page, "/audit/"),
            ("audit page chain line", page, "/audit/chain/"),  # loaded by the audit page after its list
            ("deliveries page", page, "/notifications/"),
            ("actions page", page, "/actions/"),
            ("status page (public)", {"Host": "127.0.0.1"}, "/status/"),
        ]
        for name, headers, path in http_targets:
            if only and not any(part in name for part in only):
                continue
            result = measure(port, api, headers, path, rounds=args.rounds, block=args.block)
            results["targets"][name] = result
            _print_row(name, result)
        for count in (500, 2000):
            name = f"alert intake {count}"
            if only and not any(part in name for part in only):
                continue
            tokens = (intake_integration(), intake_integration())
            results["targets"][name] = intake = measure_intake(port, tokens, api, count)
            for phase, row in intake.items():
                line = f"{name + ' ' + phase:34} {row['seconds']:8.3f} s {row['alerts_per_s']:8.1f} alerts/s "
                line += f"{row['queries']:6d} queries ({row['queries_per_alert']}/alert)  HTTP {row['status']}"
                print(line)  # noqa: T201
        if not only or any(part in "notification fan-out cluster action" for part in only):
            from workers import measure_workers  # bench/workers.py

            for name, result in measure_workers(env, world).items():
                results["targets"][name] = result
                print(f"{name:34} {json.dumps(result)}")  # noqa: T201
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
    out = args.out or ROOT / "bench" / "results" / f"{args.size}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nsaved {out}")  # noqa: T201
    print_table(results, json.loads(args.compare.read_text()) if args.compare else None)


def _commit() -> str:
    """The commit measured (BENCH_COMMIT names it when running from an exported copy of the tree)."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)  # noqa: S607
    return done.stdout.strip() or os.environ.get("BENCH_COMMIT", "")


def _print_row(name: str, result: dict) -> None:
    target, floor = result["target"], result["floor"]
    print(  # noqa: T201
        f"{name:34} p50 {target['p50_ms']:7.2f} ms  p99 {target['p99_ms']:7.2f} ms  {target['rps']:7.1f} req/s  "
        f"{target['queries']:3d} queries  floor p50 {floor['p50_ms']:6.2f} ms  ratio {result['ratio']:5.2f}x"
    )


def _limit(name: str) -> float | None:
    for key, limit in TARGET_FLOOR_RATIO.items():
        if key in name and "alert" not in name:
            return limit
    return None


def print_table(results: dict, before: dict | None) -> None:
    """Markdown: one row per HTTP target (and intake phase), with the change against `before` when given."""
    print(f"\n{results['size']} ({results['incidents']} incidents), commit {results['commit']}")  # noqa: T201
    head = "| target | p50 ms | p99 ms | req/s | queries | floor p50 | ratio | limit |"
    if before:
        head += f" p50 before ({before['commit']}) | ratio before | queries before |"
    print(head)  # noqa: T201
    print("|" + "---|" * (head.count("|") - 1))  # noqa: T201
    old = (before or {}).get("targets", {})
    for name, result in results["targets"].items():
        if "target" in result:
            t = result["target"]
            limit = _limit(name)
            flag = "" if limit is None else (f"<= {limit}" + (" ok" if result["ratio"] <= limit else " **over**"))
            row = (f"| {name} | {t['p50_ms']} | {t['p99_ms']} | {t['rps']} | {t['queries']} | "
                   f"{result['floor']['p50_ms']} | {result['ratio']}x | {flag} |")  # fmt: skip
            if before:
                prev = old.get(name)
                row += (f" {prev['target']['p50_ms']} | {prev['ratio']}x | {prev['target']['queries']} |" if prev
                        else " - | - | - |")  # fmt: skip
            print(row)  # noqa: T201
        elif name.startswith("alert intake"):
            for phase, r in result.items():
                row = (f"| {name} {phase} | {r['seconds'] * 1000:.0f} (one payload) | | {r['alerts_per_s']} alerts/s "
                       f"| {r['queries']} | | {r['ratio']}x | HTTP {r['status']} |")  # fmt: skip
                if before:
                    prev = old.get(name, {}).get(phase)
                    row += (f" {prev['seconds'] * 1000:.0f} | {prev['ratio']}x | {prev['queries']} |" if prev
                            else " - | - | - |")  # fmt: skip
                print(row)  # noqa: T201
        else:
            row = f"| {name} | " + ", ".join(f"{key} {value}" for key, value in result.items()) + " |"
            if before and name in old:
                row += " before: " + ", ".join(f"{key} {value}" for key, value in old[name].items()) + " |"
            print(row)  # noqa: T201


if __name__ == "__main__":
    main()
