"""Reads for the bargaining context; what a digest says is in `bargaining.digests.content`."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count, Q

from .models import Delivery, DigestRun, Member
from .tokens import DIGEST, read_token_value


def member_for_token(purpose: str, token: str) -> Member | None:
    """The member a signed link points to; None when the token is forged, for another purpose, or revoked
    (`member_revoke_links`). Raises LinkExpired for a genuine preference link past its age."""
    read = read_token_value(purpose, token)
    if read is None:
        return None
    return Member.objects.filter(pk=read.value, link_generation=read.generation).first()


def delivery_for_token(token: str) -> Delivery | None:
    """The delivery a digest's browser link points to, with its run, member and body; None like
    `member_for_token`. Raises LinkExpired for a genuine link past its age."""
    read = read_token_value(DIGEST, token)
    if read is None:
        return None
    return (
        Delivery.objects.select_related("run", "member", "body")
        .filter(pk=read.value, member__link_generation=read.generation)
        .first()
    )


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
    return _counted([run_id])[run_id]


def _counted(run_ids: list[int]) -> dict[int, RunCounts]:
    by_run: dict[int, dict[str, int]] = {run_id: dict.fromkeys(Delivery.State.values, 0) for run_id in run_ids}
    rows = Delivery.objects.filter(run_id__in=run_ids).values("run_id", "state").annotate(n=Count("id"))
    for run_id, state, count in rows.values_list("run_id", "state", "n"):
        by_run[run_id][state] = count
    return {run_id: RunCounts(eligible=sum(by_state.values()), **by_state) for run_id, by_state in by_run.items()}


def _counts_key(run: DigestRun) -> str | None:
    # A run is re-opened (finished_at cleared) when planning adds deliveries to it, so a done run's
    # counts are final for as long as its finished_at stays the same.
    if run.state != DigestRun.State.DONE or run.finished_at is None:
        return None
    return f"bargaining:digest-run-counts:{run.pk}:{run.finished_at.isoformat()}"


def digest_runs_counts(runs: Iterable[DigestRun]) -> dict[int, RunCounts]:
    """The accounting of several runs: one grouped query over the deliveries of these runs only.

    Done runs' counts are cached (they no longer change), so a list of past runs costs no scan
    of their deliveries after the first look.
    """
    runs = list(runs)
    keys = {run.pk: key for run in runs if (key := _counts_key(run))}
    cached = cache.get_many(list(keys.values()))
    result = {run_id: cached[key] for run_id, key in keys.items() if key in cached}
    missing = [run.pk for run in runs if run.pk not in result]
    if missing:
        counted = _counted(missing)
        result.update(counted)
        cache.set_many({keys[run_id]: counted[run_id] for run_id in missing if run_id in keys}, timeout=None)
    return result


def member_for_account(email: str) -> Member | None:
    """The roster's member with this account's email, whatever its case; None without an email or a match."""
    if not email:
        return None
    return Member.objects.filter(email__iexact=email).first()


def member_for_preview(query: str) -> Member | None:
    """The member a team preview names: by email (any case) or by id; topics prefetched."""
    lookup = Q(email__iexact=query) | (Q(pk=int(query)) if query.isdigit() and len(query) < 10 else Q(pk__in=[]))
    return Member.objects.filter(lookup).prefetch_related("topics").first()
