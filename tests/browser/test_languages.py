"""Spanish pages and the browser digest in a real browser, at a phone's width."""

import datetime

import pytest
from playwright.sync_api import Page, expect

from bargaining.digests.content import DigestSource
from bargaining.digests.rendering import digest_render
from bargaining.links import delivery_links
from bargaining.models import Delivery, DigestBody, DigestRun
from demands.campaign import campaign_load
from demands.models import Demand, Evidence, StatusChange, Visibility
from tests.factories import EvidenceFactory, EvidenceLinkFactory, MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DEMAND = "appropriate-personnel"


def overflow(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def sent_digest(language: str) -> str:
    """A digest of the campaign as a member in `language` got it, stored as sent; its browser link's path."""
    campaign_load()
    demand = Demand.objects.get(slug=DEMAND)
    long_url = "https://example.org/reports/" + "averylongunbrokenpathsegment" * 8
    evidence = EvidenceFactory(title="Counselor ratios in every network", url=long_url, visibility=Visibility.PUBLIC)
    for other in Demand.objects.all():
        EvidenceLinkFactory(demand=other, evidence=evidence)
    now = datetime.datetime.now(datetime.UTC)
    # A note with a long link pasted in, as a team member might: it must wrap, not widen the page.
    StatusChange.objects.update(
        changed_at=now - datetime.timedelta(hours=1),
        published_at=now - datetime.timedelta(hours=1),
        note=f"Read the report: {long_url}",
        note_es=f"Lea el informe: {long_url}",
    )
    Evidence.objects.update(created_at=now - datetime.timedelta(hours=1))
    start, end = now - datetime.timedelta(days=7), now
    content = DigestSource(since=start, until=end).content_for(
        window_start=start, window_end=end, topics=frozenset(), language=language
    )
    rendered = digest_render(content)
    body = DigestBody.objects.create(key=rendered.key, subject=rendered.subject, text=rendered.text, html=rendered.html)
    run = DigestRun.objects.create(frequency="weekly", period_start=end.date(), window_start=start, window_end=end)
    member = MemberFactory(language=language)
    delivery = Delivery.objects.create(
        run=run, member=member, window_start=start, state=Delivery.State.SENT, body=body, sent_at=now
    )
    assert demand.title in rendered.text or demand.title_es in rendered.text
    return delivery_links(delivery).browser.split("://", 1)[1].split("/", 1)[1]


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_browser_digest_fits_a_phone_screen(live_server, page: Page, language):
    path = sent_digest(language)
    assert path.startswith("es/" if language == "es" else "digests/")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/{path}")
    expect(page.locator("html")).to_have_attribute("lang", language)
    heading = {"en": "Where our demands stand", "es": "Dónde están nuestras demandas"}[language]
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    assert overflow(page) <= 0, f"the digest scrolls sideways by {overflow(page)}px on a phone"
    # Still 600px at most on a wide screen.
    page.set_viewport_size({"width": 1280, "height": 900})
    width = page.evaluate("document.querySelector('.card').getBoundingClientRect().width")
    assert 0 < width <= 600


def test_spanish_pages_read_in_spanish_and_fit_a_phone(live_server, page: Page):
    campaign_load()
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/es/")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dónde están nuestras demandas")
    page.get_by_role("link", name="Personal adecuado", exact=False).first.click()
    expect(page).to_have_url(f"{live_server.url}/es/demands/{DEMAND}/")
    expect(page.get_by_role("heading", name="Historial de estados")).to_be_visible()
    for path in ("/es/", f"/es/demands/{DEMAND}/", "/es/evidence/", "/es/demands/"):
        page.goto(live_server.url + path)
        assert overflow(page) <= 0, f"{path} scrolls sideways by {overflow(page)}px on a phone"
    # The switcher leads to the same page in English.
    page.goto(f"{live_server.url}/es/demands/{DEMAND}/")
    page.get_by_role("link", name="English").click()
    expect(page).to_have_url(f"{live_server.url}/demands/{DEMAND}/")
    expect(page.get_by_role("heading", name="Status history")).to_be_visible()
