"""The admin's writes replace the cached anonymous pages as the services' writes do: an anonymous page cached
(real Redis, as in production), a staff account deletes or edits something it shows in the admin, and the next
anonymous request shows the change. Every ModelAdmin of both apps deletes through `rows_delete`."""

import pytest
from django.contrib import admin
from django.core.cache import cache
from django.test import Client

from demands.admin import SiteAdminMixin
from demands.models import Demand, Evidence, Status
from demands.pagecache import GENERATION_KEY
from tests.factories import BargainingSessionFactory, DemandFactory, EvidenceFactory, StatusChangeFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("redis_cache")]


@pytest.fixture
def staff(admin_user) -> Client:
    signed_in = Client()
    signed_in.force_login(admin_user)
    return signed_in


def anonymous_page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def cached_page(client, url: str, django_assert_num_queries) -> str:
    """The page, now in the cache: a second request is served without a query."""
    first = anonymous_page(client, url)
    with django_assert_num_queries(0):
        assert anonymous_page(client, url) == first
    return first


def test_every_model_admin_of_both_apps_writes_through_the_site_mixin():
    ours = {
        model: model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in {"demands", "bargaining"}
    }
    assert len(ours) > 10
    missing = sorted(
        model._meta.label for model, model_admin in ours.items() if not isinstance(model_admin, SiteAdminMixin)
    )
    assert missing == []


def test_deleting_in_the_admin_replaces_the_cached_page(client, staff, django_assert_num_queries):
    evidence = EvidenceFactory(title="Class sizes report")
    assert "Class sizes report" in cached_page(client, "/evidence/", django_assert_num_queries)

    response = staff.post(f"/admin/demands/evidence/{evidence.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Evidence.objects.filter(pk=evidence.pk).exists()
    assert "Class sizes report" not in anonymous_page(client, "/evidence/")


def test_the_bulk_delete_action_replaces_the_cached_page(client, staff, django_assert_num_queries):
    kept, gone = DemandFactory(title="Nurses in every school"), DemandFactory(title="Counselors in every school")
    page = cached_page(client, "/", django_assert_num_queries)
    assert "Counselors in every school" in page and "Nurses in every school" in page

    response = staff.post(
        "/admin/demands/demand/", {"action": "delete_selected", "_selected_action": [gone.pk], "post": "yes"}
    )

    assert response.status_code == 302
    assert list(Demand.objects.values_list("pk", flat=True)) == [kept.pk]
    page = anonymous_page(client, "/")
    assert "Counselors in every school" not in page and "Nurses in every school" in page


def test_deleting_a_session_in_the_admin_replaces_the_demand_page(client, staff, django_assert_num_queries):
    demand = DemandFactory()
    session = BargainingSessionFactory(location="Board room 4")
    StatusChangeFactory(demand=demand, session=session, to_status=Status.PROPOSED, note="Tabled.")
    assert "Board room 4" in cached_page(client, demand.get_absolute_url(), django_assert_num_queries)

    assert staff.post(f"/admin/demands/bargainingsession/{session.pk}/delete/", {"post": "yes"}).status_code == 302

    assert "Board room 4" not in anonymous_page(client, demand.get_absolute_url())


def test_an_edit_in_the_admin_replaces_the_cached_page(client, staff, django_assert_num_queries):
    demand = DemandFactory(title="Counselors in every school")
    assert "Counselors in every school</a>" in cached_page(client, "/", django_assert_num_queries)
    form = staff.get(f"/admin/demands/demand/{demand.pk}/change/").context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "clauses"}
    data.update(
        {
            "title": "Nurses in every school",
            "category": demand.category_id,
            "seen_version": demand.version,
            **{
                f"{prefix}-{field}": 0
                for prefix in inline_prefixes(staff, demand)
                for field in ("TOTAL_FORMS", "INITIAL_FORMS")
            },
        }
    )

    response = staff.post(f"/admin/demands/demand/{demand.pk}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    page = anonymous_page(client, "/")
    assert "Nurses in every school</a>" in page and "Counselors in every school</a>" not in page


def inline_prefixes(staff, demand) -> list[str]:
    context = staff.get(f"/admin/demands/demand/{demand.pk}/change/").context
    return [inline.formset.prefix for inline in context["inline_admin_formsets"]]


def test_a_refused_delete_keeps_the_cached_page(client, staff, django_assert_num_queries):
    demand = DemandFactory(title="Counselors in every school")
    StatusChangeFactory(demand=demand)  # history protects the demand
    cached_page(client, "/", django_assert_num_queries)
    generation = cache.get(GENERATION_KEY)

    response = staff.post(f"/admin/demands/demand/{demand.pk}/delete/", {"post": "yes"})

    assert "Cannot delete demand" in response.content.decode()
    assert Demand.objects.filter(pk=demand.pk).exists()
    assert cache.get(GENERATION_KEY) == generation
    with django_assert_num_queries(0):
        anonymous_page(client, "/")
