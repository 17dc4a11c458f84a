import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from bargaining.links import member_preferences_url, member_unsubscribe_url
from bargaining.models import Member
from bargaining.tokens import DIGEST, PREFERENCES, UNSUBSCRIBE, make_token
from tests.factories import CategoryFactory, MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser() -> Client:
    """A client with no cookies that enforces CSRF like a real browser request."""
    return Client(enforce_csrf_checks=True)


def unsubscribe_path(member: Member) -> str:
    return reverse("bargaining:unsubscribe", args=[make_token(UNSUBSCRIBE, member.pk)])


def preferences_path(member: Member) -> str:
    return reverse("bargaining:preferences", args=[make_token(PREFERENCES, member.pk)])


def test_links_are_absolute_under_site_url():
    member = MemberFactory()
    unsubscribe, preferences = member_unsubscribe_url(member), member_preferences_url(member)

    assert unsubscribe == "https://tracker.example.org" + unsubscribe_path(member)
    assert unsubscribe.startswith("https://tracker.example.org/subscriptions/unsubscribe/")
    assert preferences.startswith("https://tracker.example.org/subscriptions/preferences/")


# --- Unsubscribe ---


def test_get_shows_a_confirmation_and_changes_nothing(browser):
    member = MemberFactory(email="ana@example.org")

    response = browser.get(unsubscribe_path(member))

    assert response.status_code == 200
    assert b"ana@example.org" in response.content
    assert b'<form method="post">' in response.content
    assert b"Unsubscribe</button>" in response.content
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-cache" in response["Cache-Control"]
    member.refresh_from_db()
    assert member.state == Member.State.ACTIVE


def test_confirm_button_post_unsubscribes_without_a_csrf_token(browser):
    member = MemberFactory()

    response = browser.post(unsubscribe_path(member))

    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    member.refresh_from_db()
    assert member.state == Member.State.UNSUBSCRIBED
    assert member.unsubscribed_at is not None


def test_rfc8058_one_click_post_unsubscribes_with_no_cookies(browser):
    member = MemberFactory()

    response = browser.post(
        member_unsubscribe_url(member).removeprefix("https://tracker.example.org"),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert not browser.cookies
    member.refresh_from_db()
    assert member.state == Member.State.UNSUBSCRIBED


def test_unsubscribing_twice_keeps_the_first_time(browser):
    member = MemberFactory()
    browser.post(unsubscribe_path(member))
    member.refresh_from_db()
    first = member.unsubscribed_at

    response = browser.post(unsubscribe_path(member))

    assert response.status_code == 200
    member.refresh_from_db()
    assert (member.state, member.unsubscribed_at) == (Member.State.UNSUBSCRIBED, first)
    assert b"already unsubscribed" in browser.get(unsubscribe_path(member)).content


@pytest.mark.parametrize("method", ["get", "post"])
def test_tampered_token_gets_a_clear_404_and_changes_nothing(browser, method):
    member = MemberFactory()
    other = MemberFactory()
    token = make_token(UNSUBSCRIBE, member.pk)
    # Swap in another member's id, keeping the signature.
    forged = make_token(UNSUBSCRIBE, other.pk).split(":")[0] + ":" + token.split(":")[1]

    for bad in [forged, token[:-2], "garbage", token + "x"]:
        response = getattr(browser, method)(reverse("bargaining:unsubscribe", args=[bad]))
        assert response.status_code == 404
        assert b"This link is not valid" in response.content
        assert b"Nothing was changed" in response.content

    assert set(Member.objects.values_list("state", flat=True)) == {Member.State.ACTIVE}


@pytest.mark.parametrize("purpose", [PREFERENCES, DIGEST])
def test_token_signed_for_another_purpose_cannot_unsubscribe(browser, purpose):
    member = MemberFactory()

    response = browser.post(reverse("bargaining:unsubscribe", args=[make_token(purpose, member.pk)]))

    assert response.status_code == 404
    member.refresh_from_db()
    assert member.state == Member.State.ACTIVE


def test_token_of_a_deleted_member_gets_404(browser):
    member = MemberFactory()
    path = unsubscribe_path(member)
    member.delete()

    assert browser.post(path).status_code == 404


def test_unsubscribe_refuses_other_methods(browser):
    member = MemberFactory()
    assert browser.put(unsubscribe_path(member)).status_code == 405


# --- Preferences ---


def test_preferences_form_shows_current_choices(browser):
    trauma = CategoryFactory(name="Trauma supports")
    CategoryFactory(name="Holistic safety")
    member = MemberFactory(email="ana@example.org", frequency=Member.Frequency.DAILY)
    member.topics.set([trauma])

    response = browser.get(preferences_path(member))

    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["frequency"] == "daily"
    assert list(form.initial["topics"]) == [trauma]
    assert b"Trauma supports" in response.content
    assert b"Holistic safety" in response.content
    assert b"csrfmiddlewaretoken" in response.content
    assert "resubscribe" not in form.fields


def test_saving_preferences_changes_frequency_and_topics_and_says_so(browser):
    trauma = CategoryFactory(name="Trauma supports")
    member = MemberFactory(frequency=Member.Frequency.WEEKLY)
    path = preferences_path(member)
    token = str(browser.get(path).context["csrf_token"])

    response = browser.post(
        path, {"frequency": "daily", "topics": [trauma.pk], "csrfmiddlewaretoken": token}, follow=True
    )

    assert response.redirect_chain == [(path, 302)]
    assert b"Your preferences are saved." in response.content
    member.refresh_from_db()
    assert member.frequency == Member.Frequency.DAILY
    assert list(member.topics.all()) == [trauma]


def test_preferences_post_without_csrf_token_is_refused(browser):
    member = MemberFactory(frequency=Member.Frequency.WEEKLY)

    response = browser.post(preferences_path(member), {"frequency": "off"})

    assert response.status_code == 403
    member.refresh_from_db()
    assert member.frequency == Member.Frequency.WEEKLY


def test_preferences_show_validation_errors(browser):
    member = MemberFactory(frequency=Member.Frequency.WEEKLY)
    path = preferences_path(member)
    token = str(browser.get(path).context["csrf_token"])

    response = browser.post(path, {"frequency": "hourly", "topics": [999999], "csrfmiddlewaretoken": token})

    assert response.status_code == 200
    assert "frequency" in response.context["form"].errors
    assert "topics" in response.context["form"].errors
    assert b"Select a valid choice" in response.content
    member.refresh_from_db()
    assert member.frequency == Member.Frequency.WEEKLY


def test_unsubscribed_member_can_resubscribe_from_preferences(browser):
    member = MemberFactory(state=Member.State.UNSUBSCRIBED)
    path = preferences_path(member)
    page = browser.get(path)
    assert b"You are unsubscribed" in page.content
    assert "resubscribe" in page.context["form"].fields
    token = str(page.context["csrf_token"])

    browser.post(path, {"frequency": "weekly", "csrfmiddlewaretoken": token})
    member.refresh_from_db()
    assert member.state == Member.State.UNSUBSCRIBED

    browser.post(path, {"frequency": "weekly", "resubscribe": "on", "csrfmiddlewaretoken": token})
    member.refresh_from_db()
    assert (member.state, member.unsubscribed_at) == (Member.State.ACTIVE, None)


def test_unsubscribe_token_does_not_open_preferences(browser):
    member = MemberFactory()

    response = browser.get(reverse("bargaining:preferences", args=[make_token(UNSUBSCRIBE, member.pk)]))

    assert response.status_code == 404
    assert b"This link is not valid" in response.content


# --- In a real browser ---


@pytest.fixture
def page(live_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls in the test are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        yield browser.new_page()
        browser.close()
        # Inside Playwright's loop Django's connections are context-local: the test's ORM calls opened
        # their own, which would otherwise outlive the test and block dropping the test database.
        connections.close_all()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_member_changes_preferences_then_unsubscribes_in_a_browser(page, live_server):
    trauma = CategoryFactory(name="Trauma supports")
    member = MemberFactory(email="ana@example.org", frequency=Member.Frequency.WEEKLY)

    page.goto(live_server.url + preferences_path(member))
    page.get_by_label("Daily").check()
    page.get_by_label("Trauma supports").check()
    page.get_by_role("button", name="Save preferences").click()
    page.get_by_text("Your preferences are saved.").wait_for()
    member.refresh_from_db()
    assert member.frequency == Member.Frequency.DAILY
    assert list(member.topics.all()) == [trauma]

    page.goto(live_server.url + unsubscribe_path(member))
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("heading", name="You are unsubscribed").wait_for()
    member.refresh_from_db()
    assert member.state == Member.State.UNSUBSCRIBED

    page.get_by_role("link", name="Subscribe again").click()
    page.get_by_label("Yes, send me digests again").check()
    page.get_by_role("button", name="Save preferences").click()
    page.get_by_text("Your preferences are saved.").wait_for()
    member.refresh_from_db()
    assert member.state == Member.State.ACTIVE
