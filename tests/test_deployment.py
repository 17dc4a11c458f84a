"""The deployment files and production settings, checked without a Docker engine."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "a-long-random-production-secret-key-for-the-deploy-check-0123456789",
    "DJANGO_ALLOWED_HOSTS": "tracker.example.org",
    "SITE_URL": "https://tracker.example.org",
    "DATABASE_URL": "sqlite:///:memory:",
}


def run(command: list[str], env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    environment.update(env or {})
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, **kwargs)


def test_check_deploy_is_clean_in_production():
    result = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {**PRODUCTION_ENV, "DJANGO_SECRET_KEY": ""}
    result = run([sys.executable, "manage.py", "check"], env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_migrations_match_the_models():
    result = run([sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"], {"DJANGO_DEBUG": "1"})
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_passes_hadolint():
    result = run([str(BIN / "hadolint"), "Dockerfile"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_as_non_root_on_the_tests_python():
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = next(line for line in dockerfile.splitlines() if line.startswith("FROM "))
    assert f"python:{sys.version_info.major}.{sys.version_info.minor}-" in base
    user = [line for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert user and user[-1].split()[1] not in {"root", "0"}


def test_collectstatic_and_gunicorn_work_with_production_settings(tmp_path):
    env = {**PRODUCTION_ENV, "DJANGO_STATIC_ROOT": str(tmp_path / "static")}
    result = run([sys.executable, "manage.py", "collectstatic", "--noinput"], env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "static" / "staticfiles.json").exists()
    dockerfile_cmd = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD "))
    command = yaml.safe_load(dockerfile_cmd.removeprefix("CMD "))
    assert command[0] == "gunicorn"
    result = run([str(BIN / "gunicorn"), "--check-config", *command[1:]], env)
    assert result.returncode == 0, result.stdout + result.stderr


def compose_services() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]


def test_compose_has_the_stack():
    assert set(compose_services()) >= {"web", "worker", "beat", "db", "redis"}


@pytest.mark.parametrize("service", ["migrate", "worker", "beat"])
def test_compose_commands_exist(service):
    command = compose_services()[service]["command"]
    program, *args = command
    executable = [sys.executable] if program == "python" else [str(BIN / program)]
    # `manage.py migrate --help` proves the command exists; `celery -A config worker --help` loads the app.
    probe = [*args[:2], "--help"] if program == "python" else [*args[:3], "--help"]
    result = run([*executable, *probe], PRODUCTION_ENV)
    assert result.returncode == 0, f"{shlex.join(command)}: {result.stderr}"
