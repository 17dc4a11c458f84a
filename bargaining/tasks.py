"""Celery tasks for digests: thin wrappers that take ids, call a service and own the retry policy."""

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.conf import settings

from .services import deliveries_send, deliveries_sweep, digest_plan


@shared_task(acks_late=True)
def plan_digest(*, frequency: str) -> int:
    """The scheduled entry point (django-celery-beat): plan this period's run and enqueue its batches."""
    return digest_plan(frequency=frequency).pk


@shared_task(bind=True, acks_late=True, base=DjangoTask)
def send_digest_batch(self: DjangoTask, *, delivery_ids: list[int]) -> dict[str, int]:
    """Send one batch; deliveries that failed temporarily are retried with exponential backoff.

    The number of attempts per delivery is bounded in the database (DIGEST_MAX_ATTEMPTS), so a
    retry lost with the broker is picked up by the sweeper and still counted.
    """
    report = deliveries_send(delivery_ids=delivery_ids)
    if report.retry_ids:
        if self.request.is_eager:
            # In-process (no broker) Celery re-raises Retry instead of running it: retry at once here;
            # the attempts bound in the database still ends it.
            return self.apply(kwargs={"delivery_ids": report.retry_ids}, retries=self.request.retries + 1).result  # type: ignore[return-value]
        countdown = min(settings.DIGEST_RETRY_BACKOFF * 2**self.request.retries, settings.DIGEST_RETRY_BACKOFF_MAX)
        raise self.retry(
            kwargs={"delivery_ids": report.retry_ids}, countdown=countdown, max_retries=settings.DIGEST_MAX_ATTEMPTS
        )
    return {"claimed": report.claimed, "sent": report.sent, "skipped": report.skipped, "failed": report.failed}


@shared_task(acks_late=True)
def sweep_stuck_deliveries() -> dict[str, int]:
    """Periodic: re-enqueue deliveries stuck in pending or sending, and close finished runs."""
    report = deliveries_sweep()
    return {"requeued": report.requeued, "failed": report.failed, "runs_done": report.runs_done}
