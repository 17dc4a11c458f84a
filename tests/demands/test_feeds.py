"""The feeds people can open: plain-text summaries, one feed per category, a subscribe page for browsers."""

import feedparser
import pytest

from demands.models import Visibility
from tests.factories import CategoryFactory, DemandFactory, StatusChangeFactory

pytestmark = pytest.mark.django_db


def test_summaries_are_plain_text_so_markup_in_a_note_shows_as_typed(client):
    StatusChangeFactory(demand=DemandFactory(title="Counselors"), note="<b>Bold</b> & <script>x</script>")
    body = client.get("/feed/").content.decode()
    assert '<summary type="text">' in body
    assert 'type="html"' not in body
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; &lt;script&gt;" in body
    [entry] = feedparser.parse(body).entries
    assert entry.summary_detail.type == "text/plain"
    assert entry.summary.endswith("<b>Bold</b> & <script>x</script>")


def test_a_category_feed_has_that_categorys_public_changes_only(client):
    safety, staffing = CategoryFactory(slug="safety", name="Safety"), CategoryFactory(slug="staffing")
    StatusChangeFactory(demand=DemandFactory(title="Safe passage", category=safety))
    StatusChangeFactory(demand=DemandFactory(title="Social workers", category=staffing))
    StatusChangeFactory(demand=DemandFactory(title="Secret", category=safety, visibility=Visibility.MEMBERS))
    feed = feedparser.parse(client.get("/feed/safety/").content)
    assert not feed.bozo, feed.bozo_exception
    assert [entry.title for entry in feed.entries] == ["Safe passage: Draft → Proposed"]
    assert feed.feed.title.endswith("in Safety")
    assert any(link.href.endswith("/feed/safety/") for link in feed.feed.links if link.rel == "self")


def test_an_unknown_category_feed_is_404(client):
    assert client.get("/feed/no-such-category/").status_code == 404


def test_the_subscribe_page_links_every_feed_and_is_in_the_navigation(client):
    CategoryFactory(slug="safety", name="Safety")
    page = client.get("/feeds/").content.decode()
    assert 'href="/feed/"' in page and 'href="/feed/safety/"' in page
    assert "http://testserver/feed/safety/" in page
    dashboard = client.get("/").content.decode()
    assert 'href="/feeds/"' in dashboard
