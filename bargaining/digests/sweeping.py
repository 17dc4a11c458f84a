"""Sweeping: the database is the source of truth, so work the broker lost or a dead worker left is
found there and handed back; runs with nothing left to send are closed."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from ..models import Delivery, DigestRun

OPEN_STATES = [Delivery.State.PENDING, Delivery.State.SENDING]


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
    """What one sweep did; `requeue_ids` are the deliveries for the caller to enqueue again."""

    requeue_ids: list[int] = field(default_factory=list)
    failed: int = 0
    runs_done: int = 0

    @property
    def requeued(self) -> int:
        return len(self.requeue_ids)


def deliveries_sweep(*, now: datetime.datetime | None = None) -> SweepReport:
    """Find deliveries the broker lost (pending too long) or a dead worker left (sending too long).

    Returns them in `requeue_ids`, touched so that the next sweep does not return them again
    before a worker gets to them; the caller enqueues them.
    """
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
        Delivery.objects.filter(id__in=ids).update(updated_at=now)
    report.requeue_ids = ids
    report.runs_done = digest_runs_finish()
    return report
