"""The bargaining API: sessions (public facts, team notes) and member records (team and admins only)."""

import datetime

import pytest

from bargaining.models import Member
from demands.models import BargainingSession, Visibility
from tests.factories import BargainingSessionFactory, CategoryFactory, DemandFactory, MemberFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

SESSIONS = "/api/v1/sessions/"
MEMBERS = "/api/v1/members/"


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- Sessions ---


def test_sessions_filter_by_kind_and_dates(api_client):
    early = BargainingSessionFactory(held_on=datetime.date(2026, 10, 1), kind=BargainingSession.Kind.TABLE)
    late = BargainingSessionFactory(held_on=datetime.date(2026, 11, 20), kind=BargainingSession.Kind.TABLE)
    BargainingSessionFactory(held_on=datetime.date(2026, 11, 21), kind=BargainingSession.Kind.MEDIATION)
    client = api_client()
    assert ids(client.get(SESSIONS, {"kind": "table"})) == [late.pk, early.pk]
    assert ids(client.get(SESSIONS, {"kind": "table", "held_after": "2026-11-01"})) == [late.pk]
    assert ids(client.get(SESSIONS, {"held_before": "2026-10-31"})) == [early.pk]
    assert ids(client.get(SESSIONS, {"kind": "table", "ordering": "held_on"})) == [early.pk, late.pk]


def test_sessions_filter_by_a_visible_demand_only(api_client, team_user):
    public = DemandFactory(visibility=Visibility.PUBLIC)
    hidden = DemandFactory(visibility=Visibility.TEAM)
    with_public = BargainingSessionFactory()
    with_public.demands.add(public)
    with_hidden = BargainingSessionFactory()
    with_hidden.demands.add(hidden)

    assert ids(api_client().get(SESSIONS, {"demand": public.pk})) == [with_public.pk]
    assert ids(api_client().get(SESSIONS, {"demand": hidden.pk})) == []
    assert ids(api_client(team_user).get(SESSIONS, {"demand": hidden.pk})) == [with_hidden.pk]


def test_session_notes_and_hidden_demands_are_for_the_team(api_client, member_user, team_user):
    public = DemandFactory(visibility=Visibility.PUBLIC)
    members = DemandFactory(visibility=Visibility.MEMBERS)
    hidden = DemandFactory(visibility=Visibility.TEAM)
    session = BargainingSessionFactory(team_notes="They will move on counselors.", location="CPS headquarters")
    session.demands.add(public, members, hidden)
    url = f"{SESSIONS}{session.pk}/"

    anonymous = api_client().get(url).json()
    member = api_client(member_user).get(url).json()
    team = api_client(team_user).get(url).json()

    assert anonymous == {
        "id": session.pk,
        "held_on": "2026-11-02",
        "location": "CPS headquarters",
        "kind": "table",
        "demands": [public.pk],
        "created_at": anonymous["created_at"],
    }
    assert sorted(member["demands"]) == sorted([public.pk, members.pk])
    assert "team_notes" not in member
    assert team["team_notes"] == "They will move on counselors."
    assert sorted(team["demands"]) == sorted([public.pk, members.pk, hidden.pk])


@pytest.mark.parametrize("params", [{"kind": "picnic"}, {"held_after": "soon"}, {"demand": "99999999999999999999999"}])
def test_bad_session_filters_get_400(api_client, params):
    response = api_client().get(SESSIONS, params)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_failed"


def test_team_records_a_session_with_the_demands_discussed(api_client, team_user):
    first, second = DemandFactory.create_batch(2)
    response = api_client(team_user).post(
        SESSIONS,
        {"held_on": "2026-12-01", "kind": "mediation", "team_notes": "Hold firm.", "demands": [first.pk, second.pk]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"].endswith(f"{SESSIONS}{body['id']}/")
    assert (body["held_on"], body["kind"], body["team_notes"], body["location"]) == (
        "2026-12-01",
        "mediation",
        "Hold firm.",
        "",
    )
    assert sorted(body["demands"]) == sorted([first.pk, second.pk])


def test_team_edits_a_session_and_members_never_see_its_notes(api_client, team_user, member_user):
    hidden = DemandFactory(visibility=Visibility.TEAM)
    public = DemandFactory(visibility=Visibility.PUBLIC)
    session = BargainingSessionFactory()
    url = f"{SESSIONS}{session.pk}/"
    response = api_client(team_user).patch(
        url, {"team_notes": "ZZ-SESSION-NOTE", "demands": [hidden.pk, public.pk]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["team_notes"] == "ZZ-SESSION-NOTE"
    for client in (api_client(), api_client(member_user)):
        body = client.get(url).json()
        assert "team_notes" not in body
        assert body["demands"] == [public.pk]


def test_put_round_trips_what_get_returned(api_client, admin_user):
    session = BargainingSessionFactory(location="CPS headquarters")
    client = api_client(admin_user)
    body = client.get(f"{SESSIONS}{session.pk}/").json()
    body["location"] = "City Hall"
    response = client.put(f"{SESSIONS}{session.pk}/", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == body
    session.refresh_from_db()
    assert session.location == "City Hall"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"demands": [99999999]}, "demands"),
        ({"demands": [99999999999999999999999]}, "demands.0"),
        ({"demands": "1,2"}, "demands"),
        ({"held_on": "2026-02-30"}, "held_on"),
        ({"held_on": None}, "held_on"),
        ({"kind": "picnic"}, "kind"),
        ({"location": "x" * 201}, "location"),
        ({"team_notes": "a\u0000b"}, "team_notes"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_sessions_get_400_naming_the_field(api_client, team_user, change, field):
    response = api_client(team_user).post(SESSIONS, {"held_on": "2026-12-01", **change}, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_failed"
    assert field in body["errors"]
    assert not BargainingSession.objects.exists()


def test_an_unknown_demand_id_is_named(api_client, team_user):
    demand = DemandFactory()
    response = api_client(team_user).post(
        SESSIONS, {"held_on": "2026-12-01", "demands": [demand.pk, 987654]}, format="json"
    )
    assert response.json()["errors"] == {"demands": ["There is no demand with id 987654."]}


# --- Members ---


def test_members_filter_by_state_frequency_language_and_school(api_client, team_user):
    wanted = MemberFactory(state=Member.State.ACTIVE, frequency="daily", language="es", school="Kenwood Academy")
    MemberFactory(state=Member.State.UNSUBSCRIBED, frequency="daily", language="es")
    MemberFactory(state=Member.State.ACTIVE, frequency="weekly", language="es")
    MemberFactory(state=Member.State.ACTIVE, frequency="daily", language="en")
    MemberFactory(state=Member.State.ACTIVE, frequency="daily", language="es", school="Lane Tech")
    params = {"state": "active", "frequency": "daily", "language": "es", "school": "kenwood"}
    assert ids(api_client(team_user).get(MEMBERS, params)) == [wanted.pk]


def test_members_filter_by_a_language_the_site_does_not_have_gets_400_naming_it(api_client, team_user):
    MemberFactory(language="es")
    client = api_client(team_user)
    assert len(ids(client.get(MEMBERS, {"language": "es"}))) == 1
    for code in ("fr", "es-mx"):
        response = client.get(MEMBERS, {"language": code})
        assert response.status_code == 400, response.content
        assert list(response.json()["errors"]) == ["language"]


def test_members_filter_by_topic_slug_or_id(api_client, admin_user):
    trauma = CategoryFactory(slug="trauma-supports")
    reader = MemberFactory()
    reader.topics.add(trauma, CategoryFactory())
    MemberFactory().topics.add(CategoryFactory())
    client = api_client(admin_user)
    assert ids(client.get(MEMBERS, {"topic": "trauma-supports"})) == [reader.pk]
    assert ids(client.get(MEMBERS, {"topic": str(trauma.pk)})) == [reader.pk]


def test_members_search_and_order(api_client, team_user):
    ana = MemberFactory(email="ana@example.org", name="Ana Ruiz", school="Lane Tech")
    bo = MemberFactory(email="bo@example.org", name="Bo Chen", school="Lane Tech")
    MemberFactory(email="cy@example.org", name="Cy Park", school="Kenwood Academy")
    client = api_client(team_user)
    assert ids(client.get(MEMBERS, {"search": "lane"})) == [ana.pk, bo.pk]
    assert ids(client.get(MEMBERS, {"search": "lane", "ordering": "-email"})) == [bo.pk, ana.pk]
    assert ids(client.get(MEMBERS, {"search": "ruiz"})) == [ana.pk]


def test_member_record_shape(api_client, team_user):
    topic = CategoryFactory(slug="holistic-safety")
    member = MemberFactory(
        email="ana@example.org", name="Ana Ruiz", school="Kenwood Academy", language="es", frequency="daily"
    )
    member.topics.add(topic)
    body = api_client(team_user).get(f"{MEMBERS}{member.pk}/").json()
    assert body == {
        "id": member.pk,
        "email": "ana@example.org",
        "name": "Ana Ruiz",
        "school": "Kenwood Academy",
        "language": "es",
        "frequency": "daily",
        "topics": ["holistic-safety"],
        "state": "active",
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
        "unsubscribed_at": None,
    }


def test_members_are_read_only_even_for_the_team(api_client, team_user):
    member = MemberFactory(name="Unchanged")
    client = api_client(team_user)
    assert client.patch(f"{MEMBERS}{member.pk}/", {"name": "Changed"}, format="json").status_code == 405
    assert client.delete(f"{MEMBERS}{member.pk}/").status_code == 405
    member.refresh_from_db()
    assert member.name == "Unchanged"
