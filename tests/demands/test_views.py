"""The server-rendered pages, the Atom feed and the team's workflow, through Django's test client."""

import datetime
import re

import feedparser
import pytest
from django.test import RequestFactory
from django.utils import timezone
from django.utils.html import escape
from django.views import defaults

from demands.campaign import campaign_load
from demands.models import Demand, Evidence, EvidenceLink, Status, StatusChange, Visibility
from demands.services import demand_transition, demand_update
from demands.views import EVIDENCE_PAGE_SIZE, HISTORY_PAGE_SIZE, LIST_PAGE_SIZE
from tests.factories import (
    BargainingSessionFactory,
    CategoryFactory,
    DemandFactory,
    EvidenceFactory,
    EvidenceLinkFactory,
    FigureFactory,
    ResolutionClauseFactory,
)

pytestmark = pytest.mark.django_db

CONFIDENTIAL = "Confidential — bargaining team only"


@pytest.fixture
def campaign() -> None:
    campaign_load()


@pytest.fixture
def team_client(client, team_user):
    client.force_login(team_user)
    return client


@pytest.fixture
def member_client(client, member_user):
    client.force_login(member_user)
    return client


def html(response) -> str:
    return response.content.decode()


def select_options(page: str, name: str) -> list[str]:
    """The option values of the <select name=...> in `page`."""
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no <select name={name}> on the page"
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def hidden_version(page: str, action: str) -> int:
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', page, re.S)
    assert form, f"no form posting to {action}"
    return int(re.search(r'name="version" value="(\d+)"', form.group(0)).group(1))


def change(demand: Demand, to: str, *, note: str = "", internal_note: str = "", session=None, by=None):
    demand.refresh_from_db()
    return demand_transition(
        demand_id=demand.pk,
        to_status=to,
        expected_version=demand.version,
        by=by,
        note=note,
        internal_note=internal_note,
        session_id=session.pk if session else None,
    )


# --- Public pages --------------------------------------------------------------------------------


def test_dashboard_groups_campaign_demands_by_category_with_badges_and_summaries(client, campaign):
    response = client.get("/")
    page = html(response)
    assert response.status_code == 200
    assert "<title>Where our demands stand · Bargaining Demand Tracker</title>" in page
    for demand in Demand.objects.select_related("category"):
        assert escape(demand.title) in page
        assert escape(demand.summary) in page
        assert f'id="category-{demand.category.slug}"' in page
    # Demands sit under their own category's heading, in category order.
    trauma, staffing = page.index('id="category-trauma-supports"'), page.index('id="category-staffing"')
    assert trauma < page.index("Trauma supports in every school") < staffing
    assert page.count('class="badge badge--proposed"') >= 6


def test_dashboard_draws_counts_by_status_and_by_category(client):
    first, second = CategoryFactory(name="Trauma supports"), CategoryFactory(name="Holistic safety")
    DemandFactory.create_batch(3, category=first, status=Status.PROPOSED)
    DemandFactory(category=first, status=Status.COUNTERED)
    DemandFactory(category=second, status=Status.RATIFIED)
    page = html(client.get("/"))
    assert re.search(r"<svg[^>]*role=\"img\"", page)
    assert (
        "Demands by status: Draft 0, Proposed 3, Countered 1, Tentative agreement 0, Ratified 1, Withdrawn 0." in page
    )
    # The longest bar is the full track; the others are in proportion.
    assert 'width="140" class="chart__bar chart__bar--proposed"' in page
    assert 'width="46" class="chart__bar chart__bar--countered"' in page
    assert "3 proposed, 1 countered" in page
    assert "1 ratified" in page


def test_dashboard_shows_the_resolution_and_key_figures_as_evidence_cards(client, campaign):
    page = html(client.get("/"))
    assert "Ending CPS&#x27;s contract with the Chicago Police Department" in page
    assert "vote: Unanimous" in page
    assert '<p class="figure-card__value">2,354</p>' in page
    assert '<p class="figure-card__value">38</p>' in page
    assert "misconduct complaint records" in page


def test_dashboard_timeline_lists_recent_public_changes(client, campaign):
    demand = Demand.objects.get(slug="appropriate-personnel")
    change(demand, Status.COUNTERED, note="The Board answered with a counter-proposal.")
    page = html(client.get("/"))
    recent = page[page.index('id="recent-heading"') :]
    assert "The Board answered with a counter-proposal." in recent
    assert recent.index("The Board answered") < recent.index("Submitted to CPS")


def test_dashboard_shows_each_viewer_only_what_they_may_see(client, member_user, team_user):
    DemandFactory(title="Public demand", visibility=Visibility.PUBLIC)
    DemandFactory(title="Members demand", visibility=Visibility.MEMBERS)
    DemandFactory(title="Team demand", visibility=Visibility.TEAM)
    seen = {}
    for who, user in (("anonymous", None), ("member", member_user), ("team", team_user)):
        client.logout()
        if user:
            client.force_login(user)
        page = html(client.get("/"))
        seen[who] = {title for title in ("Public demand", "Members demand", "Team demand") if title in page}
    assert seen == {
        "anonymous": {"Public demand"},
        "member": {"Public demand", "Members demand"},
        "team": {"Public demand", "Members demand", "Team demand"},
    }


def test_demand_page_shows_summary_body_timeline_evidence_and_clauses(client, campaign):
    demand = Demand.objects.get(slug="holistic-safety-practices")
    # The campaign's demands were entered before this session: the timeline reads in the order of the table.
    Demand.objects.filter(pk=demand.pk).update(created_at=timezone.now() - datetime.timedelta(days=400))
    StatusChange.objects.filter(demand=demand).update(occurred_at=timezone.now() - datetime.timedelta(days=400))
    session = BargainingSessionFactory(location="CPS headquarters")
    change(demand, Status.COUNTERED, note="CPS countered at the main table.", session=session)
    response = client.get("/demands/holistic-safety-practices/")
    page = html(response)
    assert response.status_code == 200
    assert "<title>Holistic safety practices · Bargaining Demand Tracker</title>" in page
    assert demand.summary in page
    assert "Holistic safety practices replace them with what does." in page
    history = page[page.index('id="history-heading"') : page.index('id="evidence-heading"')]
    assert "CPS countered at the main table." in history
    assert "Main table, Nov 2, 2026, CPS headquarters" in history
    assert history.index("CPS countered") < history.index("Submitted to CPS")
    arrow = '<span aria-hidden="true">→</span><span class="visually-hidden">to</span>'
    assert re.search(rf'badge--proposed">Proposed</span>\s*{arrow}\s*<span class="badge badge--countered">', history)
    evidence = page[page.index('id="evidence-heading"') :]
    assert "#CopsOutCPS report on police assigned to CPS schools" in evidence
    assert "2,354</strong> misconduct complaint records" in evidence
    assert "38</strong> officers" in evidence
    assert "supports: police in schools carry thousands of misconduct complaints" in evidence
    assert "<blockquote>" in evidence
    assert "Ends Chicago Public Schools&#x27; contract with the Chicago Police Department" in page
    assert CONFIDENTIAL not in page
    assert "Change the status" not in page


def test_demand_page_of_a_team_demand_is_not_found_for_anonymous_and_members(client, member_user, team_user):
    DemandFactory(slug="team-plan", visibility=Visibility.TEAM)
    assert client.get("/demands/team-plan/").status_code == 404
    client.force_login(member_user)
    assert client.get("/demands/team-plan/").status_code == 404
    client.force_login(team_user)
    assert client.get("/demands/team-plan/").status_code == 200


def test_demand_page_of_a_members_demand_needs_a_member_account(client, member_user):
    DemandFactory(slug="members-only", visibility=Visibility.MEMBERS)
    assert client.get("/demands/members-only/").status_code == 404
    client.force_login(member_user)
    assert client.get("/demands/members-only/").status_code == 200


def test_team_sees_team_only_fields_and_notes_marked_confidential(team_client, team_user):
    demand = DemandFactory(internal_notes="Hold firm until May.", fallback_position="One per 400 students.")
    change(demand, Status.COUNTERED, note="Public words.", internal_note="They blinked.", by=team_user)
    page = html(team_client.get(demand.get_absolute_url()))
    team_section = page[page.index('id="team-heading"') : page.index('id="history-heading"')]
    assert CONFIDENTIAL in team_section
    assert "Hold firm until May." in team_section
    assert "One per 400 students." in team_section
    assert "Important" in team_section
    note = page.index("They blinked.")
    assert page.rindex(CONFIDENTIAL, 0, note) > page.index('id="history-heading"')
    # The status change's team-only fields, as the model declares them, in the confidential box of the row.
    assert page.index("They blinked.") < page.index("<dt>Changed by</dt><dd>team-member</dd>")


def test_resolution_page_lists_clauses_and_only_visible_demands(client, team_user):
    clause = ResolutionClauseFactory(number=1, text="Ends the police contract.")
    ResolutionClauseFactory(resolution=clause.resolution, number=2, text="Directs a safety plan.")
    DemandFactory(title="Visible demand").clauses.add(clause)
    DemandFactory(title="Hidden demand", visibility=Visibility.TEAM).clauses.add(clause)
    page = html(client.get(clause.resolution.get_absolute_url()))
    assert f"<title>{clause.resolution.title} · Bargaining Demand Tracker</title>" in page
    assert page.index("Ends the police contract.") < page.index("Directs a safety plan.")
    assert 'id="clause-2"' in page
    assert "Visible demand" in page
    assert "Hidden demand" not in page
    client.force_login(team_user)
    assert "Hidden demand" in html(client.get(clause.resolution.get_absolute_url()))


def test_unknown_resolution_is_not_found(client):
    assert client.get("/resolutions/999999/").status_code == 404


def test_evidence_page_shows_quotes_figures_sources_and_only_visible_citations(client, campaign):
    hidden = DemandFactory(title="Hidden demand", visibility=Visibility.TEAM)
    report = EvidenceLinkFactory(
        demand=hidden, evidence__title="Team research", evidence__visibility=Visibility.TEAM
    ).evidence
    EvidenceLink.objects.create(
        demand=hidden, evidence=Demand.objects.get(slug="holistic-safety-practices").evidence.first(), claim="x"
    )
    response = client.get("/evidence/")
    page = html(response)
    assert response.status_code == 200
    assert "<title>Evidence · Bargaining Demand Tracker</title>" in page
    assert "2,354</strong> misconduct complaint records" in page
    assert "Nationally, disciplinary proceedings initiated by SROs" in page
    assert 'Source: Chicago Teachers Union, <time datetime="2024-02-22">February 22, 2024</time>' in page
    assert "Holistic safety practices</a> — supports: police in schools" in page
    assert report.title not in page
    assert "Hidden demand" not in page


# --- Feed ----------------------------------------------------------------------------------------


def test_feed_is_atom_of_public_changes_with_public_notes_only(client):
    public = DemandFactory(title="Social workers")
    hidden = DemandFactory(title="Secret plan", visibility=Visibility.TEAM)
    members = DemandFactory(title="Members plan", visibility=Visibility.MEMBERS)
    change(public, Status.COUNTERED, note="CPS countered.", internal_note="Team eyes only.")
    change(hidden, Status.COUNTERED, note="Hidden move.")
    change(members, Status.COUNTERED, note="Members move.")
    change(public, Status.PROPOSED, note="We proposed again.")
    response = client.get("/feed/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    assert [entry.title for entry in feed.entries] == [
        "Social workers: Countered → Proposed",
        "Social workers: Proposed → Countered",
    ]
    newest, older = feed.entries
    assert newest.summary == "Moved from Countered to Proposed. We proposed again."
    assert older.summary == "Moved from Proposed to Countered. CPS countered."
    assert older.link.endswith(f"/demands/{public.slug}/#change-{public.status_changes.last().pk}")
    assert newest.id != older.id
    assert newest.updated_parsed
    body = response.content.decode()
    for secret in ("Team eyes only.", "Secret plan", "Hidden move.", "Members plan", "Members move."):
        assert secret not in body


def test_feed_is_public_even_for_the_team(team_client):
    change(DemandFactory(visibility=Visibility.TEAM, title="Secret plan"), Status.COUNTERED)
    assert "Secret plan" not in html(team_client.get("/feed/"))


# --- Sign in and out -----------------------------------------------------------------------------


def test_sign_in_and_out(client, team_user):
    page = html(client.get("/accounts/login/"))
    assert "<title>Sign in · Bargaining Demand Tracker</title>" in page
    assert '<label for="id_username">' in page
    response = client.post(
        "/accounts/login/", {"username": "team-member", "password": "correct horse battery staple", "next": "/"}
    )
    assert response.status_code == 302
    page = html(client.get("/"))
    assert "Sign out" in page
    assert "New demand" in page
    assert client.post("/accounts/logout/").status_code == 302
    assert "Sign in" in html(client.get("/"))


def test_wrong_password_is_refused_with_a_message(client, team_user):
    response = client.post("/accounts/login/", {"username": "team-member", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in html(response)


# --- Team workflow -------------------------------------------------------------------------------


def test_status_form_offers_only_the_allowed_next_statuses(team_client):
    demand = DemandFactory(status=Status.PROPOSED)
    page = html(team_client.get(demand.get_absolute_url()))
    assert select_options(page, "to_status") == ["", "countered", "tentative_agreement", "withdrawn"]
    select = re.search(r'<select name="to_status".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option value="([^"]*)" selected', select) == [""], "no status is chosen for you"
    demand_transition(demand_id=demand.pk, to_status=Status.COUNTERED, expected_version=demand.version, by=None)
    page = html(team_client.get(demand.get_absolute_url()))
    assert select_options(page, "to_status") == ["", "proposed", "tentative_agreement", "withdrawn"]


def test_final_status_offers_no_form(team_client):
    demand = DemandFactory(status=Status.RATIFIED)
    page = html(team_client.get(demand.get_absolute_url()))
    assert 'name="to_status"' not in page
    assert "Ratified is final" in page


def test_team_moves_a_demand_with_notes_and_session(team_client, team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    session = BargainingSessionFactory()
    url = demand.get_absolute_url()
    version = hidden_version(html(team_client.get(url)), f"{url}status/")
    response = team_client.post(
        f"{url}status/",
        {
            "to_status": "countered",
            "note": "CPS countered.",
            "internal_note": "Expect movement next week.",
            "session": session.pk,
            "version": version,
        },
    )
    change = demand.status_changes.get()
    assert response.status_code == 302
    assert response["Location"] == f"{url}#change-{change.pk}"
    assert (change.from_status, change.to_status, change.note, change.internal_note) == (
        "proposed",
        "countered",
        "CPS countered.",
        "Expect movement next week.",
    )
    assert (change.session, change.changed_by) == (session, team_user)
    demand.refresh_from_db()
    assert (demand.status, demand.version) == ("countered", version + 1)
    page = html(team_client.get(url))
    assert "Moved to Countered (from Proposed)." in page
    assert f'id="change-{change.pk}"' in page


def test_stale_status_form_is_refused_with_a_message_and_no_change(team_client):
    demand = DemandFactory(status=Status.PROPOSED)
    url = demand.get_absolute_url()
    version = hidden_version(html(team_client.get(url)), f"{url}status/")
    demand_update(demand_id=demand.pk, expected_version=version, by=None, summary="Someone else edited this.")
    response = team_client.post(
        f"{url}status/", {"to_status": "countered", "note": "Late.", "version": version}, follow=True
    )
    assert "was changed by someone else" in html(response)
    assert not demand.status_changes.exists()
    demand.refresh_from_db()
    assert (demand.status, demand.version) == ("proposed", version + 1)


def test_stale_status_form_is_refused_even_when_the_status_moved_on(team_client):
    demand = DemandFactory(status=Status.PROPOSED)
    url = demand.get_absolute_url()
    version = hidden_version(html(team_client.get(url)), f"{url}status/")
    change(demand, Status.COUNTERED, note="Someone else moved it.")
    response = team_client.post(f"{url}status/", {"to_status": "countered", "version": version}, follow=True)
    assert "was changed by someone else" in html(response)
    assert demand.status_changes.count() == 1


def refused(team_client, demand, data: dict) -> str:
    """Post the status form; a refusal redirects to the demand's page (post/redirect/get), which shows it once."""
    response = team_client.post(f"{demand.get_absolute_url()}status/", data)
    assert response.status_code == 302
    assert response["Location"] == demand.get_absolute_url()
    page = html(team_client.get(demand.get_absolute_url()))
    assert "The status was not changed" in page
    assert 'id="status-form-errors" role="alert" tabindex="-1" autofocus' in page
    again = html(team_client.get(demand.get_absolute_url()))
    assert "status-form-errors" not in again, "a reload shows a fresh form, and re-posts nothing"
    return page


def test_disallowed_transition_is_refused_with_the_reason(team_client):
    demand = DemandFactory(status=Status.PROPOSED)
    page = refused(team_client, demand, {"to_status": "ratified", "version": 1})
    assert "A demand cannot move from Proposed to Ratified" in page
    assert "Allowed next statuses: Countered, Tentative agreement, Withdrawn." in page
    assert not demand.status_changes.exists()


def test_withdrawing_needs_a_public_note(team_client):
    demand = DemandFactory(status=Status.PROPOSED)
    page = refused(team_client, demand, {"to_status": "withdrawn", "version": 1, "internal_note": "Kept input."})
    assert "requires a public note" in page
    assert '<option value="withdrawn" selected>' in page
    assert "Kept input." in page
    assert 'aria-invalid="true"' in page
    demand.refresh_from_db()
    assert demand.status == "proposed"


def test_no_status_chosen_is_refused_at_the_field(team_client):
    demand = DemandFactory(status=Status.PROPOSED)
    page = refused(team_client, demand, {"to_status": "", "version": 1})
    assert "Choose the new status." in page
    assert not demand.status_changes.exists()


@pytest.mark.parametrize("who", ["anonymous", "member"])
def test_only_the_team_can_change_a_status(client, member_user, who):
    demand = DemandFactory(status=Status.PROPOSED)
    if who == "member":
        client.force_login(member_user)
    response = client.post(f"{demand.get_absolute_url()}status/", {"to_status": "countered", "version": 1})
    assert response.status_code == (302 if who == "anonymous" else 403)
    if who == "anonymous":
        assert response["Location"].startswith("/accounts/login/?next=")
    assert not demand.status_changes.exists()
    assert 'name="to_status"' not in html(client.get(demand.get_absolute_url()))


def test_team_creates_a_draft_demand(team_client, team_user):
    category = CategoryFactory()
    page = html(team_client.get("/demands/new/"))
    assert "<title>New demand · Bargaining Demand Tracker</title>" in page
    assert CONFIDENTIAL in page
    response = team_client.post(
        "/demands/new/",
        {
            "title": "Nurses in every school",
            "category": category.pk,
            "summary": "A nurse in every school, every day.",
            "visibility": "public",
            "confirm_public": "on",
            "priority_tier": "must_have",
            "internal_notes": "Pair with the counselor demand.",
        },
    )
    demand = Demand.objects.get(title="Nurses in every school")
    assert response.status_code == 302
    assert response["Location"] == "/demands/nurses-in-every-school/"
    assert (demand.status, demand.version, demand.internal_notes) == ("draft", 1, "Pair with the counselor demand.")
    assert demand.history.first().history_user == team_user


@pytest.mark.parametrize(("visibility", "before"), [("public", None), ("public", "team"), ("public", "members")])
def test_making_a_demand_public_needs_a_confirmation(team_client, visibility, before):
    category = CategoryFactory()
    data = {"title": "Nurses", "category": category.pk, "summary": "s", "visibility": visibility}
    data["priority_tier"] = "important"
    url = "/demands/new/"
    if before:
        demand = DemandFactory(visibility=before, category=category, slug="nurses")
        url = f"{demand.get_absolute_url()}edit/"
        data.update(slug="nurses", version=1)
    response = team_client.post(url, data)
    assert response.status_code == 400
    assert "Tick this to make the demand public" in html(response)
    assert not Demand.objects.filter(visibility="public").exists()
    assert team_client.post(url, {**data, "confirm_public": "on"}).status_code == 302
    assert Demand.objects.get(slug="nurses").visibility == "public"


def test_no_confirmation_to_keep_a_demand_hidden_or_public(team_client):
    for visibility in ("team", "public"):
        demand = DemandFactory(visibility=visibility)
        data = {"title": "t", "slug": demand.slug, "category": demand.category_id, "summary": "s", "version": 1}
        response = team_client.post(
            f"{demand.get_absolute_url()}edit/", {**data, "visibility": visibility, "priority_tier": "important"}
        )
        assert response.status_code == 302, visibility
    assert 'name="confirm_public"' not in html(team_client.get(f"{demand.get_absolute_url()}edit/"))


def test_create_form_reports_missing_fields(team_client):
    response = team_client.post("/demands/new/", {"title": ""})
    assert response.status_code == 400
    assert "This field is required." in html(response)
    assert not Demand.objects.exists()


def test_team_edits_a_demand(team_client):
    demand = DemandFactory(title="Old title")
    url = f"{demand.get_absolute_url()}edit/"
    page = html(team_client.get(url))
    assert 'name="version" value="1"' in page
    data = {
        "title": "New title",
        "slug": demand.slug,
        "category": demand.category_id,
        "summary": "New summary.",
        "visibility": "public",
        "priority_tier": "tradeable",
        "fallback_position": "Accept a pilot.",
        "version": 1,
    }
    response = team_client.post(url, data)
    assert response.status_code == 302
    demand.refresh_from_db()
    assert (demand.title, demand.fallback_position, demand.version) == ("New title", "Accept a pilot.", 2)


def test_stale_edit_is_refused_with_a_message_and_no_change(team_client):
    demand = DemandFactory(title="Old title")
    demand_update(demand_id=demand.pk, expected_version=1, by=None, summary="Edited meanwhile.")
    data = {
        "title": "My title",
        "slug": demand.slug,
        "category": demand.category_id,
        "summary": "My summary.",
        "visibility": "public",
        "priority_tier": "important",
        "version": 1,
    }
    response = team_client.post(f"{demand.get_absolute_url()}edit/", data)
    assert response.status_code == 400
    assert "was changed by someone else" in html(response)
    demand.refresh_from_db()
    assert (demand.title, demand.summary, demand.version) == ("Old title", "Edited meanwhile.", 2)


@pytest.mark.parametrize("path", ["/demands/new/", "/demands/{slug}/edit/"])
def test_members_cannot_create_or_edit(client, member_user, path):
    demand = DemandFactory()
    assert client.get(path.format(slug=demand.slug)).status_code == 302
    client.force_login(member_user)
    response = client.get(path.format(slug=demand.slug))
    assert response.status_code == 403
    assert "This is for the bargaining team" in html(response)


def test_team_cites_evidence_for_a_demand(team_client):
    demand = DemandFactory()
    cited, other = EvidenceFactory(title="Cited already"), EvidenceFactory(title="New source")
    EvidenceLinkFactory(demand=demand, evidence=cited)
    url = demand.get_absolute_url()
    page = html(team_client.get(url))
    assert select_options(page, "evidence") == ["", str(other.pk)]
    response = team_client.post(
        f"{url}evidence/", {"evidence": other.pk, "claim": "supports: the need", "version": demand.version}
    )
    assert response.status_code == 302
    assert demand.evidence_links.filter(evidence=other, claim="supports: the need").exists()
    demand.refresh_from_db()
    assert demand.version == 2


def test_stale_evidence_link_is_refused(team_client):
    demand = DemandFactory()
    evidence = EvidenceFactory()
    demand_update(demand_id=demand.pk, expected_version=1, by=None, summary="Edited meanwhile.")
    response = team_client.post(
        f"{demand.get_absolute_url()}evidence/", {"evidence": evidence.pk, "claim": "supports: it", "version": 1}
    )
    assert "was changed by someone else" in html(team_client.get(response["Location"]))
    assert not demand.evidence_links.exists()


# --- Look, structure and error pages -------------------------------------------------------------


def test_pages_have_landmarks_skip_link_and_stylesheet(client, campaign):
    for url in ("/", "/demands/trauma-supports/", "/evidence/", "/accounts/login/"):
        page = html(client.get(url))
        assert '<a class="skip-link" href="#main">' in page, url
        assert '<main id="main"' in page, url
        assert '<nav aria-label="Main">' in page, url
        assert "/static/demands/site.css" in page, url
        assert page.count("<h1") == 1, url
        assert '<meta name="viewport"' in page, url


def test_not_found_page_has_the_same_look(client):
    response = client.get("/no-such-page/")
    page = html(response)
    assert response.status_code == 404
    assert "<title>Page not found · Bargaining Demand Tracker</title>" in page
    assert "/static/demands/site.css" in page


def test_server_error_page_has_the_same_look():
    response = defaults.server_error(RequestFactory().get("/"))
    page = html(response)
    assert response.status_code == 500
    assert "<title>Something went wrong · Bargaining Demand Tracker</title>" in page
    assert "/static/demands/site.css" in page


# --- Confidentiality -----------------------------------------------------------------------------

MARKER = "QX7-TEAM-ONLY-MARKER"


@pytest.fixture
def planted(campaign, team_user) -> dict:
    """The campaign, with a marker in every team-only place a page or the feed could leak it from."""
    public = Demand.objects.get(slug="trauma-supports")
    demand_update(
        demand_id=public.pk,
        expected_version=public.version,
        by=team_user,
        internal_notes=MARKER,
        fallback_position=MARKER,
    )
    session = BargainingSessionFactory(team_notes=MARKER, location="CPS headquarters")
    change(public, Status.COUNTERED, note="Public note.", internal_note=MARKER, session=session, by=team_user)
    secret = DemandFactory(
        slug="secret-plan",
        title=f"{MARKER} title",
        summary=MARKER,
        body=MARKER,
        target=MARKER,
        category=public.category,
        visibility=Visibility.TEAM,
    )
    secret.clauses.set(public.clauses.all())
    change(secret, Status.COUNTERED, note=MARKER, internal_note=MARKER, session=session)
    EvidenceLink.objects.create(demand=secret, evidence=public.evidence.first(), claim=MARKER)
    hidden_evidence = EvidenceFactory(title=MARKER, quote=MARKER, publisher=MARKER, visibility=Visibility.TEAM)
    FigureFactory(evidence=hidden_evidence, unit=MARKER, description=MARKER)
    EvidenceLink.objects.create(demand=public, evidence=hidden_evidence, claim=MARKER)
    return {"public": public, "secret": secret}


def every_page(planted) -> list[str]:
    from demands.models import BargainingSession, Evidence, Resolution

    urls = ["/", "/evidence/", "/feed/", "/accounts/login/", "/demands/new/", "/demands/secret-plan/"]
    urls += ["/evidence/new/", "/sessions/", "/sessions/new/"]
    urls += [demand.get_absolute_url() for demand in Demand.objects.all()]
    urls += [f"{demand.get_absolute_url()}edit/" for demand in Demand.objects.all()]
    urls += [resolution.get_absolute_url() for resolution in Resolution.objects.all()]
    urls += [f"/evidence/{pk}/edit/" for pk in Evidence.objects.values_list("pk", flat=True)]
    urls += [f"/sessions/{pk}/edit/" for pk in BargainingSession.objects.values_list("pk", flat=True)]
    return urls


@pytest.mark.parametrize("who", ["anonymous", "member"])
def test_team_material_appears_in_no_page_or_feed_for_anonymous_or_members(client, member_user, planted, who):
    if who == "member":
        client.force_login(member_user)
    urls = every_page(planted)
    assert len(urls) >= 14
    for url in urls:
        response = client.get(url, follow=True)
        page = html(response)
        assert MARKER not in page, url
        assert CONFIDENTIAL not in page, url
        assert "Fallback position" not in page, url
    assert client.get("/demands/secret-plan/").status_code == 404


def test_the_planted_marker_is_on_the_team_pages(team_client, planted):
    """The other side of the confidentiality test: the marker is there to be found."""
    public_page = html(team_client.get("/demands/trauma-supports/"))
    assert public_page.count(MARKER) >= 5  # notes, fallback, internal note, hidden evidence and its figure
    assert MARKER in html(team_client.get("/"))
    assert MARKER in html(team_client.get("/demands/secret-plan/"))
    assert MARKER in html(team_client.get("/evidence/"))
    assert MARKER in html(team_client.get("/sessions/"))
    hidden = Evidence.objects.get(visibility=Visibility.TEAM, title=MARKER)
    assert MARKER in html(team_client.get(f"/evidence/{hidden.pk}/edit/"))


# --- Queries per page ----------------------------------------------------------------------------


def add_rows(count: int) -> None:
    """`count` demands over five categories, each with history, a session and cited evidence with figures."""
    categories = CategoryFactory.create_batch(5)
    clause = ResolutionClauseFactory()
    session = BargainingSessionFactory()
    for i in range(count):
        demand = DemandFactory(category=categories[i % 5], status=Status.PROPOSED)
        demand.clauses.add(clause)
        change(demand, Status.COUNTERED, note="n", internal_note="i", session=session)
        change(demand, Status.PROPOSED, note="n")
        link = EvidenceLinkFactory(demand=demand)
        FigureFactory.create_batch(2, evidence=link.evidence)


def add_history(demand: Demand, count: int) -> None:
    session = BargainingSessionFactory()
    for i in range(count):
        change(demand, Status.COUNTERED if i % 2 == 0 else Status.PROPOSED, note="n", session=session)
        link = EvidenceLinkFactory(demand=demand)
        FigureFactory.create_batch(2, evidence=link.evidence)
    demand.clauses.add(*ResolutionClauseFactory.create_batch(count))


# Anonymous pages: the page's own queries only. Signed-in pages add the session, the user and the groups.
# Each paginated list adds its count.
QUERIES = {
    ("dashboard", "anonymous"): 8,
    ("dashboard", "team"): 11,
    ("demand", "anonymous"): 10,
    ("demand", "team"): 15,
    ("evidence", "anonymous"): 4,
    ("resolution", "anonymous"): 3,
}


@pytest.mark.parametrize("who", ["anonymous", "team"])
def test_dashboard_queries_do_not_grow_with_rows(client, team_user, django_assert_num_queries, who):
    if who == "team":
        client.force_login(team_user)
    add_rows(2)
    with django_assert_num_queries(QUERIES["dashboard", who]):
        assert client.get("/").status_code == 200
    add_rows(40)
    with django_assert_num_queries(QUERIES["dashboard", who]):
        page = html(client.get("/"))
    # 42 demands: a full first page, the rest on the second; the progress counts all of them.
    assert page.count("demand-card__title") == LIST_PAGE_SIZE
    assert "42 demands by status" in page
    with django_assert_num_queries(QUERIES["dashboard", who]):
        last = html(client.get("/?page=2"))
    assert last.count("demand-card__title") == 42 - LIST_PAGE_SIZE


@pytest.mark.parametrize("who", ["anonymous", "team"])
def test_demand_page_queries_do_not_grow_with_history(client, team_user, django_assert_num_queries, who):
    if who == "team":
        client.force_login(team_user)
    demand = DemandFactory(status=Status.PROPOSED)
    add_history(demand, 2)
    with django_assert_num_queries(QUERIES["demand", who]):
        assert client.get(demand.get_absolute_url()).status_code == 200
    add_history(demand, 30)
    with django_assert_num_queries(QUERIES["demand", who]):
        page = html(client.get(demand.get_absolute_url()))
    assert page.count('class="timeline__item"') == HISTORY_PAGE_SIZE
    assert page.count('class="card evidence-card"') == EVIDENCE_PAGE_SIZE
    with django_assert_num_queries(QUERIES["demand", who]):
        older = html(client.get(f"{demand.get_absolute_url()}?history=2&evidence=2"))
    assert older.count('class="timeline__item"') == 32 - HISTORY_PAGE_SIZE
    assert older.count('class="card evidence-card"') == 32 - EVIDENCE_PAGE_SIZE


def test_evidence_and_resolution_queries_do_not_grow_with_rows(client, django_assert_num_queries):
    add_rows(2)
    clause = ResolutionClauseFactory()
    for page, url in (("evidence", "/evidence/"), ("resolution", clause.resolution.get_absolute_url())):
        with django_assert_num_queries(QUERIES[page, "anonymous"]):
            assert client.get(url).status_code == 200
    add_rows(30)
    for demand in Demand.objects.all():
        demand.clauses.add(clause)
    for page, url in (("evidence", "/evidence/"), ("resolution", clause.resolution.get_absolute_url())):
        with django_assert_num_queries(QUERIES[page, "anonymous"]):
            assert client.get(url).status_code == 200


def test_status_change_history_is_kept_append_only_by_the_pages(team_client):
    """Nothing on the site edits or deletes history: a transition adds one row and leaves the others."""
    demand = DemandFactory(status=Status.PROPOSED)
    first = change(demand, Status.COUNTERED, note="First.")
    team_client.post(f"{demand.get_absolute_url()}status/", {"to_status": "proposed", "version": 2, "note": "Back."})
    assert list(StatusChange.objects.filter(demand=demand).values_list("note", flat=True)) == ["Back.", "First."]
    first.refresh_from_db()
    assert first.note == "First."


def test_a_demand_titled_new_gets_a_slug_that_does_not_clash_with_the_create_page(team_client):
    category = CategoryFactory()
    data = {"title": "New", "category": category.pk, "summary": "s", "visibility": "public", "confirm_public": "on"}
    data["priority_tier"] = "important"
    response = team_client.post("/demands/new/", data)
    assert response["Location"] == "/demands/new-2/"
    assert "“new” is reserved" in html(team_client.post("/demands/new/", {**data, "slug": "new"}))
    assert Demand.objects.count() == 1
