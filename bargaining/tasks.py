"""Celery tasks for digests, and the only module that enqueues them.

Tasks are thin: they take ids, call one plain function of `bargaining.digests` and own the retry
policy. The plain functions return what is to be sent; `digest_plan_and_enqueue` and
`deliveries_sweep_and_enqueue` put it on the queue once the caller's transaction commits, and are
what every caller (beat, `send_digests`, tests) uses to start a run.
"""

import datetime
from collections.abc import Sequence

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction

from demands.services import embargoes_publish

from .digests.planning import digest_plan, pending_delivery_batches
from .digests.sending import RelayUnavailable, deliveries_send, delivery_batches
from .digests.sweeping import SweepReport, deliveries_sweep
from .models import DigestRun, DigestSending
from .services import digest_sending_resume


def deliveries_enqueue(*, delivery_ids: Sequence[int]) -> int:
    """Enqueue send batches for these deliveries once the current transaction commits; returns the batch count."""
    batches = delivery_batches(delivery_ids)
    for batch in batches:
        send_digest_batch.delay_on_commit(delivery_ids=batch)
    return len(batches)


def digest_plan_and_enqueue(*, frequency: str, now: datetime.datetime | None = None) -> DigestRun:
    """Plan this period's run and enqueue its batches (in-process without a broker)."""
    plan = digest_plan(frequency=frequency, now=now)
    for batch in pending_delivery_batches(run=plan.run, size=settings.DIGEST_BATCH_SIZE):
        send_digest_batch.delay_on_commit(delivery_ids=batch)
    return plan.run


def deliveries_sweep_and_enqueue(*, now: datetime.datetime | None = None) -> SweepReport:
    """Sweep, and enqueue again what the broker lost or a dead worker left."""
    report = deliveries_sweep(now=now)
    if not DigestSending.is_paused():  # while paused a batch would only hand its rows back; resuming enqueues them
        deliveries_enqueue(delivery_ids=report.requeue_ids)
    return report


def digest_sending_resume_and_enqueue() -> int | None:
    """Resume digest sending and sweep at once, enqueueing every pending delivery, so paused runs complete
    without waiting for the sweeper's next turn; returns how many were enqueued, None if sending was not paused."""
    # One transaction: the beat's sweeper cannot take the rows made due between the resume and this sweep (and
    # leave this count at 0); the batches are enqueued once it commits.
    with transaction.atomic():
        if digest_sending_resume() is None:
            return None
        return deliveries_sweep_and_enqueue().requeued


@shared_task(acks_late=True)
def plan_digest(*, frequency: str) -> int:
    """The scheduled entry point (django-celery-beat): plan this period's run and enqueue its batches."""
    return digest_plan_and_enqueue(frequency=frequency).pk


# DjangoTask (Celery's default base under Django) is named so the type checker knows `delay_on_commit`.
@shared_task(base=DjangoTask, bind=True, acks_late=True)
def send_digest_batch(self: DjangoTask, *, delivery_ids: list[int]) -> dict[str, int]:
    """Send one batch; deliveries that failed temporarily are retried with exponential backoff, and the whole
    batch when the relay is unavailable (without spending attempts).

    The number of attempts per delivery is bounded in the database (DIGEST_MAX_ATTEMPTS), so a
    retry lost with the broker is picked up by the sweeper and still counted. Out of time (the
    soft limit), the batch stops at once and hands its unsent rows back.
    """
    try:
        report = deliveries_send(delivery_ids=delivery_ids, stop_on=(SoftTimeLimitExceeded,))
    except RelayUnavailable as exc:
        if self.request.is_eager:
            # In-process: the rows are pending again, with the error; the sweeper (or the next run) tries later.
            return {"claimed": 0, "sent": 0, "skipped": 0, "failed": 0, "relay_unavailable": len(delivery_ids)}
        # The whole batch waits for the relay, as long as it takes: no delivery spent an attempt on it.
        countdown = min(settings.DIGEST_RETRY_BACKOFF * 2**self.request.retries, settings.DIGEST_RETRY_BACKOFF_MAX)
        raise self.retry(exc=exc, countdown=countdown, max_retries=None) from exc
    if report.retry_ids:
        if self.request.is_eager:
            # In-process (no broker) Celery re-raises Retry instead of running it: retry at once here;
            # the attempts bound in the database still ends it.
            return self.apply(kwargs={"delivery_ids": report.retry_ids}, retries=self.request.retries + 1).result  # type: ignore[return-value]  # this task returns a dict
        countdown = min(settings.DIGEST_RETRY_BACKOFF * 2**self.request.retries, settings.DIGEST_RETRY_BACKOFF_MAX)
        raise self.retry(
            kwargs={"delivery_ids": report.retry_ids}, countdown=countdown, max_retries=settings.DIGEST_MAX_ATTEMPTS
        )
    return {
        "claimed": report.claimed,
        "sent": report.sent,
        "skipped": report.skipped,
        "failed": report.failed,
        "paused": report.paused,
    }


@shared_task(acks_late=True)
def sweep_stuck_deliveries() -> dict[str, int]:
    """Periodic: re-enqueue deliveries stuck in pending or sending, and close finished runs."""
    report = deliveries_sweep_and_enqueue()
    return {"requeued": report.requeued, "failed": report.failed, "runs_done": report.runs_done}


@shared_task(acks_late=True)
def publish_embargoed() -> int:
    """Every minute (django-celery-beat): publish the held changes and proposals whose embargo has passed."""
    return len(embargoes_publish())
