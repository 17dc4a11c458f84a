"""Sending within a provider's limits: `DIGEST_MAX_RATE` messages per second and `DIGEST_DAILY_CAP` messages
per local day (DIGEST_TIME_ZONE), counted in the cache, which is Redis shared by every worker when REDIS_URL is
set (locmem otherwise: one process). Fixed windows, each a counter key created with an expiry and raised with one
atomic INCR per message (no locks, no scripts): the rate's window is one slot of 1/DIGEST_MAX_RATE seconds
holding one message, so messages are spaced evenly: a clock second holds at most the rate, a second cut
anywhere one more (1,000 messages at 50 take 20 s, not the 19 of per-second windows that allow a burst at each edge);
the cap's window is the local day.
"""

import datetime
import time

from django.conf import settings
from django.core.cache import cache

from .periods import digest_time_zone

RATE_KEY = "bargaining:digest-rate:{rate}:{slot}"
DAILY_KEY = "bargaining:digest-daily:{day}"
SLOT_MARGIN = 0.0005  # seconds: past the float rounding of a slot boundary


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
            slot = int(now * rate)
            if _count(RATE_KEY.format(rate=rate, slot=slot), timeout=5) == 1:
                break
            # Taken by another message (of any worker): wait for the next slot, a hair past its start.
            time.sleep(max((slot + 1) / rate - now, 0) + SLOT_MARGIN)
    cap = settings.DIGEST_DAILY_CAP
    if cap is not None:
        day = datetime.datetime.now(tz=digest_time_zone()).date()
        if _count(DAILY_KEY.format(day=day.isoformat()), timeout=2 * 24 * 3600) > cap:
            raise DailyCapReached(f"DIGEST_DAILY_CAP of {cap} messages reached for {day}")
