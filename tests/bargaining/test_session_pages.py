"""The team's session pages: the list, recording and editing a session, through the test client."""

import datetime
import re

import factory
import pytest

from demands.models import BargainingSession, Visibility
from tests.factories import BargainingSessionFactory, DemandFactory

pytestmark = pytest.mark.django_db

NOTES = "QX7-SESSION-NOTES"


@pytest.fixture
def team_client(client, team_user):
    client.force_login(team_user)
    return client


def html(response) -> str:
    return response.content.decode()


def test_the_list_shows_sessions_with_demands_and_notes_marked_confidential(team_client):
    older = BargainingSessionFactory(held_on=datetime.date(2026, 10, 1), location="City Hall")
    newer = BargainingSessionFactory(held_on=datetime.date(2026, 11, 2), kind="mediation", team_notes=NOTES)
    demand = DemandFactory(title="More social workers")
    newer.demands.add(demand)
    response = team_client.get("/sessions/")
    page = html(response)
    assert response.status_code == 200
    assert "<title>Bargaining sessions · Bargaining Demand Tracker</title>" in page
    assert page.index(f'id="session-{newer.pk}"') < page.index(f'id="session-{older.pk}"')
    newer_card = page.split(f'id="session-{newer.pk}"')[1].split("</li>\n  \n")[0]
    assert "Mediation" in newer_card and "November 2, 2026" in newer_card
    assert f'<a href="{demand.get_absolute_url()}">More social workers</a>' in newer_card
    assert "Confidential — bargaining team only" in newer_card and NOTES in newer_card
    assert "City Hall" in page
    assert f'href="/sessions/{older.pk}/edit/"' in page


def test_the_team_sees_a_sessions_link_in_the_navigation(team_client, client, member_user):
    assert 'href="/sessions/">Sessions</a>' in html(team_client.get("/"))
    client.logout()
    assert 'href="/sessions/"' not in html(client.get("/"))
    client.force_login(member_user)
    assert 'href="/sessions/"' not in html(client.get("/"))


def test_team_records_a_session_with_the_demands_discussed(team_client, team_user):
    first, second, _ = DemandFactory.create_batch(3)
    form = html(team_client.get("/sessions/new/"))
    assert "<title>Record a session · Bargaining Demand Tracker</title>" in form
    assert f'value="{first.pk}"' in form
    response = team_client.post(
        "/sessions/new/",
        {
            "held_on": "2026-12-01",
            "kind": "subcommittee",
            "location": "CPS headquarters",
            "team_notes": "Push on counselors.",
            "demands": [first.pk, second.pk],
        },
    )
    session = BargainingSession.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/sessions/#session-{session.pk}"
    assert (session.held_on, session.kind, session.team_notes) == (
        datetime.date(2026, 12, 1),
        "subcommittee",
        "Push on counselors.",
    )
    assert set(session.demands.all()) == {first, second}
    assert session.history.get().history_user == team_user


def test_team_edits_a_session_and_replaces_the_demands_discussed(team_client, team_user):
    first, second = DemandFactory.create_batch(2)
    session = BargainingSessionFactory(location="City Hall")
    session.demands.add(first)
    form = html(team_client.get(f"/sessions/{session.pk}/edit/"))
    assert 'value="City Hall"' in form
    assert f'value="{first.pk}" id="id_demands_0" checked' in form or f'value="{first.pk}" checked' in form
    response = team_client.post(
        f"/sessions/{session.pk}/edit/",
        {"held_on": "2026-11-03", "kind": "table", "location": "Board chambers", "demands": [second.pk]},
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.held_on, session.location) == (datetime.date(2026, 11, 3), "Board chambers")
    assert list(session.demands.all()) == [second]
    assert session.history.latest().history_user == team_user


def field_html(page: str, field: str) -> str:
    """The markup of one field of the form: from its label (or legend) to the next field."""
    start = page.index(f'for="id_{field}"') if field != "demands" else page.index("<legend>Demands discussed")
    end = re.compile(r'class="(field|field field--error|confidential)"').search(page, start + 1)
    return page[start : end.start()]


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"held_on": "2026-02-30"}, "held_on", "Enter a valid date."),
        ({"held_on": ""}, "held_on", "This field is required."),
        ({"kind": "picnic"}, "kind", "Select a valid choice."),
        ({"demands": ["987654"]}, "demands", "Select a valid choice."),
    ],
)
def test_bad_input_is_shown_on_its_field_and_nothing_changes(team_client, data, field, message):
    session = BargainingSessionFactory(location="City Hall", held_on=datetime.date(2026, 11, 2))
    post = {"held_on": "2026-12-01", "kind": "table", "location": "Elsewhere", **data}
    for url in ("/sessions/new/", f"/sessions/{session.pk}/edit/"):
        response = team_client.post(url, post)
        assert response.status_code == 400, url
        assert message in field_html(html(response), field), url
    assert BargainingSession.objects.count() == 1
    session.refresh_from_db()
    assert (session.location, session.held_on) == ("City Hall", datetime.date(2026, 11, 2))


@pytest.mark.parametrize("who", ["anonymous", "member"])
def test_anonymous_and_members_are_refused_and_nothing_changes(client, member_user, who):
    session = BargainingSessionFactory(location="City Hall", team_notes=NOTES)
    if who == "member":
        client.force_login(member_user)
    expected = 403 if who == "member" else 302
    post = {"held_on": "2026-12-01", "kind": "table", "location": "Elsewhere"}
    for url in ("/sessions/", "/sessions/new/", f"/sessions/{session.pk}/edit/"):
        get = client.get(url)
        assert get.status_code == expected, url
        assert NOTES not in html(get), url
        assert client.post(url, post).status_code == expected, url
    if who == "anonymous":
        assert client.get("/sessions/")["Location"] == "/accounts/login/?next=/sessions/"
    session.refresh_from_db()
    assert session.location == "City Hall"
    assert BargainingSession.objects.count() == 1


def add_sessions(count: int) -> None:
    """`count` sessions, each with notes and three demands discussed, one of them team-only."""
    for _ in range(count):
        session = BargainingSessionFactory(team_notes="Notes.")
        session.demands.add(*DemandFactory.create_batch(2), DemandFactory(visibility=Visibility.TEAM))


def test_session_list_queries_do_not_grow_with_rows(team_client, django_assert_num_queries):
    add_sessions(2)
    # session and user, groups (roles), sessions, their demands with categories, the proposals passed
    with django_assert_num_queries(6):
        assert team_client.get("/sessions/").status_code == 200
    add_sessions(30)
    with django_assert_num_queries(6):
        page = html(team_client.get("/sessions/"))
    assert page.count('class="card session"') == 32
    assert page.count('<li><a href="/demands/demand-') == 96


def ticked(page: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'name="demands" value="(\d+)"[^>]*checked', page)}


def offered(page: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'name="demands" value="(\d+)"', page)}


def numbered(prefix: str) -> factory.Sequence:
    return factory.Sequence(lambda n: f"{prefix} {n:03d}")


def test_the_picker_offers_at_most_a_page_of_the_demands_matching_the_search(team_client):
    from bargaining.views import SESSION_DEMAND_CHOICES

    nurses = DemandFactory.create_batch(SESSION_DEMAND_CHOICES, title=numbered("Nurses"))
    page = html(team_client.get("/sessions/new/"))
    assert offered(page) == {demand.pk for demand in nurses} and "More demands match" not in page
    counselors = DemandFactory(title="Counselors in every school")
    page = html(team_client.get("/sessions/new/"))
    assert len(offered(page)) == SESSION_DEMAND_CHOICES and "More demands match: showing the first 30." in page
    page = html(team_client.get("/sessions/new/?q=COUNSELORS"))
    assert offered(page) == {counselors.pk} and 'value="COUNSELORS"' in page
    page = html(team_client.get("/sessions/new/?q=librarians"))
    assert offered(page) == set() and "No demand matches “librarians”." in page


def test_the_picker_keeps_what_was_typed_and_ticked_across_a_search(team_client):
    nurses = DemandFactory(title="Nurses in every school")
    counselors = DemandFactory(title="Counselors in every school")
    DemandFactory(title="Librarians in every school")
    post = {"held_on": "2026-12-01", "kind": "table", "location": "City Hall", "team_notes": NOTES}
    response = team_client.post("/sessions/new/", {**post, "q": "nurses", "demands": [counselors.pk], "find": "1"})
    page = html(response)
    assert response.status_code == 200 and not BargainingSession.objects.exists()
    assert offered(page) == {counselors.pk, nurses.pk} and ticked(page) == {counselors.pk}
    assert 'value="City Hall"' in page and NOTES in page and 'value="2026-12-01"' in page
    assert "field__errors" not in page, "a search shows no errors"
    response = team_client.post("/sessions/new/", {**post, "q": "nurses", "demands": [counselors.pk, nurses.pk]})
    assert response.status_code == 302
    assert set(BargainingSession.objects.get().demands.all()) == {counselors, nurses}


def test_editing_a_session_keeps_its_demands_ticked_whatever_the_search(team_client):
    from bargaining.views import SESSION_DEMAND_CHOICES

    DemandFactory.create_batch(SESSION_DEMAND_CHOICES + 5, title=numbered("Aides"))
    discussed = DemandFactory(title="Zoned counselors")  # sorts after the first page of offers
    session = BargainingSessionFactory()
    session.demands.add(discussed)
    for url in (f"/sessions/{session.pk}/edit/", f"/sessions/{session.pk}/edit/?q=aides"):
        page = html(team_client.get(url))
        assert ticked(page) == {discussed.pk}, url
        assert len(offered(page)) == SESSION_DEMAND_CHOICES + 1, url


@pytest.mark.parametrize("bad", ["987654", "abc", "-1", "9" * 30])
def test_an_unknown_demand_is_refused_on_the_demands_field(team_client, bad):
    kept = DemandFactory(title="Nurses in every school")
    post = {"held_on": "2026-12-01", "kind": "table", "demands": [kept.pk, bad]}
    response = team_client.post("/sessions/new/", post)
    page = html(response)
    assert response.status_code == 400
    assert "Select a valid choice." in field_html(page, "demands") or "is not a valid value" in field_html(
        page, "demands"
    )
    assert ticked(page) == {kept.pk}, "what was ticked and is known stays ticked"
    assert not BargainingSession.objects.exists()
    searched = team_client.post("/sessions/new/", {**post, "find": "1"})
    assert searched.status_code == 200 and ticked(html(searched)) == {kept.pk}, "a search drops the unknown id"


def test_the_form_refuses_a_demand_its_user_may_not_see(member_user, team_user):
    from bargaining.forms import SessionForm

    hidden = DemandFactory(visibility=Visibility.TEAM)
    data = {"held_on": "2026-12-01", "kind": "table", "demands": [str(hidden.pk)]}
    form = SessionForm(data, user=member_user)
    assert not form.is_valid()
    assert "demands" in form.errors and f"{hidden.pk} is not one of the available choices" in str(form.errors)
    assert hidden not in form.find("")
    assert SessionForm(data, user=team_user).is_valid()


def count_queries(client, method: str, url: str, data=None) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(url, data or {})
    assert response.status_code in (200, 400), (url, response.status_code)
    return len(captured)


def test_the_session_forms_queries_are_the_same_at_ten_and_at_sixty_demands(team_client):
    session = BargainingSessionFactory()
    session.demands.add(*DemandFactory.create_batch(5))
    DemandFactory.create_batch(5)

    def counted() -> list[int]:
        post = {"held_on": "2026-12-01", "kind": "table", "demands": [demand.pk for demand in session.demands.all()]}
        pages = [
            ("get", "/sessions/new/", None),
            ("get", "/sessions/new/?q=demand", None),
            ("get", f"/sessions/{session.pk}/edit/", None),
            ("post", "/sessions/new/", {**post, "find": "1", "q": "demand"}),  # a search
            ("post", f"/sessions/{session.pk}/edit/", {**post, "kind": "picnic"}),  # a refused save
        ]
        return [count_queries(team_client, *page) for page in pages]

    few = counted()
    DemandFactory.create_batch(50)
    session.demands.add(*DemandFactory.create_batch(5))
    assert counted() == few
