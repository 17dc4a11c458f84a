"""Take the README's screenshots: the dashboard, a demand page, search results and the bulletin, at desktop and
phone widths.

    .venv/bin/python docs/screenshots.py

Builds a throwaway SQLite database with the union's campaign (`load_campaign`) plus a few status
changes marked as demo data, serves it with `runserver`, and drives Debian's chromium
(/usr/bin/chromium) with Playwright. Writes PNGs to docs/screenshots/. Needs no PostgreSQL.
"""

import datetime
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMAND = "appropriate-personnel"
# Width, viewport height, and the height the picture is cut at to keep the PNGs small.
WIDTHS = {"desktop": (1280, 900, 1500), "phone": (390, 844, 1700)}
PAGES = [
    ("dashboard", "/"),
    ("demand", f"/demands/{DEMAND}/"),
    ("search", "/demands/?q=social+workers"),
    ("bulletin", "/bulletin/"),
]
TEAM_PASSWORD = "screenshots-only-password"  # noqa: S105 (a throwaway database)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_database() -> None:
    """Migrate, load the campaign and record a little demo history through the services."""
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    from demands.models import Demand, Status
    from demands.roles import TEAM_GROUP
    from demands.services import demand_transition, demand_update, session_create

    call_command("migrate", verbosity=0)
    call_command("load_campaign", verbosity=0)
    team = User.objects.create_user("team", password=TEAM_PASSWORD)
    team.groups.add(Group.objects.get(name=TEAM_GROUP))
    session = session_create(
        by=team, held_on=datetime.date(2024, 5, 14), location="CPS headquarters", team_notes="Demo data."
    )
    demand = Demand.objects.get(slug=DEMAND)
    demand = demand_update(
        demand_id=demand.pk,
        expected_version=demand.version,
        by=team,
        internal_notes="Demo data: the team's confidential notes appear here, for the team only.",
        fallback_position="Demo data: a fallback position, for the team only.",
    )
    demand_transition(
        demand_id=demand.pk,
        to_status=Status.COUNTERED,
        expected_version=demand.version,
        by=team,
        note="Demo data: the Board's negotiators answered with a counter-proposal.",
        internal_note="Demo data: a team-only note on the counter-proposal.",
        session_id=session.pk,
    )
    other = Demand.objects.get(slug="trauma-supports")
    demand_transition(
        demand_id=other.pk,
        to_status=Status.TENTATIVE_AGREEMENT,
        expected_version=other.version,
        by=team,
        note="Demo data: tentative agreement reached at the table.",
        session_id=session.pk,
    )


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own local server)
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def shoot(base: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, (width, height, cut) in WIDTHS.items():
            page = browser.new_page(viewport={"width": width, "height": height})
            for slug, path in PAGES:
                page.goto(base + path)
                target = OUT / f"{slug}-{name}.png"
                full = page.evaluate("document.documentElement.scrollHeight")
                clip = {"x": 0, "y": 0, "width": width, "height": min(full, cut)}
                page.screenshot(path=str(target), full_page=True, clip=clip)
                written.append(target)
            page.close()
        team_page = browser.new_page(viewport={"width": 1280, "height": 900})
        team_page.goto(base + "/accounts/login/")
        team_page.get_by_label("Username").fill("team")
        team_page.get_by_label("Password").fill(TEAM_PASSWORD)
        team_page.get_by_role("button", name="Sign in").click()
        team_page.goto(base + f"/demands/{DEMAND}/")
        target = OUT / "demand-team-desktop.png"
        team_page.screenshot(path=str(target), full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": 1500})
        written.append(target)
        browser.close()
    return written


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_DEBUG": "1",
            "DATABASE_URL": f"sqlite:///{tmp}/screenshots.sqlite3",
        }
        env.pop("REDIS_URL", None)  # tasks run in-process
        os.environ.pop("REDIS_URL", None)
        os.environ.update(env)
        build_database()
        port = free_port()
        server = subprocess.Popen(  # noqa: S603 (fixed arguments)
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/healthz")
            for path in shoot(base):
                print(f"{path.relative_to(ROOT)} ({path.stat().st_size // 1024} KiB)")
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
