"""Limits that keep pages readable: the last allowed length passes, the first one over is refused with the limit."""

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from demands.errors import ValidationFailed
from demands.models import NOTE_MAX_LENGTH, SUMMARY_MAX_LENGTH, Demand, Status, StatusChange
from demands.services import demand_transition, demand_update
from tests.factories import DemandFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


@pytest.fixture
def team_client(client, team_user):
    client.force_login(team_user)
    return client


def test_a_note_at_the_limit_passes_and_one_over_is_refused_by_the_service(team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    with pytest.raises(ValidationFailed) as refused:
        demand_transition(
            demand_id=demand.pk,
            to_status="countered",
            expected_version=1,
            by=team_user,
            note="x" * (NOTE_MAX_LENGTH + 1),
        )
    assert f"at most {NOTE_MAX_LENGTH} characters" in str(refused.value.errors["note"])
    assert not StatusChange.objects.exists()
    change = demand_transition(
        demand_id=demand.pk, to_status="countered", expected_version=1, by=team_user, note="x" * NOTE_MAX_LENGTH
    )
    assert len(change.note) == NOTE_MAX_LENGTH


def test_a_summary_over_the_limit_is_refused_by_the_service():
    demand = DemandFactory()
    with pytest.raises(ValidationFailed) as refused:
        demand_update(demand_id=demand.pk, expected_version=1, by=None, summary="s" * (SUMMARY_MAX_LENGTH + 1))
    assert f"at most {SUMMARY_MAX_LENGTH} characters" in str(refused.value.errors["summary"])
    demand_update(demand_id=demand.pk, expected_version=1, by=None, summary="s" * SUMMARY_MAX_LENGTH)


def test_the_database_refuses_what_bypasses_the_services():
    demand = DemandFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Demand.objects.filter(pk=demand.pk).update(summary="s" * (SUMMARY_MAX_LENGTH + 1))


def test_the_status_form_refuses_a_long_note_and_shows_the_limit(team_client):
    demand = DemandFactory(status=Status.PROPOSED)
    page = team_client.get(demand.get_absolute_url()).content.decode()
    assert f'maxlength="{NOTE_MAX_LENGTH}"' in page
    assert f"Up to {NOTE_MAX_LENGTH} characters." in page
    url = f"{demand.get_absolute_url()}status/"
    team_client.post(url, {"to_status": "countered", "version": 1, "note": "x" * (NOTE_MAX_LENGTH + 1)})
    page = team_client.get(demand.get_absolute_url()).content.decode()
    assert f"Ensure this value has at most {NOTE_MAX_LENGTH} characters (it has {NOTE_MAX_LENGTH + 1})." in page
    assert not StatusChange.objects.exists()
    team_client.post(url, {"to_status": "countered", "version": 1, "note": "x" * NOTE_MAX_LENGTH})
    assert StatusChange.objects.get().note == "x" * NOTE_MAX_LENGTH


def test_the_api_refuses_a_long_note_and_summary_with_the_limit(api_client, team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    client = api_client(team_user)
    url = f"/api/v1/demands/{demand.pk}/transition/"
    over = {"status": "countered", "note": "x" * (NOTE_MAX_LENGTH + 1)}
    response = client.post(url, over, format="json", HTTP_IF_MATCH='"1"')
    assert response.status_code == 400
    assert str(NOTE_MAX_LENGTH) in response.json()["errors"]["note"][0]
    response = client.patch(
        f"/api/v1/demands/{demand.pk}/", {"summary": "s" * (SUMMARY_MAX_LENGTH + 1)}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 400
    assert str(SUMMARY_MAX_LENGTH) in response.json()["errors"]["summary"][0]
    response = client.post(url, {**over, "note": "x" * NOTE_MAX_LENGTH}, format="json", HTTP_IF_MATCH='"1"')
    assert response.status_code == 200


def test_the_schema_states_the_limits(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]
    assert any(
        component.get("properties", {}).get("summary", {}).get("maxLength") == SUMMARY_MAX_LENGTH
        for component in components.values()
    )
    assert any(
        component.get("properties", {}).get("note", {}).get("maxLength") == NOTE_MAX_LENGTH
        for component in components.values()
    )


def test_the_admin_refuses_a_long_summary_with_the_limit(client, admin_user):
    demand = DemandFactory()
    client.force_login(admin_user)
    data = {
        "title": demand.title,
        "slug": demand.slug,
        "category": demand.category_id,
        "summary": "s" * (SUMMARY_MAX_LENGTH + 1),
        "body": "",
        "target": "",
        "visibility": "public",
        "priority_tier": "important",
        "internal_notes": "",
        "fallback_position": "",
        "evidence_links-TOTAL_FORMS": 0,
        "evidence_links-INITIAL_FORMS": 0,
        "status_changes-TOTAL_FORMS": 0,
        "status_changes-INITIAL_FORMS": 0,
        "proposals-TOTAL_FORMS": 0,
        "proposals-INITIAL_FORMS": 0,
        "agreement-TOTAL_FORMS": 0,
        "agreement-INITIAL_FORMS": 0,
    }
    url = reverse("admin:demands_demand_change", args=[demand.pk])
    response = client.post(url, data)
    assert response.status_code == 200
    assert f"at most {SUMMARY_MAX_LENGTH} characters" in response.content.decode()
    assert client.post(url, {**data, "summary": "s" * SUMMARY_MAX_LENGTH}).status_code == 302
