"""An embargoed change is published by the migrated beat schedule within a minute, on a real beat and worker."""

import datetime

import pytest
from django.utils import timezone

from demands.models import Demand, Status, StatusChange
from demands.services import demand_transition
from tests.bargaining.test_digest_integration import beat, broker, sink, wait_for, worker  # noqa: F401
from tests.factories import DemandFactory, UserFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(180),
    pytest.mark.django_db(transaction=True),
]


def test_beat_publishes_an_embargoed_change_within_a_minute_of_its_time(worker, beat):  # noqa: F811
    demand = DemandFactory(status=Status.PROPOSED)
    embargo = timezone.now() + datetime.timedelta(seconds=5)
    change = demand_transition(
        demand_id=demand.pk,
        to_status=Status.COUNTERED,
        expected_version=demand.version,
        by=UserFactory(),
        embargo_until=embargo,
    )
    worker.start()
    assert StatusChange.objects.get(pk=change.pk).published_at is None
    wait_for(
        lambda: StatusChange.objects.get(pk=change.pk).published_at is not None,
        timeout=(embargo - timezone.now()).total_seconds() + 65,
        what="beat to publish the embargoed change",
    )
    published = StatusChange.objects.get(pk=change.pk).published_at
    assert embargo <= published <= embargo + datetime.timedelta(minutes=1)
    assert Demand.objects.get(pk=demand.pk).published_status == Status.COUNTERED
