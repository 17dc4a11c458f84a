"""The team records and edits evidence (with figures) and resolutions (with clauses) through the API."""

import pytest

from demands.models import Evidence, Resolution
from tests.factories import DemandFactory, EvidenceFactory, FigureFactory, ResolutionClauseFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

EVIDENCE = "/api/v1/evidence/"
RESOLUTIONS = "/api/v1/resolutions/"
NEW_EVIDENCE = {
    "title": "#CopsOutCPS",
    "kind": "report",
    "publisher": "#CopsOutCPS campaign",
    "published_on": "2023-05-01",
    "url": "https://example.org/report",
    "quote": "a combined total of 2,354 misconduct complaint records",
    "figures": [{"value": "2354", "unit": "misconduct complaint records", "period": "to 2023"}],
}
NEW_RESOLUTION = {
    "governing_body": "Chicago Board of Education",
    "number": "24-0222-RS2",
    "title": "Ending the contract with CPD",
    "adopted_on": "2024-02-22",
    "vote": "Unanimous",
    "clauses": [{"number": 1, "text": "End the contract."}, {"number": 2, "text": "Remove SROs."}],
}


def errors_of(response, status: int = 400, code: str = "validation_failed") -> dict[str, list[str]]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "code", "errors"} and body["code"] == code and body["detail"]
    return body["errors"]


# --- Evidence ---


def test_create_evidence_with_figures(api_client, team_user):
    response = api_client(team_user).post(EVIDENCE, NEW_EVIDENCE, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"].endswith(f"{EVIDENCE}{body['id']}/")
    assert body["visibility"] == "team"
    assert [(f["value"], f["unit"], f["period"]) for f in body["figures"]] == [
        ("2354.00", "misconduct complaint records", "to 2023")
    ]
    evidence = Evidence.objects.get(pk=body["id"])
    assert evidence.history.get().history_user == team_user


def test_put_round_trips_what_get_returned_and_replaces_figures(api_client, admin_user):
    evidence = EvidenceFactory(title="Report")
    FigureFactory(evidence=evidence)
    client = api_client(admin_user)
    body = client.get(f"{EVIDENCE}{evidence.pk}/").json()
    body["title"] = "Report, revised"
    body["figures"] = [{"id": 0, "value": 38, "unit": "officers with 20+ complaints"}]
    response = client.put(f"{EVIDENCE}{evidence.pk}/", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Report, revised"
    assert [f["unit"] for f in response.json()["figures"]] == ["officers with 20+ complaints"]
    assert evidence.history.latest().history_user == admin_user


def test_patch_keeps_figures_when_none_are_sent(api_client, team_user):
    evidence = EvidenceFactory()
    FigureFactory(evidence=evidence)
    response = api_client(team_user).patch(f"{EVIDENCE}{evidence.pk}/", {"visibility": "public"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["visibility"], len(response.json()["figures"])) == ("public", 1)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"figures": [{"value": "-5", "unit": "x"}]}, "figures.0.value"),
        ({"figures": [{"value": "1e400", "unit": "x"}]}, "figures.0.value"),
        ({"figures": [{"value": 10**30, "unit": "x"}]}, "figures.0.value"),
        ({"figures": [{"value": "NaN", "unit": "x"}]}, "figures.0.value"),
        ({"figures": [{"value": 1.234, "unit": "x"}]}, "figures.0.value"),
        ({"figures": [{"value": 1}]}, "figures.0.unit"),
        ({"figures": [{"value": 1, "unit": "x", "colour": "red"}]}, "figures.0.colour"),
        ({"figures": "many"}, "figures"),
        ({"published_on": "2024-02-30"}, "published_on"),
        ({"published_on": "99999-01-01"}, "published_on"),
        ({"verified_at": "9999-12-31T23:59:59-12:00"}, "verified_at"),
        ({"kind": "rumour"}, "kind"),
        ({"visibility": "everyone"}, "visibility"),
        ({"url": "not a url"}, "url"),
        ({"title": "x\u0000y"}, "title"),
        ({"title": "x" * 256}, "title"),
        ({"verified_by": "nobody"}, "verified_by"),
        ({"status": "draft"}, "status"),
    ],
)
def test_bad_evidence_gets_400_naming_the_field(api_client, team_user, change, field):
    response = api_client(team_user).post(EVIDENCE, {**NEW_EVIDENCE, **change}, format="json")
    assert field in errors_of(response)
    assert not Evidence.objects.exists()


def test_duplicate_title_and_publisher_gets_409(api_client, team_user):
    client = api_client(team_user)
    assert client.post(EVIDENCE, NEW_EVIDENCE, format="json").status_code == 201
    response = client.post(EVIDENCE, NEW_EVIDENCE, format="json")
    errors = errors_of(response, 409, "conflict")
    assert "already evidence titled “#CopsOutCPS”" in errors["title"][0]
    assert Evidence.objects.count() == 1


def test_team_evidence_made_through_the_api_stays_hidden(api_client, team_user, member_user):
    marker = "ZZ-TEAM-EVIDENCE-41c2"
    team = api_client(team_user)
    created = team.post(EVIDENCE, {**NEW_EVIDENCE, "title": marker, "quote": marker}, format="json").json()
    public = team.post(EVIDENCE, {**NEW_EVIDENCE, "title": "Public", "visibility": "public"}, format="json").json()
    for client in (api_client(), api_client(member_user)):
        assert marker not in client.get(EVIDENCE).content.decode()
        assert client.get(f"{EVIDENCE}{created['id']}/").status_code == 404
        assert client.get(f"{EVIDENCE}{public['id']}/").status_code == 200
        # Reading the edit response back as a non-team caller is refused before anything is shown.
        assert client.patch(f"{EVIDENCE}{created['id']}/", {}, format="json").status_code in (401, 403)


# --- Resolutions ---


def test_create_resolution_with_clauses(api_client, team_user):
    response = api_client(team_user).post(RESOLUTIONS, NEW_RESOLUTION, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert [(c["number"], c["text"]) for c in body["clauses"]] == [(1, "End the contract."), (2, "Remove SROs.")]
    assert Resolution.objects.get(pk=body["id"]).history.get().history_user == team_user


def test_editing_clauses_keeps_ids_and_demand_links(api_client, team_user):
    clause = ResolutionClauseFactory(number=1, text="Old text.")
    demand = DemandFactory()
    demand.clauses.add(clause)
    response = api_client(team_user).patch(
        f"{RESOLUTIONS}{clause.resolution_id}/",
        {"clauses": [{"id": clause.pk, "number": 1, "text": "New text."}, {"number": 2, "text": "Added."}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    clauses = response.json()["clauses"]
    assert clauses[0] == {"id": clause.pk, "number": 1, "text": "New text.", "text_es": ""}
    assert clauses[1]["number"] == 2
    assert list(demand.clauses.all()) == [clause]
    assert clause.history.latest().history_user == team_user


def test_removing_a_clause_demands_rest_on_gets_409(api_client, team_user):
    clause = ResolutionClauseFactory(number=1)
    DemandFactory().clauses.add(clause)
    response = api_client(team_user).patch(
        f"{RESOLUTIONS}{clause.resolution_id}/", {"clauses": [{"number": 2, "text": "Other."}]}, format="json"
    )
    errors = errors_of(response, 409, "conflict")
    assert "clause 1 by 1 demand" in errors["clauses"][0]
    assert list(Resolution.objects.get().clauses.all()) == [clause]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"clauses": [{"number": 1, "text": "a"}, {"number": 1, "text": "b"}]}, "clauses.1.number"),
        ({"clauses": [{"number": 0, "text": "a"}]}, "clauses.0.number"),
        ({"clauses": [{"number": 40000, "text": "a"}]}, "clauses.0.number"),
        ({"clauses": [{"number": "one", "text": "a"}]}, "clauses.0.number"),
        ({"clauses": [{"number": 1}]}, "clauses.0.text"),
        ({"adopted_on": "yesterday"}, "adopted_on"),
        ({"adopted_on": None}, "adopted_on"),
        ({"vote": ""}, "vote"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_resolution_gets_400_naming_the_field(api_client, team_user, change, field):
    response = api_client(team_user).post(RESOLUTIONS, {**NEW_RESOLUTION, **change}, format="json")
    assert field in errors_of(response)
    assert not Resolution.objects.exists()


def test_duplicate_resolution_number_gets_409(api_client, team_user):
    client = api_client(team_user)
    assert client.post(RESOLUTIONS, NEW_RESOLUTION, format="json").status_code == 201
    response = client.post(RESOLUTIONS, {**NEW_RESOLUTION, "title": "Another"}, format="json")
    assert "number" in errors_of(response, 409, "conflict")
