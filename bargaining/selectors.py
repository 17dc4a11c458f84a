"""Reads for the bargaining context; what a digest says is in `bargaining.digests.content`."""

from dataclasses import dataclass

from django.db.models import Count

from .models import Delivery, Member
from .tokens import read_token


def member_for_token(purpose: str, token: str) -> Member | None:
    """The member a signed link points to; None when the token is forged, for another purpose, or stale."""
    member_id = read_token(purpose, token)
    if member_id is None:
        return None
    return Member.objects.filter(pk=member_id).first()


@dataclass(frozen=True)
class RunCounts:
    """A run's accounting; once it is done, eligible = sent + failed + skipped."""

    eligible: int
    pending: int
    sending: int
    sent: int
    failed: int
    skipped: int


def digest_run_counts(run_id: int) -> RunCounts:
    counts = dict(
        Delivery.objects.filter(run_id=run_id).values("state").annotate(n=Count("id")).values_list("state", "n")
    )
    by_state = {state: counts.get(state, 0) for state in Delivery.State.values}
    return RunCounts(eligible=sum(by_state.values()), **by_state)


def member_for_account(email: str) -> Member | None:
    """The roster's member with this account's email, whatever its case; None without an email or a match."""
    if not email:
        return None
    return Member.objects.filter(email__iexact=email).first()
