"""Anonymous public pages come from the cache (Redis here, as in production), per URL and language; a write
through the services replaces them at once; signed-in viewers never get them; a reload costs a 304."""

import datetime

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from demands.models import Status
from demands.pagecache import GENERATION_KEY
from demands.services import demand_transition, demand_update
from tests.factories import DemandFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("redis_cache")]


def rendered(client, url: str) -> bool:
    """Whether `url` was rendered (it asked the database) rather than served from the cache."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries) > 0


@pytest.fixture
def demand():
    return DemandFactory(title="Counselors in every school", status=Status.PROPOSED)


PUBLIC_PAGES = ["/", "/demands/", "/evidence/", "/bulletin/", "/feeds/", "/feed/"]


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_an_anonymous_page_is_served_from_the_cache_without_a_query(client, demand, url, django_assert_num_queries):
    first = client.get(url)
    assert first.status_code == 200
    with django_assert_num_queries(0):
        again = client.get(url)
    assert again.content == first.content
    assert "Cookie" in again["Vary"] and "Accept-Language" in again["Vary"]


def test_the_demand_page_is_cached_per_url(client, demand, django_assert_num_queries):
    client.get(demand.get_absolute_url())
    with django_assert_num_queries(0):
        assert client.get(demand.get_absolute_url()).status_code == 200
    assert rendered(client, f"{demand.get_absolute_url()}?history=2"), "another query string is another page"


def test_the_bulletin_is_cached_per_page_and_category(client, demand, django_assert_num_queries):
    for url in ("/bulletin/", "/bulletin/?page=2", f"/bulletin/?category={demand.category.slug}"):
        assert rendered(client, url), f"{url} is a page of its own"
        assert not rendered(client, url), f"{url} comes from the cache the second time"
    assert rendered(client, "/es/bulletin/?page=2"), "the Spanish page is another page"


def test_a_signed_in_viewer_is_never_served_from_the_cache(client, team_user, member_user, demand):
    client.get(demand.get_absolute_url())  # cached for anonymous visitors
    for user in (team_user, member_user):
        client.force_login(user)
        response = client.get(demand.get_absolute_url())
        assert "private" in response["Cache-Control"]
        if user is team_user:
            assert "Confidential — bargaining team only" in response.content.decode()
        client.logout()
    # ... and what they were shown was never stored for the public.
    assert "Confidential" not in client.get(demand.get_absolute_url()).content.decode()


def test_after_a_write_the_anonymous_page_shows_the_change(client, demand, django_capture_on_commit_callbacks):
    assert "Counselors in every school" in client.get("/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        demand_update(demand_id=demand.pk, expected_version=demand.version, by=None, title="Nurses in every school")
    page = client.get("/").content.decode()
    assert "Nurses in every school</a>" in page and "Counselors in every school</a>" not in page
    with django_capture_on_commit_callbacks(execute=True):
        demand_transition(demand_id=demand.pk, to_status=Status.COUNTERED, expected_version=2, by=None, note="Moved.")
    assert "Moved." in client.get(demand.get_absolute_url()).content.decode()


def test_a_refused_write_keeps_the_cached_pages(client, demand, django_capture_on_commit_callbacks):
    client.get("/")
    generation = cache.get(GENERATION_KEY)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Exception):
        demand_update(demand_id=demand.pk, expected_version=demand.version + 5, by=None, title="Stale")
    assert cache.get(GENERATION_KEY) == generation
    assert not rendered(client, "/")


def test_a_visitor_with_a_session_is_not_served_from_the_cache(client, demand):
    client.get("/")
    client.cookies["sessionid"] = "whatever"
    assert rendered(client, "/")


def test_pages_are_cached_per_language(client, demand):
    """The active language is in the key: a Spanish page is never an English one served from the cache."""
    client.get("/")
    assert not rendered(client, "/")
    assert rendered(client, "/es/"), "the Spanish page is its own entry"
    assert not rendered(client, "/es/")
    assert '<html lang="es">' in client.get("/es/").content.decode()
    assert '<html lang="en">' in client.get("/").content.decode()
    # A visitor whose browser asks for Spanish still gets the English page at the English address.
    assert '<html lang="en">' in client.get("/", HTTP_ACCEPT_LANGUAGE="es").content.decode()


def test_a_reload_with_the_etag_costs_a_304(client, demand):
    first = client.get(demand.get_absolute_url())
    assert first.has_header("ETag") and first.has_header("Last-Modified")
    again = client.get(demand.get_absolute_url(), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again.content == b""
    other = client.get(demand.get_absolute_url(), HTTP_IF_NONE_MATCH='"not-this-one"')
    assert other.status_code == 200


def test_the_cache_can_be_turned_off(client, demand, settings):
    settings.PUBLIC_PAGE_CACHE_SECONDS = 0
    client.get("/")
    assert rendered(client, "/")


def test_a_page_the_team_saw_first_is_never_served_to_visitors(client, team_user):
    demand = DemandFactory(status=Status.PROPOSED, internal_notes="TEAM-ONLY-CANARY")
    client.force_login(team_user)
    assert "TEAM-ONLY-CANARY" in client.get(demand.get_absolute_url()).content.decode()
    client.logout()
    page = client.get(demand.get_absolute_url()).content.decode()
    assert "TEAM-ONLY-CANARY" not in page and "Confidential" not in page


@pytest.mark.parametrize("publisher", ["second member", "embargo"])
def test_publishing_a_held_change_replaces_the_cached_anonymous_page(
    client, demand, team_user, publisher, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from demands.roles import TEAM_GROUP
    from demands.services import change_publish, embargoes_publish
    from tests.factories import UserFactory

    with django_capture_on_commit_callbacks(execute=True):
        change = demand_transition(
            demand_id=demand.pk,
            to_status=Status.COUNTERED,
            expected_version=demand.version,
            by=team_user,
            note="HELD-CACHE-CANARY",
            hold=True,
            embargo_until=timezone.now() + datetime.timedelta(minutes=5),
        )
    url = demand.get_absolute_url()
    assert "HELD-CACHE-CANARY" not in client.get(url).content.decode()  # now cached, without the held change
    with django_capture_on_commit_callbacks(execute=True):
        if publisher == "embargo":
            assert embargoes_publish(now=timezone.now() + datetime.timedelta(minutes=5)).change_ids == [change.pk]
        else:
            approver = UserFactory(username="approver")
            approver.groups.add(Group.objects.get_or_create(name=TEAM_GROUP)[0])
            change_publish(change_id=change.pk, by=approver)
    assert "HELD-CACHE-CANARY" in client.get(url).content.decode()


def test_with_the_cache_down_anonymous_pages_are_rendered_not_refused(client, demand):
    """Nothing listens on port 9 (discard): every cache call fails, and the page is rendered all the same."""
    from django.test import override_settings

    down = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}}
    with override_settings(CACHES=down):
        for url in ("/", demand.get_absolute_url()):
            response = client.get(url)
            assert response.status_code == 200
            assert "Counselors in every school" in response.content.decode()
