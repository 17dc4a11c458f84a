"""Issue 12, item 7: preference and browser-digest links expire, unsubscribe links never do, and an admin
can revoke all of a member's links."""

from types import SimpleNamespace

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bargaining.links import digest_url, member_preferences_path, member_unsubscribe_path
from bargaining.models import Delivery, DigestRun, Member
from bargaining.services import member_revoke_links
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

MAX_AGE_DAYS = 90
MAX_AGE = MAX_AGE_DAYS * 24 * 60 * 60
SIGNED_AT = 1_800_000_000  # a whole second: the signer's timestamp is whole seconds


@pytest.fixture
def clock(monkeypatch, settings):
    """The signer's clock, and only the signer's: links are signed at SIGNED_AT unless moved."""
    settings.MEMBER_LINK_MAX_AGE_DAYS = MAX_AGE_DAYS
    fake = SimpleNamespace(now=float(SIGNED_AT))
    monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: fake.now))
    return fake


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True)


def sent_delivery(member: Member) -> Delivery:
    now = timezone.now()
    run = DigestRun.objects.create(
        frequency="daily", period_start=now, window_start=now - timezone.timedelta(days=1), window_end=now
    )
    return Delivery.objects.create(
        run=run, member=member, window_start=run.window_start, state=Delivery.State.SENT, body=None
    )


def path_of(url: str) -> str:
    return url.removeprefix("https://tracker.example.org")


def test_a_preferences_link_works_at_exactly_its_max_age_and_not_a_second_later(browser, clock):
    member = MemberFactory()
    link = member_preferences_path(member)

    clock.now = SIGNED_AT + MAX_AGE
    assert browser.get(link).status_code == 200

    clock.now = SIGNED_AT + MAX_AGE + 1
    response = browser.get(link)
    assert response.status_code == 410
    assert b"This link has expired" in response.content
    assert b"next digest" in response.content
    assert response["Referrer-Policy"] == "same-origin"
    # A POST with an expired link changes nothing either.
    Client().post(link, {"frequency": Member.Frequency.OFF})
    member.refresh_from_db()
    assert member.frequency == Member.Frequency.WEEKLY


def test_a_digest_link_works_at_exactly_its_max_age_and_not_a_second_later(client, clock):
    link = path_of(digest_url(sent_delivery(MemberFactory())))

    clock.now = SIGNED_AT + MAX_AGE
    assert client.get(link).status_code == 200

    clock.now = SIGNED_AT + MAX_AGE + 1
    response = client.get(link)
    assert response.status_code == 410
    assert b"This link has expired" in response.content


def test_the_max_age_is_a_setting(browser, clock, settings):
    link = member_preferences_path(MemberFactory())
    settings.MEMBER_LINK_MAX_AGE_DAYS = 1
    clock.now = SIGNED_AT + 24 * 60 * 60 + 1
    assert browser.get(link).status_code == 410


def test_an_unsubscribe_link_never_expires(browser, clock):
    member = MemberFactory()
    link = member_unsubscribe_path(member)
    clock.now = SIGNED_AT + 10 * MAX_AGE

    confirm = browser.get(link)
    assert confirm.status_code == 200
    assert b"This link has expired" not in confirm.content
    assert browser.post(link).status_code == 200
    member.refresh_from_db()
    assert member.state == Member.State.UNSUBSCRIBED


def test_revoking_refuses_every_old_link_and_new_ones_work(browser, clock):
    member = MemberFactory()
    delivery = sent_delivery(member)
    old = [member_preferences_path(member), path_of(digest_url(delivery)), member_unsubscribe_path(member)]

    member = member_revoke_links(member_id=member.pk)
    assert member.link_generation == 1

    for link in old:
        response = browser.get(link)
        assert response.status_code == 404, link
        assert b"This link is not valid" in response.content
    assert browser.post(old[2]).status_code == 404  # the one-click unsubscribe POST too
    member.refresh_from_db()
    assert member.state == Member.State.ACTIVE

    delivery.refresh_from_db()
    assert browser.get(member_preferences_path(member)).status_code == 200
    assert browser.get(path_of(digest_url(delivery))).status_code == 200
    assert browser.get(member_unsubscribe_path(member)).status_code == 200
    assert browser.post(member_unsubscribe_path(member)).status_code == 200
    member.refresh_from_db()
    assert member.state == Member.State.UNSUBSCRIBED


def test_the_admin_action_revokes_the_selected_members_links(client, admin_user):
    ana, ben = MemberFactory(), MemberFactory()
    ana_link, ben_link = member_preferences_path(ana), member_preferences_path(ben)
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:bargaining_member_changelist"),
        {"action": "revoke_links", "_selected_action": [ana.pk], "index": 0},
        follow=True,
    )

    assert response.status_code == 200
    assert b"Revoked the links of 1 member" in response.content
    ana.refresh_from_db()
    ben.refresh_from_db()
    assert (ana.link_generation, ben.link_generation) == (1, 0)
    assert client.get(ana_link).status_code == 404
    assert client.get(ben_link).status_code == 200
    assert client.get(member_preferences_path(ana)).status_code == 200
