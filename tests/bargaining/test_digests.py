"""Digest planning, content and sending as plain functions: eager tasks, Django's test mail backends."""

import datetime
import email
import email.policy
from io import StringIO

import psycopg
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings as django_settings
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape
from django_celery_beat.models import PeriodicTask

from bargaining.digests.content import DigestSource
from bargaining.digests.periods import digest_period
from bargaining.digests.planning import digest_plan
from bargaining.digests.preview import DigestReader, digest_next
from bargaining.digests.rendering import DigestTemplate, digest_message, digest_render
from bargaining.digests.sending import RelayUnavailable, deliveries_send
from bargaining.digests.sweeping import deliveries_sweep
from bargaining.links import DigestLinks
from bargaining.models import Delivery, DigestRun, Member
from bargaining.selectors import digest_run_counts
from bargaining.tasks import deliveries_sweep_and_enqueue, digest_plan_and_enqueue, send_digest_batch
from bargaining.tokens import DIGEST, make_token
from demands.models import Evidence, Status, StatusChange, Visibility
from tests.bargaining.backends import ScriptedBackend
from tests.factories import (
    CategoryFactory,
    DemandFactory,
    EvidenceFactory,
    EvidenceLinkFactory,
    MemberFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SCRIPTED = "tests.bargaining.backends.ScriptedBackend"
SECRET = "TEAMONLY-MARKER"


def change(demand, to_status, *, at, note="", internal_note=""):
    row = StatusChange.objects.create(
        demand=demand, from_status=demand.status, to_status=to_status, note=note, internal_note=internal_note
    )
    StatusChange.objects.filter(pk=row.pk).update(changed_at=at, published_at=at)
    demand.status = to_status
    demand.save(update_fields=["status"])
    return row


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def last_week(now):
    """The end of the local week a weekly run planned at `now` reports: this week's Monday midnight."""
    return digest_period(frequency="weekly", now=now).window_end


@pytest.fixture
def plan(django_capture_on_commit_callbacks):
    """Plan a run and run its (eager) batches, as `send_digests` does without a broker."""

    def run_plan(frequency="weekly", now=None):
        with django_capture_on_commit_callbacks(execute=True):
            run = digest_plan_and_enqueue(frequency=frequency, now=now)
        run.refresh_from_db()
        return run

    return run_plan


@pytest.fixture
def campaign(last_week):
    """Two categories with one public change each in the last full week, and team-only material everywhere."""
    safety = CategoryFactory(name="Holistic safety")
    staffing = CategoryFactory(name="Staffing")
    counselors = DemandFactory(title="Counselors in every school", category=staffing, internal_notes=SECRET)
    change(
        counselors,
        Status.COUNTERED,
        at=last_week - datetime.timedelta(days=2),
        note="CPS countered with half.",
        internal_note=SECRET,
    )
    restorative = DemandFactory(
        title="Restorative practices", category=safety, fallback_position=SECRET, priority_tier="tradeable"
    )
    change(restorative, Status.TENTATIVE_AGREEMENT, at=last_week - datetime.timedelta(days=1), note="TA reached.")
    hidden = DemandFactory(title=f"Hidden {SECRET}", category=safety, visibility=Visibility.TEAM)
    change(hidden, Status.COUNTERED, at=last_week - datetime.timedelta(days=1), note=SECRET)
    EvidenceLinkFactory(demand=counselors, evidence=EvidenceFactory(title="Counselor ratios report"))
    EvidenceLinkFactory(demand=counselors, evidence=EvidenceFactory(title=SECRET, visibility=Visibility.TEAM))
    Evidence.objects.update(created_at=last_week - datetime.timedelta(days=1))
    return {"safety": safety, "staffing": staffing}


def message_bytes(message) -> bytes:
    return message.message().as_bytes()


def test_period_is_the_chicago_day_or_its_monday():
    # 2026-11-30 03:00 UTC is still Sunday 2026-11-29 in Chicago.
    moment = datetime.datetime(2026, 11, 30, 3, 0, tzinfo=datetime.UTC)
    assert digest_period(frequency="daily", now=moment).start == datetime.date(2026, 11, 29)
    assert digest_period(frequency="weekly", now=moment).start == datetime.date(2026, 11, 23)


def test_run_sends_each_active_member_of_the_frequency_one_digest(plan, campaign):
    weekly = MemberFactory.create_batch(3)
    MemberFactory(frequency=Member.Frequency.DAILY)
    MemberFactory(frequency=Member.Frequency.OFF)
    MemberFactory(state=Member.State.UNSUBSCRIBED)
    MemberFactory(state=Member.State.BOUNCED)

    run = plan()

    assert sorted(m.to[0] for m in mail.outbox) == sorted(m.email for m in weekly)
    counts = digest_run_counts(run.pk)
    assert (counts.eligible, counts.sent, counts.failed, counts.skipped) == (3, 3, 0, 0)
    assert run.state == DigestRun.State.DONE
    assert all(d.message_id and d.sent_at for d in Delivery.objects.all())


def test_planning_the_same_period_twice_sends_nothing_twice(plan, campaign):
    MemberFactory.create_batch(2)
    first = plan()
    second = plan()
    assert first.pk == second.pk
    assert len(mail.outbox) == 2
    assert Delivery.objects.count() == 2


def test_new_member_planned_again_in_the_same_period_gets_only_their_own(plan, campaign):
    MemberFactory()
    plan()
    late = MemberFactory()
    plan()
    assert [m.to[0] for m in mail.outbox][1:] == [late.email]


def test_member_with_nothing_new_in_their_topics_is_skipped_and_recorded(plan, campaign):
    quiet = CategoryFactory(name="Community schools")
    member = MemberFactory()
    member.topics.add(quiet)
    run = plan()
    assert mail.outbox == []
    delivery = Delivery.objects.get(member=member)
    assert (delivery.state, delivery.skip_reason) == (Delivery.State.SKIPPED, Delivery.SkipReason.NOTHING_NEW)
    assert digest_run_counts(run.pk).skipped == 1


def test_digest_lists_changes_and_evidence_in_the_members_topics_grouped_by_category(plan, campaign):
    member = MemberFactory()
    member.topics.add(campaign["staffing"])
    plan()
    (message,) = mail.outbox
    assert "Counselors in every school" in message.body
    assert "Proposed -> Countered" in message.body
    assert "CPS countered with half." in message.body
    assert "Counselor ratios report" in message.body
    assert "Restorative practices" not in message.body
    html = message.alternatives[0][0]
    assert "== Staffing ==" in message.body
    assert "<h2" in html
    assert "Staffing</h2>" in html
    assert "https://tracker.example.org/demands/" in html


def test_digest_email_is_multipart_with_one_click_unsubscribe(plan, campaign):
    member = MemberFactory()
    plan()
    parsed = email.message_from_bytes(message_bytes(mail.outbox[0]), policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]
    unsubscribe = parsed["List-Unsubscribe"].strip()
    assert unsubscribe.startswith("<https://tracker.example.org/subscriptions/unsubscribe/")
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["List-Id"] == "Member digests <digests.tracker.example.org>"
    delivery = Delivery.objects.get(member=member)
    assert parsed["Message-ID"] == delivery.message_id
    text, html = (part.get_content() for part in parsed.iter_parts())
    assert unsubscribe.strip("<>") in html
    assert unsubscribe.strip("<>") in text
    assert f"/digests/{make_token(DIGEST, delivery.pk)}/" in html
    assert "<style" not in html
    assert 'style="' in html
    assert "<script" not in html
    assert "<img" not in html


def test_team_only_material_reaches_no_part_of_any_digest(plan, campaign):
    MemberFactory()
    MemberFactory().topics.add(campaign["safety"])
    plan()
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert SECRET.encode() not in message_bytes(message)
        assert "Tradeable" not in message.body


def test_each_member_gets_their_own_links_and_message_id(plan, campaign):
    first, second = MemberFactory.create_batch(2)
    plan()
    by_address = {m.to[0]: m for m in mail.outbox}
    headers = [by_address[m.email].extra_headers for m in (first, second)]
    assert headers[0]["List-Unsubscribe"] != headers[1]["List-Unsubscribe"]
    assert headers[0]["Message-ID"] != headers[1]["Message-ID"]
    assert headers[1]["List-Unsubscribe"].strip("<>") not in by_address[first.email].body


def test_next_window_starts_where_the_members_previous_digest_ended(plan, campaign, now):
    member = MemberFactory()
    first = plan(now=now)
    demand = DemandFactory(title="Social workers", category=campaign["safety"])
    change(demand, Status.COUNTERED, at=first.window_end + datetime.timedelta(days=3), note="New this week.")
    plan(now=now + datetime.timedelta(days=7))
    second = mail.outbox[1]
    assert "Social workers" in second.body
    assert "CPS countered with half." not in second.body
    assert Delivery.objects.filter(member=member).order_by("id").last().window_start == first.window_end


def test_member_unsubscribed_after_planning_receives_nothing(campaign, now):
    member = MemberFactory()
    run = digest_plan(frequency="weekly", now=now).run  # callbacks not executed: nothing sent yet
    Member.objects.filter(pk=member.pk).update(state=Member.State.UNSUBSCRIBED)
    deliveries_send(delivery_ids=list(run.deliveries.values_list("id", flat=True)))
    assert mail.outbox == []
    delivery = run.deliveries.get()
    assert (delivery.state, delivery.skip_reason) == (Delivery.State.SKIPPED, Delivery.SkipReason.NOT_SUBSCRIBED)


def test_temporary_failure_goes_back_to_pending_and_the_others_are_sent(settings, campaign, now):
    settings.EMAIL_BACKEND = SCRIPTED
    flaky, fine = MemberFactory.create_batch(2)
    ScriptedBackend.reset({flaky.email: [451]})
    run = digest_plan(frequency="weekly", now=now).run
    ids = list(run.deliveries.values_list("id", flat=True))

    report = deliveries_send(delivery_ids=ids)

    assert report.retry_ids == [Delivery.objects.get(member=flaky).pk]
    assert [m.to[0] for m in ScriptedBackend.sent] == [fine.email]
    flaky_row = Delivery.objects.get(member=flaky)
    assert (flaky_row.state, flaky_row.attempts) == (Delivery.State.PENDING, 1)
    assert flaky_row.last_error.startswith("451")

    again = deliveries_send(delivery_ids=ids)
    assert (again.claimed, again.sent) == (1, 1)
    assert [m.to[0] for m in ScriptedBackend.sent] == [fine.email, flaky.email]


def test_permanent_failure_is_recorded_failed_and_not_retried(settings, plan, campaign):
    settings.EMAIL_BACKEND = SCRIPTED
    gone, fine = MemberFactory.create_batch(2)
    ScriptedBackend.reset({gone.email: [550, 550]})
    run = plan()
    row = Delivery.objects.get(member=gone)
    assert (row.state, row.attempts) == (Delivery.State.FAILED, 1)
    assert row.last_error.startswith("550")
    assert ScriptedBackend.script[gone.email] == [550]  # asked once only
    assert [m.to[0] for m in ScriptedBackend.sent] == [fine.email]
    counts = digest_run_counts(run.pk)
    assert counts.eligible == counts.sent + counts.failed + counts.skipped == 2


def test_temporary_failures_stop_after_the_maximum_attempts(settings, plan, campaign):
    settings.EMAIL_BACKEND = SCRIPTED
    settings.DIGEST_MAX_ATTEMPTS = 3
    member = MemberFactory()
    ScriptedBackend.reset({member.email: [451] * 10})
    run = plan()  # eager retries run at once
    row = Delivery.objects.get(member=member)
    assert (row.state, row.attempts) == (Delivery.State.FAILED, 3)
    assert len(ScriptedBackend.script[member.email]) == 7
    assert DigestRun.objects.get(pk=run.pk).state == DigestRun.State.DONE


def test_sending_the_same_batch_twice_sends_nothing_twice(campaign, now):
    MemberFactory.create_batch(3)
    run = digest_plan(frequency="weekly", now=now).run
    ids = list(run.deliveries.values_list("id", flat=True))
    assert deliveries_send(delivery_ids=ids).sent == 3
    assert deliveries_send(delivery_ids=ids).claimed == 0
    assert len(mail.outbox) == 3


def test_sweeper_requeues_lost_pending_and_stuck_sending_deliveries(
    settings, campaign, now, django_capture_on_commit_callbacks
):
    settings.DIGEST_PENDING_STUCK_AFTER = 60
    settings.DIGEST_SENDING_STUCK_AFTER = 60
    lost, crashed, fresh = MemberFactory.create_batch(3)
    run = digest_plan(frequency="weekly", now=now).run  # batches never executed: the broker "lost" them
    old = now - datetime.timedelta(minutes=5)
    Delivery.objects.filter(member=lost).update(updated_at=old)
    Delivery.objects.filter(member=crashed).update(state=Delivery.State.SENDING, claimed_at=old, updated_at=old)

    with django_capture_on_commit_callbacks(execute=True):
        report = deliveries_sweep_and_enqueue(now=now + datetime.timedelta(seconds=1))

    assert report.requeued == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted([lost.email, crashed.email])
    assert Delivery.objects.get(member=crashed).attempts == 2  # the lost claim counts as an attempt
    assert Delivery.objects.get(member=fresh).state == Delivery.State.PENDING
    assert DigestRun.objects.get(pk=run.pk).state == DigestRun.State.SENDING


def test_sweeper_closes_runs_with_nothing_left_to_send(campaign, now):
    MemberFactory()
    run = digest_plan(frequency="weekly", now=now).run
    deliveries_send(delivery_ids=list(run.deliveries.values_list("id", flat=True)))
    DigestRun.objects.filter(pk=run.pk).update(state=DigestRun.State.SENDING)
    assert deliveries_sweep().runs_done == 1
    assert DigestRun.objects.get(pk=run.pk).state == DigestRun.State.DONE


def _batch_queries(count, now):
    MemberFactory.create_batch(count)
    run = digest_plan(frequency="weekly", now=now).run
    ids = list(run.deliveries.values_list("id", flat=True))
    with CaptureQueriesContext(connection) as queries:
        report = deliveries_send(delivery_ids=ids)
    assert report.sent == count
    Delivery.objects.all().delete()
    DigestRun.objects.all().delete()
    Member.objects.all().delete()
    # The kill switch is read once a second while sending (test_digest_pause.py): a cost in time, not in members.
    return len([query for query in queries if "bargaining_digestsending" not in query["sql"]])


def test_building_a_batch_takes_the_same_queries_for_1_and_500_members(campaign, now):
    one = _batch_queries(1, now)
    many = _batch_queries(500, now)
    # Besides the fixed cost of building the batch, each sent message costs exactly one UPDATE.
    assert many - 500 == one - 1


def test_digest_page_shows_the_delivery_digest_and_rejects_tampered_tokens(client, plan, campaign):
    member = MemberFactory()
    plan()
    delivery = Delivery.objects.get(member=member)
    token = make_token(DIGEST, delivery.pk)
    response = client.get(f"/digests/{token}/")
    assert response.status_code == 200
    assert b"Counselors in every school" in response.content
    assert SECRET.encode() not in response.content
    assert client.get(f"/digests/{token[:-1]}x/").status_code == 404
    assert client.get(f"/digests/{make_token('unsubscribe', delivery.pk)}/").status_code == 404


# Committed transactions, as in production: the batches run in-process when the planner commits.
# The rows migrations created (groups, schedule) come back for later tests through conftest.migration_rows.
@pytest.mark.django_db(transaction=True)
def test_send_digests_command_plans_sends_and_reports_counts(campaign):
    MemberFactory.create_batch(2, frequency=Member.Frequency.DAILY)
    yesterday_ended = digest_period(frequency="daily", now=timezone.now()).window_end
    change(
        DemandFactory(category=campaign["staffing"]), Status.COUNTERED, at=yesterday_ended - datetime.timedelta(hours=1)
    )
    out = StringIO()
    call_command("send_digests", "--frequency", "daily", stdout=out)
    assert len(mail.outbox) == 2
    assert "eligible 2: sent 2, failed 0, skipped 0" in out.getvalue()


def test_schedule_is_editable_rows_in_chicago_time():
    weekly = PeriodicTask.objects.get(name="Weekly member digest")
    assert weekly.task == "bargaining.tasks.plan_digest"
    assert (weekly.crontab.hour, weekly.crontab.minute, weekly.crontab.day_of_week) == ("7", "0", "1")
    assert str(weekly.crontab.timezone) == "America/Chicago"
    daily = PeriodicTask.objects.get(name="Daily member digest")
    assert (daily.crontab.hour, daily.crontab.day_of_week) == ("7", "*")
    assert PeriodicTask.objects.get(name="Digest sweeper").task == "bargaining.tasks.sweep_stuck_deliveries"


def test_admin_shows_run_counts_preview_and_sends_a_test_digest(client, plan, campaign):
    admin = UserFactory(username="root", email="root@example.org", is_staff=True, is_superuser=True)
    member = MemberFactory()
    MemberFactory().topics.add(CategoryFactory(name="Quiet"))
    client.force_login(admin)

    preview = client.get(f"/admin/bargaining/digestrun/preview/?member={member.email}")
    assert preview.status_code == 200
    assert b"Counselors in every school" in preview.content
    assert SECRET.encode() not in preview.content
    # The team site's preview, exactly: the digest as the run will send it, not a window until now.
    text, _html = digest_next(reader=DigestReader.of(member)).shown()
    assert escape(text).encode() in preview.content
    sent = client.post(f"/admin/bargaining/digestrun/preview/?member={member.pk}", {"send_test": "1"}, follow=True)
    assert sent.status_code == 200
    (message,) = mail.outbox
    assert message.to == ["root@example.org"]
    assert message.subject.startswith("[Test] ")
    assert member.email not in str(message.message())  # the test copy carries none of the member's links
    assert not Delivery.objects.exists()

    plan()
    changelist = client.get("/admin/bargaining/digestrun/")
    assert changelist.status_code == 200
    assert b'class="field-eligible">2<' in changelist.content
    deliveries = client.get("/admin/bargaining/delivery/?state__exact=skipped")
    assert deliveries.status_code == 200
    assert b"1 delivery" in deliveries.content


@pytest.mark.django_db(transaction=True)
def test_a_batch_claims_its_rows_while_another_transaction_holds_the_run_row(campaign, now):
    # The planner locks the run row while (re)planning; batches must not skip their rows meanwhile.
    run = DigestRun.objects.create(
        frequency="weekly", period_start=now.date(), window_start=now - datetime.timedelta(days=7), window_end=now
    )
    ids = [
        Delivery.objects.create(run=run, member=member, window_start=run.window_start).pk
        for member in MemberFactory.create_batch(2)
    ]
    database = django_settings.DATABASES["default"]
    with psycopg.connect(
        host=database["HOST"], port=database["PORT"], user=database["USER"], dbname=database["NAME"]
    ) as other:
        other.execute("SELECT id FROM bargaining_digestrun WHERE id = %s FOR UPDATE", [run.pk])
        report = deliveries_send(delivery_ids=ids)
    assert (report.claimed, report.sent) == (2, 2)


def test_prebuilt_template_bytes_match_a_message_built_for_the_member(campaign, last_week):
    member = MemberFactory()
    week_start = last_week - datetime.timedelta(days=7)
    source = DigestSource(since=week_start, until=last_week)
    rendered = digest_render(source.content_for(window_start=week_start, window_end=last_week, topics=frozenset()))
    links = DigestLinks(
        unsubscribe="https://tracker.example.org/subscriptions/unsubscribe/AB:cd/",
        preferences="https://tracker.example.org/subscriptions/preferences/EF:gh/",
        browser="https://tracker.example.org/digests/IJ:kl/",
    )
    template = DigestTemplate(rendered)
    assert template.usable
    fast = email.message_from_bytes(
        template.message_bytes(to=member.email, links=links, message_id="<m.1@tracker.example.org>"),
        policy=email.policy.default,
    )
    slow = email.message_from_bytes(
        digest_message(rendered=rendered, to=member.email, links=links, message_id="<m.1@tracker.example.org>")
        .message()
        .as_bytes(linesep="\r\n"),  # as sent over SMTP
        policy=email.policy.default,
    )
    for header in ("From", "To", "Subject", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Id"):
        assert fast[header].strip() == slow[header].strip(), header  # folding may differ
    assert [part.get_content() for part in fast.iter_parts()] == [part.get_content() for part in slow.iter_parts()]
    assert links.browser in fast.get_body(("html",)).get_content()


def test_a_batch_out_of_time_hands_its_unsent_rows_back_at_once(settings, campaign, now):
    settings.EMAIL_BACKEND = SCRIPTED
    first, second, third = MemberFactory.create_batch(3)
    ScriptedBackend.reset({second.email: ["time limit"]})
    run = digest_plan(frequency="weekly", now=now).run
    with pytest.raises(SoftTimeLimitExceeded):
        deliveries_send(
            delivery_ids=list(run.deliveries.order_by("id").values_list("id", flat=True)),
            stop_on=(SoftTimeLimitExceeded,),
        )
    states = dict(run.deliveries.values_list("member__email", "state"))
    assert states == {first.email: "sent", second.email: "pending", third.email: "pending"}
    # Released as already overdue: the next sweep re-enqueues them without waiting.
    assert deliveries_sweep().requeued == 2


def test_a_dropped_connection_hands_the_batch_back_without_spending_attempts(settings, campaign, now):
    settings.EMAIL_BACKEND = SCRIPTED
    first, dropped, last = MemberFactory.create_batch(3)
    ScriptedBackend.reset({dropped.email: ["disconnect"]})
    run = digest_plan(frequency="weekly", now=now).run
    ids = list(run.deliveries.order_by("id").values_list("id", flat=True))
    with pytest.raises(RelayUnavailable):
        deliveries_send(delivery_ids=ids)
    assert [m.to[0] for m in ScriptedBackend.sent] == [first.email]
    for member in (dropped, last):
        row = Delivery.objects.get(member=member)
        assert (row.state, row.attempts) == (Delivery.State.PENDING, 0)
        assert row.last_error.startswith("SMTPServerDisconnected")
    assert ScriptedBackend.closes == 1  # closed once, at the end of the batch

    again = deliveries_send(delivery_ids=ids)  # the relay is back: the batch finishes
    assert (again.claimed, again.sent) == (2, 2)
    assert [m.to[0] for m in ScriptedBackend.sent] == [first.email, dropped.email, last.email]


def test_an_email_service_works_by_settings_alone(settings, campaign, plan):
    """django-anymail's own test backend stands in for a provider (Postmark, SES, ...): no code change."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    member = MemberFactory()
    run = plan()
    assert Delivery.objects.get(run=run, member=member).state == Delivery.State.SENT
    (message,) = mail.outbox
    assert message.to == [member.email]
    assert message.anymail_status.status == {"sent"}
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.extra_headers["List-Unsubscribe"].startswith("<https://")
    assert SECRET not in message.body
    assert [mimetype for _, mimetype in message.alternatives] == ["text/html"]


def test_the_send_task_stops_a_batch_at_its_soft_time_limit(settings, campaign, now):
    """The task layer owns the time limit: it tells the plain function which exception means "stop now"."""
    settings.EMAIL_BACKEND = SCRIPTED
    first, _second = MemberFactory.create_batch(2)
    ScriptedBackend.reset({first.email: ["time limit"]})
    run = digest_plan(frequency="weekly", now=now).run
    with pytest.raises(SoftTimeLimitExceeded):
        send_digest_batch.delay(delivery_ids=list(run.deliveries.order_by("id").values_list("id", flat=True)))
    assert set(run.deliveries.values_list("state", flat=True)) == {Delivery.State.PENDING}
    assert ScriptedBackend.sent == []


def test_each_distinct_content_is_rendered_once_per_run_across_batches(plan, campaign, settings, monkeypatch):
    from bargaining.digests import sending

    settings.DIGEST_BATCH_SIZE = 2
    MemberFactory.create_batch(3)  # every category
    for member in MemberFactory.create_batch(3):
        member.topics.add(campaign["safety"])
    renders = []

    def counting_render(content):
        renders.append(content)
        return digest_render(content)

    monkeypatch.setattr(sending, "digest_render", counting_render)

    run = plan()

    # Three batches of two; per batch that would be four renders, per run it is the two contents.
    assert run.deliveries.filter(state=Delivery.State.SENT).count() == 6
    assert len(renders) == 2
    assert len(mail.outbox) == 6
    assert len({message.body for message in mail.outbox if message.to[0].startswith("member")}) >= 1


def test_language_is_part_of_the_content_key(plan, campaign, settings, monkeypatch):
    """Per run one render per (window, topics, language), whatever the batches."""

    from bargaining.digests import sending

    settings.LANGUAGES = [("en", "English"), ("es", "Español")]
    settings.LANGUAGE_CODE = "en"
    settings.DIGEST_BATCH_SIZE = 1  # every member its own batch: a re-render in any later batch would count
    MemberFactory(language="en")
    MemberFactory(language="es")
    MemberFactory(language="es")
    for member in MemberFactory.create_batch(2, language="es"):
        member.topics.add(campaign["safety"])
    renders = []

    def counting_render(content):
        renders.append(content.language)
        return digest_render(content)

    monkeypatch.setattr(sending, "digest_render", counting_render)

    run = plan()

    assert run.deliveries.filter(state=Delivery.State.SENT).count() == 5
    # Three distinct contents (every topic in en, every topic in es, safety in es) over five batches.
    assert sorted(renders) == ["en", "es", "es"]


def test_a_later_batch_of_the_run_reads_the_stored_bodies_instead_of_rendering(plan, campaign, settings, monkeypatch):
    """Fails if a second batch re-rendered: it renders nothing and sends the stored rendering, body and all."""
    from bargaining.digests import sending

    settings.DIGEST_BATCH_SIZE = 1
    first, second = MemberFactory.create_batch(2)
    renders = []

    def counting_render(content):
        renders.append(content)
        return digest_render(content)

    monkeypatch.setattr(sending, "digest_render", counting_render)

    run = plan()

    assert len(renders) == 1
    one, two = (Delivery.objects.get(run=run, member=member) for member in (first, second))
    assert one.state == two.state == Delivery.State.SENT
    assert one.body_id == two.body_id is not None
    assert mail.outbox[0].subject == mail.outbox[1].subject


def test_a_content_claimed_by_a_batch_that_never_publishes_is_rendered_after_the_wait(campaign, now, monkeypatch):
    """Another worker claimed the content and died: this batch waits RENDER_WAIT_SECONDS, then renders it itself."""
    from django.core.cache import cache

    from bargaining.digests import sending

    monkeypatch.setattr(sending, "RENDER_WAIT_SECONDS", 0.3)
    member = MemberFactory()
    run = digest_plan(frequency="weekly", now=now).run
    delivery = Delivery.objects.select_related("run", "member").get(run=run, member=member)
    claim = sending._render_cache_key(run.pk, sending._content_key(delivery, frozenset())) + ":claim"
    assert cache.add(claim, 1, timeout=60)  # held by a batch that will never publish
    started = timezone.now()

    report = deliveries_send(delivery_ids=[delivery.pk])

    assert report.sent == 1
    assert (timezone.now() - started).total_seconds() >= 0.3  # it did wait for the claim first
    assert Delivery.objects.get(pk=delivery.pk).body_id is not None
    assert member.email in mail.outbox[0].to


# Committed, as in a worker: the sent-UPDATE is prepared once per database connection.
@pytest.mark.django_db(transaction=True)
def test_a_new_database_connection_prepares_the_sent_update_again(campaign, now):
    MemberFactory.create_batch(2)
    ids = list(digest_plan(frequency="weekly", now=now).run.deliveries.order_by("id").values_list("id", flat=True))
    assert deliveries_send(delivery_ids=ids[:1]).sent == 1
    connection.close()  # the worker's connection replaced (CONN_MAX_AGE, a dropped connection)
    assert deliveries_send(delivery_ids=ids[1:]).sent == 1
    assert Delivery.objects.filter(id__in=ids, state=Delivery.State.SENT).count() == 2
