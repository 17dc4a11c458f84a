"""Production settings for the tests that run the app as deployed (gunicorn, `check --deploy`, the load test)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "a-long-random-production-secret-key-for-the-deploy-check-0123456789",
    "DJANGO_ALLOWED_HOSTS": "tracker.example.org",
    "SITE_URL": "https://tracker.example.org",
    "DATABASE_URL": "sqlite:///:memory:",
}


def production_environment(**settings: str) -> dict[str, str]:
    """This process's environment without its DJANGO_ settings (the suite's DJANGO_DEBUG=1 among them), with
    the production ones and `settings` on top."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    return {**env, **PRODUCTION_ENV, **settings}


def collect_static(root: Path) -> Path:
    """`collectstatic` with production settings (hashed names, gzip and brotli copies) into `root`."""
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=production_environment(DJANGO_STATIC_ROOT=str(root)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return root
