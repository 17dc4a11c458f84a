"""Digest time: the period a run belongs to and the span it reports, on the local calendar.

A run belongs to the period it is planned in: the local day (daily) or the local week starting on
Monday (weekly), in `DIGEST_TIME_ZONE`. It reports the previous full period, between two local
midnights: (start of the previous period, start of this one]. The bounds are local dates turned
into instants with zoneinfo, so around a DST change a daily window is 23 or 25 real hours and a
weekly one 167 or 169, yet always exactly one local day or week. A run planned late in its period
(beat down until noon, `send_digests` by hand) reports the same span as one planned on time.
"""

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core import checks

from demands.errors import DomainError

from ..models import Member

FREQUENCIES = (Member.Frequency.DAILY, Member.Frequency.WEEKLY)
_DAYS: dict[str, int] = {Member.Frequency.DAILY: 1, Member.Frequency.WEEKLY: 7}


class DigestError(DomainError):
    """A digest request that cannot be carried out as asked."""

    code = "digest"


@dataclass(frozen=True)
class DigestPeriod:
    """A run's key and the window it reports for members without an earlier digest."""

    start: datetime.date  # the local day, or the Monday of the local week, the run is planned in
    window_start: datetime.datetime  # the previous period's first local midnight
    window_end: datetime.datetime  # this period's first local midnight


def digest_time_zone() -> ZoneInfo:
    return ZoneInfo(settings.DIGEST_TIME_ZONE)


@checks.register()
def check_digest_time_zone(app_configs: object = None, **kwargs: object) -> list[checks.CheckMessage]:
    """A mistyped DIGEST_TIME_ZONE stops `manage.py check`, migrate and runserver, not the first run."""
    try:
        digest_time_zone()
    except (ZoneInfoNotFoundError, ValueError):
        return [
            checks.Error(
                f"DIGEST_TIME_ZONE={settings.DIGEST_TIME_ZONE!r} is not a time zone name.",
                hint="Use an IANA name such as America/Chicago.",
                id="bargaining.E001",
            )
        ]
    return []


def _local_midnight(day: datetime.date, zone: ZoneInfo) -> datetime.datetime:
    # Where a zone skips midnight itself (not Chicago: it changes at 02:00), zoneinfo still maps the
    # date to one fixed instant, so consecutive windows still meet exactly.
    return datetime.datetime.combine(day, datetime.time(), tzinfo=zone).astimezone(datetime.UTC)


def digest_period(*, frequency: str, now: datetime.datetime) -> DigestPeriod:
    """The period of a `frequency` run planned at `now`, whatever time zone is active."""
    if frequency not in FREQUENCIES:
        raise DigestError(f"Unknown digest frequency {frequency!r}: use one of {', '.join(FREQUENCIES)}.")
    zone = digest_time_zone()
    today = now.astimezone(zone).date()
    start = today - datetime.timedelta(days=today.weekday()) if frequency == Member.Frequency.WEEKLY else today
    return DigestPeriod(
        start=start,
        window_start=_local_midnight(start - datetime.timedelta(days=_DAYS[frequency]), zone),
        window_end=_local_midnight(start, zone),
    )
