import json
import os
import secrets
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = "django.core.mail.backends.console.EmailBackend"
MAKE = shutil.which("make")
SHOW_SETTINGS = "from django.conf import settings as s; print(s.DEBUG, s.EMAIL_BACKEND, s.KUBECONFIG, s.SECRET_KEY)"


def run_manage(
    *args: str, env: dict[str, str], tmp_path: Path, project: Path = ROOT, env_file: str | None = ""
) -> subprocess.CompletedProcess[str]:
    """manage.py in a clean environment; by default it reads no .env (never the developer's)."""
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PORTAL_VAR_DIR": str(tmp_path)}
    if env_file is not None:
        base["PORTAL_ENV_FILE"] = env_file
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=project, env=base | env, capture_output=True, text=True, timeout=120
    )


def show_settings(*, env: dict[str, str], tmp_path: Path, project: Path = ROOT, env_file: str | None = "") -> list[str]:
    result = run_manage(
        "shell", "--no-imports", "-c", SHOW_SETTINGS, env=env, tmp_path=tmp_path, project=project, env_file=env_file
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project without a .env, its venv or its history, as a fresh clone has it."""
    copy = tmp_path / "project"
    skip = shutil.ignore_patterns(".env", ".venv", ".git", "var", "tests", "staticfiles", "__pycache__", ".*_cache")
    shutil.copytree(ROOT, copy, ignore=skip)
    (copy / "tests").mkdir()
    for name in ("__init__.py", "settings.py"):
        shutil.copy(ROOT / "tests" / name, copy / "tests" / name)
    return copy


def test_production_environment_passes_check_deploy_without_warnings(tmp_path):
    production = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "ops.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path}/portal.sqlite3",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=production, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_flags_an_insecure_production_setting(tmp_path):
    insecure = {
        "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "ops.example.com",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }  # fmt: skip
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env=insecure | {"SESSION_COOKIE_SECURE": "0"}, tmp_path=tmp_path
    )
    assert result.returncode != 0
    assert "security.W012" in result.stderr


def test_missing_secret_key_without_debug_is_a_clear_startup_error(tmp_path):
    result = run_manage("check", env={"DEBUG": "0"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_missing_field_encryption_keys_without_debug_is_a_clear_startup_error(tmp_path):
    result = run_manage("check", env={"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50)}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS is not set" in result.stderr


def test_a_malformed_field_encryption_key_is_named_but_not_shown(tmp_path):
    environment = {
        "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": f"{Fernet.generate_key().decode()},not-a-fernet-key-but-a-secret",
    }  # fmt: skip
    result = run_manage("check", env=environment, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS: key 2 is not a Fernet key" in result.stderr
    assert "not-a-fernet-key-but-a-secret" not in result.stderr


def test_debug_runs_without_a_secret_key(tmp_path):
    result = run_manage("check", env={"DEBUG": "1"}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr


def test_settings_read_the_env_file(tmp_path):
    env_file = tmp_path / "local.env"
    env_file.write_text(f"DEBUG=1\nSECRET_KEY=from-the-file\nEMAIL_BACKEND={CONSOLE}\nKUBECONFIG=/file/kubeconfig\n")

    shown = show_settings(env={}, tmp_path=tmp_path, env_file=str(env_file))

    assert shown == ["True", CONSOLE, "/file/kubeconfig", "from-the-file"]


def test_the_environment_overrides_the_env_file(tmp_path):
    env_file = tmp_path / "local.env"
    env_file.write_text(f"DEBUG=1\nSECRET_KEY=from-the-file\nEMAIL_BACKEND={CONSOLE}\nKUBECONFIG=/file/kubeconfig\n")
    environment = {"SECRET_KEY": "from-the-environment", "KUBECONFIG": "/env/kubeconfig"}

    shown = show_settings(env=environment, tmp_path=tmp_path, env_file=str(env_file))

    assert shown == ["True", CONSOLE, "/env/kubeconfig", "from-the-environment"]


def test_debug_off_in_the_environment_needs_a_secret_key_even_with_an_env_file_for_debug(tmp_path):
    env_file = tmp_path / "local.env"
    env_file.write_text("DEBUG=1\n")

    result = run_manage("check", env={"DEBUG": "0"}, tmp_path=tmp_path, env_file=str(env_file))

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_a_fresh_project_without_env_file_or_debug_requires_a_secret_key(project, tmp_path):
    result = run_manage("check", env={}, tmp_path=tmp_path, project=project, env_file=None)

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.skipif(MAKE is None, reason="needs make")
def test_make_writes_the_env_file_once_and_commands_then_run_from_any_shell(project, tmp_path):
    def make_env_file() -> str:
        made = subprocess.run(
            [MAKE, "--no-print-directory", ".env"], cwd=project, env={"PATH": os.environ["PATH"]},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        return made.stdout

    assert make_env_file().startswith("Wrote .env")
    written = (project / ".env").read_text()
    assert "is up to date" in make_env_file()
    assert (project / ".env").read_text() == written  # the key stays: sessions survive restarts

    shown = show_settings(env={}, tmp_path=tmp_path, project=project, env_file=None)
    debug, backend, kubeconfig, key = shown
    assert (debug, backend, kubeconfig) == ("True", CONSOLE, str(project / "var" / "kubeconfig-sim.yaml"))
    assert len(key) >= 50
    assert f"SECRET_KEY={key}\n" in written
    assert (project / ".env").stat().st_mode & 0o077 == 0
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_the_test_settings_never_read_the_env_file(project, tmp_path):
    (project / ".env").write_text("EMAIL_HOST=from-the-env-file.invalid\n")
    show = "from django.conf import settings; print(settings.EMAIL_HOST)"

    result = run_manage(
        "shell", "--no-imports", "-c", show, env={"DJANGO_SETTINGS_MODULE": "tests.settings"}, tmp_path=tmp_path,
        project=project, env_file=None,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["localhost"]


def test_a_malformed_boolean_names_the_variable(tmp_path):
    result = run_manage("check", env={"DEBUG": "maybe"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_models_and_migrations_agree(db):
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


SHOW_PROTECTION = (
    "import json; from django.conf import settings as s; print(json.dumps({"
    "'cache': s.CACHES['default']['BACKEND'].rsplit('.', 1)[1], 'cache_at': s.CACHES['default']['LOCATION'], "
    "'limit': s.AXES_FAILURE_LIMIT, 'cool_off': s.AXES_COOLOFF_TIME.total_seconds(), "
    "'lockout': s.AXES_LOCKOUT_PARAMETERS, 'rates': s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']}))"
)


def show_protection(env: dict[str, str], tmp_path: Path) -> dict[str, object]:
    result = run_manage("shell", "-c", SHOW_PROTECTION, env={"DEBUG": "1"} | env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])  # after whatever Django printed first


def test_lockout_and_throttling_defaults_need_no_server(tmp_path):
    assert show_protection({}, tmp_path) == {
        "cache": "FileBasedCache",  # shared by every web process, unlike a memory cache
        "cache_at": str(tmp_path / "cache"),
        "limit": 5,
        "cool_off": 900.0,
        "lockout": [["username"], ["ip_address"]],
        "rates": {"user": "1000/min", "anon": "60/min", "integration": "6000/min", "subscribe": "10/hour"},
    }


def test_lockout_and_throttling_come_from_the_environment(tmp_path):
    env = {
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/3",
        "AXES_FAILURE_LIMIT": "10",
        "AXES_COOLOFF_MINUTES": "30",
        "AXES_LOCKOUT_PARAMETERS": "username+ip_address",
        "API_THROTTLE_USER": "50/s",
        "API_THROTTLE_ANON": "10/min",
        "API_THROTTLE_INTEGRATION": "100000/hour",
        "API_THROTTLE_SUBSCRIBE": "3/day",
    }
    assert show_protection(env, tmp_path) == {
        "cache": "RedisCache",
        "cache_at": "redis://127.0.0.1:6379/3",
        "limit": 10,
        "cool_off": 1800.0,
        "lockout": [["username", "ip_address"]],
        "rates": {"user": "50/s", "anon": "10/min", "integration": "100000/hour", "subscribe": "3/day"},
    }
    assert show_protection(env | {"REDIS_URL": "redis://cache:6379/1"}, tmp_path)["cache_at"] == "redis://cache:6379/1"


def test_a_malformed_rate_is_a_clear_startup_error(tmp_path):
    result = run_manage("check", env={"DEBUG": "1", "API_THROTTLE_ANON": "sixty"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "API_THROTTLE_ANON must be a rate such as 60/min" in result.stderr


def test_a_pods_own_address_is_an_allowed_host(tmp_path):
    """Probes and Prometheus reach a pod by its IP: the manifests pass it as POD_IP."""
    result = run_manage(
        "shell", "--no-imports", "-c", "from django.conf import settings as s; print(*s.ALLOWED_HOSTS)",
        env={"DEBUG": "1", "ALLOWED_HOSTS": "ops.example.com", "POD_IP": "10.42.0.17"}, tmp_path=tmp_path,
    )  # fmt: skip
    assert result.stdout.split() == ["ops.example.com", "10.42.0.17"]
