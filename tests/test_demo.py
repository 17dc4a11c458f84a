"""`make demo` from this checkout: migrate, load the campaign, print accounts, serve."""

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.integration
def test_make_demo_serves_the_dashboard_and_admin(tmp_path):
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DATABASE_URL"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    log = (tmp_path / "demo.log").open("w+")
    process = subprocess.Popen(
        ["make", "demo", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                dashboard = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except OSError:
                assert process.poll() is None, Path(log.name).read_text()
                assert time.monotonic() < deadline, Path(log.name).read_text()
                time.sleep(0.5)
        assert dashboard.status == 200
        assert "Trauma supports in every school" in dashboard.read().decode()
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=5).status == 200
        output = Path(log.name).read_text()
        for username in ("admin", "team", "member"):
            assert re.search(rf"username: {username}\s+password: \S{{8,}}", output), output
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
