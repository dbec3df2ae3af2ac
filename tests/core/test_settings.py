import json
import os
import secrets
import subprocess
import sys
from io import StringIO
from pathlib import Path

from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PORTAL_VAR_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base | env, capture_output=True, text=True, timeout=120
    )


def test_production_environment_passes_check_deploy_without_warnings(tmp_path):
    production = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "ops.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path}/portal.sqlite3",
    }
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=production, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_flags_an_insecure_production_setting(tmp_path):
    insecure = {"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "ops.example.com"}
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env=insecure | {"SESSION_COOKIE_SECURE": "0"}, tmp_path=tmp_path
    )
    assert result.returncode != 0
    assert "security.W012" in result.stderr


def test_missing_secret_key_without_debug_is_a_clear_startup_error(tmp_path):
    result = run_manage("check", env={"DEBUG": "0"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_runs_without_a_secret_key(tmp_path):
    result = run_manage("check", env={"DEBUG": "1"}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr


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
        "rates": {"user": "1000/min", "anon": "60/min", "integration": "6000/min"},
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
    }
    assert show_protection(env, tmp_path) == {
        "cache": "RedisCache",
        "cache_at": "redis://127.0.0.1:6379/3",
        "limit": 10,
        "cool_off": 1800.0,
        "lockout": [["username", "ip_address"]],
        "rates": {"user": "50/s", "anon": "10/min", "integration": "100000/hour"},
    }
    assert show_protection(env | {"REDIS_URL": "redis://cache:6379/1"}, tmp_path)["cache_at"] == "redis://cache:6379/1"


def test_a_malformed_rate_is_a_clear_startup_error(tmp_path):
    result = run_manage("check", env={"DEBUG": "1", "API_THROTTLE_ANON": "sixty"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "API_THROTTLE_ANON must be a rate such as 60/min" in result.stderr
