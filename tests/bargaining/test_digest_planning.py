"""Planning at scale: one statement for the deliveries, batches read back along the index, the window rule once."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bargaining.digests.periods import digest_period
from bargaining.digests.planning import digest_plan, pending_delivery_batches
from bargaining.models import Delivery, DigestRun, Member
from tests.concurrency import at_once
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 30, 15, 0, tzinfo=datetime.UTC)


def _previous_run(*, weeks_ago: int) -> DigestRun:
    period = digest_period(frequency="weekly", now=NOW - datetime.timedelta(weeks=weeks_ago))
    return DigestRun.objects.create(
        frequency="weekly",
        period_start=period.start,
        window_start=period.window_start,
        window_end=period.window_end,
        state=DigestRun.State.DONE,
    )


def test_window_starts_follow_the_one_rule_for_each_kind_of_member():
    never, reported, skipped_away, ahead = MemberFactory.create_batch(4)
    last_week = _previous_run(weeks_ago=1)
    Delivery.objects.create(run=last_week, member=reported, state=Delivery.State.SENT, window_start=NOW)
    # Skipped because they had left: told them nothing, so it does not move their start on.
    Delivery.objects.create(
        run=last_week,
        member=skipped_away,
        state=Delivery.State.SKIPPED,
        skip_reason=Delivery.SkipReason.NOT_SUBSCRIBED,
        window_start=NOW,
    )
    # A reported digest ending after this run's end (a daily member switched to weekly).
    future = DigestRun.objects.create(
        frequency="daily",
        period_start=datetime.date(2026, 12, 5),
        window_start=NOW + datetime.timedelta(days=4),
        window_end=NOW + datetime.timedelta(days=5),
        state=DigestRun.State.DONE,
    )
    Delivery.objects.create(run=future, member=ahead, state=Delivery.State.SENT, window_start=NOW)

    run = digest_plan(frequency="weekly", now=NOW).run

    starts = dict(run.deliveries.values_list("member_id", "window_start"))
    assert starts == {
        never.pk: run.window_start,  # no digest yet: the run's default start
        reported.pk: last_week.window_end,  # where their last digest ended
        skipped_away.pk: run.window_start,  # a skip for having left moves nothing on
        ahead.pk: run.window_end,  # an end after this run's: an empty window, no overlap
    }


def _queries_to_plan(members: int) -> int:
    Delivery.objects.all().delete()
    DigestRun.objects.all().delete()
    Member.objects.all().delete()
    MemberFactory.create_batch(members)
    with CaptureQueriesContext(connection) as queries:
        plan = digest_plan(frequency="weekly", now=NOW)
    assert plan.pending == members
    return len(queries)


def test_planning_takes_the_same_queries_for_1_and_300_members():
    assert _queries_to_plan(1) == _queries_to_plan(300)


def test_planning_again_adds_only_members_not_planned_yet():
    MemberFactory.create_batch(3)
    first = digest_plan(frequency="weekly", now=NOW)
    MemberFactory()
    again = digest_plan(frequency="weekly", now=NOW)
    assert again.run == first.run
    assert again.run.deliveries.count() == 4


@pytest.mark.django_db(transaction=True)
def test_two_planners_at_once_plan_each_member_once():
    """The run's row lock keeps the second planner waiting until the first commits; it then adds nobody."""
    digest_plan(frequency="weekly", now=NOW)  # the run exists: neither planner waits on creating it
    members = Member.objects.bulk_create(Member(email=f"member{i}@example.org") for i in range(3000))
    plans = at_once(*[lambda: digest_plan(frequency="weekly", now=NOW)] * 2)
    assert not [plan for plan in plans if isinstance(plan, Exception)], plans
    assert len({result.run.pk for result in plans}) == 1
    assert Delivery.objects.count() == len(members)
    assert sorted(result.pending for result in plans) == [len(members), len(members)]


def test_pending_batches_yield_every_pending_delivery_once_in_order():
    MemberFactory.create_batch(7)
    run = digest_plan(frequency="weekly", now=NOW).run
    first = run.deliveries.order_by("id").first()
    Delivery.objects.filter(pk=first.pk).update(state=Delivery.State.SENT)

    batches = list(pending_delivery_batches(run=run, size=3))

    pending = list(run.deliveries.filter(state=Delivery.State.PENDING).order_by("id").values_list("id", flat=True))
    assert [len(batch) for batch in batches] == [3, 3]
    assert [i for batch in batches for i in batch] == pending
    assert first.pk not in pending
