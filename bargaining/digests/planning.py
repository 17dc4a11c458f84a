"""Planning: one run per frequency and period, one delivery per (run, member), each with its own window."""

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
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


def member_window_start(*, previous_end: datetime.datetime | None, run: DigestRun) -> datetime.datetime:
    """Where a member's window in `run` starts: the end of their previous digest, else the run's default.

    A previous digest ending after this run's end (a member who was on another frequency) leaves
    this window empty, never overlapping what they already got.
    """
    if previous_end is None:
        return run.window_start
    return min(previous_end, run.window_end)


@dataclass(frozen=True)
class DigestPlan:
    """A planned run and its deliveries still to send (ids in order), for the caller to enqueue."""

    run: DigestRun
    delivery_ids: list[int]


def digest_plan(*, frequency: str, now: datetime.datetime | None = None) -> DigestPlan:
    """Create (or complete) the run of the current period and its deliveries; returns what is to send.

    Idempotent: a delivery per (run, member) is unique, so planning again adds only members who
    were not planned yet and never sends anyone a second digest for the period.
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
        previous_end = previous_digest_ends(exclude_run=run).filter(member=OuterRef("pk")).values("run__window_end")
        members = (
            Member.objects.filter(state=Member.State.ACTIVE, frequency=frequency)
            .exclude(Exists(Delivery.objects.filter(run=run, member=OuterRef("pk"))))
            .annotate(previous_end=Subquery(previous_end[:1]))
            .values_list("id", "previous_end")
        )
        Delivery.objects.bulk_create(
            (
                Delivery(
                    run=run,
                    member_id=member_id,
                    window_start=member_window_start(previous_end=previous_end, run=run),
                    updated_at=now,
                )
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
    return DigestPlan(run=run, delivery_ids=pending)
