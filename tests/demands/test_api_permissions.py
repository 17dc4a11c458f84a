"""Who may do what through the API, and what each role gets to see.

The matrix: role × endpoint × method → status code. The confidentiality tests plant a marker
in every team-only field and team-visible object and prove no non-team response contains it.
"""

import json

import pytest
from django.contrib.auth.models import User

from demands.models import Status, Visibility
from tests.factories import (
    BargainingSessionFactory,
    DemandFactory,
    EvidenceFactory,
    EvidenceLinkFactory,
    MemberFactory,
    ResolutionClauseFactory,
    StatusChangeFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

ROLES = ["anonymous", "member", "team", "admin"]
MARKER = "ZZ-TEAM-ONLY-7f3a91"
TEAM_DEMAND_FIELDS = {"owner", "internal_notes", "fallback_position", "priority_tier", "allowed_next_statuses"}


@pytest.fixture
def users(request) -> dict[str, User | None]:
    return {
        "anonymous": None,
        "member": request.getfixturevalue("member_user"),
        "team": request.getfixturevalue("team_user"),
        "admin": request.getfixturevalue("admin_user"),
    }


@pytest.fixture
def world(db) -> dict:
    """One object of each kind, at each visibility where it has one."""
    public = DemandFactory(status=Status.PROPOSED, visibility=Visibility.PUBLIC)
    return {
        "public": public,
        "members": DemandFactory(visibility=Visibility.MEMBERS),
        "team": DemandFactory(visibility=Visibility.TEAM),
        "public_evidence": EvidenceFactory(visibility=Visibility.PUBLIC),
        "team_evidence": EvidenceFactory(visibility=Visibility.TEAM),
        "clause": ResolutionClauseFactory(),
        "session": BargainingSessionFactory(),
        "member": MemberFactory(),
    }


def new_demand(world: dict) -> dict:
    return {"title": "A new demand", "summary": "Why.", "category": world["public"].category.slug}


NEW_EVIDENCE = {"title": "New report", "kind": "report", "figures": [{"value": "38", "unit": "officers"}]}
NEW_CATEGORY = {"name": "Staffing", "slug": "staffing", "name_es": "Personal", "description_es": "Más personal."}
NEW_RESOLUTION = {
    "governing_body": "Board of Education",
    "title": "New resolution",
    "adopted_on": "2024-02-22",
    "vote": "Unanimous",
    "clauses": [{"number": 1, "text": "Be it resolved."}],
}


def new_session(world: dict) -> dict:
    return {"held_on": "2026-12-01", "kind": "table", "demands": [world["public"].pk, world["team"].pk]}


# (method, path, body or None, headers, expected status for anonymous, member, team, admin)
MATRIX = [
    ("get", "/api/v1/demands/", None, {}, (200, 200, 200, 200)),
    ("post", "/api/v1/demands/", new_demand, {}, (401, 403, 201, 201)),
    ("get", "/api/v1/demands/{public}/", None, {}, (200, 200, 200, 200)),
    ("get", "/api/v1/demands/{members}/", None, {}, (404, 200, 200, 200)),
    ("get", "/api/v1/demands/{team}/", None, {}, (404, 404, 200, 200)),
    ("patch", "/api/v1/demands/{public}/", {"title": "Edited"}, {"HTTP_IF_MATCH": '"1"'}, (401, 403, 200, 200)),
    ("patch", "/api/v1/demands/{team}/", {"title": "Edited"}, {"HTTP_IF_MATCH": '"1"'}, (401, 403, 200, 200)),
    ("put", "/api/v1/demands/{public}/", new_demand, {"HTTP_IF_MATCH": '"1"'}, (401, 403, 200, 200)),
    ("delete", "/api/v1/demands/{public}/", None, {}, (401, 403, 405, 405)),
    (
        "post",
        "/api/v1/demands/{public}/transition/",
        {"status": "countered"},
        {"HTTP_IF_MATCH": '"1"'},
        (401, 403, 200, 200),
    ),
    (
        "post",
        "/api/v1/demands/{public}/evidence/",
        lambda world: {"evidence": world["public_evidence"].pk, "claim": "supports: it"},
        {"HTTP_IF_MATCH": '"1"'},
        (401, 403, 201, 201),
    ),
    ("post", "/api/v1/demands/{team}/evidence/", {"evidence": 1, "claim": "x"}, {}, (401, 403, 428, 428)),
    ("get", "/api/v1/demands/{public}/history/", None, {}, (200, 200, 200, 200)),
    ("get", "/api/v1/demands/{members}/history/", None, {}, (404, 200, 200, 200)),
    ("get", "/api/v1/demands/{team}/history/", None, {}, (404, 404, 200, 200)),
    ("get", "/api/v1/evidence/", None, {}, (200, 200, 200, 200)),
    ("get", "/api/v1/evidence/{public_evidence}/", None, {}, (200, 200, 200, 200)),
    ("get", "/api/v1/evidence/{team_evidence}/", None, {}, (404, 404, 200, 200)),
    ("post", "/api/v1/evidence/", NEW_EVIDENCE, {}, (401, 403, 201, 201)),
    ("put", "/api/v1/evidence/{public_evidence}/", NEW_EVIDENCE, {}, (401, 403, 200, 200)),
    ("patch", "/api/v1/evidence/{public_evidence}/", {"quote": "Edited."}, {}, (401, 403, 200, 200)),
    ("patch", "/api/v1/evidence/{team_evidence}/", {"quote": "Edited."}, {}, (401, 403, 200, 200)),
    ("delete", "/api/v1/evidence/{public_evidence}/", None, {}, (401, 403, 405, 405)),
    ("get", "/api/v1/resolutions/", None, {}, (200, 200, 200, 200)),
    ("get", "/api/v1/resolutions/{resolution}/", None, {}, (200, 200, 200, 200)),
    ("post", "/api/v1/resolutions/", NEW_RESOLUTION, {}, (401, 403, 201, 201)),
    ("put", "/api/v1/resolutions/{resolution}/", NEW_RESOLUTION, {}, (401, 403, 200, 200)),
    ("patch", "/api/v1/resolutions/{resolution}/", {"vote": "7–0"}, {}, (401, 403, 200, 200)),
    ("delete", "/api/v1/resolutions/{resolution}/", None, {}, (401, 403, 405, 405)),
    ("get", "/api/v1/categories/", None, {}, (200, 200, 200, 200)),
    ("get", "/api/v1/categories/{category}/", None, {}, (200, 200, 200, 200)),
    ("post", "/api/v1/categories/", NEW_CATEGORY, {}, (401, 403, 201, 201)),
    ("put", "/api/v1/categories/{category}/", NEW_CATEGORY, {}, (401, 403, 200, 200)),
    ("patch", "/api/v1/categories/{category}/", {"name_es": "Personal"}, {}, (401, 403, 200, 200)),
    ("delete", "/api/v1/categories/{category}/", None, {}, (401, 403, 405, 405)),
    ("get", "/api/v1/sessions/", None, {}, (200, 200, 200, 200)),
    ("get", "/api/v1/sessions/{session}/", None, {}, (200, 200, 200, 200)),
    ("post", "/api/v1/sessions/", new_session, {}, (401, 403, 201, 201)),
    ("put", "/api/v1/sessions/{session}/", new_session, {}, (401, 403, 200, 200)),
    ("patch", "/api/v1/sessions/{session}/", {"team_notes": "Hold."}, {}, (401, 403, 200, 200)),
    ("delete", "/api/v1/sessions/{session}/", None, {}, (401, 403, 405, 405)),
    ("get", "/api/v1/members/", None, {}, (401, 403, 200, 200)),
    ("get", "/api/v1/members/{member}/", None, {}, (401, 403, 200, 200)),
    ("get", "/api/v1/members/999999/", None, {}, (401, 403, 404, 404)),
    ("post", "/api/v1/members/", {"email": "new@example.org"}, {}, (401, 403, 405, 405)),
    ("delete", "/api/v1/members/{member}/", None, {}, (401, 403, 405, 405)),
    ("get", "/api/schema/", None, {}, (200, 200, 200, 200)),
    ("get", "/api/docs/", None, {}, (200, 200, 200, 200)),
]


@pytest.mark.parametrize("role_index, role", list(enumerate(ROLES)))
@pytest.mark.parametrize("method, path, body, headers, expected", MATRIX, ids=[f"{row[0]} {row[1]}" for row in MATRIX])
def test_permission_matrix(api_client, users, world, role_index, role, method, path, body, headers, expected):
    ids = {name: obj.pk for name, obj in world.items()}
    ids["resolution"] = world["clause"].resolution_id
    ids["category"] = world["public"].category_id
    if callable(body):
        body = body(world)
    response = getattr(api_client(users[role]), method)(path.format(**ids), body, format="json", **headers)
    assert response.status_code == expected[role_index], response.content


def test_members_endpoint_is_refused_in_the_error_shape(api_client, member_user):
    MemberFactory()
    response = api_client(member_user).get("/api/v1/members/")
    assert response.json() == {
        "detail": "Only the bargaining team and admins may do this.",
        "code": "permission_denied",
        "errors": {},
    }


# --- What each role sees ---


@pytest.mark.parametrize(
    "role, visible",
    [
        ("anonymous", {"public"}),
        ("member", {"public", "members"}),
        ("team", {"public", "members", "team"}),
        ("admin", {"public", "members", "team"}),
    ],
)
def test_each_role_lists_exactly_its_demands_and_fields(api_client, users, world, role, visible):
    results = api_client(users[role]).get("/api/v1/demands/").json()["results"]
    assert {row["id"] for row in results} == {world[name].pk for name in visible}
    for row in results:
        if role in ("team", "admin"):
            assert set(row) >= TEAM_DEMAND_FIELDS
        else:
            assert not TEAM_DEMAND_FIELDS & set(row)


@pytest.fixture
def planted(db) -> dict:
    """The marker in every team-only field and every team-visible object, next to public ones."""
    session = BargainingSessionFactory(team_notes=MARKER, location="CPS headquarters")
    public = DemandFactory(
        title="Trauma supports",
        visibility=Visibility.PUBLIC,
        internal_notes=MARKER,
        fallback_position=MARKER,
    )
    members = DemandFactory(visibility=Visibility.MEMBERS, internal_notes=MARKER, fallback_position=MARKER)
    hidden = DemandFactory(title=MARKER, summary=MARKER, body=MARKER, target=MARKER, visibility=Visibility.TEAM)
    hidden_slug = DemandFactory(slug=MARKER.lower(), visibility=Visibility.TEAM)
    session.demands.add(public, hidden)
    StatusChangeFactory(demand=public, internal_note=MARKER, session=session)
    StatusChangeFactory(demand=hidden, note=MARKER, internal_note=MARKER)
    public_evidence = EvidenceFactory(visibility=Visibility.PUBLIC)
    team_evidence = EvidenceFactory(title=MARKER, quote=MARKER, publisher=MARKER, visibility=Visibility.TEAM)
    EvidenceLinkFactory(demand=public, evidence=team_evidence, claim=MARKER)
    EvidenceLinkFactory(demand=hidden, evidence=public_evidence, claim=MARKER)
    EvidenceLinkFactory(demand=public, evidence=public_evidence, claim="supports: trauma supports")
    MemberFactory(name=MARKER, email="marker@example.org")
    return {
        "public": public,
        "members": members,
        "hidden": hidden,
        "hidden_slug": hidden_slug,
        "session": session,
        "public_evidence": public_evidence,
        "team_evidence": team_evidence,
    }


def urls_to_probe(planted: dict) -> list[str]:
    """Every readable URL, with filters and searches aimed at the planted material."""
    public, hidden, team_evidence = planted["public"], planted["hidden"], planted["team_evidence"]
    urls = [
        "/api/v1/demands/",
        f"/api/v1/demands/?search={MARKER}",
        f"/api/v1/demands/?category={hidden.category.slug}",
        "/api/v1/demands/?visibility=team",
        "/api/v1/demands/?ordering=-title",
        "/api/v1/demands/?priority_tier=must_have",
        "/api/v1/evidence/",
        f"/api/v1/evidence/?search={MARKER}",
        f"/api/v1/evidence/?demand={hidden.pk}",
        f"/api/v1/evidence/{team_evidence.pk}/",
        "/api/v1/resolutions/",
        "/api/v1/sessions/",
        f"/api/v1/sessions/?demand={hidden.pk}",
        f"/api/v1/sessions/{planted['session'].pk}/",
        "/api/v1/members/",
        f"/api/v1/members/?search={MARKER}",
        "/api/schema/",
    ]
    for demand in (public, planted["members"], hidden, planted["hidden_slug"]):
        urls += [f"/api/v1/demands/{demand.pk}/", f"/api/v1/demands/{demand.pk}/history/"]
    urls.append(f"/api/v1/evidence/{planted['public_evidence'].pk}/")
    return urls


@pytest.mark.parametrize("role", ["anonymous", "member"])
def test_marker_appears_in_no_non_team_response(api_client, users, planted, role):
    client = api_client(users[role])
    for url in urls_to_probe(planted):
        response = client.get(url)
        assert response.status_code < 500, url
        assert MARKER.lower() not in response.content.decode().lower(), url


@pytest.mark.parametrize("role", ["anonymous", "member"])
def test_non_team_responses_lack_team_only_keys(api_client, users, planted, role):
    client = api_client(users[role])
    public = client.get(f"/api/v1/demands/{planted['public'].pk}/").json()
    assert not TEAM_DEMAND_FIELDS & set(public)
    assert public["evidence"] == [{"evidence": planted["public_evidence"].pk, "claim": "supports: trauma supports"}]
    history = client.get(f"/api/v1/demands/{planted['public'].pk}/history/").json()["results"]
    assert history and all("internal_note" not in row and "changed_by" not in row for row in history)
    session = client.get(f"/api/v1/sessions/{planted['session'].pk}/").json()
    assert "team_notes" not in session
    assert session["demands"] == [planted["public"].pk]
    evidence = client.get(f"/api/v1/evidence/{planted['public_evidence'].pk}/").json()
    assert "verified_by" not in evidence
    assert [link["demand"] for link in evidence["demands"]] == [planted["public"].pk]


@pytest.mark.parametrize("role", ["team", "admin"])
def test_team_sees_every_planted_marker(api_client, users, planted, role):
    """The other side of the confidentiality test: the markers are there to be found."""
    client = api_client(users[role])
    demand = client.get(f"/api/v1/demands/{planted['public'].pk}/").json()
    assert demand["internal_notes"] == demand["fallback_position"] == MARKER
    assert MARKER in json.dumps(demand["evidence"])
    assert client.get(f"/api/v1/demands/{planted['hidden'].pk}/").json()["title"] == MARKER
    history = client.get(f"/api/v1/demands/{planted['public'].pk}/history/").json()["results"]
    assert history[0]["internal_note"] == MARKER
    assert client.get(f"/api/v1/sessions/{planted['session'].pk}/").json()["team_notes"] == MARKER
    assert client.get(f"/api/v1/evidence/{planted['team_evidence'].pk}/").json()["title"] == MARKER
    assert MARKER in client.get(f"/api/v1/members/?search={MARKER}").content.decode()
