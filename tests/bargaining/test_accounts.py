"""Accounts as people expect: password reset by email, "sign in to continue", a member's account page."""

import re

import pytest
from django.core import mail

from bargaining.tokens import PREFERENCES, read_token
from tests.factories import MemberFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def test_password_reset_by_email_sets_a_new_password(client, team_user):
    team_user.email = "team@example.org"
    team_user.save()
    assert "Forgot your password?" in client.get("/accounts/login/").content.decode()
    response = client.post("/accounts/password_reset/", {"email": "TEAM@example.org"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
    [message] = mail.outbox
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200 and "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a fresh long passphrase", "new_password2": "a fresh long passphrase"},
    )
    assert done["Location"] == "/accounts/reset/done/"
    team_user.refresh_from_db()
    assert team_user.check_password("a fresh long passphrase")
    assert "This link no longer works" in client.get(link, follow=True).content.decode()


def test_an_unknown_email_gets_the_same_answer_and_no_mail(client, db):
    response = client.post("/accounts/password_reset/", {"email": "nobody@example.org"})
    assert response["Location"] == "/accounts/password_reset/done/"
    assert mail.outbox == []


def test_a_page_that_needs_an_account_says_sign_in_to_continue(client):
    response = client.get("/demands/new/", follow=True)
    assert "Sign in to continue" in response.content.decode()
    assert "Sign in to continue" not in client.get("/accounts/login/").content.decode()


def test_a_member_account_links_to_their_digest_settings(client, member_user):
    member_user.email = "Reader@Example.org"
    member_user.save()
    member = MemberFactory(email="reader@example.org")
    client.force_login(member_user)
    page = client.get("/accounts/").content.decode()
    token = re.search(r'href="/subscriptions/preferences/([^/"]+)/"', page).group(1)
    assert read_token(PREFERENCES, token) == member.pk
    assert client.get(f"/subscriptions/preferences/{token}/").status_code == 200
    assert 'href="/accounts/"' in client.get("/").content.decode()


def test_an_account_without_a_member_gets_no_link(client, team_user):
    client.force_login(team_user)
    page = client.get("/accounts/").content.decode()
    assert "/subscriptions/preferences/" not in page
    assert "No member on the roster has your account" in page


def test_the_account_page_needs_an_account(client, db):
    assert client.get("/accounts/")["Location"].startswith("/accounts/login/?next=/accounts/")
