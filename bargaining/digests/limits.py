"""Sending within a provider's limits: `DIGEST_MAX_RATE` messages per second and `DIGEST_DAILY_CAP` messages
per local day (DIGEST_TIME_ZONE), counted in the cache, which is Redis shared by every worker when REDIS_URL is
set (locmem otherwise: one process). Fixed windows: one counter key per second and one per day, each created
with an expiry and raised with one atomic INCR per message; no locks, no scripts.
"""

import datetime
import time
import zoneinfo

from django.conf import settings
from django.core.cache import cache

RATE_KEY = "bargaining:digest-rate:{second}"
DAILY_KEY = "bargaining:digest-daily:{day}"


class DailyCapReached(Exception):
    """DIGEST_DAILY_CAP messages went out today: nothing more is sent before the next local day."""


def _count(key: str, timeout: int) -> int:
    # add() creates the key with its expiry only if absent, then incr() is one atomic INCR on Redis.
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr: start the window again
        cache.add(key, 0, timeout=timeout)
        return cache.incr(key)


def send_slot() -> None:
    """Wait until one more message may go out; raise DailyCapReached when today's cap is spent.

    Called before each message. Waiting happens before the day is counted, so a message waiting for
    its second never spends a daily slot it does not use.
    """
    rate = settings.DIGEST_MAX_RATE
    if rate:
        while True:
            now = time.time()
            second = int(now)
            if _count(RATE_KEY.format(second=second), timeout=5) <= rate:
                break
            time.sleep(max(second + 1 - now, 0.001))  # the next window
    cap = settings.DIGEST_DAILY_CAP
    if cap is not None:
        zone = zoneinfo.ZoneInfo(settings.DIGEST_TIME_ZONE)
        day = datetime.datetime.now(tz=zone).date()
        if _count(DAILY_KEY.format(day=day.isoformat()), timeout=2 * 24 * 3600) > cap:
            raise DailyCapReached(f"DIGEST_DAILY_CAP of {cap} messages reached for {day}")
