"""The container image, built as CI and people build it here, without Docker Hub: Debian's mmdebstrap makes a
bookworm base with python3, buildah imports it and builds the Containerfile (`buildah bud --isolation chroot`, the
CA bundle passed as a build secret), then runs inside the image `check --deploy`, `migrate` against the machine's
PostgreSQL and gunicorn answering /api/health.

Slow (minutes: a Debian base and every dependency from the package index), so it runs only under
`make image-test` (PORTAL_IMAGE_TEST=1), never in `make test`. A base image already in buildah's storage is reused.
"""

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
import requests

from tests.integration.processes import ROOT, wait_for
from tests.servers import free_port

pytestmark = [
    pytest.mark.image,
    pytest.mark.skipif(os.environ.get("PORTAL_IMAGE_TEST") != "1", reason="slow: run with `make image-test`"),
]
BASE = "localhost/ops-portal-base:bookworm"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PG = "postgres://postgres@127.0.0.1:5432"


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (`make image-test` installs it when root)")
    return path


@pytest.fixture(scope="module")
def buildah(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("image")
    conf = workdir / "containers.conf"
    conf.write_text("[containers]\ndefault_ulimits = []\n")  # the default ulimits cannot be set on these machines
    env = os.environ | {"CONTAINERS_CONF": str(conf)}
    binary = tool("buildah")

    def run(*args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([binary, *args], env=env, capture_output=True, text=True, timeout=timeout,
                                check=False)  # fmt: skip
        assert not check or result.returncode == 0, f"buildah {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    run.env = env  # type: ignore[attr-defined]
    run.binary = binary  # type: ignore[attr-defined]
    run.workdir = workdir  # type: ignore[attr-defined]
    return run


@pytest.fixture(scope="module")
def image(buildah):
    if buildah("inspect", "--type", "image", BASE, check=False).returncode != 0:
        rootfs = buildah.workdir / "rootfs.tar"
        subprocess.run(
            [tool("mmdebstrap"), "--variant=minbase", "--include=python3,python3-venv,ca-certificates", "bookworm",
             str(rootfs)],
            check=True, capture_output=True, timeout=900,
        )  # fmt: skip
        container = buildah("from", "scratch").stdout.strip()
        buildah("add", "--quiet", container, str(rootfs), "/")
        buildah("config", "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", container)
        buildah("commit", "--quiet", "--rm", container, BASE)
    tag = f"localhost/ops-portal:test-{uuid.uuid4().hex[:8]}"
    buildah("bud", "--isolation", "chroot", "--network", "host", "--secret", f"id=ca,src={CA_BUNDLE}",
            "--build-arg", f"BASE_IMAGE={BASE}", "-f", "Containerfile", "-t", tag, str(ROOT), timeout=1800)  # fmt: skip
    yield tag
    buildah("rmi", tag, check=False)


@pytest.fixture
def container(buildah, image):
    name = buildah("from", image).stdout.strip()
    yield name
    buildah("rm", name, check=False)


@pytest.fixture
def database():
    name = f"portal_image_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG}/{name}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def production_env(database: str) -> list[str]:
    settings = {
        "DEBUG": "0",
        "SECRET_KEY": "image-test-" + uuid.uuid4().hex * 2,
        "FIELD_ENCRYPTION_KEYS": "dGVzdHMtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleSE=",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database,
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"),
    }
    return [arg for key, value in settings.items() for arg in ("--env", f"{key}={value}")]


def test_the_image_is_built_lean_and_unprivileged(buildah, image, container):
    config = buildah("inspect", "--type", "image", "--format", "{{.OCIv1.Config.User}} {{.OCIv1.Config.Cmd}}", image)
    assert config.stdout.strip() == "10001:10001 [gunicorn portal.wsgi]"
    script = (
        "id -u; command -v gcc cc make || echo no-compiler; ls /app; ls /app/staticfiles/portal | grep 'css$'; "
        "grep -rl 'BEGIN CERTIFICATE' /run /app 2>/dev/null | head -1; echo end"
    )
    inside = buildah("run", "--isolation", "chroot", container, "--", "sh", "-c", script).stdout
    lines = inside.split()
    assert lines[0] == "10001"
    assert "no-compiler" in lines
    assert {"manage.py", "portal", "templates", "staticfiles"} <= set(lines)
    assert "tests" not in lines
    assert any(line.startswith("portal.") and line.endswith(".css") for line in lines)  # hashed by collectstatic
    assert lines[-1] == "end"
    assert not any("BEGIN" in line or line.endswith(".pem") for line in lines)  # the build secret was not kept


def test_check_migrate_and_serve(buildah, container, database):
    env = production_env(database)
    check = buildah("run", "--isolation", "chroot", "--network", "host", *env, container, "--",
                    "python", "manage.py", "check", "--deploy", "--fail-level", "WARNING")  # fmt: skip
    assert "System check identified no issues" in check.stdout + check.stderr

    buildah("run", "--isolation", "chroot", "--network", "host", *env, container, "--",
            "python", "manage.py", "migrate", "--noinput")  # fmt: skip
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM incidents_severity").fetchone() == (4,)

    port = free_port()
    log = (buildah.workdir / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [buildah.binary, "run", "--isolation", "chroot", "--network", "host", *env, "--env", f"PORT={port}",
         "--env", "METRICS_TOKEN=image-test-token", "--env", "PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus",
         container, "--", "gunicorn", "--pid", "/tmp/gunicorn.pid", "portal.wsgi"],  # noqa: S108 - inside the image
        env=buildah.env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert wait_for(lambda: _get(f"http://127.0.0.1:{port}/api/health"), timeout=120), Path(log.name).read_text()
        response = requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
        assert response.json() == {"status": "ok"}
        assert response.headers["X-Request-ID"]
        # gunicorn's processes count together (multiprocess mode, as the ConfigMap sets it up)
        before = _health_count(port)
        for _ in range(4):
            requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
        assert _health_count(port) == before + 4
    finally:
        buildah("run", "--isolation", "chroot", container, "--", "sh", "-c", "kill -TERM $(cat /tmp/gunicorn.pid)",
                check=False)  # fmt: skip
        server.wait(timeout=60)
        log.close()
    assert '"logger": "portal.request"' in Path(log.name).read_text()  # JSON logs, as in production


def _get(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _health_count(port: int) -> float:
    metrics = requests.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": "Bearer image-test-token"},
                           timeout=10).text  # fmt: skip
    assert "portal_incidents_unacknowledged 0.0" in metrics
    series = 'portal_http_request_duration_seconds_count{method="GET",status="200",view="health"} '
    [line] = [line for line in metrics.splitlines() if line.startswith(series)]
    return float(line.removeprefix(series))
