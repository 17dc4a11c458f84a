"""The deployment files and production settings, checked without a Docker engine."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.production import PRODUCTION_ENV

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


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


def test_collectstatic_and_gunicorn_work_with_production_settings(production_static):
    """collectstatic succeeds (the `production_static` fixture runs it and checks its exit) and the
    Dockerfile's gunicorn command line loads with production settings."""
    assert (production_static / "staticfiles.json").exists()
    env = {**PRODUCTION_ENV, "DJANGO_STATIC_ROOT": str(production_static)}
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


# --- Lock files: requirements*.txt name the direct dependencies, requirements*.lock pin everything ---


def requirement_name(spec: str) -> str:
    """`psycopg[binary]==3.3.9` -> `psycopg` (PEP 503 normalised)."""
    name = spec.split("==")[0].split("[")[0]
    return "-".join(name.replace("_", "-").replace(".", "-").lower().split("-"))


def direct_pins(path: Path) -> dict[str, str]:
    """The `name==version` lines of a requirements file and of the files it includes with `-r`."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r "):
            pins.update(direct_pins(path.parent / line.removeprefix("-r ").strip()))
        elif line:
            assert "==" in line, f"{path.name}: {line!r} is not pinned with =="
            pins[requirement_name(line)] = line.split("==")[1].strip()
    return pins


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """Each `name==version` of a pip-compile lock file with the number of hashes under it."""
    entries: dict[str, tuple[str, int]] = {}
    current = None
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not line.startswith(" "):
            spec = stripped.removesuffix("\\").strip()
            assert "==" in spec, f"{path.name}: {spec!r} is not pinned with =="
            current = requirement_name(spec)
            entries[current] = (spec.split("==")[1], 0)
        elif stripped.startswith("--hash=sha256:"):
            version, hashes = entries[current]
            entries[current] = (version, hashes + 1)
    return entries


@pytest.mark.parametrize(
    ("requirements", "lock"),
    [("requirements.txt", "requirements.lock"), ("requirements-dev.txt", "requirements-dev.lock")],
)
def test_the_lock_pins_every_direct_dependency_at_its_version_with_hashes(requirements, lock):
    pins, entries = direct_pins(ROOT / requirements), locked(ROOT / lock)
    out_of_step = {name: (version, entries.get(name, ("missing", 0))[0]) for name, version in pins.items()}
    out_of_step = {name: versions for name, versions in out_of_step.items() if versions[0] != versions[1]}
    assert not out_of_step, f"{lock} is out of step with {requirements} (run `make lock`): {out_of_step}"
    assert len(entries) > len(pins), f"{lock} pins no transitive dependency"
    assert not [name for name, (_, hashes) in entries.items() if not hashes], f"{lock}: an entry without a hash"


def test_the_dev_lock_installs_the_runtime_lock_unchanged():
    runtime, dev = locked(ROOT / "requirements.lock"), locked(ROOT / "requirements-dev.lock")
    assert {name: runtime[name][0] for name in runtime} == {name: dev[name][0] for name in runtime if name in dev}


def test_the_image_and_make_install_from_the_locks_with_hashes():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir --require-hashes -r requirements.lock" in dockerfile
    assert "requirements.txt" not in dockerfile
    makefile = (ROOT / "Makefile").read_text()
    assert "$(STAMP): requirements.lock requirements-dev.lock\n" in makefile
    assert "pip install --quiet --require-hashes -r requirements-dev.lock" in makefile
