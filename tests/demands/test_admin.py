import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from demands.models import Demand, Status, StatusChange
from tests.factories import BargainingSessionFactory, DemandFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(admin_user):
    call_command("load_campaign")
    session = BargainingSessionFactory()
    session.demands.set(Demand.objects.all())
    return session


def registered_models():
    return sorted(admin.site._registry, key=lambda model: model._meta.label)


def admin_url(model, action: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


def test_every_changelist_add_and_change_page_opens_for_a_superuser(client, admin_user, campaign):
    client.force_login(admin_user)
    opened_change_pages = set()
    for model, model_admin in admin.site._registry.items():
        response = client.get(admin_url(model, "changelist"))
        assert response.status_code == 200, model._meta.label
        if model_admin.has_add_permission(response.wsgi_request):
            assert client.get(admin_url(model, "add")).status_code == 200, model._meta.label
        obj = model.objects.first()
        if obj is not None:
            assert client.get(admin_url(model, "change", obj.pk)).status_code == 200, model._meta.label
            assert client.get(admin_url(model, "history", obj.pk)).status_code == 200, model._meta.label
            opened_change_pages.add(model._meta.label)
    assert opened_change_pages >= {
        "demands.Category",
        "demands.Demand",
        "demands.Evidence",
        "demands.Resolution",
        "demands.ResolutionClause",
        "demands.StatusChange",
        "demands.BargainingSession",
        "auth.User",
    }


def test_changelist_filters_and_search(client, admin_user, campaign):
    client.force_login(admin_user)
    url = admin_url(Demand, "changelist")
    response = client.get(url, {"status__exact": "proposed", "visibility__exact": "public", "q": "trauma"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [Demand.objects.get(slug="trauma-supports")]
    response = client.get(url, {"priority_tier__exact": "must_have", "category__id__exact": 1})
    assert response.status_code == 200


def test_transition_page_offers_only_allowed_statuses_and_writes_history(client, admin_user, campaign):
    client.force_login(admin_user)
    demand = Demand.objects.get(slug="appropriate-personnel")
    url = reverse("admin:demands_demand_transition", args=[demand.pk])
    response = client.get(url)
    assert [value for value, _ in response.context["form"].fields["to_status"].widget.choices] == [
        "",
        "countered",
        "tentative_agreement",
        "withdrawn",
    ]
    response = client.post(
        url,
        {
            "to_status": "countered",
            "note": "CPS offered 1:400.",
            "internal_note": "Hold.",
            "version": demand.version,
            "session": campaign.pk,
        },
    )
    assert response.status_code == 302
    demand.refresh_from_db()
    assert demand.status == Status.COUNTERED
    change = demand.status_changes.latest()
    assert (change.to_status, change.note, change.internal_note, change.changed_by, change.session) == (
        "countered",
        "CPS offered 1:400.",
        "Hold.",
        admin_user,
        campaign,
    )


def test_transition_page_refuses_a_stale_form(client, admin_user, campaign):
    client.force_login(admin_user)
    demand = Demand.objects.get(slug="appropriate-personnel")
    url = reverse("admin:demands_demand_transition", args=[demand.pk])
    Demand.objects.filter(pk=demand.pk).update(version=demand.version + 1)
    response = client.post(url, {"to_status": "countered", "version": demand.version})
    assert response.status_code == 200
    assert "changed by someone else" in response.content.decode()
    assert StatusChange.objects.filter(demand=demand).count() == 1


def test_status_is_not_editable_in_the_change_form(client, admin_user, campaign):
    client.force_login(admin_user)
    demand = Demand.objects.get(slug="trauma-supports")
    response = client.get(admin_url(Demand, "change", demand.pk))
    assert "status" not in response.context["adminform"].form.fields


def test_deleting_a_demand_with_history_is_refused(client, admin_user, campaign):
    client.force_login(admin_user)
    demand = Demand.objects.get(slug="trauma-supports")
    response = client.post(admin_url(Demand, "delete", demand.pk), {"post": "yes"})
    assert Demand.objects.filter(pk=demand.pk).exists()
    assert response.status_code in (200, 302)


def test_status_history_cannot_be_edited_or_deleted_in_the_admin(client, admin_user, campaign):
    client.force_login(admin_user)
    change = StatusChange.objects.first()
    client.post(admin_url(StatusChange, "change", change.pk), {"note": "rewritten"})
    assert client.post(admin_url(StatusChange, "delete", change.pk), {"post": "yes"}).status_code == 403
    change.refresh_from_db()
    assert change.note != "rewritten"


def test_edit_in_the_admin_is_audited_with_the_user(client, admin_user):
    demand = DemandFactory(target="old target")
    client.force_login(admin_user)
    data = {
        "title": demand.title,
        "slug": demand.slug,
        "category": demand.category_id,
        "summary": demand.summary,
        "body": "",
        "target": "new target",
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
    response = client.post(admin_url(Demand, "change", demand.pk), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    demand.refresh_from_db()
    assert (demand.target, demand.version) == ("new target", 2)
    record = demand.history.latest()
    assert record.history_user == admin_user
    assert record.prev_record.target == "old target"
    assert "new target" in client.get(admin_url(Demand, "history", demand.pk)).content.decode()


def test_team_member_can_change_demands_but_not_users(client, team_user, campaign):
    client.force_login(team_user)
    team_user.is_staff = True  # the admin requires staff status to sign in at all
    team_user.save()
    demand = Demand.objects.get(slug="trauma-supports")
    assert team_user.has_perm("demands.change_demand")
    assert team_user.has_perm("demands.transition_demand")
    assert not team_user.has_perm("auth.change_user")
    assert not team_user.has_perm("demands.delete_demand")
    assert client.get(admin_url(Demand, "change", demand.pk)).status_code == 200
    assert client.get(reverse("admin:demands_demand_transition", args=[demand.pk])).status_code == 200
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403


def test_audit_of_a_deleted_object_stays_readable_in_the_admin(client, admin_user):
    from demands.models import Evidence
    from tests.factories import EvidenceFactory

    evidence = EvidenceFactory(title="Report to be deleted", publisher="Old publisher")
    evidence.publisher = "New publisher"
    evidence.save()
    evidence.delete()
    client.force_login(admin_user)
    response = client.get(admin_url(Evidence.history.model, "changelist"), {"q": "Report to be deleted"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "deleted" in page
    assert "publisher: &#x27;Old publisher&#x27; → &#x27;New publisher&#x27;" in page


def test_admin_edit_on_a_stale_copy_is_refused_and_changes_nothing(client, admin_user):
    demand = DemandFactory(target="old target")
    client.force_login(admin_user)
    page = client.get(admin_url(Demand, "change", demand.pk))
    assert page.context["adminform"].form["seen_version"].value() == 1
    Demand.objects.filter(pk=demand.pk).update(version=2)
    data = {
        "title": demand.title,
        "slug": demand.slug,
        "category": demand.category_id,
        "summary": demand.summary,
        "target": "my target",
        "visibility": "public",
        "priority_tier": "important",
        "seen_version": 1,
        "evidence_links-TOTAL_FORMS": 0,
        "evidence_links-INITIAL_FORMS": 0,
        "status_changes-TOTAL_FORMS": 0,
        "status_changes-INITIAL_FORMS": 0,
        "proposals-TOTAL_FORMS": 0,
        "proposals-INITIAL_FORMS": 0,
        "agreement-TOTAL_FORMS": 0,
        "agreement-INITIAL_FORMS": 0,
    }
    response = client.post(admin_url(Demand, "change", demand.pk), data)
    assert response.status_code == 200
    # The one stale-version message, as the site and the API word it.
    assert "was changed by someone else (you saw version 1, it is now version 2)" in response.content.decode()
    demand.refresh_from_db()
    assert (demand.target, demand.version) == ("old target", 2)
    data["seen_version"] = 2
    assert client.post(admin_url(Demand, "change", demand.pk), data).status_code == 302
    demand.refresh_from_db()
    assert (demand.target, demand.version) == ("my target", 3)


def test_audit_log_queries_do_not_grow_with_the_rows(client, admin_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from demands.models import Evidence
    from tests.factories import EvidenceFactory

    client.force_login(admin_user)
    url = admin_url(Evidence.history.model, "changelist")

    def queries_for_the_page() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get(url).status_code == 200
        return len(context)

    def edit_twice(evidence) -> None:
        for publisher in ("Second publisher", "Third publisher"):
            evidence.publisher = publisher
            evidence.save()

    edit_twice(EvidenceFactory())
    few = queries_for_the_page()
    for _ in range(10):
        edit_twice(EvidenceFactory())
    assert queries_for_the_page() == few
    assert "publisher: &#x27;Second publisher&#x27; → &#x27;Third publisher&#x27;" in client.get(url).content.decode()
