"""Digest time: periods on the local calendar of DIGEST_TIME_ZONE, windows that meet exactly from one
digest to the next (across both DST changes of 2026 in Chicago), and `/digests/<token>/` as sent."""

import datetime
import itertools
import re
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.checks import run_checks
from django.utils import timezone

from bargaining.digests.periods import digest_period
from bargaining.links import delivery_links
from bargaining.models import Delivery, DigestRun, Member
from bargaining.tasks import digest_plan_and_enqueue
from bargaining.tokens import DIGEST, make_token
from demands.models import Status, StatusChange
from tests.factories import CategoryFactory, DemandFactory, MemberFactory

pytestmark = pytest.mark.django_db

CHICAGO = ZoneInfo("America/Chicago")
HOUR = datetime.timedelta(hours=1)
SECOND = datetime.timedelta(seconds=1)


def local(*args, fold=0) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=CHICAGO, fold=fold)


def midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(), tzinfo=CHICAGO)


def plant(at: datetime.datetime, category) -> str:
    """A member-visible status change recorded at `at`, on a demand titled after it."""
    title = f"Change at {at.astimezone(datetime.UTC):%Y-%m-%dT%H:%M:%SZ}"
    demand = DemandFactory(title=title, category=category, status=Status.PROPOSED)
    row = StatusChange.objects.create(demand=demand, from_status=Status.PROPOSED, to_status=Status.COUNTERED)
    StatusChange.objects.filter(pk=row.pk).update(changed_at=at, published_at=at)
    return title


def reported_day(at: datetime.datetime) -> datetime.date:
    """The local day whose digest reports a change at `at`: windows are (midnight, next midnight]."""
    return (at.astimezone(CHICAGO) - datetime.timedelta(microseconds=1)).date()


def run_digests(frequency, plan_times, django_capture_on_commit_callbacks):
    """Plan and send each run in turn; returns [(run, that member's delivery, email body or None)]."""
    results = []
    for moment in plan_times:
        before = len(mail.outbox)
        with django_capture_on_commit_callbacks(execute=True):
            run = digest_plan_and_enqueue(frequency=frequency, now=moment)
        run.refresh_from_db()
        assert run.state == DigestRun.State.DONE
        (delivery,) = run.deliveries.all()
        sent = mail.outbox[before:]
        assert len(sent) == (1 if delivery.state == Delivery.State.SENT else 0)
        results.append((run, delivery, sent[0].body if sent else None))
    return results


def assert_windows_meet_and_every_change_is_sent_once(results, titles):
    """Each window starts where the previous digest (sent or skipped) ended; each change is in exactly one."""
    for (previous, _, _), (_, delivery, _) in itertools.pairwise(results):
        assert delivery.window_start == previous.window_end
    for title in titles:
        carrying = [run.period_start for run, _, body in results if body and title in body]
        assert len(carrying) == 1, (title, carrying)


DAILY_CASES = {
    # Spring forward: 2026-03-08 02:00 CST becomes 03:00 CDT, so March 8 lasts 23 hours.
    "spring": (datetime.date(2026, 3, 8), 23, [local(2026, 3, 8, 1, 59, 59), local(2026, 3, 8, 3, 0, 1)]),
    # Fall back: 2026-11-01 02:00 CDT becomes 01:00 CST, so November 1 lasts 25 hours.
    "fall": (
        datetime.date(2026, 11, 1),
        25,
        [local(2026, 11, 1, 1, 30), local(2026, 11, 1, 1, 30, fold=1)],  # the same wall time, an hour apart
    ),
}


@pytest.mark.parametrize("case", DAILY_CASES, ids=list(DAILY_CASES))
def test_daily_windows_across_a_dst_change_are_one_local_day_and_meet_exactly(case, django_capture_on_commit_callbacks):
    dst_day, dst_hours, around_the_change = DAILY_CASES[case]
    category = CategoryFactory()
    member = MemberFactory(frequency=Member.Frequency.DAILY)
    days = [dst_day + datetime.timedelta(days=n) for n in range(-2, 3)]
    planted = list(around_the_change)
    for day in days[1:]:
        boundary = midnight(day)
        planted += [boundary - SECOND, boundary, boundary + SECOND]  # exactly at midnight: the day before
    titles = {plant(at, category): at for at in planted}
    # Planned at 07:00 local (the first run reports a quiet day), the last one late in the afternoon:
    # its window is the same.
    plan_times = [local(d.year, d.month, d.day, 7) for d in days]
    plan_times.append(midnight(days[-1] + datetime.timedelta(days=1)) + 15 * HOUR)

    results = run_digests("daily", plan_times, django_capture_on_commit_callbacks)

    first_run, first_delivery, _ = results[0]
    # A member's first window is the previous full local day, not the 24 hours before planning.
    assert first_delivery.window_start == midnight(days[0] - datetime.timedelta(days=1)) == first_run.window_start
    assert first_delivery.skip_reason == Delivery.SkipReason.NOTHING_NEW
    for run, delivery, body in results:
        day = run.period_start - datetime.timedelta(days=1)
        assert (run.window_start, run.window_end) == (midnight(day), midnight(run.period_start))
        expected_hours = dst_hours if day == dst_day else 24
        assert run.window_end - delivery.window_start == expected_hours * HOUR
        expected = sorted(title for title, at in titles.items() if reported_day(at) == day)
        found = sorted(title for title in titles if body and title in body)
        assert found == expected, day
    assert_windows_meet_and_every_change_is_sent_once(results, titles)
    assert member.deliveries.count() == len(plan_times)


WEEKLY_CASES = {
    "spring": (datetime.date(2026, 3, 2), 167, local(2026, 3, 8, 1, 59, 59), local(2026, 3, 8, 3, 0, 1)),
    "fall": (datetime.date(2026, 10, 26), 169, local(2026, 11, 1, 1, 30), local(2026, 11, 1, 1, 30, fold=1)),
}


@pytest.mark.parametrize("case", WEEKLY_CASES, ids=list(WEEKLY_CASES))
def test_weekly_windows_across_a_dst_change_are_one_local_week_and_meet_exactly(
    case, django_capture_on_commit_callbacks
):
    dst_week, dst_hours, *around_the_change = WEEKLY_CASES[case]
    category = CategoryFactory()
    member = MemberFactory(frequency=Member.Frequency.WEEKLY)
    mondays = [dst_week + datetime.timedelta(weeks=n) for n in range(-1, 3)]
    planted = list(around_the_change)
    for monday in mondays[1:]:
        boundary = midnight(monday)
        planted += [boundary - SECOND, boundary, boundary + SECOND]
    titles = {plant(at, category): at for at in planted}
    # Monday 07:00, and one run planned late, on a Wednesday afternoon: same period, same window.
    plan_times = [local(m.year, m.month, m.day, 7) for m in mondays[1:]]
    plan_times.append(midnight(mondays[-1] + datetime.timedelta(days=9)) + 15 * HOUR)

    results = run_digests("weekly", plan_times, django_capture_on_commit_callbacks)

    assert results[0][1].window_start == midnight(mondays[0])
    for run, delivery, body in results:
        week = run.period_start - datetime.timedelta(weeks=1)
        assert run.period_start.weekday() == 0
        assert (run.window_start, run.window_end) == (midnight(week), midnight(run.period_start))
        assert run.window_end - delivery.window_start == (dst_hours if week == dst_week else 168) * HOUR
        expected = sorted(title for title, at in titles.items() if week <= reported_day(at) < run.period_start)
        found = sorted(title for title in titles if body and title in body)
        assert found == expected, week
    assert_windows_meet_and_every_change_is_sent_once(results, titles)
    assert member.deliveries.count() == len(plan_times)


def test_a_missed_run_leaves_nothing_out_the_next_window_starts_at_the_last_digest(
    django_capture_on_commit_callbacks,
):
    category = CategoryFactory()
    MemberFactory(frequency=Member.Frequency.DAILY)
    first = plant(local(2026, 3, 9, 12), category)
    missed = plant(local(2026, 3, 10, 12), category)  # its run (March 11) never happened
    after = plant(local(2026, 3, 11, 12), category)
    plans = [local(2026, 3, 10, 7), local(2026, 3, 12, 7)]
    (_, _, body_10), (run_12, delivery_12, body_12) = run_digests("daily", plans, django_capture_on_commit_callbacks)
    assert first in body_10 and missed not in body_10
    assert delivery_12.window_start == midnight(datetime.date(2026, 3, 10))
    assert run_12.window_end - delivery_12.window_start == 48 * HOUR
    assert missed in body_12 and after in body_12 and first not in body_12


def test_a_member_who_left_after_planning_misses_nothing_when_back(django_capture_on_commit_callbacks):
    """A digest skipped because the member had unsubscribed told them nothing: it does not move their start."""
    category = CategoryFactory()
    member = MemberFactory(frequency=Member.Frequency.DAILY)
    plant(local(2026, 3, 8, 12), category)
    run_digests("daily", [local(2026, 3, 9, 7)], django_capture_on_commit_callbacks)
    change = plant(local(2026, 3, 9, 12), category)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        skipped_run = digest_plan_and_enqueue(frequency="daily", now=local(2026, 3, 10, 7))
    Member.objects.filter(pk=member.pk).update(state=Member.State.UNSUBSCRIBED)
    for callback in callbacks:
        callback()
    assert skipped_run.deliveries.get().skip_reason == Delivery.SkipReason.NOT_SUBSCRIBED
    Member.objects.filter(pk=member.pk).update(state=Member.State.ACTIVE)

    ((_, delivery, body),) = run_digests("daily", [local(2026, 3, 11, 7)], django_capture_on_commit_callbacks)
    assert delivery.window_start == midnight(datetime.date(2026, 3, 9))  # where the last digest it got ended
    assert change in body


def test_periods_follow_the_digest_time_zone_not_the_active_one(settings):
    moment = datetime.datetime(2026, 11, 30, 3, 0, tzinfo=datetime.UTC)  # Sunday 21:00 in Chicago
    with timezone.override("Asia/Tokyo"):  # already Monday 12:00 there
        period = digest_period(frequency="daily", now=moment)
    assert period.start == datetime.date(2026, 11, 29)
    assert period.window_end == midnight(datetime.date(2026, 11, 29))
    settings.DIGEST_TIME_ZONE = "Asia/Tokyo"
    tokyo = digest_period(frequency="weekly", now=moment)
    assert tokyo.start == datetime.date(2026, 11, 30)
    assert tokyo.window_start == datetime.datetime(2026, 11, 23, tzinfo=ZoneInfo("Asia/Tokyo"))


@pytest.mark.parametrize("name", ["America/Chicag0", "", "../etc/passwd"])
def test_a_mistyped_digest_time_zone_fails_the_system_check(settings, name):
    settings.DIGEST_TIME_ZONE = name
    errors = [message for message in run_checks() if message.id == "bargaining.E001"]
    assert len(errors) == 1
    assert "is not a time zone name" in errors[0].msg


def test_the_default_digest_time_zone_passes_the_system_check():
    assert not [message for message in run_checks() if message.id == "bargaining.E001"]


# --- /digests/<token>/ shows what was sent ---


def _unsigned(html: str) -> str:
    """`html` with each signed token's timestamp and signature masked (the signed value is kept)."""
    masked, count = re.subn(r"(/[0-9A-Za-z]+\.[0-9A-Za-z]+):[0-9A-Za-z]+:[\w-]+/", r"\1:SIGNED/", html)
    assert count >= 2  # at least the preferences and unsubscribe links
    return masked


def test_digest_page_shows_the_digest_as_sent_after_topics_change_and_new_changes_land(
    client, django_capture_on_commit_callbacks
):
    staffing, safety = CategoryFactory(name="Staffing"), CategoryFactory(name="Holistic safety")
    counselors = plant(local(2026, 3, 8, 12), staffing)
    restorative = plant(local(2026, 3, 8, 13), safety)
    member = MemberFactory(frequency=Member.Frequency.DAILY)
    member.topics.add(staffing)
    ((_, delivery, _),) = run_digests("daily", [local(2026, 3, 9, 7)], django_capture_on_commit_callbacks)
    (message,) = mail.outbox
    sent_html = message.alternatives[0][0]
    assert counselors in sent_html and restorative not in sent_html

    member.topics.set([safety])
    late = plant(local(2026, 3, 8, 14), staffing)  # recorded late, dated inside the window already sent
    plant(timezone.now(), staffing)  # and the world moves on: counts by status change too
    DemandFactory(category=staffing, status=Status.TENTATIVE_AGREEMENT)

    response = client.get(f"/digests/{make_token(DIGEST, delivery.pk)}/")
    assert response.status_code == 200
    # The page signs the member's links afresh, so only their time and signature may differ.
    assert _unsigned(response.content.decode()) == _unsigned(sent_html)
    assert late not in sent_html


def test_digest_page_of_an_unsent_delivery_is_not_found(client, django_capture_on_commit_callbacks):
    MemberFactory(frequency=Member.Frequency.DAILY)
    with django_capture_on_commit_callbacks(execute=False):
        run = digest_plan_and_enqueue(frequency="daily", now=local(2026, 3, 9, 7))
    delivery = run.deliveries.get()
    assert client.get(f"/digests/{make_token(DIGEST, delivery.pk)}/").status_code == 404


def test_digest_page_of_a_digest_sent_before_bodies_were_kept_is_rebuilt_from_its_window(client):
    category = CategoryFactory()
    inside = plant(local(2026, 3, 8, 12), category)
    outside = plant(local(2026, 3, 9, 12), category)
    member = MemberFactory(frequency=Member.Frequency.DAILY)
    period = digest_period(frequency="daily", now=local(2026, 3, 9, 7))
    run = DigestRun.objects.create(
        frequency="daily", period_start=period.start, window_start=period.window_start, window_end=period.window_end
    )
    delivery = Delivery.objects.create(
        run=run, member=member, window_start=period.window_start, state=Delivery.State.SENT, body=None
    )
    response = client.get(f"/digests/{make_token(DIGEST, delivery.pk)}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert inside in html and outside not in html
    assert delivery_links(delivery).unsubscribe in html
