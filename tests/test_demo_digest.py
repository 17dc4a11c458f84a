"""README's "Try a digest locally": the sample roster, the commands, and links that follow `make demo`'s port."""

import datetime
import os
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from bargaining.models import Member
from demands.campaign import campaign_load
from demands.models import Evidence, StatusChange

ROOT = Path(__file__).resolve().parent.parent


def test_make_demo_points_site_url_at_its_own_host_and_port():
    # A SITE_URL set in the environment wins (the tests' own is one); without one, the demo's port is used.
    env = {key: value for key, value in os.environ.items() if key != "SITE_URL"}
    commands = subprocess.run(
        ["make", "-n", "demo", "PORT=8201"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    django_lines = [line for line in commands.splitlines() if "manage.py" in line]
    assert django_lines and all("SITE_URL=http://127.0.0.1:8201" in line for line in django_lines)


@pytest.mark.django_db
def test_the_readme_digest_recipe_sends_mail_with_links_to_the_demo(settings, django_capture_on_commit_callbacks):
    settings.SITE_URL = "http://127.0.0.1:8201"
    campaign_load()
    call_command("import_members", str(ROOT / "docs" / "sample_roster.csv"), stdout=StringIO())
    assert Member.objects.count() == 4
    # What the README's shell line does: the campaign happened yesterday, so today's daily digest reports it.
    yesterday = timezone.now() - datetime.timedelta(days=1)
    StatusChange.objects.update(changed_at=yesterday, published_at=yesterday)
    Evidence.objects.update(created_at=yesterday)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_digests", "--frequency", "daily", stdout=StringIO())
    assert len(mail.outbox) == 3, [message.to for message in mail.outbox]
    for message in mail.outbox:
        assert "http://127.0.0.1:8201/" in message.body
        assert "localhost:8000" not in message.body
