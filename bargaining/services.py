"""Every write to members and their digests goes through these functions.

Digests: the database is the source of truth. A delivery row moves pending → sending (claimed
by one batch) → sent / failed / skipped, and each outcome is committed as soon as it is known,
so a lost task or a killed worker costs at most the one message in flight.
"""

import datetime
import logging
import smtplib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from anymail.exceptions import AnymailRecipientsRefused
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.db.models import Exists, F, OuterRef, Subquery, Value
from django.db.models.functions import Lower
from django.utils import timezone

from demands.errors import DomainError, ValidationFailed
from demands.models import Category, Demand

from .emails import DigestTemplate, RenderedDigest, digest_message, digest_render, site_domain
from .links import DigestLinks, delivery_links
from .models import BargainingSession, Delivery, DigestRun, Member
from .roster import CSV_COLUMNS, TOPIC_SEPARATOR, NumberedRow, RowCells
from .selectors import DigestContent, DigestSource, TopicKey, member_topic_key

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = frozenset({"email", "name", "school", "language", "frequency", "state", "topics"})
DUPLICATE_EMAIL = "A member with this email address already exists (case does not matter)."
# PostgreSQL cannot store NUL in text, and model fields (unlike form fields) do not check for it.
NUL_CHARACTERS = "Null characters are not allowed."
IMPORT_BATCH_SIZE = 1000


def _normalize(member: Member) -> None:
    member.email = member.email.strip()
    member.name = member.name.strip()
    member.school = member.school.strip()
    member.language = member.language.strip().lower().replace("_", "-")


def _email_taken(email: str, *, exclude_id: int | None = None) -> bool:
    others = Member.objects.alias(email_lower=Lower("email")).filter(email_lower=Lower(Value(email)))
    return others.exclude(pk=exclude_id).exists() if exclude_id else others.exists()


def _validate(member: Member) -> None:
    """The model's field rules and an email unique whatever its case, with the message on `email`."""
    errors: dict[str, list[str]] = {}
    try:
        member.full_clean(validate_constraints=False)
    except ValidationError as exc:
        errors = exc.message_dict
    for name in ("email", "name", "school", "language"):
        if "\x00" in getattr(member, name):
            errors.setdefault(name, []).append(NUL_CHARACTERS)
    if "email" not in errors and _email_taken(member.email, exclude_id=member.pk):
        errors["email"] = [DUPLICATE_EMAIL]
    if errors:
        raise ValidationFailed(errors)


def _save(member: Member, topics: Iterable[Category | int] | None) -> None:
    try:
        with transaction.atomic():
            member.save()
            if topics is not None:
                member.topics.set(topics)
    except IntegrityError as exc:
        # Only the email constraint can fail here: someone added the same address meanwhile.
        raise ValidationFailed({"email": [DUPLICATE_EMAIL]}) from exc


def member_create(
    *,
    email: str,
    name: str = "",
    school: str = "",
    language: str = "en",
    frequency: str = Member.Frequency.WEEKLY,
    topics: Iterable[Category | int] = (),
) -> Member:
    """Add an active member; the email must not be on the roster already, in any case."""
    member = Member(email=email, name=name, school=school, language=language, frequency=frequency)
    _normalize(member)
    _validate(member)
    _save(member, topics)
    return member


def member_update(*, member_id: int, **data: Any) -> Member:
    """Change a member's fields; moving into or out of `unsubscribed` keeps `unsubscribed_at` right."""
    unknown = sorted(set(data) - EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed({name: ["This field cannot be edited."] for name in unknown})
    topics = data.pop("topics", None)
    with transaction.atomic():
        member = Member.objects.select_for_update().get(pk=member_id)
        was_unsubscribed = member.state == Member.State.UNSUBSCRIBED
        for name, value in data.items():
            setattr(member, name, value)
        _normalize(member)
        is_unsubscribed = member.state == Member.State.UNSUBSCRIBED
        if is_unsubscribed and not was_unsubscribed:
            member.unsubscribed_at = timezone.now()
        elif was_unsubscribed and not is_unsubscribed:
            member.unsubscribed_at = None
        _validate(member)
        _save(member, topics)
    return member


def member_unsubscribe(*, member_id: int) -> Member:
    """Stop every digest to the member. Idempotent: a second call keeps the first `unsubscribed_at`.

    Raises Member.DoesNotExist for an unknown id.
    """
    now = timezone.now()
    Member.objects.filter(pk=member_id).exclude(state=Member.State.UNSUBSCRIBED).update(
        state=Member.State.UNSUBSCRIBED, unsubscribed_at=now, updated_at=now
    )
    return Member.objects.get(pk=member_id)


def member_set_preferences(
    *, member_id: int, frequency: str, topics: Iterable[Category | int], resubscribe: bool = False
) -> Member:
    """Set how often and about what a member hears (no topics: every category).

    `resubscribe` turns digests back on for a member who unsubscribed; a bounced address stays
    bounced until an admin fixes it.
    """
    if frequency not in Member.Frequency.values:
        raise ValidationFailed({"frequency": [f"“{frequency}” is not one of {', '.join(Member.Frequency.values)}."]})
    topic_ids = {topic.pk if isinstance(topic, Category) else int(topic) for topic in topics}
    unknown = topic_ids - set(Category.objects.filter(pk__in=topic_ids).values_list("pk", flat=True))
    if unknown:
        raise ValidationFailed({"topics": [f"No category has id {', '.join(map(str, sorted(unknown)))}."]})
    with transaction.atomic():
        member = Member.objects.select_for_update().get(pk=member_id)
        member.frequency = frequency
        if resubscribe and member.state == Member.State.UNSUBSCRIBED:
            member.state = Member.State.ACTIVE
            member.unsubscribed_at = None
        member.save(update_fields=["frequency", "state", "unsubscribed_at", "updated_at"])
        member.topics.set(topic_ids)
    return member


# --- Sessions ---

SESSION_FIELDS = frozenset({"held_on", "location", "kind", "team_notes"})


def _existing_demand_ids(demand_ids: Iterable[int]) -> list[int]:
    """The ids, once each, if every one names a demand; otherwise ValidationFailed naming the unknown ones."""
    wanted = list(dict.fromkeys(demand_ids))
    found = set(Demand.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    missing = [str(pk) for pk in wanted if pk not in found]
    if missing:
        ids = ", ".join(missing)
        message = f"There is no demand with id {ids}." if len(missing) == 1 else f"There are no demands with ids {ids}."
        raise ValidationFailed({"demands": [message]})
    return wanted


def _save_session(session: BargainingSession, demand_ids: Iterable[int] | None, by: User | None) -> None:
    try:
        session.full_clean()
    except ValidationError as exc:
        raise ValidationFailed(exc.message_dict) from exc
    ids = None if demand_ids is None else _existing_demand_ids(demand_ids)
    session._history_user = by
    with transaction.atomic():
        session.save()
        if ids is not None:
            session.demands.set(ids)


def session_create(*, by: User | None, demand_ids: Iterable[int] = (), **fields: Any) -> BargainingSession:
    """Record a bargaining session: date, place, kind, team notes and the demands discussed."""
    _check_session_fields(fields)
    session = BargainingSession(**fields)
    _save_session(session, demand_ids, by)
    return session


def session_update(
    *, session_id: int, by: User | None, demand_ids: Iterable[int] | None = None, **fields: Any
) -> BargainingSession:
    """Edit a session; `demand_ids`, when given, replace the demands discussed."""
    _check_session_fields(fields)
    with transaction.atomic():
        session = BargainingSession.objects.select_for_update().get(pk=session_id)
        for name, value in fields.items():
            setattr(session, name, value)
        _save_session(session, demand_ids, by)
    return session


def _check_session_fields(fields: dict[str, Any]) -> None:
    unknown = sorted(set(fields) - SESSION_FIELDS)
    if unknown:
        raise ValidationFailed({name: ["This field cannot be edited."] for name in unknown})


# --- Import -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One cell the import refused: its column, its value and what is wrong with it."""

    field: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field} “{self.value}”: {self.reason}" if self.value else f"{self.field}: {self.reason}"


@dataclass(frozen=True)
class RejectedRow:
    """A row the import left out, with every fault found in it."""

    row: int
    faults: tuple[Fault, ...]

    def __str__(self) -> str:
        return f"row {self.row}: " + "; ".join(map(str, self.faults))


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    dry_run: bool = False

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged + len(self.rejected)

    def __str__(self) -> str:
        verb = "would be " if self.dry_run else ""
        rows = "1 row" if self.total == 1 else f"{self.total} rows"
        return (
            f"{rows}: {self.created} {verb}created, {self.updated} {verb}updated, "
            f"{self.unchanged} unchanged, {len(self.rejected)} rejected."
        )


@dataclass
class _Row:
    """A valid row: `values` holds only the non-blank cells (blank keeps what a member has)."""

    number: int
    email: str
    values: dict[str, str]
    topic_ids: frozenset[int] | None


def _topic_keys() -> dict[str, int]:
    keys: dict[str, int] = {}
    for pk, slug, name in Category.objects.values_list("pk", "slug", "name"):
        keys[slug.lower()] = pk
        keys.setdefault(name.lower(), pk)
    return keys


def _parse(number: int, raw: RowCells, topic_keys: dict[str, int], seen: dict[str, int]) -> _Row | RejectedRow:
    if None in raw or None in raw.values():
        extra = raw.get(None) or []
        count = len(CSV_COLUMNS) + len(extra) - sum(1 for value in raw.values() if value is None)
        fault = Fault("row", "", f"has {count} cells; the header has {len(CSV_COLUMNS)}")
        return RejectedRow(number, (fault,))
    cells = {column: str(raw[column]).strip() for column in CSV_COLUMNS}
    nul_faults = [
        Fault(column, value.replace("\x00", "\N{SYMBOL FOR NULL}"), NUL_CHARACTERS)
        for column, value in cells.items()
        if "\x00" in value
    ]
    if nul_faults:
        return RejectedRow(number, tuple(nul_faults))
    faults: list[Fault] = []

    email = cells["email"]
    if not email:
        faults.append(Fault("email", "", "missing"))
    else:
        try:
            Member._meta.get_field("email").run_validators(email)
        except ValidationError:
            faults.append(Fault("email", email, "not a valid email address"))
        else:
            first = seen.setdefault(email.lower(), number)
            if first != number:
                faults.append(Fault("email", email, f"duplicate in the file (first on row {first})"))

    values: dict[str, str] = {}
    for column in ("name", "school"):
        try:
            Member._meta.get_field(column).run_validators(cells[column])  # type: ignore[union-attr]
        except ValidationError as exc:
            faults.append(Fault(column, cells[column], " ".join(exc.messages)))
        else:
            if cells[column]:
                values[column] = cells[column]

    language = cells["language"].lower().replace("_", "-")
    if language:
        try:
            Member._meta.get_field("language").run_validators(language)
        except ValidationError:
            faults.append(Fault("language", cells["language"], "not a language code such as en or es"))
        else:
            values["language"] = language

    frequency = cells["frequency"].lower()
    if frequency and frequency not in Member.Frequency.values:
        choices = ", ".join(Member.Frequency.values)
        faults.append(Fault("frequency", cells["frequency"], f"unknown frequency (use {choices})"))
    elif frequency:
        values["frequency"] = frequency

    topic_ids = None
    names = [name.strip() for name in cells["topics"].split(TOPIC_SEPARATOR) if name.strip()]
    if names:
        unknown = [name for name in names if name.lower() not in topic_keys]
        if unknown:
            faults.append(Fault("topics", "; ".join(unknown), "unknown topic (use category slugs or names)"))
        else:
            topic_ids = frozenset(topic_keys[name.lower()] for name in names)

    if faults:
        return RejectedRow(number, tuple(faults))
    return _Row(number, email, values, topic_ids)


def _batches(rows: Iterable[NumberedRow], size: int) -> Iterator[list[NumberedRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _existing_members(emails: list[str]) -> dict[str, Member]:
    keys = [email.lower() for email in emails]
    members = Member.objects.alias(email_lower=Lower("email")).filter(email_lower__in=keys)
    return {member.email.lower(): member for member in members}


def _write(rows: list[_Row]) -> tuple[int, int, int]:
    """Create or update one batch with a fixed number of queries; returns (created, updated, unchanged)."""
    Topic = Member.topics.through
    existing = _existing_members([row.email for row in rows])
    current_topics: dict[int, set[int]] = {member.pk: set() for member in existing.values()}
    for member_id, category_id in Topic.objects.filter(member_id__in=current_topics).values_list(
        "member_id", "category_id"
    ):
        current_topics[member_id].add(category_id)

    now = timezone.now()
    to_create: list[tuple[Member, frozenset[int] | None]] = []
    to_update: list[Member] = []
    topics_to_set: dict[int, frozenset[int]] = {}
    unchanged = 0
    for row in rows:
        member = existing.get(row.email.lower())
        if member is None:
            to_create.append((Member(email=row.email, **row.values), row.topic_ids))
            continue
        changed = {name: value for name, value in row.values.items() if getattr(member, name) != value}
        topics_changed = row.topic_ids is not None and row.topic_ids != current_topics[member.pk]
        if topics_changed:
            topics_to_set[member.pk] = row.topic_ids  # type: ignore[assignment]
        if changed:
            for name, value in changed.items():
                setattr(member, name, value)
            member.updated_at = now
            to_update.append(member)
        elif topics_changed:
            member.updated_at = now
            to_update.append(member)
        else:
            unchanged += 1

    with transaction.atomic():
        created = Member.objects.bulk_create([member for member, _ in to_create])
        for member, topic_ids in zip(created, (topic_ids for _, topic_ids in to_create), strict=True):
            if topic_ids:
                topics_to_set[member.pk] = topic_ids
        if to_update:
            Member.objects.bulk_update(to_update, ["name", "school", "language", "frequency", "updated_at"])
        if topics_to_set:
            Topic.objects.filter(member_id__in=topics_to_set).delete()
            Topic.objects.bulk_create(
                Topic(member_id=member_id, category_id=category_id)
                for member_id, topic_ids in topics_to_set.items()
                for category_id in topic_ids
            )
    return len(created), len(to_update), unchanged


def members_import(*, rows: Iterable[NumberedRow], dry_run: bool = False) -> ImportReport:
    """Create or update members from roster rows, matching emails case-insensitively.

    A bad row is reported and skipped; it never stops the good ones. Blank cells keep what an
    existing member has (a new member gets the defaults), and the import never changes a
    member's state: someone who unsubscribed stays unsubscribed. Rows are written in batches
    with a fixed number of queries each, so 30,000 rows take a few dozen batches, not 30,000
    lookups. `dry_run` reports the same counts and changes nothing.
    """
    report = ImportReport(dry_run=dry_run)
    topic_keys = _topic_keys()
    seen: dict[str, int] = {}
    with transaction.atomic() if dry_run else nullcontext():
        for batch in _batches(rows, IMPORT_BATCH_SIZE):
            valid: list[_Row] = []
            for number, raw in batch:
                parsed = _parse(number, raw, topic_keys, seen)
                if isinstance(parsed, RejectedRow):
                    report.rejected.append(parsed)
                else:
                    valid.append(parsed)
            try:
                created, updated, unchanged = _write(valid)
            except IntegrityError:
                # Someone added one of these addresses since the lookup: look again, once.
                created, updated, unchanged = _write(valid)
            report.created += created
            report.updated += updated
            report.unchanged += unchanged
        if dry_run:
            transaction.set_rollback(True)
    return report


# --- Digests ---

PERIODS: dict[str, datetime.timedelta] = {
    Member.Frequency.DAILY: datetime.timedelta(days=1),
    Member.Frequency.WEEKLY: datetime.timedelta(days=7),
}
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
        digest = rendered[key]
        if digest is None:
            skips[Delivery.SkipReason.NOTHING_NEW].append(delivery.pk)
        else:
            prepared.append((delivery, digest))
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
                    connection.connection.sendmail(template.from_email, [delivery.member.email], raw)  # type: ignore[attr-defined]
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
