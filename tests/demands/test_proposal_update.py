"""Editing a proposal: a team draft's words change and passing it across the table moves the demand, through
the service, `PATCH /api/v1/proposals/{id}/` and the team's edit page; a passed proposal's language is locked."""

import datetime

import pytest
from django.test import Client

from demands.errors import Conflict, InvalidTransition, StaleVersion, ValidationFailed
from demands.models import Demand, Proposal, Status, StatusChange, Visibility
from demands.services import proposal_create, proposal_update
from tests.factories import DemandFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today


def _version(demand: Demand) -> int:
    return Demand.objects.get(pk=demand.pk).version


def _draft(demand: Demand, side: str = "union", language: str = "Draft words.", **fields) -> Proposal:
    return proposal_create(
        demand_id=demand.pk,
        expected_version=_version(demand),
        by=None,
        side=side,
        exchanged_on=TODAY(),
        language=language,
        visibility=fields.pop("visibility", Visibility.TEAM),
        **fields,
    )


def _update(proposal: Proposal, by=None, **fields) -> Proposal:
    return proposal_update(proposal_id=proposal.pk, expected_version=_version(proposal.demand), by=by, **fields)


# --- The service ---------------------------------------------------------------------------------


def test_a_draft_is_edited_without_moving_the_demand(team_user):
    demand = DemandFactory(status=Status.DRAFT)
    draft = _draft(demand)
    before = _version(demand)
    _update(draft, by=team_user, language="Better words.", summary="For members.", rationale="Why.")
    draft.refresh_from_db()
    assert (draft.language, draft.summary, draft.rationale) == ("Better words.", "For members.", "Why.")
    assert Demand.objects.get(pk=demand.pk).status == Status.DRAFT
    assert _version(demand) == before + 1
    assert not StatusChange.objects.filter(demand=demand).exists()
    assert draft.history.latest().history_user == team_user


def test_an_edit_that_changes_nothing_writes_nothing():
    demand = DemandFactory(status=Status.DRAFT)
    draft = _draft(demand)
    before, audit = _version(demand), draft.history.count()
    _update(draft, language="Draft words.")
    assert (_version(demand), draft.history.count()) == (before, audit)


@pytest.mark.parametrize(
    ("side", "status", "moved_to"),
    [("union", Status.DRAFT, Status.PROPOSED), ("board", Status.PROPOSED, Status.COUNTERED)],
)
@pytest.mark.parametrize("visibility", [Visibility.PUBLIC, Visibility.MEMBERS])
def test_passing_a_draft_moves_the_demand_once_citing_it(team_user, side, status, moved_to, visibility):
    demand = DemandFactory(status=status)
    draft = _draft(demand, side)
    _update(draft, by=team_user, visibility=visibility, note="Passed today.")
    demand.refresh_from_db()
    change = StatusChange.objects.get(demand=demand)
    assert demand.status == moved_to
    assert (change.from_status, change.to_status, change.proposal_id, change.note, change.changed_by) == (
        status,
        moved_to,
        draft.pk,
        "Passed today.",
        team_user,
    )


def test_passing_a_revised_union_draft_on_a_proposed_demand_moves_nothing():
    demand = DemandFactory(status=Status.PROPOSED)
    draft = _draft(demand)
    _update(draft, visibility=Visibility.PUBLIC)
    assert Proposal.objects.get(pk=draft.pk).visibility == Visibility.PUBLIC
    assert not StatusChange.objects.filter(demand=demand).exists()


@pytest.mark.parametrize("final", [Status.RATIFIED, Status.WITHDRAWN])
def test_passing_a_draft_on_a_final_demand_is_refused_and_writes_nothing(final):
    demand = DemandFactory(status=Status.PROPOSED)
    draft = _draft(demand)
    Demand.objects.filter(pk=demand.pk).update(status=final)
    before = _version(demand)
    with pytest.raises(InvalidTransition, match="is final"):
        _update(draft, visibility=Visibility.PUBLIC)
    assert Proposal.objects.get(pk=draft.pk).visibility == Visibility.TEAM
    assert _version(demand) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"language": "Other words."}, "language"),
        ({"exchanged_on": datetime.date(2024, 1, 2)}, "exchanged_on"),
        ({"visibility": Visibility.TEAM}, "visibility"),
    ],
)
def test_a_passed_proposal_keeps_its_words(change, field):
    demand = DemandFactory(status=Status.DRAFT)
    passed = _draft(demand, visibility=Visibility.PUBLIC)
    before = _version(demand)
    with pytest.raises(Conflict, match="was passed across the table on") as refused:
        _update(passed, **change)
    assert refused.value.field == field
    assert "Record a new proposal instead." in refused.value.message
    passed.refresh_from_db()
    assert (passed.language, passed.visibility, _version(demand)) == ("Draft words.", Visibility.PUBLIC, before)


def test_a_passed_proposal_summary_and_rationale_may_change():
    demand = DemandFactory(status=Status.DRAFT)
    passed = _draft(demand, visibility=Visibility.PUBLIC)
    _update(passed, summary="Fixed typo.", rationale="Team reading.", language="Draft words.")
    passed.refresh_from_db()
    assert (passed.summary, passed.rationale) == ("Fixed typo.", "Team reading.")
    assert StatusChange.objects.filter(demand=demand).count() == 1, "only the pass itself moved it"


def test_refusals_stale_future_and_side():
    demand = DemandFactory(status=Status.DRAFT)
    draft = _draft(demand)
    with pytest.raises(StaleVersion):
        proposal_update(proposal_id=draft.pk, expected_version=_version(demand) - 1, by=None, language="Late.")
    with pytest.raises(ValidationFailed) as future:
        _update(draft, exchanged_on=TODAY() + datetime.timedelta(days=1))
    assert "exchanged_on" in future.value.errors
    _update(draft, exchanged_on=TODAY())  # today is the last allowed day
    with pytest.raises(ValidationFailed) as side:
        _update(draft, side="board")
    assert side.value.errors == {"side": ["A proposal's side cannot change; record a new proposal."]}
    assert Proposal.objects.get(pk=draft.pk).language == "Draft words."


# --- The API -------------------------------------------------------------------------------------


def _patch(client, proposal: Proposal, body: dict, etag: str | None = None):
    if etag is None:
        etag = client.get(f"/api/v1/proposals/{proposal.pk}/")["ETag"]
    return client.patch(f"/api/v1/proposals/{proposal.pk}/", body, format="json", HTTP_IF_MATCH=etag)


def test_api_passes_a_draft_with_if_match(api_client, team_user):
    team = api_client(team_user)
    demand = DemandFactory(status=Status.DRAFT, current_language="Old words.")
    draft = _draft(demand, language="New words.")
    etag = team.get(f"/api/v1/proposals/{draft.pk}/")["ETag"]
    assert etag == f'"{_version(demand)}"'
    response = _patch(team, draft, {"language": "Newer words.", "visibility": "public", "note": "Passed."}, etag)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["visibility"], body["language"]) == ("public", "Newer words.")
    assert {"op": "insert", "text": "Newer "} in body["redline"]
    assert response["ETag"] == f'"{_version(demand)}"'
    assert Demand.objects.get(pk=demand.pk).status == Status.PROPOSED
    assert StatusChange.objects.get(demand=demand).proposal_id == draft.pk


def test_api_refuses_an_edit_of_passed_language_with_409(api_client, team_user):
    team = api_client(team_user)
    demand = DemandFactory(status=Status.DRAFT)
    passed = _draft(demand, visibility=Visibility.PUBLIC)
    response = _patch(team, passed, {"language": "Sneaky."})
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert "was passed across the table" in response.json()["detail"]
    assert Proposal.objects.get(pk=passed.pk).language == "Draft words."


def test_api_stale_or_missing_if_match(api_client, team_user):
    team = api_client(team_user)
    demand = DemandFactory(status=Status.DRAFT)
    draft = _draft(demand)
    stale = _patch(team, draft, {"language": "Late."}, etag=f'"{_version(demand) - 1}"')
    assert stale.status_code == 412
    missing = team.patch(f"/api/v1/proposals/{draft.pk}/", {"language": "Late."}, format="json")
    assert missing.status_code == 428
    unknown = _patch(team, draft, {"colour": "red"})
    assert unknown.status_code == 400 and "colour" in unknown.json()["errors"]
    assert team.put(f"/api/v1/proposals/{draft.pk}/", {}, format="json").status_code == 405
    assert Proposal.objects.get(pk=draft.pk).language == "Draft words."


@pytest.mark.parametrize("role", [None, "member_user"])
def test_api_outsiders_cannot_edit(api_client, request, role):
    demand = DemandFactory(status=Status.PROPOSED, visibility=Visibility.PUBLIC)
    passed = _draft(demand, visibility=Visibility.PUBLIC)
    client = api_client(request.getfixturevalue(role) if role else None)
    response = client.patch(f"/api/v1/proposals/{passed.pk}/", {"summary": "x"}, format="json", HTTP_IF_MATCH='"1"')
    assert response.status_code in (401, 403)
    assert Proposal.objects.get(pk=passed.pk).summary == ""


# --- The team's page -----------------------------------------------------------------------------


def test_team_passes_a_draft_on_its_edit_page(client, team_user):
    demand = DemandFactory(status=Status.COUNTERED, visibility=Visibility.PUBLIC)
    draft = _draft(demand, language="DRAFT-CANARY words.")
    assert "DRAFT-CANARY" not in Client().get(demand.get_absolute_url()).content.decode()
    client.force_login(team_user)
    assert f"/proposals/{draft.pk}/edit/" in client.get(demand.get_absolute_url()).content.decode()
    page = client.get(f"/proposals/{draft.pk}/edit/").content.decode()
    assert "DRAFT-CANARY words." in page and "<script" not in page
    response = client.post(
        f"/proposals/{draft.pk}/edit/",
        {
            "exchanged_on": TODAY().isoformat(),
            "language": "Passed words.",
            "summary": "",
            "rationale": "",
            "visibility": "public",
            "note": "",
            "version": _version(demand),
        },
        follow=True,
    )
    assert "Passed proposal 1 across the table;" in response.content.decode()
    assert Demand.objects.get(pk=demand.pk).status == Status.PROPOSED
    assert "Passed words." in Client().get(demand.get_absolute_url()).content.decode()


def test_edit_page_of_a_passed_proposal_locks_the_language(client, team_user):
    demand = DemandFactory(status=Status.DRAFT)
    passed = _draft(demand, visibility=Visibility.PUBLIC)
    client.force_login(team_user)
    page = client.get(f"/proposals/{passed.pk}/edit/").content.decode()
    assert "locked" in page and 'name="language"' in page and "disabled" in page
    response = client.post(
        f"/proposals/{passed.pk}/edit/",
        {"language": "Tampered.", "visibility": "team", "summary": "New summary.", "version": _version(demand)},
    )
    assert response.status_code == 302
    passed.refresh_from_db()
    assert (passed.language, passed.visibility, passed.summary) == ("Draft words.", "public", "New summary.")


def test_edit_page_shows_a_refusal_and_writes_nothing(client, team_user):
    demand = DemandFactory(status=Status.DRAFT)
    draft = _draft(demand)
    client.force_login(team_user)
    future = (TODAY() + datetime.timedelta(days=1)).isoformat()
    response = client.post(
        f"/proposals/{draft.pk}/edit/",
        {"exchanged_on": future, "language": "x", "visibility": "public", "version": _version(demand)},
    )
    assert response.status_code == 400
    assert 'id="proposal-form-errors"' in response.content.decode()
    assert "cannot be exchanged in the future" in response.content.decode()
    assert Proposal.objects.get(pk=draft.pk).visibility == Visibility.TEAM


@pytest.mark.parametrize("who", ["anonymous", "member"])
def test_edit_page_is_the_teams(client, member_user, who):
    demand = DemandFactory(status=Status.PROPOSED, visibility=Visibility.PUBLIC)
    passed = _draft(demand, visibility=Visibility.PUBLIC)
    if who == "member":
        client.force_login(member_user)
    assert client.get(f"/proposals/{passed.pk}/edit/").status_code == (302 if who == "anonymous" else 403)


def test_an_unknown_or_out_of_range_proposal_is_not_found(client, team_user):
    client.force_login(team_user)
    for pk in ("99999", "99999999999999999999"):
        assert client.get(f"/proposals/{pk}/edit/").status_code == 404
        assert client.post(f"/proposals/{pk}/edit/", {"summary": "x"}).status_code == 404
