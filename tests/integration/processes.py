"""Real processes for integration tests: a Celery worker, a private redis-server, Prometheus, portal scripts."""

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
import requests
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate: Callable[[], object], *, timeout: float = 30.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def portal_env(broker_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment for a portal process sharing this test's PostgreSQL database."""
    db = connection.settings_dict
    return os.environ | {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": broker_url,
        "PORTAL_VAR_DIR": str(var_dir),
        **extra,
    }


@contextmanager
def celery_worker(env: dict[str, str], log_path: Path, *args: str) -> Iterator[subprocess.Popen]:
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--without-gossip",
             "--without-mingle", "--loglevel=INFO", *args],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            yield process
        finally:
            process.terminate()
            process.wait(timeout=30)


def run_script(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run Python `code` in a fresh portal process (Django set up), failing the test if it fails."""
    script = "import django\ndjango.setup()\n" + code
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


class RedisServer:
    """A private redis-server on a port of its own, which a test may stop and start again."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port, self.workdir = port, workdir
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        assert wait_for(lambda: self._ping(client), timeout=10), "redis-server did not start"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    @staticmethod
    def _ping(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False


class PrometheusServer:
    """A private Prometheus (Debian's package) on a free port, over a TSDB that `promtool` may backfill from
    OpenMetrics text. It scrapes only what `scrape_configs` (YAML of the config's section) names: by default nothing,
    and the backfilled series are all it holds."""

    def __init__(self, port: int, workdir: Path, scrape_configs: str = "") -> None:
        self.port, self.workdir, self.scrape_configs = port, workdir, scrape_configs
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def backfill(self, openmetrics: str) -> None:
        source = self.workdir / "backfill.om"
        source.write_text(openmetrics)
        subprocess.run(
            [shutil.which("promtool") or "/usr/bin/promtool", "tsdb", "create-blocks-from", "openmetrics",
             str(source), str(self.workdir / "data")],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def start(self) -> None:
        config = self.workdir / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1h\n" + self.scrape_configs)
        self.log = (self.workdir / "prometheus.log").open("w")
        self.process = subprocess.Popen(
            [shutil.which("prometheus") or "/usr/bin/prometheus", f"--config.file={config}",
             f"--storage.tsdb.path={self.workdir / 'data'}", "--storage.tsdb.retention.time=10y",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        assert wait_for(self._ready, timeout=30), (self.workdir / "prometheus.log").read_text()[-2000:]

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None
            self.log.close()

    def query(self, promql: str) -> list[dict]:
        response = requests.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        response.raise_for_status()
        return response.json()["data"]["result"]

    def _ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except requests.RequestException:
            return False
