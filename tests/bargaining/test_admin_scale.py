"""The digest admin at a large size: run counts from the page's runs only, cached once a run is done."""

import datetime

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bargaining.admin import DeliveryAdmin, MemberAdmin
from bargaining.digests.planning import digest_plan
from bargaining.models import Delivery, DigestRun
from bargaining.selectors import digest_runs_counts
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 30, 15, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def _run(members: int, weeks_ago: int, state=DigestRun.State.DONE) -> DigestRun:
    run = DigestRun.objects.create(
        frequency="weekly",
        period_start=(NOW - datetime.timedelta(weeks=weeks_ago)).date(),
        window_start=NOW - datetime.timedelta(weeks=weeks_ago + 1),
        window_end=NOW - datetime.timedelta(weeks=weeks_ago),
        state=state,
        finished_at=NOW if state == DigestRun.State.DONE else None,
    )
    Delivery.objects.bulk_create(
        Delivery(run=run, member=member, state=Delivery.State.SENT, window_start=run.window_start)
        for member in MemberFactory.create_batch(members)
    )
    return run


def _changelist_queries(client) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/bargaining/digestrun/")
    assert response.status_code == 200
    return response.content.decode(), len(queries)


def test_run_list_takes_the_same_queries_for_one_and_many_runs(client, admin_user):
    client.force_login(admin_user)
    _run(2, weeks_ago=1)
    _changelist_queries(client)
    cache.clear()
    _, one = _changelist_queries(client)
    for weeks in range(2, 8):
        _run(3, weeks_ago=weeks)
    cache.clear()
    page, many = _changelist_queries(client)
    assert many == one
    assert page.count('class="field-eligible">3<') == 6


def test_a_done_runs_counts_are_cached_and_a_replanned_run_is_counted_again():
    run = _run(2, weeks_ago=0)
    with CaptureQueriesContext(connection) as first:
        assert digest_runs_counts([run])[run.pk].sent == 2
    with CaptureQueriesContext(connection) as again:
        assert digest_runs_counts([run])[run.pk].eligible == 2
    assert len(first) == 1
    assert len(again) == 0

    MemberFactory()
    replanned = digest_plan(frequency="weekly", now=NOW).run
    assert replanned.pk == run.pk and replanned.finished_at is None
    counts = digest_runs_counts([replanned])[run.pk]
    assert (counts.eligible, counts.pending) == (3, 1)


def test_a_run_still_sending_is_never_cached():
    run = _run(1, weeks_ago=0, state=DigestRun.State.SENDING)
    digest_runs_counts([run])
    Delivery.objects.create(run=run, member=MemberFactory(), window_start=run.window_start)
    assert digest_runs_counts([run])[run.pk].eligible == 2


def test_large_lists_show_no_full_count():
    assert MemberAdmin.show_full_result_count is False
    assert DeliveryAdmin.show_full_result_count is False


def test_member_language_filter_offers_the_site_languages_without_reading_the_roster(client, admin_user):
    MemberFactory(email="ana@example.org", language="es")
    MemberFactory(email="bo@example.org", language="en")
    MemberFactory(email="chen@example.org", language="zh-hant")
    client.force_login(admin_user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/admin/bargaining/member/").status_code == 200
    assert not any("DISTINCT" in query["sql"] for query in queries.captured_queries)

    def shown(value: str) -> list[str]:
        response = client.get("/admin/bargaining/member/", {"language": value})
        assert response.status_code == 200
        return sorted(member.email for member in response.context["cl"].result_list)

    assert shown("es") == ["ana@example.org"]
    assert shown("en") == ["bo@example.org"]
    assert shown("other") == ["chen@example.org"]
    assert shown("xx") == []  # a code nobody has: an empty list, not an error


def test_deliveries_are_listed_newest_first_along_the_primary_key(client, admin_user):
    run = _run(members=3, weeks_ago=1)
    client.force_login(admin_user)
    response = client.get("/admin/bargaining/delivery/")
    assert response.status_code == 200
    listed = [delivery.pk for delivery in response.context["cl"].result_list]
    assert listed == sorted(Delivery.objects.filter(run=run).values_list("pk", flat=True), reverse=True)
    assert DeliveryAdmin.ordering == ["-id"]
