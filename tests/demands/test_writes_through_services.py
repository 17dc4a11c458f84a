"""Every write goes through a service, the admin's included; an edit that changes nothing is no edit."""

import pytest
from django.db.models import F
from django.urls import reverse

from demands.admin import DemandAdminForm
from demands.models import Demand, EvidenceLink, Resolution, ResolutionClause, Visibility
from tests.factories import (
    CategoryFactory,
    DemandFactory,
    EvidenceFactory,
    ResolutionClauseFactory,
    ResolutionFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

DEMAND_INLINES = {
    "evidence_links-TOTAL_FORMS": 0,
    "evidence_links-INITIAL_FORMS": 0,
    "status_changes-TOTAL_FORMS": 0,
    "status_changes-INITIAL_FORMS": 0,
    "proposals-TOTAL_FORMS": 0,
    "proposals-INITIAL_FORMS": 0,
    "agreement-TOTAL_FORMS": 0,
    "agreement-INITIAL_FORMS": 0,
}


def demand_form(demand: Demand, **changes) -> dict:
    return {
        "title": demand.title,
        "slug": demand.slug,
        "category": demand.category_id,
        "summary": demand.summary,
        "target": demand.target,
        "visibility": demand.visibility,
        "priority_tier": demand.priority_tier,
        "internal_notes": demand.internal_notes,
        "fallback_position": demand.fallback_position,
        "seen_version": demand.version,
        **DEMAND_INLINES,
        **changes,
    }


def errors_of(response) -> str:
    import re

    return " ".join(re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S))


# --- The admin, refused like the API --------------------------------------------------------------------------


def test_admin_add_refuses_the_reserved_slug(client, admin_user):
    category = CategoryFactory()
    client.force_login(admin_user)
    data = {
        "title": "New",
        "slug": "new",
        "category": category.pk,
        "summary": "Why.",
        "visibility": "public",
        "priority_tier": "important",
        **DEMAND_INLINES,
    }
    response = client.post(reverse("admin:demands_demand_add"), data)
    assert response.status_code == 200
    assert "“new” is reserved for the site&#x27;s own pages" in errors_of(response)
    assert not Demand.objects.exists()
    data["slug"] = "new-counselors"
    assert client.post(reverse("admin:demands_demand_add"), data).status_code == 302
    created = Demand.objects.get()
    assert (created.slug, created.status, created.history.get().history_user) == ("new-counselors", "draft", admin_user)


def test_admin_cannot_delete_a_clause_a_demand_rests_on(client, admin_user):
    clause = ResolutionClauseFactory(number=1, text="Ends the police contract.")
    other = ResolutionClauseFactory(resolution=clause.resolution, number=2, text="Directs a plan.")
    DemandFactory().clauses.add(clause)
    resolution = clause.resolution
    client.force_login(admin_user)
    data = {
        "governing_body": resolution.governing_body,
        "number": resolution.number,
        "title": resolution.title,
        "adopted_on": resolution.adopted_on.isoformat(),
        "vote": resolution.vote,
        "clauses-TOTAL_FORMS": 2,
        "clauses-INITIAL_FORMS": 2,
        "clauses-0-id": clause.pk,
        "clauses-0-resolution": resolution.pk,
        "clauses-0-number": 1,
        "clauses-0-text": clause.text,
        "clauses-0-DELETE": "on",
        "clauses-1-id": other.pk,
        "clauses-1-resolution": resolution.pk,
        "clauses-1-number": 2,
        "clauses-1-text": other.text,
    }
    url = reverse("admin:demands_resolution_change", args=[resolution.pk])
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Demands rest on clauses this edit would remove (clause 1 by 1 demand)" in errors_of(response)
    assert ResolutionClause.objects.filter(pk=clause.pk).exists()
    # The clause nothing rests on can go, through the same service.
    data.pop("clauses-0-DELETE")
    data["clauses-1-DELETE"] = "on"
    assert client.post(url, data).status_code == 302
    assert list(resolution.clauses.values_list("number", flat=True)) == [1]
    assert ResolutionClause.history.filter(id=other.pk, history_type="-").get().history_user == admin_user


def test_admin_delete_of_a_resolution_demands_rest_on_is_refused(client, admin_user):
    clause = ResolutionClauseFactory()
    DemandFactory().clauses.add(clause)
    client.force_login(admin_user)
    response = client.post(reverse("admin:demands_resolution_delete", args=[clause.resolution_id]), {"post": "yes"})
    assert response.status_code == 403
    assert Resolution.objects.filter(pk=clause.resolution_id).exists()


def test_citing_evidence_in_the_admin_bumps_the_version_and_writes_history(client, admin_user):
    demand = DemandFactory()
    evidence = EvidenceFactory()
    client.force_login(admin_user)
    data = demand_form(
        demand,
        **{
            "evidence_links-TOTAL_FORMS": 1,
            "evidence_links-0-evidence": evidence.pk,
            "evidence_links-0-claim": "supports: more counselors",
            "evidence_links-0-demand": demand.pk,
        },
    )
    response = client.post(reverse("admin:demands_demand_change", args=[demand.pk]), data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    demand.refresh_from_db()
    assert demand.version == 2
    link = EvidenceLink.objects.get(demand=demand)
    assert (link.evidence, link.claim) == (evidence, "supports: more counselors")
    assert link.history.get().history_user == admin_user
    assert demand.history.latest().history_user == admin_user


def test_citing_the_same_evidence_twice_in_the_admin_is_a_form_error(client, admin_user):
    demand = DemandFactory()
    evidence = EvidenceFactory()
    EvidenceLink.objects.create(demand=demand, evidence=evidence, claim="supports: it")
    client.force_login(admin_user)
    data = demand_form(
        demand,
        target="changed too",
        **{
            "evidence_links-TOTAL_FORMS": 2,
            "evidence_links-INITIAL_FORMS": 1,
            "evidence_links-0-id": demand.evidence_links.get().pk,
            "evidence_links-0-demand": demand.pk,
            "evidence_links-1-evidence": evidence.pk,
            "evidence_links-1-claim": "supports: it again",
            "evidence_links-1-demand": demand.pk,
        },
    )
    response = client.post(reverse("admin:demands_demand_change", args=[demand.pk]), data)
    assert response.status_code == 200
    assert "Please correct the duplicate data for evidence." in errors_of(response)
    demand.refresh_from_db()
    # Refused as a whole: the field edit made before the citation was rolled back with it.
    assert (demand.target, demand.version, demand.evidence_links.count()) == ("", 1, 1)


def test_a_version_bumped_after_the_form_was_checked_is_a_form_error_not_a_500(client, admin_user, monkeypatch):
    demand = DemandFactory()
    checked = DemandAdminForm.clean

    def clean_then_someone_else_saves(form):
        cleaned = checked(form)
        Demand.objects.filter(pk=demand.pk).update(version=F("version") + 1)
        return cleaned

    monkeypatch.setattr(DemandAdminForm, "clean", clean_then_someone_else_saves)
    client.force_login(admin_user)
    response = client.post(reverse("admin:demands_demand_change", args=[demand.pk]), demand_form(demand, target="x"))
    assert response.status_code == 200
    assert "was changed by someone else (you saw version 1" in errors_of(response)
    demand.refresh_from_db()
    assert demand.target == ""


def test_evidence_figures_in_the_admin_are_saved_through_the_service(client, admin_user):
    evidence = EvidenceFactory()
    client.force_login(admin_user)
    data = {
        "title": evidence.title,
        "kind": evidence.kind,
        "publisher": evidence.publisher,
        "published_on": evidence.published_on.isoformat(),
        "quote": evidence.quote,
        "visibility": evidence.visibility,
        "figures-TOTAL_FORMS": 1,
        "figures-INITIAL_FORMS": 0,
        "figures-0-value": "-3",
        "figures-0-unit": "officers",
        "links-TOTAL_FORMS": 0,
        "links-INITIAL_FORMS": 0,
    }
    url = reverse("admin:demands_evidence_change", args=[evidence.pk])
    response = client.post(url, data)
    assert response.status_code == 200
    assert "figure_value_non_negative" in errors_of(response)
    assert not evidence.figures.exists()
    data["figures-0-value"] = "38"
    assert client.post(url, data).status_code == 302
    assert list(evidence.figures.values_list("value", "unit")) == [(38, "officers")]
    assert evidence.history.latest().history_user == admin_user


def test_category_admin_writes_through_the_service(client, admin_user):
    client.force_login(admin_user)
    data = {"name": "Holistic safety", "slug": "new", "description": "", "position": 1}
    assert client.post(reverse("admin:demands_category_add"), data).status_code == 302
    category = CategoryFactory._meta.model.objects.get(name="Holistic safety")
    data["name"] = ""
    response = client.post(reverse("admin:demands_category_change", args=[category.pk]), data)
    assert response.status_code == 200
    category.refresh_from_db()
    assert category.name == "Holistic safety"


# --- An edit that changes nothing --------------------------------------------------------------------------------


@pytest.fixture
def team_api(api_client, team_user):
    return api_client(team_user)


@pytest.mark.parametrize("body", [{}, "unchanged", "whole"])
def test_patch_or_put_that_changes_nothing_keeps_the_version_and_writes_no_audit_row(team_api, body):
    demand = DemandFactory(target="one per 250", internal_notes="hold firm")
    url = f"/api/v1/demands/{demand.pk}/"
    representation = team_api.get(url).json()
    rows = demand.history.count()
    if body == "unchanged":
        response = team_api.patch(
            url, {"target": "one per 250", "internal_notes": "hold firm"}, format="json", HTTP_IF_MATCH='"1"'
        )
    elif body == "whole":
        response = team_api.put(url, representation, format="json", HTTP_IF_MATCH='"1"')
    else:
        response = team_api.patch(url, {}, format="json", HTTP_IF_MATCH='"1"')
    assert response.status_code == 200, response.json()
    assert response.json()["version"] == 1
    assert response["ETag"] == '"1"'
    assert demand.history.count() == rows
    # The same request with a change does bump the version and write one audit row.
    changed = team_api.patch(url, {"target": "one per 200"}, format="json", HTTP_IF_MATCH='"1"')
    assert changed.json()["version"] == 2
    assert demand.history.count() == rows + 1


def test_evidence_and_resolution_edits_that_change_nothing_write_no_audit_row(team_api):
    evidence = EvidenceFactory(visibility=Visibility.PUBLIC)
    evidence_url = f"/api/v1/evidence/{evidence.pk}/"
    representation = team_api.get(evidence_url).json()
    figures = [{"value": "38", "unit": "officers"}]
    team_api.patch(evidence_url, {"figures": figures}, format="json")
    rows = evidence.history.count()
    for body in [
        {},
        {"title": evidence.title},
        {"figures": figures},
        {"verified_by": None, "url": representation["url"]},
    ]:
        assert team_api.patch(evidence_url, body, format="json").status_code == 200, body
    assert evidence.history.count() == rows

    resolution = ResolutionFactory()
    ResolutionClauseFactory(resolution=resolution, number=1, text="Be it resolved.")
    resolution_url = f"/api/v1/resolutions/{resolution.pk}/"
    whole = team_api.get(resolution_url).json()
    rows = resolution.history.count(), ResolutionClause.history.count()
    assert team_api.put(resolution_url, whole, format="json").status_code == 200
    assert team_api.patch(resolution_url, {}, format="json").status_code == 200
    assert (resolution.history.count(), ResolutionClause.history.count()) == rows
    assert team_api.patch(resolution_url, {"vote": "7–0"}, format="json").status_code == 200
    assert resolution.history.count() == rows[0] + 1


def test_an_unknown_field_is_refused_with_one_message():
    from demands.errors import ValidationFailed
    from demands.services import demand_update, evidence_update

    demand = DemandFactory()
    with pytest.raises(ValidationFailed) as refused:
        demand_update(demand_id=demand.pk, expected_version=1, by=None, version=9, status="ratified")
    assert refused.value.errors == {
        "status": ["Change the status with a transition, not an edit."],
        "version": ["This field cannot be edited."],
    }
    with pytest.raises(ValidationFailed) as refused:
        evidence_update(evidence_id=EvidenceFactory().pk, by=None, created_at=None)
    assert refused.value.errors == {"created_at": ["This field cannot be edited."]}


def test_bulk_delete_of_a_resolution_demands_rest_on_is_refused(client, admin_user):
    cited = ResolutionClauseFactory()
    DemandFactory().clauses.add(cited)
    loose = ResolutionFactory()
    client.force_login(admin_user)
    data = {"action": "delete_selected", "post": "yes", "_selected_action": [cited.resolution_id, loose.pk]}
    # Django asks `has_delete_permission` of every object the action would delete: refused as a whole.
    assert client.post(reverse("admin:demands_resolution_changelist"), data).status_code == 403
    assert Resolution.objects.count() == 2
    data["_selected_action"] = [loose.pk]
    assert client.post(reverse("admin:demands_resolution_changelist"), data).status_code == 302
    assert list(Resolution.objects.values_list("pk", flat=True)) == [cited.resolution_id]


def test_an_admin_edit_by_someone_who_may_not_rewrite_the_figures_keeps_them(client, staff_user):
    from tests.factories import FigureFactory

    evidence = EvidenceFactory(visibility=Visibility.PUBLIC)
    FigureFactory(evidence=evidence, value=2354, unit="misconduct complaint records")
    client.force_login(staff_user)
    data = {
        "title": "Renamed report",
        "kind": evidence.kind,
        "publisher": evidence.publisher,
        "published_on": evidence.published_on.isoformat(),
        "quote": evidence.quote,
        "visibility": evidence.visibility,
    }
    response = client.post(reverse("admin:demands_evidence_change", args=[evidence.pk]), data)
    assert response.status_code == 302, errors_of(response)
    evidence.refresh_from_db()
    assert evidence.title == "Renamed report"
    assert list(evidence.figures.values_list("value", flat=True)) == [2354]
    assert evidence.history.latest().history_user == staff_user
