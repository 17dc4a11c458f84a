"""Digests against the real parts: a `celery -A config worker` process over Redis, and an aiosmtpd
server in another process on loopback. The assertions read what that server received."""

import datetime
import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

from bargaining.digests.periods import digest_period
from bargaining.models import Delivery, DigestRun, Member
from bargaining.selectors import digest_run_counts
from bargaining.tasks import digest_plan_and_enqueue
from config.celery import app as celery_app
from demands.models import BargainingSession, Evidence, Status, StatusChange, Visibility
from tests.factories import CategoryFactory, DemandFactory, EvidenceFactory, EvidenceLinkFactory, MemberFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(120),
    # Committed data, so the worker process sees it; conftest.migration_rows restores migration rows.
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
CELERY = str(Path(sys.executable).with_name("celery"))
MARKER = "ZZTEAMONLYZZ"
WORKER_OPTIONS = ["--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, *, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}")


def stop(process: subprocess.Popen, *, kill: bool = False) -> None:
    """Stop a process started in its own session, with all its children."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


class SmtpSink:
    """The aiosmtpd process and what it received."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.process = subprocess.Popen(
            [PYTHON, str(ROOT / "tests/bargaining/smtp_sink.py"), "--port", str(self.port), "--out", str(directory)],
            start_new_session=True,
        )
        wait_for(lambda: (directory / "ready").exists(), timeout=15, what="the SMTP sink")

    def script(self, **rules) -> None:
        path = self.dir / "rules.json"
        path.write_text(json.dumps(rules))
        # Rules are reloaded on mtime change; make sure a rewrite within the same tick is noticed.
        os.utime(path, ns=(time.time_ns(), time.time_ns()))

    def _records(self, name: str) -> list[dict]:
        path = self.dir / name
        if not path.exists():
            return []
        # Only whole lines: the sink may be writing the last one as this reads.
        complete, _partial = path.read_text().rpartition("\n")[::2]
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def messages(self) -> list[dict]:
        return self._records("messages.jsonl")

    def received(self) -> Counter[str]:
        return Counter(rcpt for message in self.messages() for rcpt in message["rcpt"])

    def refusals(self) -> Counter[tuple[str, int]]:
        return Counter((row["rcpt"], row["code"]) for row in self._records("refusals.jsonl"))


class Worker:
    """A real `celery -A config worker` on the test database, Redis and the sink."""

    def __init__(self, log: Path, env: dict[str, str]) -> None:
        self.log = log
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.log.write_text("")
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [CELERY, "-A", "config", "worker", "--pool", "prefork", "--concurrency", "1", *WORKER_OPTIONS],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(lambda: " ready." in self.log.read_text(), timeout=30, what="the Celery worker")

    def kill(self) -> None:
        stop(self.process, kill=True)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


@pytest.fixture
def broker():
    """Point this process's Celery app at Redis (unit tests run eager) and start from an empty queue."""
    url = os.environ["TEST_REDIS_URL"]
    client = redis.Redis.from_url(url)
    client.flushdb()
    saved = {"broker_url": celery_app.conf.broker_url, "task_always_eager": celery_app.conf.task_always_eager}
    celery_app.conf.update(broker_url=url, task_always_eager=False)
    # Pools are created lazily from broker_url; drop any made for the in-memory broker.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    yield client
    celery_app.conf.update(**saved)
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    client.flushdb()


@pytest.fixture
def sink(tmp_path):
    sink = SmtpSink(tmp_path / "sink")
    yield sink
    stop(sink.process)


@pytest.fixture
def worker(tmp_path, sink, broker, settings):
    database = django_settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
            f"/{database['NAME']}"
        ),
        "REDIS_URL": os.environ["TEST_REDIS_URL"],
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(sink.port),
        "EMAIL_TIMEOUT": "10",
        "SITE_URL": "https://tracker.example.org",
        "DIGEST_RETRY_BACKOFF": "0.5",
        "DIGEST_RETRY_BACKOFF_MAX": "2",
        "DIGEST_PENDING_STUCK_AFTER": "3",
        "DIGEST_SENDING_STUCK_AFTER": "5",
        "PYTHONPATH": str(ROOT),
    }
    settings.DIGEST_BATCH_SIZE = 10
    worker = Worker(tmp_path / "worker.log", env)
    yield worker
    worker.stop()


def change(demand, to_status, *, when, note="", internal_note=""):
    row = StatusChange.objects.create(
        demand=demand, from_status=demand.status, to_status=to_status, note=note, internal_note=internal_note
    )
    StatusChange.objects.filter(pk=row.pk).update(changed_at=when, published_at=when)
    demand.status = to_status
    demand.save(update_fields=["status"])


@pytest.fixture
def beat(tmp_path, worker):
    """`celery -A config beat` on the migrated schedule, with the sweeper every second instead of every minute."""
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(name="Digest sweeper").update(interval=every_second)
    PeriodicTasks.update_changed()
    log = tmp_path / "beat.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [CELERY, "-A", "config", "beat", "--loglevel", "INFO", "--pidfile="],
            cwd=tmp_path,
            env=worker.env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_for(lambda: "Digest sweeper" in log.read_text(), timeout=30, what="beat to send the sweeper")
    yield process
    stop(process)


@pytest.fixture
def campaign():
    """Public changes in two categories in the last full week, and the marker in every team-only place."""
    now = timezone.now()
    last_week = digest_period(frequency="weekly", now=now).window_end
    safety = CategoryFactory(name="Holistic safety")
    staffing = CategoryFactory(name="Staffing")
    quiet = CategoryFactory(name="Community schools")
    counselors = DemandFactory(
        title="Counselors in every school",
        category=staffing,
        internal_notes=f"{MARKER} internal",
        fallback_position=f"{MARKER} fallback",
        priority_tier="tradeable",
    )
    change(
        counselors,
        Status.COUNTERED,
        when=last_week - datetime.timedelta(days=2),
        note="CPS countered with half.",
        internal_note=f"{MARKER} note",
    )
    restorative = DemandFactory(title="Restorative practices", category=safety, visibility=Visibility.MEMBERS)
    change(restorative, Status.TENTATIVE_AGREEMENT, when=last_week - datetime.timedelta(days=1), note="TA reached.")
    secret = DemandFactory(title=f"{MARKER} demand", category=safety, visibility=Visibility.TEAM)
    change(secret, Status.COUNTERED, when=last_week - datetime.timedelta(days=1), note=f"{MARKER} public-looking note")
    EvidenceLinkFactory(demand=counselors, evidence=EvidenceFactory(title="Counselor ratios report"))
    EvidenceLinkFactory(
        demand=counselors, evidence=EvidenceFactory(title=f"{MARKER} evidence", visibility=Visibility.TEAM)
    )
    EvidenceLinkFactory(demand=secret, evidence=EvidenceFactory(title="Public evidence for a team demand"))
    Evidence.objects.update(created_at=last_week - datetime.timedelta(days=1))
    session = BargainingSession.objects.create(held_on=now.date(), team_notes=f"{MARKER} session")
    session.demands.add(counselors)
    return {"safety": safety, "staffing": staffing, "quiet": quiet}


def wait_until_run_done(run_id: int, *, timeout: float) -> None:
    wait_for(
        lambda: DigestRun.objects.get(pk=run_id).state == DigestRun.State.DONE,
        timeout=timeout,
        what=f"digest run {run_id} to finish",
        interval=0.2,
    )


def assert_accounts(run_id: int) -> None:
    counts = digest_run_counts(run_id)
    assert counts.pending == counts.sending == 0
    assert counts.eligible == counts.sent + counts.failed + counts.skipped


def test_run_delivers_once_per_member_retries_4xx_fails_5xx_and_leaks_nothing(worker, sink, campaign):
    everyone = MemberFactory.create_batch(30)
    staffing_only = MemberFactory(email="staffing@example.org")
    staffing_only.topics.add(campaign["staffing"])
    quiet = MemberFactory.create_batch(3)
    for member in quiet:
        member.topics.add(campaign["quiet"])
    flaky = MemberFactory(email="flaky@example.org")
    gone = MemberFactory(email="gone@example.org")
    leaving = MemberFactory(email="leaving@example.org")
    MemberFactory(frequency=Member.Frequency.DAILY)
    MemberFactory(state=Member.State.UNSUBSCRIBED)
    sink.script(tempfail={flaky.email: 2}, permfail=[gone.email])

    run = digest_plan_and_enqueue(frequency="weekly")  # enqueued to Redis; no worker yet
    Member.objects.filter(pk=leaving.pk).update(state=Member.State.UNSUBSCRIBED, unsubscribed_at=timezone.now())
    worker.start()
    wait_until_run_done(run.pk, timeout=60)

    received = sink.received()
    expected = {m.email for m in [*everyone, staffing_only, flaky]}
    assert set(received) == expected
    assert all(count == 1 for count in received.values())
    assert sink.refusals()[(flaky.email, 451)] == 2
    assert sink.refusals()[(gone.email, 550)] == 1  # never asked again

    by_state = Counter(Delivery.objects.filter(run=run).values_list("state", flat=True))
    assert by_state == {"sent": 32, "skipped": 4, "failed": 1}
    assert Delivery.objects.get(run=run, member=flaky).attempts == 3
    assert Delivery.objects.get(run=run, member=leaving).skip_reason == Delivery.SkipReason.NOT_SUBSCRIBED
    assert_accounts(run.pk)

    messages = {message["rcpt"][0]: message["data"].encode("latin-1") for message in sink.messages()}
    for raw in messages.values():
        assert MARKER.encode() not in raw
        assert b"multipart/alternative" in raw
        assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw
        assert b"<https://tracker.example.org/subscriptions/unsubscribe/" in raw
    full = messages[everyone[0].email].decode()
    assert "Counselors in every school" in full
    assert "Restorative practices" in full
    assert "TA reached." in full
    staffing = messages[staffing_only.email].decode()
    assert "CPS countered with half." in staffing
    assert "Restorative practices" not in staffing

    again = digest_plan_and_enqueue(frequency="weekly")
    assert again.pk == run.pk
    time.sleep(1)
    assert sink.received() == received

    # RFC 8058: the mail provider POSTs to the List-Unsubscribe link of the received message, no cookies.
    parsed = email.message_from_bytes(messages[everyone[0].email], policy=email.policy.default)
    link = parsed["List-Unsubscribe"].strip().strip("<>")
    response = Client(enforce_csrf_checks=True).post(
        link.removeprefix("https://tracker.example.org"),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert Member.objects.get(pk=everyone[0].pk).state == Member.State.UNSUBSCRIBED
    next_week = digest_plan_and_enqueue(frequency="weekly", now=timezone.now() + datetime.timedelta(days=7))
    assert not next_week.deliveries.filter(member=everyone[0]).exists()
    assert next_week.deliveries.filter(member=everyone[1]).exists()


def test_worker_killed_mid_run_loses_no_member(worker, sink, beat, campaign):
    members = MemberFactory.create_batch(120)
    sink.script(delay=0.03)
    worker.start()
    run = digest_plan_and_enqueue(frequency="weekly")
    wait_for(lambda: len(sink.messages()) >= 30, timeout=30, what="a third of the messages")
    worker.kill()
    during = len(sink.messages())
    assert during < len(members)

    worker.start()
    wait_until_run_done(run.pk, timeout=60)

    received = sink.received()
    assert set(received) == {m.email for m in members}
    duplicates = sum(count - 1 for count in received.values())
    assert duplicates <= 1
    assert_accounts(run.pk)
    assert digest_run_counts(run.pk).sent == len(members)


def test_pause_mid_run_sends_nothing_after_it_takes_effect_and_resume_completes_the_run(worker, sink, beat, campaign):
    members = MemberFactory.create_batch(60)
    gone = MemberFactory(email="gone@example.org")
    leaving = MemberFactory(email="leaving@example.org")
    sink.script(delay=0.1, permfail=[gone.email])
    run = digest_plan_and_enqueue(frequency="weekly")
    worker.start()
    wait_for(lambda: len(sink.messages()) >= 5, timeout=30, what="the first messages")
    out = StringIO()
    call_command("send_digests", "--pause", stdout=out)
    assert out.getvalue().startswith("Digest sending paused")
    # In effect once the batch under way has handed back what it did not send (one worker: no other batch runs).
    wait_for(
        lambda: not Delivery.objects.filter(run=run, state=Delivery.State.SENDING).exists(),
        timeout=10,
        what="the batch under way to stop",
    )
    in_effect = time.time()
    Member.objects.filter(pk=leaving.pk).update(state=Member.State.UNSUBSCRIBED, unsubscribed_at=timezone.now())
    time.sleep(5)  # longer than DIGEST_PENDING_STUCK_AFTER: the sweeper (every second) and queued batches ran

    paused = sink.messages()
    assert paused
    assert max(message["at"] for message in paused) <= in_effect
    waiting = Delivery.objects.filter(run=run, state=Delivery.State.PENDING)
    assert waiting.count() == len(members) + 2 - len(paused) > 0
    assert set(waiting.values_list("attempts", flat=True)) == {0}
    assert DigestRun.objects.get(pk=run.pk).state == DigestRun.State.SENDING

    out = StringIO()
    call_command("send_digests", "--resume", stdout=out)
    assert out.getvalue() == f"Digest sending resumed: {len(members) + 2 - len(paused)} pending deliveries enqueued.\n"
    wait_until_run_done(run.pk, timeout=60)

    received = sink.received()
    assert set(received) == {member.email for member in members}
    assert all(count == 1 for count in received.values())
    assert_accounts(run.pk)
    counts = digest_run_counts(run.pk)
    assert (counts.sent, counts.failed, counts.skipped) == (len(members), 1, 1)


def test_redis_flushed_mid_run_the_sweeper_completes_it(worker, sink, beat, broker, campaign):
    members = MemberFactory.create_batch(120)
    sink.script(delay=0.03)
    worker.start()
    run = digest_plan_and_enqueue(frequency="weekly")
    wait_for(lambda: len(sink.messages()) >= 30, timeout=30, what="a third of the messages")
    broker.flushdb()
    assert len(sink.messages()) < len(members)

    wait_until_run_done(run.pk, timeout=60)

    received = sink.received()
    assert set(received) == {m.email for m in members}
    assert all(count == 1 for count in received.values())
    assert_accounts(run.pk)


def test_a_refused_address_ends_bounced_and_is_not_mailed_next_period(worker, sink, campaign):
    gone, fine = MemberFactory(email="gone@example.org"), MemberFactory(email="fine@example.org")
    sink.script(permfail=[gone.email])
    worker.start()
    run = digest_plan_and_enqueue(frequency="weekly")
    wait_until_run_done(run.pk, timeout=60)
    assert Delivery.objects.get(run=run, member=gone).state == Delivery.State.FAILED
    assert Member.objects.get(pk=gone.pk).state == Member.State.BOUNCED
    assert sink.refusals()[(gone.email, 550)] == 1

    next_week = timezone.now() + datetime.timedelta(days=7)
    change(
        DemandFactory(category=campaign["safety"]), Status.COUNTERED, when=timezone.now() + datetime.timedelta(days=1)
    )
    later = digest_plan_and_enqueue(frequency="weekly", now=next_week)
    wait_until_run_done(later.pk, timeout=60)
    assert not Delivery.objects.filter(run=later, member=gone, state=Delivery.State.SENT).exists()
    assert Delivery.objects.get(run=later, member=fine).state == Delivery.State.SENT
    assert sink.refusals()[(gone.email, 550)] == 1  # never asked again
    assert sink.received()[fine.email] == 2


def test_a_relay_refusing_the_login_leaves_deliveries_pending_until_it_recovers(worker, sink, campaign):
    members = MemberFactory.create_batch(12)
    sink.script(authfail=True)
    worker.env.update(EMAIL_HOST_USER="digests", EMAIL_HOST_PASSWORD="relay-password")
    worker.start()
    run = digest_plan_and_enqueue(frequency="weekly")
    deliveries = Delivery.objects.filter(run=run)
    wait_for(
        lambda: deliveries.filter(last_error__startswith="535").count() == len(members),
        timeout=30,
        what="every delivery to record the 535",
    )
    time.sleep(3)  # several retries of the batches while the relay refuses
    assert set(deliveries.values_list("state", "attempts")) == {(Delivery.State.PENDING, 0)}
    assert sink.received() == Counter()

    sink.script()  # the relay takes the password again
    wait_until_run_done(run.pk, timeout=60)
    assert set(deliveries.values_list("state", "attempts")) == {(Delivery.State.SENT, 1)}
    assert set(sink.received()) == {member.email for member in members}


@pytest.mark.timeout(300)
def test_two_workers_together_keep_to_digest_max_rate(worker, sink, campaign, tmp_path):
    """DIGEST_MAX_RATE=50 across two worker processes: 1,000 deliveries take at least 20 s, and no second of
    the sink's clock (the same host clock the limiter reads) receives much more than 50."""
    members = MemberFactory.create_batch(1000)
    worker.env["DIGEST_MAX_RATE"] = "50"
    other = Worker(tmp_path / "worker2.log", worker.env)
    try:
        worker.start()
        other.start()
        started = time.monotonic()
        run = digest_plan_and_enqueue(frequency="weekly")
        wait_until_run_done(run.pk, timeout=180)
        elapsed = time.monotonic() - started
    finally:
        other.stop()

    received = sink.received()
    assert set(received) == {m.email for m in members}
    assert all(count == 1 for count in received.values())
    assert_accounts(run.pk)
    assert elapsed >= 20, elapsed
    per_second = Counter(int(message["at"]) for message in sink.messages())
    # A message whose slot came at the very end of a second may be received a few ms into the next one.
    assert max(per_second.values()) <= 53, per_second
    for log in (worker.log, other.log):
        assert "send_digest_batch" in log.read_text() and "succeeded" in log.read_text()  # both took batches


def rendered_contents(*logs: Path) -> list[dict]:
    """What the workers logged as rendered ("Digest content rendered: {json}"), one entry per render."""
    marker = "Digest content rendered: "
    return [
        json.loads(line.split(marker, 1)[1]) for log in logs for line in log.read_text().splitlines() if marker in line
    ]


def test_two_workers_render_each_distinct_content_once_per_run(worker, sink, campaign, tmp_path):
    """Eleven batches of ten over two worker processes started together: five distinct contents (language and
    topics), five renders in all, none repeated by a later batch or by the other worker."""
    staffing = campaign["staffing"]
    groups = {
        ("en", ()): MemberFactory.create_batch(40, language="en"),
        ("es", ()): MemberFactory.create_batch(20, language="es"),
        ("es", (staffing.pk,)): MemberFactory.create_batch(20, language="es"),
        ("en", (staffing.pk,)): MemberFactory.create_batch(20, language="en"),
        ("en", (campaign["quiet"].pk,)): MemberFactory.create_batch(10, language="en"),  # nothing new: skipped
    }
    for (_language, topics), members in groups.items():
        for member in members:
            member.topics.add(*topics)
    other = Worker(tmp_path / "worker2.log", worker.env)
    try:
        worker.start()
        other.start()
        run = digest_plan_and_enqueue(frequency="weekly")
        wait_until_run_done(run.pk, timeout=90)
    finally:
        other.stop()

    received = sink.received()
    assert len(received) == 100 and set(received.values()) == {1}
    assert_accounts(run.pk)
    assert Delivery.objects.filter(run=run, skip_reason=Delivery.SkipReason.NOTHING_NEW).count() == 10
    renders = rendered_contents(worker.log, other.log)
    assert sorted((r["language"], tuple(r["topics"])) for r in renders) == sorted(groups)
    assert {r["run"] for r in renders} == {run.pk}
    for log in (worker.log, other.log):
        assert log.read_text().count("send_digest_batch") >= 2  # both workers took batches
