"""Sending: a batch of deliveries over one mail connection, each outcome committed as soon as it is known.

The database is the source of truth. A delivery row moves pending → sending (claimed by one batch)
→ sent / failed / skipped, so a lost task or a killed worker costs at most the one message in flight.
"""

import datetime
import functools
import hashlib
import json
import logging
import re
import smtplib
import time
import typing
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import psycopg
from anymail.exceptions import AnymailRecipientsRefused
from django.conf import settings
from django.core.cache import cache
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone
from psycopg import generators, pq

from ..links import deliveries_links
from ..models import Delivery, DigestBody, DigestSending, Member
from .content import DigestSource, TopicKey, member_topic_keys
from .limits import DailyCapReached, send_slot
from .rendering import DigestTemplate, RenderedDigest, digest_message, digest_render, site_domain
from .sweeping import digest_runs_finish

logger = logging.getLogger(__name__)


def delivery_batches(delivery_ids: Sequence[int]) -> list[list[int]]:
    """The ids cut into batches of DIGEST_BATCH_SIZE: the unit of work of one send task."""
    size = settings.DIGEST_BATCH_SIZE
    return [list(delivery_ids[i : i + size]) for i in range(0, len(delivery_ids), size)]


@dataclass
class SendReport:
    """What one batch did; `retry_ids` went back to pending after a temporary failure."""

    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retry_ids: list[int] = field(default_factory=list)
    held: int = 0  # left pending, attempts unspent: DIGEST_DAILY_CAP was reached
    paused: int = 0  # left pending, attempts unspent: an admin paused sending (DigestSending)


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


def _message_id(delivery: Delivery, domain: str) -> str:
    # Stable per delivery: a resend after a crash carries the same Message-ID, which lets mail
    # systems drop the duplicate. `domain` is site_domain(), read once per batch.
    return f"<digest.{delivery.run.frequency}.{delivery.run.period_start:%Y%m%d}.{delivery.pk}@{domain}>"


# How often a batch reads the kill switch between messages: a pause stops a batch within this time and
# the message in flight, for one small query a second whatever the sending rate.
PAUSE_CHECK_SECONDS = 1.0


# A relay refusing the recipient at RCPT with one of these says the address does not exist (or may not be
# mailed): the member is marked bounced. Other 5xx answers fail the one message only.
RECIPIENT_GONE = range(550, 554)
# Answers about the session, not the message: service closing (421), authentication required or refused
# (530, 535). Nothing about any member is learnt; the batch waits for the relay.
RELAY_CODES = frozenset({421, 530, 535})


class RelayUnavailable(Exception):
    """The relay could not be reached or refused the session: the batch's rows went back to pending with
    their attempts unspent, and the batch is to be retried later."""


def _relay_down(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(code in RELAY_CODES for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPHeloError | smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code in RELAY_CODES
    if isinstance(exc, smtplib.SMTPException):
        return False
    return isinstance(exc, OSError)  # refused, reset or timed-out connection, unknown host


def _recipient_gone(exc: Exception) -> bool:
    return isinstance(exc, smtplib.SMTPRecipientsRefused) and any(
        code in RECIPIENT_GONE for code, _ in exc.recipients.values()
    )


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


def deliveries_send(
    *,
    delivery_ids: Sequence[int],
    connection: BaseEmailBackend | None = None,
    stop_on: tuple[type[BaseException], ...] = (),
) -> SendReport:
    """Send the digests of these deliveries over one connection, committing each outcome at once.

    Only rows still pending are claimed, so calling this twice with the same ids sends nothing twice.
    Building the batch takes the same number of queries for 1 or 500 members; then each send
    costs one UPDATE, committed right after the server answers. An exception of a `stop_on` type
    (the task layer passes its time limit) is not a failed send: it ends the batch at once, the
    unsent rows handed back as pending, and propagates. So does `RelayUnavailable`: the relay refused the
    connection or the session (421, 530, 535, refused or dropped), and no delivery spent an attempt.
    A recipient refused with 550–553 fails its delivery and marks the member bounced, in one transaction.
    While sending is paused (`DigestSending`) nothing is claimed, and a batch under way stops within
    PAUSE_CHECK_SECONDS (one small query each time), its unsent rows pending again with attempts unspent.
    """
    now = timezone.now()
    report = SendReport()
    if DigestSending.is_paused():
        # Nothing claimed: the rows stay pending as they were; resuming enqueues them again.
        report.paused = len(delivery_ids)
        logger.info("Digest batch of %d deliveries not sent: sending is paused", len(delivery_ids))
        return report
    claimed = _claim(delivery_ids, now)
    report.claimed = len(claimed)
    if len(claimed) < len(delivery_ids):
        # Normal after a redelivery or a sweep; the rows are done or in another batch's hands.
        skipped = len(delivery_ids) - len(claimed)
        logger.info("Digest batch of %d deliveries: %d no longer pending", len(delivery_ids), skipped)
    if not claimed:
        return report
    deliveries = list(
        Delivery.objects.filter(id__in=claimed).select_related("run", "member").only(*_SENDING_FIELDS).order_by("id")
    )
    prepared, skips = _prepare(deliveries)
    for reason, ids in skips.items():
        if ids:
            Delivery.objects.filter(id__in=ids, state=Delivery.State.SENDING).update(
                state=Delivery.State.SKIPPED, skip_reason=reason, updated_at=timezone.now()
            )
            report.skipped += len(ids)
    if prepared:
        _send_prepared(prepared, connection, report, stop_on)
    digest_runs_finish(run_ids={delivery.run_id for delivery in deliveries})
    return report


# What sending reads of a delivery, its run and its member (their topics are read apart, as ids): building
# every column of three models for each member cost more CPU than the rest of preparing the batch.
_SENDING_FIELDS = (
    "run_id",
    "member_id",
    "window_start",
    "attempts",
    "run__frequency",
    "run__period_start",
    "run__window_end",
    "member__email",
    "member__language",
    "member__state",
    "member__frequency",
    "member__link_generation",
)


Prepared = tuple[Delivery, RenderedDigest, int]  # a delivery, its digest, and the stored DigestBody's id


def _prepare(deliveries: list[Delivery]) -> tuple[list[Prepared], dict[str, list[int]]]:
    """Pair each delivery with its rendered digest, rendering and storing each distinct content once."""
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
    since = min(delivery.window_start for delivery in live)
    until = max(delivery.run.window_end for delivery in live)
    # Loaded only when this batch has something to render: a batch whose contents another batch of its
    # run rendered already reads their stored bodies instead.
    source = functools.cache(lambda: DigestSource(since=since, until=until))
    topics = member_topic_keys(delivery.member_id for delivery in live)
    content_keys = [_content_key(delivery, topics.get(delivery.member_id, frozenset())) for delivery in live]
    keys: dict[ContentKey, int] = {}
    for delivery, key in zip(live, content_keys, strict=True):
        keys.setdefault(key, delivery.run_id)
    rendered = _rendered_once_per_run(keys, source)
    prepared: list[Prepared] = []
    for delivery, key in zip(live, content_keys, strict=True):
        found = rendered[key]
        if found is None:
            skips[Delivery.SkipReason.NOTHING_NEW].append(delivery.pk)
        else:
            prepared.append((delivery, found[0], found[1]))
    return prepared, skips


# A member's window, topics and digest language: deliveries with equal keys in one run get the same digest.
ContentKey = tuple[datetime.datetime, datetime.datetime, TopicKey, str]
# Long enough for any run to finish (retries and sweeps included); a run's contents are final once rendered.
RENDER_CACHE_SECONDS = 7 * 24 * 3600
# How long a batch waits for a content another batch (or worker) is rendering before rendering it itself;
# the claim expires after RENDER_CLAIM_SECONDS, so a worker that died while rendering holds nobody up for long.
RENDER_CLAIM_SECONDS = 60
RENDER_WAIT_SECONDS = 30.0
RENDER_POLL_SECONDS = 0.05


def _content_key(delivery: Delivery, topics: TopicKey) -> ContentKey:
    return (delivery.window_start, delivery.run.window_end, topics, delivery.member.digest_language)


def _render_cache_key(run_id: int, key: ContentKey) -> str:
    window_start, window_end, topics, language = key
    parts = f"{window_start.isoformat()}|{window_end.isoformat()}|{','.join(map(str, sorted(topics)))}|{language}"
    return f"bargaining:digest-render:{run_id}:{hashlib.sha256(parts.encode()).hexdigest()}"


Found = tuple[RenderedDigest, int] | None  # a content's digest and stored DigestBody id; None: nothing new


def _rendered_once_per_run(keys: dict[ContentKey, int], source: Callable[[], DigestSource]) -> dict[ContentKey, Found]:
    """Each distinct content of the batch, rendered only if no other batch of its run rendered it.

    The cache (Redis in production, shared by every worker) maps (run, content) to the stored
    `DigestBody` key, or "" for nothing new. A content nobody rendered yet is claimed first
    (`cache.add`): the batch that wins renders, stores and publishes it at once, before it waits for
    anything; the others wait for it to appear, so even batches of one run started together render
    each content once. A claim not published within RENDER_WAIT_SECONDS (its worker died) is rendered
    by the waiting batch itself.
    """
    cache_keys = {key: _render_cache_key(run_id, key) for key, run_id in keys.items()}
    found = _published(cache_keys)
    missing = {key: cache_key for key, cache_key in cache_keys.items() if key not in found}
    claimed = {
        key: cache_key
        for key, cache_key in missing.items()
        if cache.add(f"{cache_key}:claim", 1, timeout=RENDER_CLAIM_SECONDS)
    }
    found |= _render_and_publish(claimed, source)
    waiting = {key: cache_key for key, cache_key in missing.items() if key not in claimed}
    deadline = time.monotonic() + RENDER_WAIT_SECONDS
    while waiting and time.monotonic() < deadline:
        time.sleep(RENDER_POLL_SECONDS)
        arrived = _published(waiting)
        found |= arrived
        waiting = {key: cache_key for key, cache_key in waiting.items() if key not in arrived}
    if waiting:
        logger.warning("Digest contents claimed but not rendered within %ss: rendering them here", RENDER_WAIT_SECONDS)
        found |= _render_and_publish(waiting, source)
    return found


def _published(cache_keys: dict[ContentKey, str]) -> dict[ContentKey, Found]:
    """The contents already rendered and stored by some batch of their run, in two queries at most."""
    cached: dict[str, str] = cache.get_many(list(cache_keys.values()))
    if not cached:
        return {}
    stored = {
        body.key: (RenderedDigest.from_body(body), body.pk)
        for body in DigestBody.objects.filter(key__in={value for value in cached.values() if value})
    }
    found: dict[ContentKey, Found] = {}
    for key, cache_key in cache_keys.items():
        known = cached.get(cache_key)
        if known == "":
            found[key] = None
        elif known in stored:
            found[key] = stored[known]
    return found


def _render_and_publish(
    cache_keys: dict[ContentKey, str], source: Callable[[], DigestSource]
) -> dict[ContentKey, Found]:
    """Render these contents, store their bodies, then (only then) let other batches find them in the cache."""
    if not cache_keys:
        return {}
    rendered: dict[ContentKey, RenderedDigest | None] = {}
    for key in cache_keys:
        window_start, window_end, topics, language = key
        content = source().content_for(
            window_start=window_start, window_end=window_end, topics=topics, language=language
        )
        rendered[key] = None if content.is_empty else digest_render(content)
        logger.info(
            "Digest content rendered: %s",
            json.dumps({"run": _run_of(cache_keys[key]), "language": language, "topics": sorted(topics)}),
        )
    body_ids = _store_bodies([digest for digest in rendered.values() if digest is not None])
    cache.set_many(
        {cache_keys[key]: (digest.key if digest is not None else "") for key, digest in rendered.items()},
        timeout=RENDER_CACHE_SECONDS,
    )
    return {key: (digest, body_ids[id(digest)]) if digest is not None else None for key, digest in rendered.items()}


def _run_of(cache_key: str) -> int:
    return int(cache_key.split(":")[2])


def _store_bodies(rendered: list[RenderedDigest]) -> dict[int, int]:
    """Keep each distinct digest as sent, in two queries whatever the batch; body ids by id() of the digest."""
    if not rendered:
        return {}
    keys = {id(digest): digest.key for digest in rendered}
    DigestBody.objects.bulk_create(
        [DigestBody(key=keys[id(d)], subject=d.subject, text=d.text, html=d.html) for d in rendered],
        ignore_conflicts=True,  # another batch (or run) stored the same digest already
    )
    stored = dict(DigestBody.objects.filter(key__in=set(keys.values())).values_list("key", "id"))
    return {ident: stored[key] for ident, key in keys.items()}


# The one statement per sent message, kept out of the ORM: building an UPDATE queryset costs more
# CPU than the statement itself, and at 30,000 messages that is the worker's main cost after SMTP.
_MARK_SENT = (
    "UPDATE bargaining_delivery SET state = %s, attempts = attempts + 1, message_id = %s, sent_at = %s,"
    " updated_at = %s, last_error = '', body_id = %s WHERE id = %s AND state = %s"
)


class _SentMarks:
    """Commits each sent message's outcome as soon as the SMTP server answers, without waiting for PostgreSQL.

    On PostgreSQL the UPDATE is handed to the server at once (libpq's asynchronous query: sent and
    flushed, committed by the server on its own in autocommit), and its answer is read only before
    the next statement on the connection, by which time the next message's SMTP exchange has hidden
    the round trip. Waiting for it right away would leave the worker idle for that round trip on
    every message. The statement is prepared once per database connection, so PostgreSQL parses and
    plans it once, not for every message. Elsewhere (SQLite) each UPDATE is an ordinary execute.
    `wait()` must run before any other query on the connection.
    """

    _SQL = _MARK_SENT.replace("%s", "{}").format(*(f"${n}" for n in range(1, 8))).encode()
    _NAME = b"bargaining_digest_mark_sent"
    # The connections the statement is prepared on; a new connection (Django reconnected) prepares it again.
    _prepared: "weakref.WeakSet[typing.Any]" = weakref.WeakSet()

    def __init__(self, cursor: typing.Any) -> None:
        self._cursor = cursor
        raw = db_connection.connection
        self._raw = raw if db_connection.vendor == "postgresql" else None
        self._pending = False

    def _prepare(self, raw: typing.Any) -> None:
        if raw in self._prepared:
            return
        raw.pgconn.send_prepare(self._NAME, self._SQL)
        raw.wait(generators.send(raw.pgconn))
        self._pending = True
        self.wait()
        self._prepared.add(raw)

    def mark(self, *, message_id: str, sent_at: datetime.datetime, body_id: int, delivery_id: int) -> None:
        params = [Delivery.State.SENT, message_id, sent_at, sent_at, body_id, delivery_id, Delivery.State.SENDING]
        if self._raw is None:
            self._cursor.execute(_MARK_SENT, params)
            return
        self.wait()
        self._prepare(self._raw)
        pgconn = self._raw.pgconn
        pgconn.send_query_prepared(self._NAME, [str(value).encode() for value in params])
        self._raw.wait(generators.send(pgconn))
        self._pending = True
        if db_connection.queries_logged:  # DEBUG or CaptureQueriesContext: listed like any other statement
            sql = _MARK_SENT % tuple(repr(str(value)) for value in params)
            db_connection.queries_log.append({"sql": sql, "time": "0.000"})

    def wait(self) -> None:
        """Read the answer to the statement in flight; raise if PostgreSQL refused it."""
        if not self._pending or self._raw is None:
            return
        self._pending = False
        for result in self._raw.wait(generators.fetch_many(self._raw.pgconn)):
            if result.status != pq.ExecStatus.COMMAND_OK:
                message = (result.error_message or b"").decode(errors="replace")
                raise psycopg.DatabaseError(f"Marking a digest delivery sent failed: {message}")


# An address email.utils.parseaddr() gives back as it is (a dot-atom local part and domain, what the roster
# holds): smtplib.quoteaddr makes "<address>" of it. Anything else is left to quoteaddr itself.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)


def smtp_address(address: str) -> str:
    """`smtplib.quoteaddr(address)`, without parsing the plain addresses a roster holds."""
    return f"<{address}>" if _PLAIN_ADDRESS.fullmatch(address) else smtplib.quoteaddr(address)


@functools.lru_cache(maxsize=8)
def _smtp_sender(address: str) -> str:
    return smtp_address(address)  # DEFAULT_FROM_EMAIL, a name and an address: parsed once, not per message


def _smtp_send(smtp: smtplib.SMTP, *, sender: str, recipient: str, data: bytes, size: int) -> None:
    """`smtp.sendmail(sender, [recipient], message)` for a message already as DATA sends it
    (`DigestTemplate.wire_bytes`; `size` is the message's own length).

    The same commands, the same bytes and the same exceptions as sendmail, with the same RSET (or close
    after a 421) when refused; what it saves is the work sendmail repeats for every message: parsing both
    addresses and dot-stuffing the whole message again.
    """
    smtp.ehlo_or_helo_if_needed()
    options = f" size={size}" if smtp.does_esmtp and smtp.has_extn("size") else ""
    smtp.putcmd("mail", f"FROM:{_smtp_sender(sender)}{options}")
    code, answer = smtp.getreply()
    if code != 250:
        _refused(smtp, code)
        raise smtplib.SMTPSenderRefused(code, answer, sender)
    smtp.putcmd("rcpt", f"TO:{smtp_address(recipient)}")
    code, answer = smtp.getreply()
    if code not in (250, 251):
        _refused(smtp, code)
        raise smtplib.SMTPRecipientsRefused({recipient: (code, answer)})
    smtp.putcmd("data")
    code, answer = smtp.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, answer)  # as smtplib's data(): no RSET
    smtp.send(data)
    code, answer = smtp.getreply()
    if code != 250:
        _refused(smtp, code)
        raise smtplib.SMTPDataError(code, answer)


def _refused(smtp: smtplib.SMTP, code: int) -> None:
    if code == 421:
        smtp.close()
    else:
        smtp._rset()  # type: ignore[attr-defined]  # what sendmail calls: RSET, a dropped connection ignored


def _send_prepared(
    prepared: list[Prepared],
    connection: BaseEmailBackend | None,
    report: SendReport,
    stop_on: tuple[type[BaseException], ...],
) -> None:
    connection = connection or get_connection()
    # Over SMTP each message is the content's prebuilt bytes with the member's parts swapped in;
    # other backends (anymail, tests) get a Django message per member.
    smtp = isinstance(connection, SMTPBackend)
    templates: dict[int, DigestTemplate] = {}  # by id() of the batch's renderings; built once per worker process
    domain = site_domain()
    links_of = deliveries_links(delivery for delivery, _, _ in prepared)  # the language switched once per language
    relaxed = db_connection.vendor == "postgresql" and not settings.DIGEST_SYNCHRONOUS_COMMIT
    if relaxed:
        # Each outcome is still its own committed transaction, visible at once and safe if this
        # worker dies; only a crash of the database server itself could lose the last few hundred
        # milliseconds of outcomes (those rows would be swept and resent). Waiting for the WAL
        # flush on every message would otherwise cost more than sending it.
        with db_connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")
    cursor = db_connection.cursor()
    marks = _SentMarks(cursor)
    finished = 0
    relay_error = ""
    capped = paused = False
    next_pause_check = 0.0  # read once after rendering, which may have taken a while, then each second
    try:
        for delivery, rendered, body_id in prepared:
            if time.monotonic() >= next_pause_check:
                marks.wait()  # before any other query on the connection
                if DigestSending.is_paused():
                    paused = True
                    logger.warning("Digest batch paused with %d unsent", len(prepared) - finished)
                    break  # the rest are released below
                next_pause_check = time.monotonic() + PAUSE_CHECK_SECONDS
            try:
                send_slot()  # waits for DIGEST_MAX_RATE; raises once DIGEST_DAILY_CAP is spent
            except DailyCapReached as exc:
                capped = True
                logger.warning("Digest batch stopped with %d unsent: %s", len(prepared) - finished, exc)
                break  # the rest are released below
            message_id = _message_id(delivery, domain)
            try:
                # Reopens after a broken connection; a no-op while the connection is up.
                connection.open()
                links = links_of[delivery.pk]
                template = templates.get(id(rendered)) if smtp else None
                if template is None and smtp:
                    template = templates[id(rendered)] = DigestTemplate.of(rendered)
                email = delivery.member.email
                wire = (
                    template.wire_bytes(to=email, links=links, message_id=message_id)
                    if template is not None and template.usable and email.isascii()
                    else None
                )
                if template is not None and wire is not None:
                    _smtp_send(
                        connection.connection,  # type: ignore[attr-defined]  # the SMTP backend's smtplib.SMTP
                        sender=template.from_email,
                        recipient=email,
                        data=wire,
                        size=template.message_size(len(wire)),
                    )
                else:
                    digest_message(
                        rendered=rendered,
                        to=delivery.member.email,
                        links=links,
                        message_id=message_id,
                        connection=connection,
                    ).send()
            except stop_on:
                raise  # e.g. the task is out of time: stop, the rows not sent are released below
            except Exception as exc:  # every failure is recorded on its row; the batch goes on
                marks.wait()
                permanent, error = _failure(exc)
                if _relay_down(exc):
                    relay_error = error
                    raise RelayUnavailable(error) from exc  # this row and the rest are released below
                finished += 1
                row = Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.SENDING)
                attempts = delivery.attempts + 1
                if _needs_reconnect(exc):
                    _close_quietly(connection)
                if _recipient_gone(exc):
                    with transaction.atomic():
                        row.update(
                            state=Delivery.State.FAILED, attempts=attempts, last_error=error, updated_at=timezone.now()
                        )
                        Member.mark_bounced(delivery.member_id)
                    report.failed += 1
                elif permanent or attempts >= settings.DIGEST_MAX_ATTEMPTS:
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
            marks.mark(message_id=message_id, sent_at=timezone.now(), body_id=body_id, delivery_id=delivery.pk)
            report.sent += 1
            finished += 1
    finally:
        marks.wait()
        if finished < len(prepared):
            # Interrupted: hand the rest back at once rather than after the sweeper's sending timeout.
            # The one in flight may have reached the server: the single duplicate the spec allows.
            released = [delivery.pk for delivery, _, _ in prepared[finished:]]
            rows = Delivery.objects.filter(id__in=released, state=Delivery.State.SENDING)
            if paused:
                # Left for the resume to enqueue again; attempts unspent, no address was tried.
                rows.update(state=Delivery.State.PENDING, updated_at=timezone.now())
                report.paused = len(released)
            elif capped:
                # Not stuck: the sweeper picks them up after DIGEST_PENDING_STUCK_AFTER, sent once the day turns.
                rows.update(state=Delivery.State.PENDING, updated_at=timezone.now())
                report.held = len(released)
            elif relay_error:
                # The relay is down: the task retries the batch after a backoff, so the sweeper need not
                # hurry. Attempts stay as they were: no member's address was tried.
                rows.update(state=Delivery.State.PENDING, last_error=relay_error, updated_at=timezone.now())
            else:
                rows.update(
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
