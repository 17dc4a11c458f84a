"""The bargaining-at-the-table API: the whole chain, its refusals, who sees what, and query counts."""

import datetime

import pytest

from demands.models import Demand, Proposal, RatificationVote, Status, StatusChange, TentativeAgreement, Visibility
from tests.factories import DemandFactory, ProposalFactory

TODAY = datetime.date.today().isoformat()
TOMORROW = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()


def _etag(client, demand_id: int) -> str:
    return client.get(f"/api/v1/demands/{demand_id}/")["ETag"]


def _post(client, url: str, body: dict, demand_id: int | None = None, method: str = "post"):
    headers = {"HTTP_IF_MATCH": _etag(client, demand_id)} if demand_id is not None else {}
    return getattr(client, method)(url, body, format="json", **headers)


def _proposal(client, demand: Demand, side: str, language: str, **extra):
    body = {"side": side, "exchanged_on": TODAY, "language": language, "visibility": "public", **extra}
    return _post(client, f"/api/v1/demands/{demand.pk}/proposals/", body, demand.pk)


def _reach(client, demand: Demand, language: str = "One social worker per 250 students.") -> None:
    assert (
        _post(client, f"/api/v1/demands/{demand.pk}/agreement/", {"language": language}, demand.pk, "put").status_code
        == 200
    )
    for side in ("union", "board"):
        body = {"side": side, "signed_by": f"{side} lead", "signed_on": TODAY}
        assert _post(client, f"/api/v1/demands/{demand.pk}/agreement/sign/", body, demand.pk).status_code == 200


def test_the_whole_chain_to_ratified(api_client, team_user):
    team = api_client(team_user)
    demand = DemandFactory(status=Status.DRAFT, current_language="One social worker per 500 students.")
    first = _proposal(team, demand, "union", "One social worker per 200 students.", rationale="Open high.")
    assert first.status_code == 201, first.json()
    assert first.json()["number"] == 1
    assert first["Location"].endswith(f"/api/v1/proposals/{first.json()['id']}/")
    assert first["ETag"] == '"2"'
    counter = _proposal(team, demand, "board", "One social worker per 400 students.")
    assert counter.json()["redline"] == [
        {"op": "equal", "text": "One social worker per "},
        {"op": "delete", "text": "200 "},
        {"op": "insert", "text": "400 "},
        {"op": "equal", "text": "students."},
    ]
    assert Demand.objects.get(pk=demand.pk).status == Status.COUNTERED
    assert _proposal(team, demand, "union", "One social worker per 250 students.").status_code == 201
    assert Demand.objects.get(pk=demand.pk).status == Status.PROPOSED
    _reach(team, demand)
    assert Demand.objects.get(pk=demand.pk).status == Status.TENTATIVE_AGREEMENT
    locked = _post(team, f"/api/v1/demands/{demand.pk}/agreement/", {"language": "Changed."}, demand.pk, "put")
    assert locked.status_code == 409
    assert "signed" in locked.json()["detail"]
    vote = team.post(
        "/api/v1/votes/",
        {"held_on": TODAY, "yes": 18204, "no": 1310, "abstain": 0, "eligible": 27000, "demands": [demand.pk]},
        format="json",
    )
    assert vote.status_code == 201, vote.json()
    assert (vote.json()["passed"], vote.json()["turnout_percent"], vote.json()["demands"]) == (True, 72, [demand.pk])
    assert Demand.objects.get(pk=demand.pk).status == Status.RATIFIED
    listed = team.get(f"/api/v1/demands/{demand.pk}/proposals/").json()["results"]
    assert [p["number"] for p in listed] == [1, 2, 3]
    assert listed[0]["rationale"] == "Open high."
    refused = _proposal(team, demand, "board", "Anything.")
    assert refused.status_code == 400
    assert "ratified is final" in refused.json()["detail"].lower() or "final" in refused.json()["detail"]


def test_failed_vote_sends_every_covered_demand_back(api_client, team_user):
    team = api_client(team_user)
    demands = [DemandFactory(status=Status.COUNTERED) for _ in range(3)]
    for demand in demands:
        _reach(team, demand)
    body = {"held_on": TODAY, "yes": 100, "no": 101, "eligible": 300, "demands": [d.pk for d in demands]}
    assert team.post("/api/v1/votes/", body, format="json").status_code == 201
    assert {Demand.objects.get(pk=d.pk).status for d in demands} == {Status.COUNTERED}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"yes": 10, "no": 10, "abstain": 1, "eligible": 20}, "eligible"),
        ({"yes": -1, "no": 0, "eligible": 20}, "yes"),
        ({"yes": 1, "no": 0, "eligible": 20, "held_on": TOMORROW}, "held_on"),
        ({"yes": 1, "no": 0, "eligible": 20, "demands": []}, "demands"),
        ({"yes": "many", "no": 0, "eligible": 20}, "yes"),
    ],
)
def test_bad_votes_get_400_and_write_nothing(api_client, team_user, body, field):
    team = api_client(team_user)
    demand = DemandFactory(status=Status.PROPOSED)
    _reach(team, demand)
    response = team.post("/api/v1/votes/", {"held_on": TODAY, "demands": [demand.pk], **body}, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not RatificationVote.objects.exists()
    assert Demand.objects.get(pk=demand.pk).status == Status.TENTATIVE_AGREEMENT


def test_proposal_refusals(api_client, team_user):
    team = api_client(team_user)
    withdrawn = DemandFactory(status=Status.WITHDRAWN)
    response = _proposal(team, withdrawn, "union", "x")
    assert response.status_code == 400 and "final" in response.json()["detail"]
    demand = DemandFactory(status=Status.PROPOSED)
    future = _proposal(team, demand, "union", "x", exchanged_on=TOMORROW)
    assert future.status_code == 400 and "exchanged_on" in future.json()["errors"]
    stale = team.post(
        f"/api/v1/demands/{demand.pk}/proposals/",
        {"side": "board", "exchanged_on": TODAY, "language": "x"},
        format="json",
        HTTP_IF_MATCH='"7"',
    )
    assert stale.status_code == 412
    missing = team.post(
        f"/api/v1/demands/{demand.pk}/proposals/",
        {"side": "board", "exchanged_on": TODAY, "language": "x"},
        format="json",
    )
    assert missing.status_code == 428
    assert not Proposal.objects.exists()


def test_third_signature_gets_409(api_client, team_user):
    team = api_client(team_user)
    demand = DemandFactory(status=Status.PROPOSED)
    _reach(team, demand)
    body = {"side": "union", "signed_by": "Someone", "signed_on": TODAY}
    response = _post(team, f"/api/v1/demands/{demand.pk}/agreement/sign/", body, demand.pk)
    assert response.status_code == 409
    assert "both sides have signed" in response.json()["detail"]
    assert StatusChange.objects.filter(demand=demand).count() == 1


@pytest.mark.parametrize("role", [None, "member_user"])
def test_outsiders_never_see_drafts_rationales_or_unsigned_agreements(api_client, request, team_user, role):
    team = api_client(team_user)
    demand = DemandFactory(status=Status.PROPOSED)
    _proposal(team, demand, "union", "Public language.", rationale="CANARY-RATIONALE")
    _proposal(team, demand, "union", "CANARY-DRAFT language.", visibility="team")
    _post(team, f"/api/v1/demands/{demand.pk}/agreement/", {"language": "CANARY-UNSIGNED"}, demand.pk, "put")
    client = api_client(request.getfixturevalue(role) if role else None)
    listed = client.get(f"/api/v1/demands/{demand.pk}/proposals/")
    assert listed.status_code == 200
    assert [p["number"] for p in listed.json()["results"]] == [1]
    assert "CANARY" not in listed.content.decode()
    assert "rationale" not in listed.json()["results"][0]
    draft = Proposal.objects.get(number=2)
    assert client.get(f"/api/v1/proposals/{draft.pk}/").status_code == 404
    assert client.get(f"/api/v1/demands/{demand.pk}/agreement/").status_code == 404
    assert "CANARY" not in client.get(f"/api/v1/demands/{demand.pk}/history/").content.decode()
    assert client.post(f"/api/v1/demands/{demand.pk}/proposals/", {}, format="json").status_code in (401, 403)


def test_agreement_is_public_once_both_signed(api_client, team_user):
    team = api_client(team_user)
    demand = DemandFactory(status=Status.PROPOSED)
    _reach(team, demand)
    response = api_client().get(f"/api/v1/demands/{demand.pk}/agreement/")
    assert response.status_code == 200
    assert response.json()["reached"] is True
    assert TentativeAgreement.objects.get().reached_at is not None


@pytest.mark.parametrize("rows", [1, 50])
@pytest.mark.parametrize(("role", "queries"), [(None, 4), ("team_user", 6)])
def test_proposal_list_queries_do_not_grow(api_client, request, django_assert_num_queries, rows, role, queries):
    demand = DemandFactory()
    for number in range(1, rows + 1):
        ProposalFactory(demand=demand, number=number, visibility=Visibility.PUBLIC)
    client = api_client(request.getfixturevalue(role) if role else None)
    with django_assert_num_queries(queries):
        response = client.get(f"/api/v1/demands/{demand.pk}/proposals/", {"page_size": 100})
    assert len(response.json()["results"]) == rows
