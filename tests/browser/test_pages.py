"""The pages in a real browser: headless Debian chromium against Django's live server."""

import re

import pytest
from playwright.sync_api import Page, expect

from demands.campaign import campaign_load
from demands.models import BargainingSession, Demand, Evidence, Status, StatusChange, Visibility
from demands.services import demand_update
from tests.factories import BargainingSessionFactory, DemandFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MARKER = "QX7-TEAM-ONLY-MARKER"
DEMAND = "appropriate-personnel"
PASSWORD = "correct horse battery staple"  # tests/factories.py UserFactory


@pytest.fixture
def campaign() -> None:
    campaign_load()
    public = Demand.objects.get(slug=DEMAND)
    demand_update(
        demand_id=public.pk, expected_version=public.version, by=None, internal_notes=MARKER, fallback_position=MARKER
    )
    DemandFactory(
        title=f"Secret plan {MARKER}",
        slug="secret-plan",
        category=public.category,
        visibility=Visibility.TEAM,
    )


def sign_in(page: Page, base: str, username: str, next_path: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name=re.compile("Sign out"))).to_be_visible()


def test_anonymous_visitor_sees_public_demands_and_no_team_material(live_server, page: Page, campaign):
    page.goto(live_server.url + "/")
    expect(page).to_have_title("Where our demands stand · Bargaining Demand Tracker")
    expect(page.get_by_role("heading", level=1)).to_have_text("Where our demands stand")
    for demand in Demand.objects.filter(visibility=Visibility.PUBLIC):
        expect(page.get_by_role("link", name=demand.title, exact=True).first).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("Demands by status: .*Proposed 6"))).to_be_visible()
    expect(page.get_by_text("2,354", exact=True)).to_be_visible()
    assert MARKER not in page.content()

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()

    page.get_by_role("link", name=Demand.objects.get(slug=DEMAND).title).first.click()
    expect(page).to_have_url(f"{live_server.url}/demands/{DEMAND}/")
    expect(page.get_by_role("heading", name="Status history")).to_be_visible()
    expect(page.get_by_text("Confidential")).to_have_count(0)
    expect(page.get_by_label("New status")).to_have_count(0)
    assert MARKER not in page.content()

    page.goto(f"{live_server.url}/demands/secret-plan/")
    expect(page.get_by_role("heading", level=1)).to_have_text("We could not find that page")


def test_pages_fit_a_phone_screen(live_server, page: Page, campaign):
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/", f"/demands/{DEMAND}/", "/evidence/"):
        page.goto(live_server.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"


def test_team_member_moves_a_demand_from_proposed_to_countered(live_server, page: Page, campaign, team_user):
    session = BargainingSessionFactory(location="CPS headquarters")
    sign_in(page, live_server.url, team_user.username, f"/demands/{DEMAND}/")
    expect(page).to_have_url(f"{live_server.url}/demands/{DEMAND}/")
    expect(page.get_by_text("Confidential — bargaining team only").first).to_be_visible()
    expect(page.get_by_text(MARKER).first).to_be_visible()

    status = page.get_by_label("New status")
    expect(status.locator("option")).to_have_text(
        ["Choose the new status", "Countered", "Tentative agreement", "Withdrawn"]
    )
    status.select_option("countered")
    page.get_by_label("Public note").fill("CPS answered with a counter-proposal.")
    page.get_by_label("Team-only note").fill("They may move on caseloads next week.")
    page.get_by_label("Bargaining session").select_option(str(session.pk))
    page.get_by_role("button", name="Change status").click()

    expect(page.get_by_role("status")).to_contain_text("Moved to Countered (from Proposed).")
    newest = page.locator("#history .timeline__item").first
    expect(newest).to_contain_text("Proposed")
    expect(newest).to_contain_text("Countered")
    expect(newest).to_contain_text("CPS answered with a counter-proposal.")
    expect(newest).to_contain_text("Main table, Nov 2, 2026, CPS headquarters")
    expect(newest.locator(".confidential")).to_contain_text("They may move on caseloads next week.")
    expect(page.locator(".demand__status .badge")).to_have_text("Countered")

    change = StatusChange.objects.filter(demand__slug=DEMAND).first()
    assert (change.from_status, change.to_status, change.session_id) == ("proposed", "countered", session.pk)
    assert change.changed_by == team_user

    page.get_by_role("button", name=re.compile("Sign out")).click()
    page.goto(f"{live_server.url}/demands/{DEMAND}/")
    expect(page.locator("#history .timeline__item").first).to_contain_text("CPS answered with a counter-proposal.")
    assert "They may move on caseloads next week." not in page.content()


def test_a_stale_status_form_is_refused(live_server, page: Page, campaign, team_user):
    sign_in(page, live_server.url, team_user.username, f"/demands/{DEMAND}/")
    page.get_by_label("New status").select_option("countered")
    page.get_by_label("Public note").fill("Too late: someone else changed it.")

    # Meanwhile a teammate edits the demand.
    demand = Demand.objects.get(slug=DEMAND)
    demand_update(demand_id=demand.pk, expected_version=demand.version, by=None, target="One per 200 students")

    page.get_by_role("button", name="Change status").click()
    expect(page.get_by_role("status")).to_contain_text("was changed by someone else")
    expect(page.locator(".demand__status .badge")).to_have_text("Proposed")
    expect(page.get_by_text("Too late: someone else changed it.")).to_have_count(0)
    demand.refresh_from_db()
    assert demand.status == Status.PROPOSED
    assert not StatusChange.objects.filter(demand=demand, to_status=Status.COUNTERED).exists()


def test_team_member_adds_evidence_with_a_figure_and_sees_it_on_the_evidence_page(live_server, page: Page, team_user):
    sign_in(page, live_server.url, team_user.username, "/evidence/")
    page.get_by_role("link", name="Add evidence").click()
    expect(page).to_have_title("Add evidence · Bargaining Demand Tracker")
    page.get_by_label("Title").fill("Counselors per student in CPS")
    page.get_by_label("Kind").select_option("statistic")
    page.get_by_label("Publisher").fill("Chicago Teachers Union")
    page.get_by_label("Published on").fill("2024-02-22")
    page.get_by_label("Verbatim quote").fill("One counselor for every 400 students.")
    page.get_by_label("Visibility").select_option("public")
    page.get_by_label("Checked against the source").check()
    row = page.get_by_role("group", name="Figure 1")
    row.get_by_label("Value").fill("-400")
    row.get_by_label("Unit").fill("students per counselor")
    page.get_by_role("button", name="Add evidence").click()

    expect(page.get_by_role("group", name="Figure 1").get_by_text("A figure cannot be negative.")).to_be_visible()
    assert not Evidence.objects.exists()
    page.get_by_role("group", name="Figure 1").get_by_label("Value").fill("400")
    page.get_by_role("button", name="Add evidence").click()

    evidence = Evidence.objects.get()
    expect(page).to_have_url(f"{live_server.url}/evidence/#evidence-{evidence.pk}")
    card = page.locator(f"#evidence-{evidence.pk}")
    expect(card.get_by_role("heading", name="Counselors per student in CPS")).to_be_visible()
    expect(card.get_by_text("students per counselor")).to_be_visible()
    expect(card.get_by_text("400", exact=True)).to_be_visible()
    assert evidence.verified_by == team_user
    assert [(figure.value, figure.unit) for figure in evidence.figures.all()] == [(400, "students per counselor")]


def test_team_records_a_sessions_outcomes_and_a_visitor_sees_the_redline(live_server, page: Page, team_user):
    from demands.services import session_create

    demand = DemandFactory(
        title="School nurses",
        slug="school-nurses",
        status=Status.PROPOSED,
        current_language="The Board shall staff one nurse per 1,500 students.",
    )
    session = session_create(by=None, held_on=__import__("datetime").date.today(), demand_ids=[demand.pk])
    sign_in(page, live_server.url, team_user.username, f"/sessions/{session.pk}/outcomes/")
    expect(page).to_have_url(f"{live_server.url}/sessions/{session.pk}/outcomes/")
    outcome = page.locator(f"#outcome-{demand.pk}")
    outcome.get_by_label("Proposal passed by").select_option("board")
    outcome.get_by_label("Proposed language").fill("The Board shall staff one nurse per 1,200 students.")
    outcome.get_by_label("Summary for members").fill("The Board offered one nurse per 1,200 students.")
    page.get_by_role("button", name="Record the outcomes").click()
    expect(page).to_have_url(re.compile(rf"/sessions/#session-{session.pk}$"))
    expect(page.get_by_text("The Board passed:")).to_be_visible()
    page.get_by_role("button", name=re.compile("Sign out")).click()

    page.goto(f"{live_server.url}/demands/school-nurses/")
    redline = page.locator("#proposal-1 .redline")
    expect(redline.locator("del")).to_have_text("1,500")
    expect(redline.locator("ins")).to_have_text("1,200")
    expect(page.get_by_text("was added")).to_be_visible()
    expect(page.locator(".demand__status")).to_contain_text("Countered")


def test_team_picks_the_demands_of_a_session_by_searching_twice(live_server, page: Page, campaign, team_user):
    sign_in(page, live_server.url, team_user.username, "/sessions/new/")
    page.get_by_label("Date").fill("2026-12-01")
    page.get_by_label("Location").fill("CPS headquarters")
    page.get_by_label("Find demands by title or category").fill("personnel")
    page.get_by_role("button", name="Find demands").click()
    first = Demand.objects.get(slug=DEMAND)
    page.get_by_label(re.compile(re.escape(first.title))).check()
    page.get_by_label("Find demands by title or category").fill("secret plan")
    page.get_by_role("button", name="Find demands").click()
    expect(page.get_by_label(re.compile(re.escape(first.title)))).to_be_checked()
    expect(page.get_by_label("Location")).to_have_value("CPS headquarters")
    page.get_by_label(re.compile("Secret plan")).check()
    page.get_by_role("button", name="Record session").click()
    expect(page).to_have_url(re.compile(r"/sessions/#session-\d+$"))
    session = BargainingSession.objects.get()
    assert set(session.demands.values_list("slug", flat=True)) == {DEMAND, "secret-plan"}
    assert session.location == "CPS headquarters"
