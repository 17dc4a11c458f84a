"""Sending within a provider's limits: DIGEST_MAX_RATE messages per second and DIGEST_DAILY_CAP per local day,
counted in the shared cache (Redis across workers). One message per slot of 1/DIGEST_MAX_RATE s, the next
waiting for the next slot; once the day's cap is spent the batch stops and its unsent rows stay pending, no
attempt spent."""

import os

import pytest
from django.core.cache import cache
from django.utils import timezone

from bargaining.digests import limits
from bargaining.digests.limits import DailyCapReached, send_slot
from bargaining.digests.planning import digest_plan
from bargaining.digests.sending import deliveries_send
from bargaining.models import Delivery
from demands.models import Status, StatusChange
from tests.bargaining.backends import ScriptedBackend
from tests.factories import DemandFactory, MemberFactory

pytestmark = pytest.mark.django_db


class Clock:
    """time.time and time.sleep for the limiter: sleeping moves the clock on."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(params=["locmem", "redis"])
def shared_cache(request, settings):
    """The limiter against the one-process cache and against Redis, as every worker shares it."""
    if request.param == "redis":
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": os.environ["TEST_REDIS_URL"],
            }
        }
    cache.clear()
    yield request.param
    cache.clear()


@pytest.fixture
def clock(monkeypatch):
    fake = Clock(1_000_000.25)  # the start of a quarter-second slot
    monkeypatch.setattr(limits, "time", fake)
    return fake


def test_unlimited_by_default(settings, shared_cache, clock):
    settings.DIGEST_MAX_RATE = None
    settings.DIGEST_DAILY_CAP = None
    for _ in range(500):
        send_slot()
    assert clock.sleeps == []


def test_one_message_per_slot_of_one_over_the_rate_and_the_next_waits_for_the_next_slot(settings, shared_cache, clock):
    settings.DIGEST_MAX_RATE = 4  # slots of 0.25 s; the clock starts at the start of one
    settings.DIGEST_DAILY_CAP = None
    send_slot()
    assert clock.sleeps == []  # the slot's one message did not wait
    clock.now += 0.2  # still inside the slot
    send_slot()
    assert clock.sleeps == [pytest.approx(0.05 + limits.SLOT_MARGIN)]  # waited until the next slot began
    assert clock.now == pytest.approx(1_000_000.5 + limits.SLOT_MARGIN)
    clock.now += 0.25  # the next slot, unused: no wait
    send_slot()
    assert len(clock.sleeps) == 1


def test_a_thousand_messages_at_fifty_take_twenty_seconds(settings, shared_cache, clock):
    settings.DIGEST_MAX_RATE = 50
    settings.DIGEST_DAILY_CAP = None
    times = []
    for _ in range(1000):
        send_slot()
        times.append(clock.now)
    # One per 20 ms slot: the first may come at the end of its slot, the last at the start of the 1,000th.
    assert times[-1] - times[0] > 998 / 50
    # However a second is cut, it holds at most 51 (a slot's end and 50 slots' starts): 51 span at least 0.98 s.
    assert min(times[i + 50] - times[i] for i in range(len(times) - 50)) > 0.98
    per_second = {}
    for at in times:
        per_second[int(at)] = per_second.get(int(at), 0) + 1
    assert max(per_second.values()) == 50


def test_the_rate_is_shared_by_every_caller_of_the_cache(settings, shared_cache, clock):
    settings.DIGEST_MAX_RATE = 4
    settings.DIGEST_DAILY_CAP = None
    slot = int(clock.now * 4)
    cache.set(limits.RATE_KEY.format(rate=4, slot=slot), 1, timeout=5)  # another worker took this slot
    send_slot()
    assert clock.sleeps == [pytest.approx(0.25 + limits.SLOT_MARGIN)]


def test_the_last_message_of_the_day_goes_and_the_next_is_refused(settings, shared_cache, clock):
    settings.DIGEST_MAX_RATE = None
    settings.DIGEST_DAILY_CAP = 2
    send_slot()
    send_slot()
    with pytest.raises(DailyCapReached):
        send_slot()
    with pytest.raises(DailyCapReached):
        send_slot()


def test_a_zero_cap_sends_nothing(settings, shared_cache, clock):
    settings.DIGEST_DAILY_CAP = 0
    with pytest.raises(DailyCapReached):
        send_slot()


def test_settings_read_unset_and_empty_as_unlimited(monkeypatch):
    import importlib

    import config.settings as module

    for value in ("", None):
        if value is None:
            monkeypatch.delenv("DIGEST_MAX_RATE", raising=False)
            monkeypatch.delenv("DIGEST_DAILY_CAP", raising=False)
        else:
            monkeypatch.setenv("DIGEST_MAX_RATE", value)
            monkeypatch.setenv("DIGEST_DAILY_CAP", value)
        reloaded = importlib.reload(module)
        assert (reloaded.DIGEST_MAX_RATE, reloaded.DIGEST_DAILY_CAP) == (None, None)
    monkeypatch.setenv("DIGEST_MAX_RATE", "50")
    monkeypatch.setenv("DIGEST_DAILY_CAP", "0")
    reloaded = importlib.reload(module)
    assert (reloaded.DIGEST_MAX_RATE, reloaded.DIGEST_DAILY_CAP) == (50, 0)
    monkeypatch.undo()
    importlib.reload(module)


@pytest.fixture
def backend(settings):
    settings.EMAIL_BACKEND = "tests.bargaining.backends.ScriptedBackend"
    ScriptedBackend.reset()
    demand = DemandFactory()
    StatusChange.objects.create(demand=demand, from_status=demand.status, to_status=Status.COUNTERED)
    return ScriptedBackend


def plan_ids() -> list[int]:
    run = digest_plan(frequency="weekly", now=timezone.now() + timezone.timedelta(days=7)).run
    return list(run.deliveries.order_by("id").values_list("id", flat=True))


def test_a_batch_reaching_the_cap_leaves_the_rest_pending_with_attempts_unspent(settings, shared_cache, backend):
    settings.DIGEST_MAX_RATE = None
    settings.DIGEST_DAILY_CAP = 2
    MemberFactory.create_batch(4)
    ids = plan_ids()
    report = deliveries_send(delivery_ids=ids)
    assert (report.sent, report.held, report.failed, report.retry_ids) == (2, 2, 0, [])
    assert len(backend.sent) == 2
    rows = list(Delivery.objects.filter(pk__in=ids).order_by("id").values_list("state", "attempts"))
    assert rows == [(Delivery.State.SENT, 1)] * 2 + [(Delivery.State.PENDING, 0)] * 2
    # Still capped: the next batch of the same rows (a sweep) sends nothing and spends nothing.
    again = deliveries_send(delivery_ids=ids[2:])
    assert (again.claimed, again.sent, again.held) == (2, 0, 2)
    assert set(Delivery.objects.filter(pk__in=ids[2:]).values_list("state", "attempts")) == {
        (Delivery.State.PENDING, 0)
    }
    # The next day (a fresh counter) they go.
    cache.clear()
    assert deliveries_send(delivery_ids=ids[2:]).sent == 2


def test_the_send_loop_waits_for_the_rate(settings, shared_cache, backend, clock):
    settings.DIGEST_MAX_RATE = 2
    settings.DIGEST_DAILY_CAP = None
    MemberFactory.create_batch(5)
    report = deliveries_send(delivery_ids=plan_ids())
    assert report.sent == 5
    assert len(clock.sleeps) == 4  # the fake clock does not move by itself: every message after the first waited
