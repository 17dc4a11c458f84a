"""The digest kill switch as plain functions: eager tasks, Django's locmem mail backend."""

import datetime
from io import StringIO

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from bargaining import tasks
from bargaining.digests import sending
from bargaining.digests.periods import digest_period
from bargaining.digests.planning import digest_plan
from bargaining.digests.sending import deliveries_send
from bargaining.digests.sweeping import deliveries_sweep
from bargaining.models import Delivery, DigestRun, DigestSending
from bargaining.selectors import digest_run_counts
from bargaining.services import digest_sending_pause
from bargaining.tasks import deliveries_sweep_and_enqueue, digest_plan_and_enqueue, digest_sending_resume_and_enqueue
from demands.models import Status, StatusChange
from tests.concurrency import at_once
from tests.factories import DemandFactory, MemberFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def news():
    """One published change in the last full week, so every member has something to get."""
    last_week = digest_period(frequency="weekly", now=timezone.now()).window_end
    demand = DemandFactory(title="Counselors in every school")
    at = last_week - datetime.timedelta(days=1)
    row = StatusChange.objects.create(demand=demand, from_status=demand.status, to_status=Status.COUNTERED)
    StatusChange.objects.filter(pk=row.pk).update(changed_at=at, published_at=at)


class PausingBackend(LocmemBackend):
    """Accepts messages into `mail.outbox`, and pauses sending (as an admin would) once `after` are sent."""

    after = 0

    def send_messages(self, messages):
        sent = super().send_messages(messages)
        if len(mail.outbox) == self.after:
            digest_sending_pause()
        return sent


def run_ids(run: DigestRun) -> list[int]:
    return list(run.deliveries.order_by("id").values_list("id", flat=True))


def test_a_batch_started_while_paused_claims_nothing_and_spends_no_attempt(news):
    MemberFactory.create_batch(3)
    run = digest_plan(frequency="weekly").run
    digest_sending_pause()
    report = deliveries_send(delivery_ids=run_ids(run))
    assert (report.claimed, report.sent, report.paused) == (0, 0, 3)
    assert mail.outbox == []
    assert set(run.deliveries.values_list("state", "attempts")) == {(Delivery.State.PENDING, 0)}


def test_paused_before_the_first_batch_then_resumed_sends_every_member_once(news, django_capture_on_commit_callbacks):
    members = MemberFactory.create_batch(4)
    digest_sending_pause()
    with django_capture_on_commit_callbacks(execute=True):
        run = digest_plan_and_enqueue(frequency="weekly")
    assert mail.outbox == []
    assert digest_run_counts(run.pk).pending == 4
    with django_capture_on_commit_callbacks(execute=True):
        assert digest_sending_resume_and_enqueue() == 4
    assert sorted(message.to[0] for message in mail.outbox) == sorted(member.email for member in members)
    counts = digest_run_counts(run.pk)
    assert counts.eligible == counts.sent == 4
    assert DigestRun.objects.get(pk=run.pk).state == DigestRun.State.DONE


def test_a_batch_under_way_stops_at_the_next_message_after_the_pause(news, monkeypatch):
    monkeypatch.setattr(sending, "PAUSE_CHECK_SECONDS", 0.0)  # read the switch before every message
    MemberFactory.create_batch(5)
    run = digest_plan(frequency="weekly").run
    PausingBackend.after = 2
    report = deliveries_send(delivery_ids=run_ids(run), connection=PausingBackend())
    assert (report.claimed, report.sent, report.paused) == (5, 2, 3)
    assert len(mail.outbox) == 2
    left = run.deliveries.exclude(state=Delivery.State.SENT)
    assert set(left.values_list("state", "attempts")) == {(Delivery.State.PENDING, 0)}
    assert DigestRun.objects.get(pk=run.pk).state != DigestRun.State.DONE


def test_the_last_message_before_the_pause_is_sent_and_a_pause_after_the_last_changes_nothing(news, monkeypatch):
    monkeypatch.setattr(sending, "PAUSE_CHECK_SECONDS", 0.0)
    MemberFactory.create_batch(3)
    run = digest_plan(frequency="weekly").run
    PausingBackend.after = 3  # paused once the batch's last message is out: nothing is left to hold
    report = deliveries_send(delivery_ids=run_ids(run), connection=PausingBackend())
    assert (report.sent, report.paused) == (3, 0)
    assert digest_run_counts(run.pk).sent == 3


def test_the_sweeper_enqueues_nothing_while_paused(news, django_capture_on_commit_callbacks, settings):
    MemberFactory.create_batch(2)
    run = digest_plan(frequency="weekly").run
    Delivery.objects.update(updated_at=timezone.now() - datetime.timedelta(hours=1))  # "lost by the broker"
    digest_sending_pause()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        report = deliveries_sweep_and_enqueue()
    assert report.requeued == 2
    assert callbacks == []
    assert digest_run_counts(run.pk).pending == 2


def test_pause_and_resume_twice_are_harmless_and_keep_the_first_pause(news, django_capture_on_commit_callbacks):
    admin = UserFactory()
    assert digest_sending_pause(by_id=admin.pk) is True
    first = DigestSending.objects.get()
    assert digest_sending_pause() is False
    again = DigestSending.objects.get()
    assert (again.paused, again.paused_at, again.paused_by_id) == (True, first.paused_at, admin.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert digest_sending_resume_and_enqueue() == 0
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert digest_sending_resume_and_enqueue() is None
    assert callbacks == []
    assert DigestSending.objects.get().paused is False


@pytest.mark.django_db(transaction=True)
def test_resume_counts_every_pending_delivery_though_the_sweeper_runs_in_between(news, monkeypatch):
    """The beat's sweeper (another connection) sweeping right after the resume finds nothing due yet: the
    resume and its own sweep are one transaction, so the count said is every pending delivery."""
    MemberFactory.create_batch(3)
    digest_plan(frequency="weekly")
    digest_sending_pause()
    resume, swept = tasks.digest_sending_resume, []

    def resume_then_the_beats_sweep() -> int | None:
        pending = resume()
        swept.extend(at_once(lambda: deliveries_sweep().requeued))
        return pending

    monkeypatch.setattr(tasks, "digest_sending_resume", resume_then_the_beats_sweep)
    assert digest_sending_resume_and_enqueue() == 3
    assert swept == [0]


def test_resume_without_any_pause_does_nothing():
    assert digest_sending_resume_and_enqueue() is None
    assert not DigestSending.objects.exists()


def test_command_pauses_resumes_and_says_what_it_did(news, django_capture_on_commit_callbacks):
    MemberFactory.create_batch(2)

    def command(*args):
        out = StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("send_digests", *args, stdout=out)
        return out.getvalue()

    assert "Digest sending paused" in command("--pause")
    assert "already paused" in command("--pause")
    assert DigestSending.objects.get().paused_by is None
    planned = command("--frequency", "weekly")
    assert "Digest sending is paused" in planned
    assert "still to send 2" in planned
    assert mail.outbox == []
    assert command("--resume") == "Digest sending resumed: 2 pending deliveries enqueued.\n"
    assert len(mail.outbox) == 2
    assert command("--resume") == "Digest sending was not paused; nothing changed.\n"


def test_command_takes_exactly_one_of_frequency_pause_resume():
    with pytest.raises(CommandError):
        call_command("send_digests", "--pause", "--resume")
    with pytest.raises(CommandError):
        call_command("send_digests")


def test_admin_shows_the_switch_and_pauses_and_resumes(client, news, django_capture_on_commit_callbacks):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    MemberFactory.create_batch(2)
    client.force_login(admin)
    page = client.get("/admin/bargaining/digestrun/")
    assert b"<strong>On</strong>" in page.content
    assert b'value="pause"' in page.content

    paused = client.post("/admin/bargaining/digestrun/sending/", {"action": "pause"}, follow=True)
    assert b"Digest sending paused" in paused.content
    assert b"<strong>Paused</strong>" in paused.content
    assert b"by root" in paused.content
    assert b'value="resume"' in paused.content
    assert DigestSending.objects.get().paused_by == admin
    with django_capture_on_commit_callbacks(execute=True):
        digest_plan_and_enqueue(frequency="weekly")
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        resumed = client.post("/admin/bargaining/digestrun/sending/", {"action": "resume"}, follow=True)
    # As `send_digests --resume`: the button sweeps at once, without waiting for the sweeper's turn.
    assert b"Digest sending resumed: 2 pending deliveries enqueued." in resumed.content
    assert b"<strong>On</strong>" in resumed.content
    assert len(callbacks) == 1  # one batch of the two pending deliveries, enqueued on commit
    assert len(mail.outbox) == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_sweep_and_enqueue().requeued == 0  # nothing left for the sweeper
    assert len(mail.outbox) == 2
    again = client.post("/admin/bargaining/digestrun/sending/", {"action": "resume"}, follow=True)
    assert b"Digest sending was not paused." in again.content
    assert b"Choose pause or resume" in client.post("/admin/bargaining/digestrun/sending/", {}, follow=True).content
    assert b"Choose pause or resume" in client.get("/admin/bargaining/digestrun/sending/", follow=True).content
    assert DigestSending.objects.get().paused is False


def test_admin_switch_needs_the_change_permission(client):
    staff = UserFactory(username="viewer", is_staff=True)
    client.force_login(staff)
    assert client.post("/admin/bargaining/digestrun/sending/", {"action": "pause"}).status_code == 403
    assert not DigestSending.objects.exists()
