"""What a member or a reporter uses, in a real browser at desktop and phone widths: search and filters, the
exports, the printed bulletin, the feeds, a refused status change, and axe-core's accessibility check."""

import csv
import io
import json
import re
import unicodedata
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from demands.campaign import campaign_load
from demands.models import Demand, Proposal, Resolution, Visibility
from tests.factories import DemandFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "correct horse battery staple"  # tests/factories.py UserFactory
SECRET = "Secret plan QX9"
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=list(WIDTHS))
def site(request, page: Page) -> Page:
    """A page at desktop or phone width that lets the tests inject axe-core whatever the site's CSP says."""
    context = page.context.browser.new_context(viewport=WIDTHS[request.param], bypass_csp=True, accept_downloads=True)
    context.set_default_timeout(10_000)
    return context.new_page()


@pytest.fixture
def campaign(db) -> None:
    campaign_load()
    category = Demand.objects.get(slug="appropriate-personnel").category
    DemandFactory(title=SECRET, slug="secret-plan", category=category, visibility=Visibility.TEAM)


def public_titles() -> list[str]:
    return list(Demand.objects.filter(visibility=Visibility.PUBLIC).values_list("title", flat=True))


def sign_in(page: Page, base: str, username: str, next_path: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_path}")
    expect(page.get_by_text("Sign in to continue")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name=re.compile("Sign out"))).to_be_visible()


def test_search_and_filter_the_demand_list(live_server, site: Page, campaign):
    site.goto(live_server.url + "/")
    site.get_by_role("navigation", name="Main").get_by_role("link", name="Demands", exact=True).click()
    expect(site).to_have_url(f"{live_server.url}/demands/")
    expect(site.get_by_role("heading", name=f"{len(public_titles())} demands")).to_be_visible()
    site.get_by_role("searchbox", name=re.compile("Search")).fill("social workers")
    site.get_by_role("button", name="Search").click()
    expect(site).to_have_url(re.compile(r"/demands/\?q=social\+workers"))
    titles = site.locator(".demand-card__title")
    expect(titles.first).to_be_visible()
    assert "Appropriate personnel" in " ".join(titles.all_inner_texts()) or titles.count() >= 1
    assert SECRET not in site.content()
    shared = site.url
    site.get_by_label("Status").select_option("proposed")
    site.get_by_label("Category").select_option(label="Staffing and personnel")
    site.get_by_role("button", name="Search").click()
    expect(site).to_have_url(re.compile(r"status=proposed.*category=staffing|category=staffing.*status=proposed"))
    expect(titles).to_have_count(1)
    site.goto(shared)
    expect(site.get_by_role("searchbox", name=re.compile("Search"))).to_have_value("social workers")
    overflow = site.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0


def test_export_csv_and_json_and_parse_them(live_server, site: Page, campaign):
    site.goto(live_server.url + "/demands/")
    with site.expect_download() as download:
        site.get_by_role("link", name="CSV", exact=True).first.click()
    assert download.value.suggested_filename.startswith("demands-")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert sorted(row["title"] for row in rows) == sorted(public_titles())
    assert "internal_notes" not in rows[0]
    response = site.request.get(live_server.url + "/demands.json")
    payload = json.loads(response.text())
    assert sorted(row["title"] for row in payload["demands"]) == sorted(public_titles())
    assert all({"history", "evidence", "clauses", "status"} <= set(row) for row in payload["demands"])


def test_print_the_bulletin_to_pdf_with_every_public_demand(live_server, site: Page, campaign, tmp_path):
    from pypdf import PdfReader

    site.goto(live_server.url + "/bulletin/")
    expect(site.get_by_role("heading", name="Where we stand", level=1)).to_be_visible()
    pdf = tmp_path / "bulletin.pdf"
    site.pdf(path=str(pdf), format="Letter")
    reader = PdfReader(pdf)
    # Lines wrap anywhere in a PDF's text and fonts set ligatures ("ﬀ"): compare normalized, without whitespace.
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", "".join(page.extract_text() for page in reader.pages)))
    for title in public_titles():
        assert re.sub(r"\s+", "", title) in text, title
    assert "Secretplan" not in text
    assert "Skiptocontent" not in text and "Signin" not in text, "the site's chrome is not printed"
    categories = Demand.objects.filter(visibility=Visibility.PUBLIC).values("category").distinct().count()
    assert len(reader.pages) >= categories, "one page per category"


def test_a_long_bulletin_prints_a_page_at_a_time_saying_which(live_server, site: Page, campaign, tmp_path):
    from pypdf import PdfReader

    from demands.views import BULLETIN_PAGE_SIZE

    category = Demand.objects.get(slug="appropriate-personnel").category
    DemandFactory.create_batch(BULLETIN_PAGE_SIZE, category=category)
    site.goto(live_server.url + "/bulletin/")
    expect(site.get_by_text("Page 1 of 2", exact=True).first).to_be_visible()
    site.get_by_role("link", name="Next").click()
    expect(site).to_have_url(f"{live_server.url}/bulletin/?page=2")
    pdf = tmp_path / "page-2.pdf"
    site.pdf(path=str(pdf), format="Letter")
    text = re.sub(r"\s+", "", "".join(page.extract_text() for page in PdfReader(pdf).pages))
    assert "Page2of2" in text, "the printed page says which page it is"
    assert "Previous" not in text and "Printonecategory" not in text, "the page links are not printed"
    site.goto(live_server.url + "/bulletin/")
    site.get_by_role("navigation", name="Print one category").get_by_role("link").nth(1).click()
    expect(site).to_have_url(re.compile(r"/bulletin/\?category=[-\w]+$"))
    expect(site.get_by_text("Page 1 of", exact=False)).to_have_count(0)


def test_a_refused_status_change_shows_its_message_in_view_with_focus(live_server, site: Page, campaign, team_user):
    sign_in(site, live_server.url, team_user.username, "/demands/appropriate-personnel/")
    status = site.get_by_label("New status")
    expect(status).to_have_value("")
    status.select_option("withdrawn")
    site.get_by_role("button", name="Change status").click()
    summary = site.locator("#status-form-errors")
    expect(summary).to_be_focused()
    expect(summary).to_be_in_viewport()
    expect(summary).to_contain_text("requires a public note")
    expect(site).to_have_url(f"{live_server.url}/demands/appropriate-personnel/")
    expect(site.get_by_role("status").first).to_contain_text("The status was not changed")
    site.reload()
    expect(site.locator("#status-form-errors")).to_have_count(0)
    assert Demand.objects.get(slug="appropriate-personnel").status == "proposed"


def test_the_feed_page_opens_and_links_the_feeds(live_server, site: Page, campaign):
    site.goto(live_server.url + "/")
    site.get_by_role("navigation", name="Main").get_by_role("link", name="Follow").click()
    expect(site.get_by_role("heading", name="Follow the changes", level=1)).to_be_visible()
    feed = site.get_by_role("link", name="Atom feed of every status change")
    expect(feed).to_have_attribute("href", "/feed/")
    expect(site.get_by_role("link", name="Staffing and personnel")).to_have_attribute("href", "/feed/staffing/")
    body = site.request.get(live_server.url + "/feed/staffing/").text()
    assert "<feed" in body and 'type="text"' in body


def axe_violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['id']} ({violation['impact']}): {[node['target'] for node in violation['nodes']][:3]}"
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def test_axe_finds_no_serious_issue(live_server, site: Page, campaign, team_user):
    assert AXE.exists(), "run `npm ci` (make test does) to install axe-core"
    found = {}
    english = ("/", "/demands/appropriate-personnel/", "/demands/?q=social+workers", "/bulletin/")
    resolution = "/es" + Resolution.objects.get().get_absolute_url()
    for path in (*english, "/es/", "/es/demands/appropriate-personnel/", resolution):
        site.goto(live_server.url + path)
        found[path] = axe_violations(site)
    sign_in(site, live_server.url, team_user.username, "/demands/appropriate-personnel/")
    found["team status form"] = axe_violations(site)
    site.get_by_label("New status").select_option("withdrawn")
    site.get_by_role("button", name="Change status").click()
    expect(site.locator("#status-form-errors")).to_be_focused()
    found["team status form, refused"] = axe_violations(site)
    # The forms at the table: the agreed language refused, a proposal's edit page, the vote refused.
    site.get_by_label("Agreed contract language").fill("")
    site.get_by_role("button", name="Save the agreed language").click()
    expect(site.locator("#agreement-form-errors")).to_be_focused()
    expect(site.locator("#agreement-form-errors")).to_contain_text("Give the agreed contract language.")
    found["agreement form, refused"] = axe_violations(site)
    proposal = Proposal.objects.filter(demand__slug="appropriate-personnel").order_by("number").first()
    assert proposal is not None, "load_campaign records the union's first proposal"
    site.goto(f"{live_server.url}/proposals/{proposal.pk}/edit/")
    found["proposal edit page"] = axe_violations(site)
    site.goto(live_server.url + "/votes/new/")
    found["vote form"] = axe_violations(site)
    site.get_by_role("button", name="Record the vote").click()
    expect(site.locator("#vote-form-errors")).to_be_visible()
    found["vote form, refused"] = axe_violations(site)
    assert not any(found.values()), found
