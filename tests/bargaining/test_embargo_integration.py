"""An embargoed change, and an embargoed proposal that moves nothing, are published by the migrated beat schedule
within a minute, on a real beat and worker."""

import datetime

import pytest
from django.utils import timezone

from demands.models import Demand, Proposal, Side, Status, StatusChange, Visibility
from demands.services import demand_transition, proposal_create
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
    # A revised union proposal on a `proposed` demand moves nothing: it is held on its own column.
    revised = DemandFactory(status=Status.PROPOSED)
    proposal = proposal_create(
        demand_id=revised.pk,
        expected_version=revised.version,
        by=UserFactory(),
        side=Side.UNION,
        exchanged_on=timezone.localdate(),
        language="One counselor per 250 students.",
        visibility=Visibility.PUBLIC,
        embargo_until=embargo,
    )
    version = Demand.objects.get(pk=revised.pk).version
    # Held until the embargo: checked before the worker starts, since its start can take longer than the 5 s
    # left (it did in CI, with the other test worker loading the machine) and it would then publish at once.
    assert StatusChange.objects.get(pk=change.pk).published_at is None
    assert Proposal.objects.get(pk=proposal.pk).published_at is None
    worker.start()
    wait_for(
        lambda: (
            StatusChange.objects.get(pk=change.pk).published_at is not None
            and Proposal.objects.get(pk=proposal.pk).published_at is not None
        ),
        timeout=(embargo - timezone.now()).total_seconds() + 65,
        what="beat to publish the embargoed change and proposal",
    )
    for published in (
        StatusChange.objects.get(pk=change.pk).published_at,
        Proposal.objects.get(pk=proposal.pk).published_at,
    ):
        assert embargo <= published <= embargo + datetime.timedelta(minutes=1)
    assert Demand.objects.get(pk=demand.pk).published_status == Status.COUNTERED
    assert Demand.objects.get(pk=revised.pk).version == version + 1
