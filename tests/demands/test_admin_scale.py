"""The admin at a large size: bounded inlines with a link to the full list, no scan of a large table per page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from demands.admin import RecentInlineFormSet, StatusChangeAdmin
from demands.models import StatusChange, Visibility
from tests.factories import DemandFactory, EvidenceFactory, EvidenceLinkFactory, StatusChangeFactory

pytestmark = pytest.mark.django_db

SHOWN = RecentInlineFormSet.recent


def _demand_with(rows: int):
    demand = DemandFactory(visibility=Visibility.PUBLIC)
    for number in range(rows):
        StatusChangeFactory(demand=demand, note=f"change note {number:03}")
        EvidenceLinkFactory(
            demand=demand,
            evidence=EvidenceFactory(title=f"evidence {demand.pk} {number:03}"),
            claim=f"claim {number:03}",
        )
    return demand


def _change_page(client, demand):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/admin/demands/demand/{demand.pk}/change/")
    assert response.status_code == 200
    return response.content.decode(), len(queries)


def test_demand_change_page_shows_the_latest_rows_and_links_to_all_of_them(client, admin_user):
    client.force_login(admin_user)
    demand = _demand_with(SHOWN + 1)

    page, _ = _change_page(client, demand)

    latest, oldest = f"change note {SHOWN:03}", "change note 000"
    assert latest in page and oldest not in page
    assert f"claim {SHOWN:03}" in page and "claim 000" not in page
    assert f"/admin/demands/statuschange/?demand__id__exact={demand.pk}" in page
    assert f"/admin/demands/evidencelink/?demand__id__exact={demand.pk}" in page

    history = client.get(f"/admin/demands/statuschange/?demand__id__exact={demand.pk}")
    links = client.get(f"/admin/demands/evidencelink/?demand__id__exact={demand.pk}")
    assert history.status_code == links.status_code == 200
    assert f"{SHOWN + 1} status changes" in history.content.decode()
    assert "claim 000" in links.content.decode()


def test_demand_change_page_takes_the_same_queries_for_a_few_and_many_rows(client, admin_user):
    client.force_login(admin_user)
    few = _demand_with(3)
    many = _demand_with(SHOWN + 15)
    _change_page(client, few)  # warm caches (content types, permissions)

    _, few_queries = _change_page(client, few)
    _, many_queries = _change_page(client, many)

    assert many_queries == few_queries


def test_status_change_list_has_no_date_hierarchy_or_full_count_and_fixed_queries(client, admin_user):
    assert StatusChangeAdmin.date_hierarchy is None
    assert StatusChangeAdmin.show_full_result_count is False
    client.force_login(admin_user)
    demand = DemandFactory()
    StatusChangeFactory(demand=demand)
    client.get("/admin/demands/statuschange/")
    with CaptureQueriesContext(connection) as one:
        assert client.get("/admin/demands/statuschange/").status_code == 200
    for _ in range(30):
        StatusChangeFactory(demand=DemandFactory())
    with CaptureQueriesContext(connection) as many:
        assert client.get("/admin/demands/statuschange/").status_code == 200
    assert len(many) == len(one)
    assert StatusChange.objects.count() == 31
