"""Writes for the bargaining context: planning, sending and sweeping member digests.

The database is the source of truth. A delivery row moves pending → sending (claimed by one
batch) → sent / failed / skipped, and each outcome is committed as soon as it is known, so a
lost task or a killed worker costs at most the one message in flight.
"""

import datetime
import logging
import smtplib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from anymail.exceptions import AnymailRecipientsRefused
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Subquery
from django.utils import timezone

from demands.errors import DomainError

from .emails import DigestTemplate, RenderedDigest, digest_message, digest_render, site_domain
from .links import DigestLinks, delivery_links
from .models import Delivery, DigestRun, Member
from .selectors import DigestContent, DigestSource, TopicKey, member_topic_key

logger = logging.getLogger(__name__)

PERIODS = {Member.Frequency.DAILY: datetime.timedelta(days=1), Member.Frequency.WEEKLY: datetime.timedelta(days=7)}
OPEN_STATES = [Delivery.State.PENDING, Delivery.State.SENDING]


class DigestError(DomainError):
    """A digest request that cannot be carried out as asked."""

    code = "digest"


def digest_period_start(*, frequency: str, now: datetime.datetime) -> datetime.date:
    """The Chicago-local day (daily) or the Monday of the Chicago-local week (weekly) that `now` falls in."""
    day = timezone.localdate(now)  # TIME_ZONE is America/Chicago
    if frequency == Member.Frequency.WEEKLY:
        return day - datetime.timedelta(days=day.weekday())
    return day


def digest_plan(*, frequency: str, now: datetime.datetime | None = None) -> DigestRun:
    """Create (or complete) the run of the current period and its deliveries, then enqueue their batches.

    Idempotent: a delivery per (run, member) is unique, so planning again adds only members who
    were not planned yet and never sends anyone a second digest for the period.
    """
    if frequency not in PERIODS:
        raise DigestError(f"Unknown digest frequency {frequency!r}: use one of {', '.join(PERIODS)}.")
    now = now or timezone.now()
    period_start = digest_period_start(frequency=frequency, now=now)
    with transaction.atomic():
        run, _ = DigestRun.objects.get_or_create(
            frequency=frequency,
            period_start=period_start,
            defaults={"window_start": now - PERIODS[frequency], "window_end": now},
        )
        run = DigestRun.objects.select_for_update().get(pk=run.pk)
        previous_end = (
            Delivery.objects.filter(
                member=OuterRef("pk"),
                state__in=[Delivery.State.SENT, Delivery.State.SKIPPED],
                run__window_end__lte=run.window_end,
            )
            .exclude(run=run)
            .order_by("-run__window_end")
            .values("run__window_end")[:1]
        )
        members = (
            Member.objects.filter(state=Member.State.ACTIVE, frequency=frequency)
            .exclude(Exists(Delivery.objects.filter(run=run, member=OuterRef("pk"))))
            .annotate(previous_end=Subquery(previous_end))
            .values_list("id", "previous_end")
        )
        Delivery.objects.bulk_create(
            (
                Delivery(run=run, member_id=member_id, window_start=previous_end or run.window_start, updated_at=now)
                for member_id, previous_end in members.iterator(chunk_size=5000)
            ),
            batch_size=2000,
            ignore_conflicts=True,
        )
        pending = list(
            Delivery.objects.filter(run=run, state=Delivery.State.PENDING).order_by("id").values_list("id", flat=True)
        )
        if pending:
            run.state = DigestRun.State.SENDING
        elif not Delivery.objects.filter(run=run, state=Delivery.State.SENDING).exists():
            run.state, run.finished_at = DigestRun.State.DONE, run.finished_at or now
        run.save(update_fields=["state", "finished_at"])
        deliveries_enqueue(delivery_ids=pending)
    return run


def deliveries_enqueue(*, delivery_ids: Sequence[int]) -> int:
    """Enqueue send batches for these deliveries once the current transaction commits; returns the batch count."""
    from .tasks import send_digest_batch  # tasks import this module

    size = settings.DIGEST_BATCH_SIZE
    batches = [list(delivery_ids[i : i + size]) for i in range(0, len(delivery_ids), size)]
    for batch in batches:
        send_digest_batch.delay_on_commit(delivery_ids=batch)
    return len(batches)


@dataclass
class SendReport:
    """What one batch did; `retry_ids` went back to pending after a temporary failure."""

    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retry_ids: list[int] = field(default_factory=list)


def _claim(delivery_ids: Iterable[int], now: datetime.datetime) -> list[int]:
    # SKIP LOCKED: two tasks holding the same ids (a sweeper re-enqueue, a broker redelivery)
    # never both claim a row; whoever comes second finds it no longer pending. Lock only delivery
    # rows ("self", no ordering join): locking the shared run row would make batches skip each other.
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(id__in=list(delivery_ids), state=Delivery.State.PENDING)
            .order_by("id")
            .values_list("id", flat=True)
        )
        Delivery.objects.filter(id__in=ids).update(state=Delivery.State.SENDING, claimed_at=now, updated_at=now)
    return ids


def _message_id(delivery: Delivery) -> str:
    # Stable per delivery: a resend after a crash carries the same Message-ID, which lets mail
    # systems drop the duplicate.
    return f"<digest.{delivery.run.frequency}.{delivery.run.period_start:%Y%m%d}.{delivery.pk}@{site_domain()}>"


def _failure(exc: Exception) -> tuple[bool, str]:
    """(permanent?, description) of a send error: 5xx answers are permanent, everything else temporary."""
    code: int | None = None
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        code, text = next(iter(exc.recipients.values()))
        detail = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    elif isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        detail = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    else:
        detail = str(exc) or exc.__class__.__name__
    if isinstance(exc, AnymailRecipientsRefused):
        return True, f"{exc.__class__.__name__}: {detail}"[:1000]
    permanent = code is not None and 500 <= code < 600
    return permanent, (f"{code} {detail}" if code else f"{exc.__class__.__name__}: {detail}")[:1000]


def _needs_reconnect(exc: Exception) -> bool:
    # After a refused recipient or refused data the SMTP session is still usable (smtplib sent RSET).
    return not isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPResponseException)


def deliveries_send(*, delivery_ids: Sequence[int], connection: BaseEmailBackend | None = None) -> SendReport:
    """Send the digests of these deliveries over one connection, committing each outcome at once.

    Only rows still pending are claimed, so calling this twice with the same ids sends nothing twice.
    Building the batch takes the same number of queries for 1 or 500 members; then each send
    costs one UPDATE, committed right after the server answers.
    """
    now = timezone.now()
    report = SendReport()
    claimed = _claim(delivery_ids, now)
    report.claimed = len(claimed)
    if len(claimed) < len(delivery_ids):
        # Normal after a redelivery or a sweep; the rows are done or in another batch's hands.
        skipped = len(delivery_ids) - len(claimed)
        logger.info("Digest batch of %d deliveries: %d no longer pending", len(delivery_ids), skipped)
    if not claimed:
        return report
    deliveries = list(
        Delivery.objects.filter(id__in=claimed)
        .select_related("run", "member")
        .prefetch_related("member__topics")
        .order_by("id")
    )
    prepared, skips = _prepare(deliveries)
    for reason, ids in skips.items():
        if ids:
            Delivery.objects.filter(id__in=ids, state=Delivery.State.SENDING).update(
                state=Delivery.State.SKIPPED, skip_reason=reason, updated_at=timezone.now()
            )
            report.skipped += len(ids)
    if prepared:
        _send_prepared(prepared, connection, report)
    digest_runs_finish(run_ids={delivery.run_id for delivery in deliveries})
    return report


def _prepare(
    deliveries: list[Delivery],
) -> tuple[list[tuple[Delivery, RenderedDigest]], dict[str, list[int]]]:
    """Pair each delivery with its rendered digest, rendering each distinct content once."""
    skips: dict[str, list[int]] = {Delivery.SkipReason.NOT_SUBSCRIBED: [], Delivery.SkipReason.NOTHING_NEW: []}
    live = []
    for delivery in deliveries:
        member = delivery.member
        # Checked at send time: a member who unsubscribed or switched frequency after planning gets nothing.
        if member.state != Member.State.ACTIVE or member.frequency != delivery.run.frequency:
            skips[Delivery.SkipReason.NOT_SUBSCRIBED].append(delivery.pk)
        else:
            live.append(delivery)
    if not live:
        return [], skips
    source = DigestSource(
        since=min(delivery.window_start for delivery in live),
        until=max(delivery.run.window_end for delivery in live),
    )
    rendered: dict[tuple[datetime.datetime, datetime.datetime, TopicKey], RenderedDigest | None] = {}
    prepared = []
    for delivery in live:
        key = (delivery.window_start, delivery.run.window_end, member_topic_key(delivery.member))
        if key not in rendered:
            content = source.content_for(window_start=key[0], window_end=key[1], topics=key[2])
            rendered[key] = None if content.is_empty else digest_render(content)
        if rendered[key] is None:
            skips[Delivery.SkipReason.NOTHING_NEW].append(delivery.pk)
        else:
            prepared.append((delivery, rendered[key]))
    return prepared, skips


# The one statement per sent message, kept out of the ORM: building an UPDATE queryset costs more
# CPU than the statement itself, and at 30,000 messages that is the worker's main cost after SMTP.
_MARK_SENT = (
    "UPDATE bargaining_delivery SET state = %s, attempts = attempts + 1, message_id = %s, sent_at = %s,"
    " updated_at = %s, last_error = '' WHERE id = %s AND state = %s"
)


def _send_prepared(
    prepared: list[tuple[Delivery, RenderedDigest]], connection: BaseEmailBackend | None, report: SendReport
) -> None:
    connection = connection or get_connection()
    # Over SMTP each message is the content's prebuilt bytes with the member's parts swapped in;
    # other backends (anymail, tests) get a Django message per member.
    smtp = isinstance(connection, SMTPBackend)
    templates: dict[int, DigestTemplate] = {}
    relaxed = db_connection.vendor == "postgresql" and not settings.DIGEST_SYNCHRONOUS_COMMIT
    if relaxed:
        # Each outcome is still its own committed transaction, visible at once and safe if this
        # worker dies; only a crash of the database server itself could lose the last few hundred
        # milliseconds of outcomes (those rows would be swept and resent). Waiting for the WAL
        # flush on every message would otherwise cost more than sending it.
        with db_connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")
    cursor = db_connection.cursor()
    finished = 0
    try:
        for delivery, rendered in prepared:
            message_id = _message_id(delivery)
            try:
                # Reopens after a broken connection; a no-op while the connection is up.
                connection.open()
                links = delivery_links(delivery)
                template = templates.get(id(rendered)) if smtp else None
                if template is None and smtp:
                    template = templates[id(rendered)] = DigestTemplate(rendered)
                if template is not None and template.usable and delivery.member.email.isascii():
                    raw = template.message_bytes(to=delivery.member.email, links=links, message_id=message_id)
                    connection.connection.sendmail(template.from_email, [delivery.member.email], raw)
                else:
                    digest_message(
                        rendered=rendered,
                        to=delivery.member.email,
                        links=links,
                        message_id=message_id,
                        connection=connection,
                    ).send()
            except SoftTimeLimitExceeded:
                raise  # the task is out of time: stop, the rows not sent are released below
            except Exception as exc:  # every failure is recorded on its row; the batch goes on
                finished += 1
                row = Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.SENDING)
                permanent, error = _failure(exc)
                attempts = delivery.attempts + 1
                if _needs_reconnect(exc):
                    _close_quietly(connection)
                if permanent or attempts >= settings.DIGEST_MAX_ATTEMPTS:
                    row.update(
                        state=Delivery.State.FAILED, attempts=attempts, last_error=error, updated_at=timezone.now()
                    )
                    report.failed += 1
                else:
                    row.update(
                        state=Delivery.State.PENDING, attempts=attempts, last_error=error, updated_at=timezone.now()
                    )
                    report.retry_ids.append(delivery.pk)
                logger.warning("Digest delivery %s to member %s: %s", delivery.pk, delivery.member_id, error)
                continue
            sent_at = timezone.now()
            cursor.execute(
                _MARK_SENT,
                [Delivery.State.SENT, message_id, sent_at, sent_at, delivery.pk, Delivery.State.SENDING],
            )
            report.sent += 1
            finished += 1
    finally:
        if finished < len(prepared):
            # Interrupted: hand the rest back at once rather than after the sweeper's sending timeout.
            # The one in flight may have reached the server: the single duplicate the spec allows.
            released = [delivery.pk for delivery, _ in prepared[finished:]]
            Delivery.objects.filter(id__in=released, state=Delivery.State.SENDING).update(
                state=Delivery.State.PENDING,
                updated_at=timezone.now() - datetime.timedelta(seconds=settings.DIGEST_PENDING_STUCK_AFTER),
            )
        _close_quietly(connection)
        if relaxed:
            cursor.execute("RESET synchronous_commit")
        cursor.close()


def _close_quietly(connection: BaseEmailBackend) -> None:
    try:
        connection.close()
    except Exception:  # closing a broken connection may fail again; nothing is left to do with it
        logger.debug("Closing the mail connection failed", exc_info=True)


def digest_runs_finish(*, run_ids: Iterable[int] | None = None) -> int:
    """Mark runs done that have nothing pending or sending left; returns how many."""
    runs = DigestRun.objects.exclude(state=DigestRun.State.DONE).exclude(
        Exists(Delivery.objects.filter(run=OuterRef("pk"), state__in=OPEN_STATES))
    )
    if run_ids is not None:
        runs = runs.filter(id__in=list(run_ids))
    # Runs still being planned hold a row lock; planning sets their final state itself.
    return runs.filter(state=DigestRun.State.SENDING).update(state=DigestRun.State.DONE, finished_at=timezone.now())


@dataclass
class SweepReport:
    requeued: int = 0
    failed: int = 0
    runs_done: int = 0


def deliveries_sweep(*, now: datetime.datetime | None = None) -> SweepReport:
    """Re-enqueue deliveries the broker lost (pending too long) or a dead worker left (sending too long)."""
    now = now or timezone.now()
    report = SweepReport()
    pending_cutoff = now - datetime.timedelta(seconds=settings.DIGEST_PENDING_STUCK_AFTER)
    sending_cutoff = now - datetime.timedelta(seconds=settings.DIGEST_SENDING_STUCK_AFTER)
    # A row left in sending past the cutoff outlived any task time limit: its worker is gone.
    # Counting that as an attempt bounds a message that kills its worker every time.
    stuck = Delivery.objects.filter(state=Delivery.State.SENDING, claimed_at__lt=sending_cutoff)
    report.failed = stuck.filter(attempts__gte=settings.DIGEST_MAX_ATTEMPTS - 1).update(
        state=Delivery.State.FAILED,
        attempts=F("attempts") + 1,
        last_error="The worker was lost while sending, too many times.",
        updated_at=now,
    )
    stuck.update(
        state=Delivery.State.PENDING,
        attempts=F("attempts") + 1,
        last_error="The worker was lost while sending.",
        updated_at=pending_cutoff,
    )
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=Delivery.State.PENDING, updated_at__lte=pending_cutoff)
            .order_by("run_id", "id")
            .values_list("id", flat=True)
        )
        # Touching the rows keeps the next sweep from enqueueing them again before a worker gets to them.
        Delivery.objects.filter(id__in=ids).update(updated_at=now)
        deliveries_enqueue(delivery_ids=ids)
    report.requeued = len(ids)
    report.runs_done = digest_runs_finish()
    return report


def digest_preview(*, member: Member, frequency: str | None = None) -> tuple[DigestContent, RenderedDigest | None]:
    """The digest `member` would get if their run were planned now (for the admin's preview)."""
    frequency = frequency or (member.frequency if member.frequency in PERIODS else Member.Frequency.WEEKLY)
    now = timezone.now()
    previous = (
        Delivery.objects.filter(member=member, state__in=[Delivery.State.SENT, Delivery.State.SKIPPED])
        .order_by("-run__window_end")
        .values_list("run__window_end", flat=True)
        .first()
    )
    window_start = previous or now - PERIODS[frequency]
    source = DigestSource(since=window_start, until=now)
    content = source.content_for(window_start=window_start, window_end=now, topics=member_topic_key(member))
    return content, None if content.is_empty else digest_render(content)


def digest_send_test(*, member: Member, to: str, frequency: str | None = None) -> bool:
    """Email `to` the digest `member` would get now; links lead to the site, not to the member's tokens.

    Returns False when that digest would be empty (nothing is sent). Not recorded as a delivery.
    """
    if not to:
        raise DigestError("Your account has no email address: add one to receive a test digest.")
    _content, rendered = digest_preview(member=member, frequency=frequency)
    if rendered is None:
        return False
    site = settings.SITE_URL + "/"
    message = digest_message(
        rendered=rendered,
        to=to,
        links=DigestLinks(unsubscribe=site, preferences=site, browser=site),
        message_id=f"<digest.test.{member.pk}.{timezone.now():%Y%m%d%H%M%S%f}@{site_domain()}>",
        subject_prefix="[Test] ",
    )
    message.send()
    return True
