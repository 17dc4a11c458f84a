"""Sending within a provider's limits: DIGEST_MAX_RATE messages per second and DIGEST_DAILY_CAP per local day,
counted in the shared cache (Redis across workers). A message beyond the second's rate waits for the next
second; once the day's cap is spent the batch stops and its unsent rows stay pending, no attempt spent."""

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
    fake = Clock(1_000_000.25)
    monkeypatch.setattr(limits, "time", fake)
    return fake


def test_unlimited_by_default(settings, shared_cache, clock):
    settings.DIGEST_MAX_RATE = None
    settings.DIGEST_DAILY_CAP = None
    for _ in range(500):
        send_slot()
    assert clock.sleeps == []


def test_the_last_message_of_a_second_goes_and_the_next_waits_for_the_next_second(settings, shared_cache, clock):
    settings.DIGEST_MAX_RATE = 3
    settings.DIGEST_DAILY_CAP = None
    for _ in range(3):
        send_slot()
    assert clock.sleeps == []  # the third, the last allowed in this second, did not wait
    send_slot()
    assert clock.sleeps == [pytest.approx(0.75)]  # the fourth waited until the second turned
    assert clock.now == pytest.approx(1_000_001)
    send_slot()
    send_slot()
    assert len(clock.sleeps) == 1  # the new second has room for three: the fourth and two more
    send_slot()
    assert len(clock.sleeps) == 2


def test_the_rate_is_shared_by_every_caller_of_the_cache(settings, shared_cache, clock):
    settings.DIGEST_MAX_RATE = 2
    settings.DIGEST_DAILY_CAP = None
    cache.set(limits.RATE_KEY.format(second=1_000_000), 2, timeout=5)  # another worker used this second
    send_slot()
    assert clock.sleeps == [pytest.approx(0.75)]


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
    assert len(clock.sleeps) == 2  # 2 + 2 + 1 over three seconds
