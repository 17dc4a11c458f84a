# ruff: noqa: S608  (the planning SQL interpolates only table names and compiled ORM clauses; values are parameters)
"""Planning: one run per frequency and period, one delivery per (run, member), each with its own window."""

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..models import Delivery, DigestRun, Member
from .periods import digest_period

# A delivery that told its member everything in its window: sent, or skipped because nothing was
# new. A member's next window starts where the last of these ended. A delivery skipped because the
# member had left (or switched frequency) told them nothing, so it does not move the start on.
REPORTED = Q(state=Delivery.State.SENT) | Q(state=Delivery.State.SKIPPED, skip_reason=Delivery.SkipReason.NOTHING_NEW)


def previous_digest_ends(*, exclude_run: DigestRun | None = None) -> QuerySet[Delivery]:
    """Ends of members' reported digests, latest first (filter by member, take the first)."""
    deliveries = Delivery.objects.filter(REPORTED)
    if exclude_run is not None:
        deliveries = deliveries.exclude(run=exclude_run)
    return deliveries.order_by("-run__window_end")


def member_window_start_sql(*, previous_end: str, run: DigestRun) -> tuple[str, list[datetime.datetime]]:
    """Where a member's window in `run` starts, as SQL over the column `previous_end` (the end of their previous
    reported digest), for planning in one statement: that end, else the run's default start.

    A previous digest ending after this run's end (a member who was on another frequency) leaves this window
    empty, never overlapping what they already got. (PostgreSQL's LEAST ignores NULL, hence the CASE.)
    """
    return f"CASE WHEN {previous_end} IS NULL THEN %s ELSE LEAST({previous_end}, %s) END", [
        run.window_start,
        run.window_end,
    ]


@dataclass(frozen=True)
class DigestPlan:
    """A planned run and how many of its deliveries are still to send (`pending_delivery_batches` yields them)."""

    run: DigestRun
    pending: int


def pending_delivery_batches(*, run: DigestRun, size: int) -> Iterator[list[int]]:
    """The run's pending delivery ids in batches, from one query read through a server-side cursor.

    One pass whatever the run's size (bench/README.md: a keyset query per batch let the planner
    scan past every older run's deliveries for each batch); memory holds one chunk at a time.
    """
    ids = (
        Delivery.objects.filter(run=run, state=Delivery.State.PENDING)
        .order_by("id")
        .values_list("id", flat=True)
        .iterator(chunk_size=size)
    )
    while batch := list(islice(ids, size)):
        yield batch


def _plan_deliveries(*, run: DigestRun, frequency: str, now: datetime.datetime) -> int:
    """Insert a pending delivery for every subscribed member not planned yet, in one statement.

    Each member's previous end comes from one aggregate over reported deliveries joined to the
    members (no subquery per member, no sort); the database does it without a row in Python. Members
    planned already are left out by ON CONFLICT DO NOTHING, not by an anti-join against the deliveries:
    on a table without statistics yet (a first run) the planner chose a nested loop whose inner scan
    re-read every row the statement had inserted, and 30,000 members took 72 s (bench/README.md).
    """
    reported_sql, reported_params = _where(Delivery.objects.filter(REPORTED).exclude(run=run), alias="d")
    window_start, window_params = member_window_start_sql(previous_end="p.previous_end", run=run)
    delivery, digest_run, member = Delivery._meta.db_table, DigestRun._meta.db_table, Member._meta.db_table
    sql = f"""
        INSERT INTO {delivery} (run_id, member_id, state, window_start, attempts, last_error, skip_reason,
            message_id, created_at, updated_at)
        SELECT %s, m.id, %s, {window_start}, 0, '', '', '', %s, %s
        FROM {member} m
        LEFT JOIN (
            SELECT d.member_id, max(r.window_end) AS previous_end
            FROM {delivery} d JOIN {digest_run} r ON r.id = d.run_id
            WHERE {reported_sql}
            GROUP BY d.member_id
        ) p ON p.member_id = m.id
        WHERE m.state = %s AND m.frequency = %s
        ON CONFLICT (run_id, member_id) DO NOTHING
    """
    params = [
        run.pk,
        Delivery.State.PENDING,
        *window_params,
        now,
        now,
        *reported_params,
        Member.State.ACTIVE,
        frequency,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _where(queryset: QuerySet[Delivery], *, alias: str) -> tuple[str, tuple]:
    """The WHERE clause of a Delivery queryset (the one statement of REPORTED), on the table alias given."""
    compiler = queryset.query.get_compiler(connection=connection)
    where, params = compiler.compile(queryset.query.where)
    return where.replace(f'"{Delivery._meta.db_table}".', f"{alias}."), tuple(params)


def digest_plan(*, frequency: str, now: datetime.datetime | None = None) -> DigestPlan:
    """Create (or complete) the run of the current period and its deliveries; returns what is to send.

    Idempotent: a delivery per (run, member) is unique, so planning again adds only members who
    were not planned yet and never sends anyone a second digest for the period. Memory does not
    grow with the roster: the deliveries are inserted by the database, and the pending ones are
    read back in batches by `pending_delivery_batches`.
    """
    now = now or timezone.now()
    period = digest_period(frequency=frequency, now=now)
    with transaction.atomic():
        run, _ = DigestRun.objects.get_or_create(
            frequency=frequency,
            period_start=period.start,
            defaults={"window_start": period.window_start, "window_end": period.window_end},
        )
        run = DigestRun.objects.select_for_update().get(pk=run.pk)
        _plan_deliveries(run=run, frequency=frequency, now=now)
        pending = Delivery.objects.filter(run=run, state=Delivery.State.PENDING).count()
        if pending:
            run.state, run.finished_at = DigestRun.State.SENDING, None
        elif not Delivery.objects.filter(run=run, state=Delivery.State.SENDING).exists():
            run.state, run.finished_at = DigestRun.State.DONE, run.finished_at or now
        run.save(update_fields=["state", "finished_at"])
    return DigestPlan(run=run, pending=pending)
