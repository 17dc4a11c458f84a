"""The demands API: lists, detail with ETag, edits with If-Match, transitions, history, errors."""

import datetime

import pytest
from django.utils import timezone

from demands.models import Demand, EvidenceLink, PriorityTier, Status, StatusChange, Visibility
from tests.factories import (
    BargainingSessionFactory,
    CategoryFactory,
    DemandFactory,
    EvidenceFactory,
    EvidenceLinkFactory,
    ResolutionClauseFactory,
    StatusChangeFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

LIST = "/api/v1/demands/"


def detail(demand: Demand) -> str:
    return f"/api/v1/demands/{demand.pk}/"


def assert_error_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "code", "errors"}
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


# --- Lists ---


def test_list_filters_by_status_category_and_visibility(api_client, team_user):
    trauma = CategoryFactory(slug="trauma-supports")
    wanted = DemandFactory(category=trauma, status=Status.COUNTERED, visibility=Visibility.MEMBERS)
    DemandFactory(category=trauma, status=Status.PROPOSED, visibility=Visibility.MEMBERS)
    DemandFactory(status=Status.COUNTERED, visibility=Visibility.MEMBERS)
    DemandFactory(category=trauma, status=Status.COUNTERED, visibility=Visibility.PUBLIC)
    client = api_client(team_user)

    for category in ("trauma-supports", str(trauma.pk)):
        response = client.get(LIST, {"status": "countered", "category": category, "visibility": "members"})
        assert response.status_code == 200
        assert [row["id"] for row in response.json()["results"]] == [wanted.pk]


def test_list_filters_by_priority_tier_for_the_team(api_client, team_user):
    must = DemandFactory(priority_tier=PriorityTier.MUST_HAVE)
    DemandFactory(priority_tier=PriorityTier.TRADEABLE)
    response = api_client(team_user).get(LIST, {"priority_tier": "must_have"})
    assert [row["id"] for row in response.json()["results"]] == [must.pk]


@pytest.mark.parametrize("role", ["anonymous", "member_user"])
def test_priority_tier_filter_is_refused_to_non_team(api_client, request, role):
    DemandFactory(priority_tier=PriorityTier.MUST_HAVE)
    user = None if role == "anonymous" else request.getfixturevalue(role)
    response = api_client(user).get(LIST, {"priority_tier": "must_have"})
    body = assert_error_shape(response, 400, "validation_failed")
    assert "priority_tier" in body["errors"]


def test_list_filters_by_updated_since(api_client, anonymous):
    old = DemandFactory()
    Demand.objects.filter(pk=old.pk).update(updated_at=timezone.now() - datetime.timedelta(days=10))
    recent = DemandFactory()
    since = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    response = api_client().get(LIST, {"updated_since": since})
    assert [row["id"] for row in response.json()["results"]] == [recent.pk]


def test_list_searches_title_and_summary(api_client):
    by_title = DemandFactory(title="Restorative practices training")
    by_summary = DemandFactory(summary="Train every dean in restorative methods.")
    DemandFactory(title="Social workers")
    response = api_client().get(LIST, {"search": "restorative"})
    assert {row["id"] for row in response.json()["results"]} == {by_title.pk, by_summary.pk}


def test_list_orders_by_a_chosen_field(api_client):
    b, a, c = DemandFactory(title="B"), DemandFactory(title="A"), DemandFactory(title="C")
    response = api_client().get(LIST, {"ordering": "-title"})
    assert [row["id"] for row in response.json()["results"]] == [c.pk, b.pk, a.pk]


def test_page_size_is_capped_at_100(api_client):
    category = CategoryFactory()
    DemandFactory.create_batch(105, category=category)
    response = api_client().get(LIST, {"page_size": 1000})
    body = response.json()
    assert body["count"] == 105
    assert len(body["results"]) == 100
    assert body["next"] is not None


@pytest.mark.parametrize("page", ["0", "-1", "99999999999999999999999", "abc"])
def test_bad_page_number_gets_404_in_the_error_shape(api_client, page):
    DemandFactory()
    response = api_client().get(LIST, {"page": page})
    assert_error_shape(response, 404, "not_found")


@pytest.mark.parametrize(
    "params",
    [
        {"status": "nonsense"},
        {"updated_since": "yesterday"},
        {"updated_since": "9999-12-31T23:59:59-12:00x"},
        {"category": "a\x00b"},
        {"search": "a\x00b"},
    ],
)
def test_bad_filters_get_400(api_client, params):
    response = api_client().get(LIST, params)
    assert_error_shape(response, 400, "validation_failed")


@pytest.mark.parametrize(
    "since", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "6270-08-17T14:59:38+19:40"]
)
def test_extreme_dates_never_get_500(api_client, since):
    DemandFactory()
    response = api_client().get(LIST, {"updated_since": since})
    assert response.status_code in (200, 400)


# --- Detail and ETag ---


def test_detail_carries_etag_from_version(api_client):
    demand = DemandFactory()
    Demand.objects.filter(pk=demand.pk).update(version=7)
    response = api_client().get(detail(demand))
    assert response.status_code == 200
    assert response["ETag"] == '"7"'
    assert response.json()["version"] == 7


@pytest.mark.parametrize("pk", ["99999", "99999999999999999999999999", "abc", "-1"])
def test_unknown_ids_get_404(api_client, pk):
    response = api_client().get(f"{LIST}{pk}/")
    assert_error_shape(response, 404, "not_found")


# --- Edits and If-Match ---


def test_patch_with_matching_if_match_changes_and_bumps_version(api_client, team_user):
    demand = DemandFactory(title="Old title")
    response = api_client(team_user).patch(detail(demand), {"title": "New title"}, format="json", HTTP_IF_MATCH='"1"')
    assert response.status_code == 200, response.content
    assert response["ETag"] == '"2"'
    assert response.json()["title"] == "New title"
    demand.refresh_from_db()
    assert (demand.title, demand.version) == ("New title", 2)


def test_patch_with_stale_if_match_gets_412_and_changes_nothing(api_client, team_user):
    demand = DemandFactory(title="Old title")
    client = api_client(team_user)
    etag = client.get(detail(demand))["ETag"]
    assert client.patch(detail(demand), {"title": "First"}, format="json", HTTP_IF_MATCH=etag).status_code == 200

    response = client.patch(detail(demand), {"title": "Second"}, format="json", HTTP_IF_MATCH=etag)

    body = assert_error_shape(response, 412, "stale_version")
    assert "version 1" in body["detail"] and "version 2" in body["detail"]
    demand.refresh_from_db()
    assert (demand.title, demand.version) == ("First", 2)


def test_stale_if_match_wins_over_an_invalid_body(api_client, team_user):
    demand = DemandFactory()
    response = api_client(team_user).patch(detail(demand), {"title": ""}, format="json", HTTP_IF_MATCH='"5"')
    assert_error_shape(response, 412, "stale_version")


def test_patch_with_stale_version_in_body_gets_412(api_client, team_user):
    demand = DemandFactory(title="Old title")
    Demand.objects.filter(pk=demand.pk).update(version=3)
    response = api_client(team_user).patch(detail(demand), {"title": "New", "version": 2}, format="json")
    assert_error_shape(response, 412, "stale_version")
    demand.refresh_from_db()
    assert (demand.title, demand.version) == ("Old title", 3)


def test_patch_without_any_version_gets_428_and_changes_nothing(api_client, team_user):
    demand = DemandFactory(title="Old title")
    response = api_client(team_user).patch(detail(demand), {"title": "New"}, format="json")
    assert_error_shape(response, 428, "precondition_required")
    demand.refresh_from_db()
    assert (demand.title, demand.version) == ("Old title", 1)


@pytest.mark.parametrize("if_match", ["1", "*", '"1", "2"', '"abc"', '"99999999999"', ""])
def test_malformed_if_match_gets_400(api_client, team_user, if_match):
    demand = DemandFactory()
    response = api_client(team_user).patch(detail(demand), {"title": "New"}, format="json", HTTP_IF_MATCH=if_match)
    assert_error_shape(response, 400, "invalid_if_match")


def test_weak_if_match_names_the_same_version(api_client, team_user):
    demand = DemandFactory()
    response = api_client(team_user).patch(detail(demand), {"title": "New"}, format="json", HTTP_IF_MATCH='W/"1"')
    assert response.status_code == 200


def test_if_match_and_body_version_must_agree(api_client, team_user):
    demand = DemandFactory()
    response = api_client(team_user).patch(
        detail(demand), {"title": "New", "version": 2}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert_error_shape(response, 400, "invalid_if_match")


def test_put_round_trips_what_get_returned(api_client, team_user):
    clause = ResolutionClauseFactory()
    demand = DemandFactory(target="one social worker per 250 students")
    demand.clauses.add(clause)
    client = api_client(team_user)
    body = client.get(detail(demand)).json()
    body["summary"] = "A sharper summary."
    body["owner"] = team_user.username

    response = client.put(detail(demand), body, format="json")

    assert response.status_code == 200, response.content
    demand.refresh_from_db()
    assert demand.summary == "A sharper summary."
    assert demand.owner == team_user
    assert list(demand.clauses.all()) == [clause]
    assert demand.version == 2


def test_edit_cannot_change_status(api_client, team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    response = api_client(team_user).patch(detail(demand), {"status": "ratified"}, format="json", HTTP_IF_MATCH='"1"')
    body = assert_error_shape(response, 400, "validation_failed")
    assert "transition" in body["errors"]["status"][0]
    demand.refresh_from_db()
    assert demand.status == Status.PROPOSED


def test_unknown_fields_are_refused_not_dropped(api_client, team_user):
    demand = DemandFactory()
    response = api_client(team_user).patch(detail(demand), {"titel": "Typo"}, format="json", HTTP_IF_MATCH='"1"')
    body = assert_error_shape(response, 400, "validation_failed")
    assert list(body["errors"]) == ["titel"]


def test_create_starts_in_draft_with_a_slug_from_the_title(api_client, team_user):
    category = CategoryFactory(slug="staffing")
    response = api_client(team_user).post(
        LIST,
        {"title": "Counselors in every school", "summary": "One per 250.", "category": "staffing"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft"
    assert body["slug"] == "counselors-in-every-school"
    assert body["visibility"] == "team"
    assert response["ETag"] == '"1"'
    assert response["Location"].endswith(f"/api/v1/demands/{body['id']}/")
    assert Demand.objects.get(pk=body["id"]).category == category


def test_create_reports_each_bad_field(api_client, team_user):
    DemandFactory(slug="taken")
    response = api_client(team_user).post(
        LIST, {"title": "", "summary": "x", "category": "no-such-category", "slug": "taken"}, format="json"
    )
    body = assert_error_shape(response, 400, "validation_failed")
    assert {"title", "category"} <= set(body["errors"])


def test_create_with_a_taken_slug_gets_400_naming_the_slug(api_client, team_user):
    category = CategoryFactory()
    DemandFactory(slug="taken")
    response = api_client(team_user).post(
        LIST, {"title": "T", "summary": "S", "category": category.slug, "slug": "taken"}, format="json"
    )
    body = assert_error_shape(response, 400, "validation_failed")
    assert "slug" in body["errors"]


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"[1, 2, 3]",
        b'"a string"',
        b'{"title": {"nested": true}, "summary": 5, "category": 12}',
        b'{"title": "T", "summary": "S", "category": "x", "clauses": [99999999999999999999999999]}',
        b'{"title": "T", "summary": "S", "category": "x", "clauses": "abc"}',
        b'{"title": "T", "summary": "S", "category": "x\\u0000y"}',
        b'{"title": "T", "summary": "S", "category": "x", "owner": 1e400}',
        b'{"title": "T", "summary": "S", "category": "x", "version": 99999999999999999999999}',
    ],
)
def test_malformed_bodies_get_400(api_client, team_user, payload):
    response = api_client(team_user).post(LIST, payload, content_type="application/json")
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"detail", "code", "errors"}


def test_non_json_body_gets_415(api_client, team_user):
    response = api_client(team_user).post(LIST, "title=T", content_type="application/x-www-form-urlencoded")
    assert_error_shape(response, 415, "unsupported_media_type")


# --- Transitions ---


def transition(demand: Demand) -> str:
    return f"/api/v1/demands/{demand.pk}/transition/"


def test_transition_moves_the_demand_and_writes_history(api_client, team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    session = BargainingSessionFactory()
    response = api_client(team_user).post(
        transition(demand),
        {"status": "countered", "note": "CPS countered.", "internal_note": "Expected.", "session": session.pk},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert response.status_code == 200, response.content
    assert response["ETag"] == '"2"'
    assert response.json()["status"] == "countered"
    change = StatusChange.objects.get(demand=demand)
    assert (change.from_status, change.to_status, change.note, change.internal_note) == (
        "proposed",
        "countered",
        "CPS countered.",
        "Expected.",
    )
    assert (change.changed_by, change.session) == (team_user, session)


def test_transition_accepts_version_in_the_body(api_client, team_user):
    demand = DemandFactory(status=Status.DRAFT)
    response = api_client(team_user).post(transition(demand), {"status": "proposed", "version": 1}, format="json")
    assert response.status_code == 200


def test_disallowed_transition_names_current_and_allowed_statuses(api_client, team_user):
    demand = DemandFactory(status=Status.DRAFT)
    response = api_client(team_user).post(
        transition(demand), {"status": "ratified"}, format="json", HTTP_IF_MATCH='"1"'
    )
    body = assert_error_shape(response, 400, "invalid_transition")
    assert "Current status: Draft" in body["detail"]
    assert "Allowed next statuses: Proposed, Withdrawn." in body["detail"]
    assert Demand.objects.get(pk=demand.pk).status == Status.DRAFT


def test_unknown_status_names_current_and_allowed_statuses(api_client, team_user):
    demand = DemandFactory(status=Status.RATIFIED)
    response = api_client(team_user).post(transition(demand), {"status": "won"}, format="json", HTTP_IF_MATCH='"1"')
    body = assert_error_shape(response, 400, "validation_failed")
    assert "Current status: Ratified" in body["errors"]["status"][0]
    assert "Ratified is final" in body["errors"]["status"][0]


def test_withdraw_requires_a_note(api_client, team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    response = api_client(team_user).post(
        transition(demand), {"status": "withdrawn"}, format="json", HTTP_IF_MATCH='"1"'
    )
    body = assert_error_shape(response, 400, "invalid_transition")
    assert "note" in body["errors"]


def test_transition_to_an_unknown_session_gets_400(api_client, team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    response = api_client(team_user).post(
        transition(demand), {"status": "countered", "session": 999999}, format="json", HTTP_IF_MATCH='"1"'
    )
    body = assert_error_shape(response, 400, "validation_failed")
    assert "session" in body["errors"]


def test_transition_with_stale_if_match_gets_412_and_writes_nothing(api_client, team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    Demand.objects.filter(pk=demand.pk).update(version=4)
    response = api_client(team_user).post(
        transition(demand), {"status": "countered"}, format="json", HTTP_IF_MATCH='"3"'
    )
    assert_error_shape(response, 412, "stale_version")
    assert not StatusChange.objects.exists()
    assert Demand.objects.get(pk=demand.pk).status == Status.PROPOSED


def test_transition_without_version_gets_428(api_client, team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    response = api_client(team_user).post(transition(demand), {"status": "countered"}, format="json")
    assert_error_shape(response, 428, "precondition_required")
    assert not StatusChange.objects.exists()


# --- Citing evidence ---


def cite(demand: Demand) -> str:
    return f"/api/v1/demands/{demand.pk}/evidence/"


def test_citing_evidence_links_it_and_bumps_the_version(api_client, team_user):
    demand = DemandFactory()
    evidence = EvidenceFactory()
    response = api_client(team_user).post(
        cite(demand), {"evidence": evidence.pk, "claim": "supports: counselors"}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 201, response.content
    assert response["ETag"] == '"2"'
    assert response.json()["evidence"] == [{"evidence": evidence.pk, "claim": "supports: counselors"}]
    assert EvidenceLink.objects.get(demand=demand).evidence == evidence


def test_citing_the_same_evidence_twice_gets_409(api_client, team_user):
    link = EvidenceLinkFactory()
    response = api_client(team_user).post(
        cite(link.demand), {"evidence": link.evidence_id, "claim": "again"}, format="json", HTTP_IF_MATCH='"1"'
    )
    body = assert_error_shape(response, 409, "conflict")
    assert "evidence" in body["errors"]
    assert EvidenceLink.objects.count() == 1


def test_citing_with_a_stale_version_gets_412_and_links_nothing(api_client, team_user):
    demand = DemandFactory()
    Demand.objects.filter(pk=demand.pk).update(version=2)
    response = api_client(team_user).post(
        cite(demand), {"evidence": EvidenceFactory().pk, "claim": "x", "version": 1}, format="json"
    )
    assert_error_shape(response, 412, "stale_version")
    assert not EvidenceLink.objects.exists()


@pytest.mark.parametrize(
    "body, field", [({"evidence": 999999, "claim": "x"}, "evidence"), ({"evidence": 1, "claim": "  "}, "claim")]
)
def test_citing_needs_real_evidence_and_a_claim(api_client, team_user, body, field):
    demand = DemandFactory()
    response = api_client(team_user).post(cite(demand), body, format="json", HTTP_IF_MATCH='"1"')
    response_body = assert_error_shape(response, 400, "validation_failed")
    assert field in response_body["errors"]


# --- History ---


def test_history_lists_changes_newest_first_with_team_notes_for_the_team(api_client, team_user):
    demand = DemandFactory()
    first = StatusChangeFactory(demand=demand, from_status="draft", to_status="proposed", internal_note="ours")
    second = StatusChangeFactory(demand=demand, from_status="proposed", to_status="countered")
    StatusChangeFactory()  # another demand's

    team = api_client(team_user).get(f"{detail(demand)}history/").json()
    public = api_client().get(f"{detail(demand)}history/").json()

    assert [row["id"] for row in team["results"]] == [second.pk, first.pk]
    assert team["results"][1]["internal_note"] == "ours"
    assert [row["id"] for row in public["results"]] == [second.pk, first.pk]
    assert "internal_note" not in public["results"][1]
    assert "changed_by" not in public["results"][1]


def test_history_shows_the_session_date_and_kind(api_client):
    session = BargainingSessionFactory(held_on=datetime.date(2026, 11, 2), kind="table", team_notes="secret")
    change = StatusChangeFactory(session=session)
    row = api_client().get(f"{detail(change.demand)}history/").json()["results"][0]
    assert row["session"] == {"id": session.pk, "held_on": "2026-11-02", "kind": "table"}


# --- Auth and throttling ---


def test_token_endpoint_returns_a_token_that_authenticates(api_client, team_user):
    client = api_client()
    response = client.post(
        "/api/v1/auth/token/", {"username": team_user.username, "password": "correct horse battery staple"}
    )
    assert response.status_code == 200
    demand = DemandFactory(visibility=Visibility.TEAM)
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert client.get(detail(demand)).status_code == 200


def test_token_endpoint_refuses_wrong_password_in_the_error_shape(api_client, team_user):
    response = api_client().post("/api/v1/auth/token/", {"username": team_user.username, "password": "wrong"})
    body = assert_error_shape(response, 400, "validation_failed")
    assert body["errors"]["non_field_errors"]


def test_invalid_token_gets_401(api_client):
    client = api_client()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get(LIST)
    assert_error_shape(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"] == "Token"


def test_session_login_works_and_enforces_csrf_on_writes(team_user):
    from rest_framework.test import APIClient

    demand = DemandFactory(visibility=Visibility.TEAM)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(team_user)
    assert "internal_notes" in client.get(detail(demand)).json()
    response = client.patch(detail(demand), {"title": "New"}, format="json", HTTP_IF_MATCH='"1"')
    assert_error_shape(response, 403, "permission_denied")


def test_anonymous_requests_are_throttled(api_client, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "anon", "2/minute")
    client = api_client()
    assert [client.get(LIST).status_code for _ in range(2)] == [200, 200]
    response = client.get(LIST)
    assert_error_shape(response, 429, "throttled")
    assert "Retry-After" in response


def test_token_endpoint_is_throttled(api_client, monkeypatch, team_user):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "token", "2/minute")
    client = api_client()
    codes = [client.post("/api/v1/auth/token/", {"username": "x", "password": "y"}).status_code for _ in range(3)]
    assert codes == [400, 400, 429]


@pytest.mark.parametrize("method", ["get", "put", "post", "delete"])
def test_unknown_api_urls_get_404_in_the_error_shape(api_client, team_user, method):
    response = getattr(api_client(team_user), method)("/api/v1/no-such-thing/1.5/", {}, format="json")
    assert_error_shape(response, 404, "not_found")


def test_api_urls_without_the_slash_redirect_reads_and_refuse_writes(api_client, team_user):
    client = api_client(team_user)
    response = client.get("/api/v1/demands", {"status": "draft"})
    assert response.status_code == 301
    assert response["Location"] == "/api/v1/demands/?status=draft"
    body = assert_error_shape(client.post("/api/v1/demands", {}, format="json"), 404, "not_found")
    assert "/api/v1/demands/" in body["detail"]


# --- Every API response varies per caller ---


@pytest.mark.parametrize(
    "role, method, path",
    [
        (None, "get", "/api/v1/demands/"),
        ("team_user", "get", "/api/v1/evidence/"),
        (None, "post", "/api/v1/evidence/"),
        ("member_user", "post", "/api/v1/resolutions/"),
        (None, "get", "/api/v1/no-such-thing/"),
        (None, "get", "/api/schema/"),
    ],
)
def test_api_responses_vary_on_authorization_and_cookie(api_client, request, role, method, path):
    client = api_client(request.getfixturevalue(role) if role else None)
    response = getattr(client, method)(path, {}, format="json") if method == "post" else client.get(path)
    vary = {value.strip().lower() for value in response.get("Vary", "").split(",")}
    assert {"authorization", "cookie"} <= vary, (response.status_code, response.get("Vary"))
