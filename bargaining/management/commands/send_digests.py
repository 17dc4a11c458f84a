"""`send_digests --frequency weekly|daily`: plan and send a digest run now; `--pause` / `--resume`: the kill switch."""

import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from bargaining.digests.periods import digest_period
from bargaining.models import DigestRun, DigestSending
from bargaining.selectors import digest_run_counts
from bargaining.services import digest_sending_pause
from bargaining.tasks import digest_plan_and_enqueue, digest_sending_resume_and_enqueue
from demands.errors import DomainError


class Command(BaseCommand):
    help = "Plan this period's digest run and send it (in-process without REDIS_URL, through the workers with it)."

    def add_arguments(self, parser: CommandParser) -> None:
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--frequency", choices=["weekly", "daily"])
        action.add_argument(
            "--pause", action="store_true", help="Stop sending digests: runs in progress stop after the current batch."
        )
        action.add_argument("--resume", action="store_true", help="Send again, and enqueue everything pending.")
        parser.add_argument(
            "--no-wait", action="store_true", help="With a broker: return once the batches are enqueued."
        )

    def handle(self, *args, frequency: str | None, no_wait: bool, pause: bool, resume: bool, **options) -> None:
        if pause:
            if digest_sending_pause():
                self.stdout.write("Digest sending paused: batches stop after the message in flight; nothing is lost.")
            else:
                self.stdout.write("Digest sending was already paused; nothing changed.")
            return
        if resume:
            enqueued = digest_sending_resume_and_enqueue()
            if enqueued is None:
                self.stdout.write("Digest sending was not paused; nothing changed.")
            else:
                self.stdout.write(f"Digest sending resumed: {enqueued} pending deliveries enqueued.")
            return
        assert frequency is not None  # the group requires one of the three
        if not settings.REDIS_URL:
            # In-process, each batch's "Task ... succeeded" line would interleave with this command's own report.
            logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        now = timezone.now()
        period = digest_period(frequency=frequency, now=now)
        planned = DigestRun.objects.filter(frequency=frequency, period_start=period.start).first()
        # Counted before planning: in-process, the batches have run by the time planning returns.
        before = digest_run_counts(planned.pk) if planned is not None else None
        try:
            run = digest_plan_and_enqueue(frequency=frequency, now=now)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        counts = digest_run_counts(run.pk)
        if before is None:
            self.stdout.write(f"{run}: {counts.eligible} deliveries planned.")
        else:
            added = counts.eligible - before.eligible
            self.stdout.write(
                f"{run}: already planned: {before.eligible} deliveries, {before.sent} sent, "
                f"{before.pending + before.sending} pending"
                + (f"; {added} more planned now (members who joined since)." if added else ".")
            )
        # Without a broker the batches already ran in-process, once planning committed.
        while not no_wait:
            if DigestSending.is_paused():
                self.stdout.write("Digest sending is paused: send_digests --resume continues the run.")
                break
            if not settings.REDIS_URL:
                break
            run.refresh_from_db()
            counts = digest_run_counts(run.pk)
            if run.state == DigestRun.State.DONE:
                break
            self.stdout.write(
                f"  sent {counts.sent}, failed {counts.failed}, skipped {counts.skipped}, "
                f"waiting {counts.pending + counts.sending}"
            )
            time.sleep(2)
        run.refresh_from_db()
        counts = digest_run_counts(run.pk)
        self.stdout.write(
            f"{run} is {run.get_state_display().lower()}; eligible {counts.eligible}: sent {counts.sent}, "
            f"failed {counts.failed}, skipped {counts.skipped}"
            + (f", still to send {counts.pending + counts.sending}" if counts.pending + counts.sending else "")
            + "."
        )
