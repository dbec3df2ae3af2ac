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
