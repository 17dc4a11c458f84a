"""Email services' tracking webhooks (django-anymail, Postmark's format): authenticated by the shared secret,
idempotent, and a forged report changes nothing."""

import base64
import json

import pytest

from bargaining.models import Member
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

URL = "/anymail/postmark/tracking/"
SECRET = "anymail-user:a-long-shared-webhook-secret"


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


def report(client, record: dict, secret: str = SECRET):
    auth = base64.b64encode(secret.encode()).decode()
    return client.post(URL, json.dumps(record), content_type="application/json", HTTP_AUTHORIZATION=f"Basic {auth}")


def bounce(email: str) -> dict:
    return {
        "RecordType": "Bounce",
        "Type": "HardBounce",
        "TypeCode": 1,
        "ID": 42,
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Email": email,
        "BouncedAt": "2026-12-01T10:00:00Z",
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "550 5.1.1 User unknown",
    }


def test_a_genuine_bounce_marks_the_member_bounced_and_a_replay_changes_nothing(client):
    member = MemberFactory(email="Gone@example.org")
    assert report(client, bounce("gone@example.org")).status_code == 200
    member.refresh_from_db()
    assert member.state == Member.State.BOUNCED
    updated = member.updated_at
    assert report(client, bounce("gone@example.org")).status_code == 200
    member.refresh_from_db()
    assert (member.state, member.updated_at) == (Member.State.BOUNCED, updated)


def test_a_forged_report_is_refused_and_changes_nothing(client):
    member = MemberFactory(email="ana@example.org")
    assert report(client, bounce(member.email), secret="anymail-user:guessed").status_code == 400
    assert client.post(URL, json.dumps(bounce(member.email)), content_type="application/json").status_code == 400
    assert Member.objects.get(pk=member.pk).state == Member.State.ACTIVE


def test_a_spam_complaint_unsubscribes(client):
    member = MemberFactory(email="ana@example.org")
    complaint = {**bounce(member.email), "RecordType": "SpamComplaint", "Type": "SpamComplaint", "TypeCode": 512}
    assert report(client, complaint).status_code == 200
    assert Member.objects.get(pk=member.pk).state == Member.State.UNSUBSCRIBED


@pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailInsecureWebhookWarning")  # the point of the test
def test_without_a_configured_secret_reports_change_nothing(client, settings):
    settings.ANYMAIL = {}
    member = MemberFactory(email="ana@example.org")
    client.post(URL, json.dumps(bounce(member.email)), content_type="application/json")
    assert Member.objects.get(pk=member.pk).state == Member.State.ACTIVE


def test_a_report_for_an_unknown_address_is_accepted_and_ignored(client):
    assert report(client, bounce("nobody@example.org")).status_code == 200
