import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_unreachable_database_stops_the_suite_with_a_message():
    env = {**os.environ, "DATABASE_URL": "postgres://postgres@127.0.0.1:1/bdt"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/demands/test_smoke.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3
    output = result.stdout + result.stderr
    assert "PostgreSQL at DATABASE_URL=postgres://postgres@127.0.0.1:1/bdt cannot be reached" in output
    assert "Traceback" not in output
