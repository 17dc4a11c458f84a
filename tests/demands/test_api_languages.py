"""The API is bilingual by fields: each member-facing text's Spanish version (`<field>_es`, the models'
`TRANSLATED_FIELDS`) is read and written beside the English one, through the services, within the same audience."""

import inspect

import pytest
from django.apps import apps
from rest_framework import serializers

from bargaining.api import serializers as bargaining_serializers
from demands.api import serializers as demand_serializers
from demands.models import (
    SUMMARY_MAX_LENGTH,
    Demand,
    Proposal,
    Resolution,
    Status,
    StatusChange,
    Visibility,
    team_only_fields,
    translated_fields,
    translation_columns,
)
from tests.factories import CategoryFactory, DemandFactory, ProposalFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

DEMANDS = "/api/v1/demands/"


def errors_of(response) -> dict[str, list[str]]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_failed" and body["detail"]
    return body["errors"]


def output_serializers() -> list[type[serializers.ModelSerializer]]:
    found = []
    for module in (demand_serializers, bargaining_serializers):
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, serializers.ModelSerializer)
                and hasattr(cls, "Meta")
                and cls.__module__ == module.__name__
            ):
                found.append(cls)
    return found


# --- The one rule: read from the models ---


def test_every_representation_of_a_translated_text_carries_its_spanish_version():
    checked = 0
    for cls in output_serializers():
        fields = cls().fields
        for english, spanish in translation_columns(cls.Meta.model):
            if english in fields:
                assert spanish in fields, f"{cls.__name__} shows {english} without {spanish}"
                checked += 1
        # A demand names its category: the category's name in both languages.
        if "category_name" in fields:
            assert "category_name_es" in fields, cls.__name__
    assert checked >= 8, "demands, status changes, proposals, resolutions and clauses were all checked"


def test_no_translated_text_is_team_only():
    """A member never sees more in Spanish than in English: what is translated is what members read."""
    for model in apps.get_models():
        assert not set(translated_fields(model)) & set(team_only_fields(model)), model.__name__


# --- Round trips ---


def test_spanish_title_written_through_the_api_is_read_back_and_shown_under_es(api_client, team_user, client):
    category = CategoryFactory(name="Staffing", name_es="Personal")
    team = api_client(team_user)
    body = {
        "title": "Counselors in every school",
        "title_es": "Consejeros en cada escuela",
        "summary": "A counselor for every 250 students.",
        "summary_es": "Un consejero por cada 250 estudiantes.",
        "target_es": "Uno por cada 250",
        "category": category.slug,
        "visibility": "public",
    }
    created = team.post(DEMANDS, body, format="json")
    assert created.status_code == 201, created.content
    demand = Demand.objects.get(pk=created.json()["id"])
    assert (demand.title_es, demand.summary_es, demand.target_es) == (
        "Consejeros en cada escuela",
        "Un consejero por cada 250 estudiantes.",
        "Uno por cada 250",
    )
    assert demand.history.get().history_user == team_user  # written through demand_create

    public = api_client().get(f"{DEMANDS}{demand.pk}/").json()
    assert public["title_es"] == "Consejeros en cada escuela"
    assert public["summary_es"] == "Un consejero por cada 250 estudiantes."
    assert public["category_name"] == "Staffing" and public["category_name_es"] == "Personal"
    page = client.get(f"/es/demands/{demand.slug}/").content.decode()
    assert "<h1>Consejeros en cada escuela</h1>" in page

    # Sending back what GET returned changes nothing; emptying the Spanish title falls back to the English.
    whole = team.get(f"{DEMANDS}{demand.pk}/").json()
    assert team.put(f"{DEMANDS}{demand.pk}/", whole, format="json", HTTP_IF_MATCH='"1"').json()["version"] == 1
    emptied = team.patch(f"{DEMANDS}{demand.pk}/", {"title_es": ""}, format="json", HTTP_IF_MATCH='"1"')
    assert emptied.status_code == 200 and emptied.json()["title_es"] == "" and emptied.json()["version"] == 2
    page = client.get(f"/es/demands/{demand.slug}/").content.decode()
    assert '<span lang="en">Counselors in every school</span>' in page and "(en inglés)" in page


def test_a_transitions_spanish_note_reaches_the_history_and_the_es_page(api_client, team_user, client):
    demand = DemandFactory(status=Status.PROPOSED, slug="nurses")
    response = api_client(team_user).post(
        f"{DEMANDS}{demand.pk}/transition/",
        {"status": "countered", "note": "CPS countered.", "note_es": "CPS hizo una contrapropuesta."},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert response.status_code == 200, response.content
    assert StatusChange.objects.get(demand=demand).note_es == "CPS hizo una contrapropuesta."
    [change] = api_client().get(f"{DEMANDS}{demand.pk}/history/").json()["results"]
    assert (change["note"], change["note_es"]) == ("CPS countered.", "CPS hizo una contrapropuesta.")
    assert "CPS hizo una contrapropuesta." in client.get("/es/demands/nurses/").content.decode()


def test_a_proposals_spanish_summary_and_note_are_written_and_edited_through_the_services(api_client, team_user):
    demand = DemandFactory(status=Status.DRAFT)
    team = api_client(team_user)
    created = team.post(
        f"{DEMANDS}{demand.pk}/proposals/",
        {
            "side": "union",
            "exchanged_on": "2024-03-01",
            "language": "The Board shall employ social workers.",
            "summary": "More social workers.",
            "summary_es": "Más trabajadores sociales.",
            "visibility": "public",
            "note": "Passed at the table.",
            "note_es": "Entregada en la mesa.",
        },
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert created.status_code == 201, created.content
    assert created.json()["summary_es"] == "Más trabajadores sociales."
    proposal = Proposal.objects.get(pk=created.json()["id"])
    assert proposal.status_changes.get().note_es == "Entregada en la mesa."
    # A passed proposal's language is locked, its summaries are not.
    edited = team.patch(
        f"/api/v1/proposals/{proposal.pk}/",
        {"summary_es": "Trabajadores sociales."},
        format="json",
        HTTP_IF_MATCH='"2"',
    )
    assert edited.status_code == 200, edited.content
    assert api_client().get(f"/api/v1/proposals/{proposal.pk}/").json()["summary_es"] == "Trabajadores sociales."


def test_a_resolutions_spanish_texts_and_clauses_round_trip(api_client, team_user, client):
    team = api_client(team_user)
    created = team.post(
        "/api/v1/resolutions/",
        {
            "governing_body": "Chicago Board of Education",
            "title": "Ending the contract with CPD",
            "title_es": "Fin del contrato con la policía",
            "summary_es": "La Junta votó por unanimidad.",
            "adopted_on": "2024-02-22",
            "vote": "Unanimous",
            "clauses": [{"number": 1, "text": "End the contract.", "text_es": "Terminar el contrato."}],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    resolution = Resolution.objects.get(pk=created.json()["id"])
    read = api_client().get(f"/api/v1/resolutions/{resolution.pk}/").json()
    assert (read["title_es"], read["summary_es"]) == (
        "Fin del contrato con la policía",
        "La Junta votó por unanimidad.",
    )
    assert read["clauses"][0]["text_es"] == "Terminar el contrato."
    page = client.get(f"/es/resolutions/{resolution.pk}/").content.decode()
    assert "Terminar el contrato." in page and "Fin del contrato con la policía" in page
    # Sent back whole, the Spanish texts stay; the clause list as GET shows it keeps each clause's Spanish.
    assert team.put(f"/api/v1/resolutions/{resolution.pk}/", read, format="json").status_code == 200
    assert resolution.clauses.get().text_es == "Terminar el contrato."


def test_a_categorys_spanish_name_and_description_are_written_through_the_api(api_client, team_user, client):
    team = api_client(team_user)
    created = team.post(
        "/api/v1/categories/",
        {"name": "Staffing", "slug": "staffing", "name_es": "Personal", "description_es": "Más personal."},
        format="json",
    )
    assert created.status_code == 201, created.content
    url = f"/api/v1/categories/{created.json()['id']}/"
    assert api_client().get(url).json()["description_es"] == "Más personal."
    DemandFactory(category_id=created.json()["id"], title="Counselors", title_es="Consejeros", slug="counselors")
    assert api_client().get(f"{DEMANDS}?category=staffing").json()["results"][0]["category_name_es"] == "Personal"
    assert team.patch(url, {"name_es": "Personal escolar"}, format="json").json()["name_es"] == "Personal escolar"
    assert "Personal escolar" in client.get("/es/demands/counselors/").content.decode()
    too_long = team.patch(url, {"name_es": "n" * 101}, format="json")
    assert "100" in " ".join(errors_of(too_long)["name_es"])
    taken = team.post("/api/v1/categories/", {"name": "Other", "slug": "staffing"}, format="json")
    assert set(errors_of(taken)) == {"slug"}


# --- Bad input: 400 naming the field, never 500 ---


@pytest.mark.parametrize("value", [5, 5.5, True, None, ["Consejeros"], {"es": "Consejeros"}])
def test_a_spanish_text_that_is_not_text_is_refused_naming_the_field(api_client, team_user, value):
    demand = DemandFactory()
    response = api_client(team_user).patch(
        f"{DEMANDS}{demand.pk}/", {"title_es": value}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert set(errors_of(response)) == {"title_es"}
    demand.refresh_from_db()
    assert demand.title_es == "" and demand.version == 1


def test_spanish_texts_have_the_english_limits(api_client, team_user):
    demand = DemandFactory()
    team = api_client(team_user)
    url = f"{DEMANDS}{demand.pk}/"
    at_limit = team.patch(url, {"summary_es": "s" * SUMMARY_MAX_LENGTH}, format="json", HTTP_IF_MATCH='"1"')
    assert at_limit.status_code == 200, at_limit.content
    over = team.patch(url, {"summary_es": "s" * (SUMMARY_MAX_LENGTH + 1)}, format="json", HTTP_IF_MATCH='"2"')
    assert str(SUMMARY_MAX_LENGTH) in " ".join(errors_of(over)["summary_es"])
    huge = team.patch(url, {"title_es": "t" * 100_000}, format="json", HTTP_IF_MATCH='"2"')
    assert "200" in " ".join(errors_of(huge)["title_es"])
    note_limit = StatusChange._meta.get_field("note_es").max_length
    long_note = team.post(
        f"{url}transition/",
        {"status": "countered", "note_es": "n" * (note_limit + 1)},
        format="json",
        HTTP_IF_MATCH='"2"',
    )
    assert set(errors_of(long_note)) == {"note_es"}
    assert not StatusChange.objects.filter(demand=demand).exists()


def test_a_bad_clause_text_es_is_named_with_its_place_in_the_list(api_client, team_user):
    response = api_client(team_user).post(
        "/api/v1/resolutions/",
        {
            "governing_body": "Board",
            "title": "T",
            "adopted_on": "2024-02-22",
            "vote": "7-0",
            "clauses": [{"number": 1, "text": "One."}, {"number": 2, "text": "Two.", "text_es": 2}],
        },
        format="json",
    )
    assert set(errors_of(response)) == {"clauses.1.text_es"}
    assert not Resolution.objects.exists()


@pytest.mark.parametrize("field", ["body_es", "internal_notes_es", "slug_es"])
def test_a_spanish_version_of_a_text_that_has_none_is_refused(api_client, team_user, field):
    demand = DemandFactory()
    response = api_client(team_user).patch(f"{DEMANDS}{demand.pk}/", {field: "x"}, format="json", HTTP_IF_MATCH='"1"')
    assert errors_of(response) == {field: ["There is no such field."]}


# --- Audience ---


def test_spanish_texts_of_what_only_the_team_reads_reach_nobody_else(api_client, team_user, member_user):
    public = DemandFactory(visibility=Visibility.PUBLIC, title_es="DEMANDA-PUBLICA")
    hidden = DemandFactory(visibility=Visibility.TEAM, title_es="CANARIO-DEMANDA-EQUIPO")
    StatusChange.objects.create(
        demand=public,
        from_status=Status.PROPOSED,
        to_status=Status.COUNTERED,
        note="Held.",
        note_es="CANARIO-CAMBIO-RETENIDO",
        published_at=None,
    )
    draft = ProposalFactory(demand=public, visibility=Visibility.TEAM, summary_es="CANARIO-BORRADOR")
    canaries = ["CANARIO-DEMANDA-EQUIPO", "CANARIO-CAMBIO-RETENIDO", "CANARIO-BORRADOR"]
    urls = [
        DEMANDS,
        f"{DEMANDS}{public.pk}/",
        f"{DEMANDS}{public.pk}/history/",
        f"{DEMANDS}{public.pk}/proposals/",
        f"{DEMANDS}{hidden.pk}/",
        f"/api/v1/proposals/{draft.pk}/",
        "/api/v1/held/",
    ]
    for user in (None, member_user):
        client = api_client(user)
        for url in urls:
            body = client.get(url).content.decode()
            assert not [canary for canary in canaries if canary in body], (user, url)
        assert "DEMANDA-PUBLICA" in client.get(DEMANDS).content.decode()
    team = api_client(team_user)
    seen = "".join(team.get(url).content.decode() for url in urls)
    assert all(canary in seen for canary in canaries), "the team reads them all"


# --- The schema ---


def test_the_schema_documents_the_spanish_fields(api_client):
    schema = api_client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    assert {"title_es", "summary_es", "target_es", "category_name_es"} <= set(components["Demand"]["properties"])
    assert {"title_es", "summary_es", "target_es"} <= set(components["DemandInput"]["properties"])
    assert components["DemandInput"]["properties"]["title_es"]["maxLength"] == 200
    assert "note_es" in components["TransitionInput"]["properties"]
    assert {"summary_es", "note_es"} <= set(components["ProposalInput"]["properties"])
    assert {"summary_es", "note_es"} <= set(components["PatchedProposalUpdateInput"]["properties"])
    assert {"title_es", "summary_es"} <= set(components["ResolutionInput"]["properties"])
    assert "text_es" in components["ClauseInput"]["properties"]
    assert "text_es" in components["ResolutionClause"]["properties"]
    assert "note_es" in components["StatusChange"]["properties"]
    assert "summary_es" in components["Proposal"]["properties"]
