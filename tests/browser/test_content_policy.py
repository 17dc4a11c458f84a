"""Under the strict Content-Security-Policy the pages work in a real browser and report no violation."""

import re

import pytest
from playwright.sync_api import Page, expect

from demands.campaign import campaign_load
from tests.browser.test_pages import DEMAND, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def watch_violations(page: Page) -> list[str]:
    """Chromium reports each blocked script, style, frame or connection to the console as "Refused to ..."."""
    reported: list[str] = []
    page.on(
        "console", lambda message: reported.append(message.text) if "Content Security Policy" in message.text else None
    )
    page.on("pageerror", lambda error: reported.append(str(error)))
    return reported


def test_dashboard_demand_page_and_status_form_report_no_violation(live_server, page: Page, team_user):
    campaign_load()
    violations = watch_violations(page)
    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Where our demands stand")
    # The stacked bars draw through SVG attributes: a rect has its width with no inline style.
    bar = page.locator("svg.stack rect").first
    expect(bar).to_be_visible()
    assert bar.bounding_box()["width"] > 0
    page.goto(f"{live_server.url}/demands/{DEMAND}/")
    expect(page.get_by_role("heading", name="Status history")).to_be_visible()

    sign_in(page, live_server.url, team_user.username, f"/demands/{DEMAND}/")
    expect(page.get_by_label("New status")).to_be_visible()
    page.get_by_label("New status").select_option("countered")
    page.get_by_role("button", name="Change status").click()
    expect(page.get_by_role("status")).to_contain_text("Moved to Countered")
    assert violations == []


def test_api_docs_render_offline_with_no_violation(live_server, page: Page):
    violations = watch_violations(page)
    outside: list[str] = []
    # Anything asked of another origin is aborted and recorded: the docs must need nothing from a CDN.
    page.route(
        re.compile(r"^https?://(?!localhost|127\.0\.0\.1).*"),
        lambda route: (outside.append(route.request.url), route.abort()),
    )
    page.goto(live_server.url + "/api/docs/")
    expect(page.get_by_role("heading", name=re.compile("Bargaining Demand Tracker API"))).to_be_visible()
    expect(page.locator(".opblock").first).to_be_visible()
    assert outside == []
    assert violations == []


def test_redoc_renders_offline_with_no_violation(live_server, page: Page):
    violations = watch_violations(page)
    outside: list[str] = []
    page.route(
        re.compile(r"^https?://(?!localhost|127\.0\.0\.1).*"),
        lambda route: (outside.append(route.request.url), route.abort()),
    )
    page.goto(live_server.url + "/api/redoc/")
    # Redoc renders the whole schema in the page before its heading appears: seconds on a busy 2-core machine
    # (CI once took more than the default 5 s while the search box was already there).
    expect(page.get_by_role("heading", level=1)).to_contain_text("Bargaining Demand Tracker API", timeout=30_000)
    expect(page.get_by_role("heading", name="List demands").first).to_be_attached()
    # Redoc's own styles applied (written into <style> elements the policy allows by hash): its side menu
    # stays in view beside the content, as unstyled markup would not.
    menu = page.locator(".menu-content")
    expect(menu).to_be_visible()
    assert menu.evaluate("element => getComputedStyle(element).position") == "sticky"
    # Its search runs in the worker it starts from a blob: URL.
    page.get_by_placeholder("Search...").fill("transition")
    expect(page.locator("[data-role='search:results'] li").first).to_be_visible()
    assert outside == []
    assert violations == [], violations
