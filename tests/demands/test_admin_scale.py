"""The admin at a large size: bounded inlines with a link to the full list, no scan of a large table per page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from demands.admin import EstimatedCountPaginator, RecentInlineFormSet, StatusChangeAdmin
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


class SmallLimitPaginator(EstimatedCountPaginator):
    exact_up_to = 20


def _count(rows: int) -> tuple[int, list[str]]:
    for _ in range(rows):
        StatusChangeFactory(demand=DemandFactory())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE demands_statuschange")  # the planner's estimate of this test's table
    paginator = SmallLimitPaginator(StatusChange.objects.order_by("-id"), 10)
    with CaptureQueriesContext(connection) as queries:
        count = paginator.count
        assert paginator.count == count  # asked once
    return count, [query["sql"] for query in queries.captured_queries]


def test_a_changelist_up_to_the_limit_is_counted_exactly():
    count, queries = _count(20)
    assert count == 20
    assert [sql.startswith("EXPLAIN") for sql in queries] == [True, False]
    assert "COUNT(*)" in queries[1]


def test_a_changelist_above_the_limit_is_counted_by_the_planners_estimate():
    count, queries = _count(21)
    assert count == 21  # just analyzed: the estimate is the table's size
    assert len(queries) == 1 and queries[0].startswith("EXPLAIN") and "COUNT" not in queries[0]


def test_every_changelist_counts_with_the_estimating_paginator():
    from django.contrib import admin

    ours = [
        model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in {"demands", "bargaining"}
    ]
    assert {model_admin.paginator for model_admin in ours} == {EstimatedCountPaginator}
    assert {model_admin.show_full_result_count for model_admin in ours} == {False}


def test_citations_are_listed_newest_first_along_the_primary_key(client, admin_user):
    demand = _demand_with(3)
    client.force_login(admin_user)
    response = client.get("/admin/demands/evidencelink/", {"demand__id__exact": demand.pk})
    assert response.status_code == 200
    listed = [link.claim for link in response.context["cl"].result_list]
    assert listed == ["claim 002", "claim 001", "claim 000"]


def test_the_evidence_change_page_offers_no_menu_of_every_demand(client, admin_user):
    evidence = EvidenceFactory()
    demands = DemandFactory.create_batch(30)
    client.force_login(admin_user)
    page = client.get(f"/admin/demands/evidence/{evidence.pk}/change/").content.decode()
    assert "admin-autocomplete" in page
    assert not any(f'<option value="{demand.pk}">' in page for demand in demands)


def test_a_changelist_nothing_can_match_counts_zero():
    paginator = SmallLimitPaginator(StatusChange.objects.filter(pk__in=[]), 10)
    assert paginator.count == 0
    assert paginator.num_pages == 1
