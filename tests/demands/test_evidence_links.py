"""`evidence_link_create`: citing evidence for a demand is a versioned change of the demand."""

import pytest

from demands.errors import Conflict, StaleVersion, ValidationFailed
from demands.services import evidence_link_create
from tests.factories import DemandFactory, EvidenceFactory, EvidenceLinkFactory

pytestmark = pytest.mark.django_db


def test_citing_evidence_records_the_claim_and_bumps_the_version(team_user):
    demand, evidence = DemandFactory(), EvidenceFactory()
    link = evidence_link_create(
        demand_id=demand.pk, evidence_id=evidence.pk, claim="  supports: more staff ", expected_version=1, by=team_user
    )
    assert (link.demand, link.evidence, link.claim) == (demand, evidence, "supports: more staff")
    assert link.history.first().history_user == team_user
    demand.refresh_from_db()
    assert demand.version == 2


def test_citing_with_a_stale_version_changes_nothing():
    demand, evidence = DemandFactory(version=3), EvidenceFactory()
    with pytest.raises(StaleVersion, match="was changed by someone else"):
        evidence_link_create(demand_id=demand.pk, evidence_id=evidence.pk, claim="c", expected_version=2, by=None)
    assert not demand.evidence_links.exists()


def test_citing_the_same_evidence_twice_is_a_conflict():
    link = EvidenceLinkFactory()
    with pytest.raises(Conflict, match="already cited"):
        evidence_link_create(
            demand_id=link.demand_id, evidence_id=link.evidence_id, claim="again", expected_version=1, by=None
        )
    link.demand.refresh_from_db()
    assert link.demand.version == 1


@pytest.mark.parametrize(("claim", "evidence_id", "field"), [("  ", None, "claim"), ("c", 999_999, "evidence")])
def test_citing_needs_a_claim_and_existing_evidence(claim, evidence_id, field):
    demand = DemandFactory()
    evidence_id = evidence_id or EvidenceFactory().pk
    with pytest.raises(ValidationFailed) as raised:
        evidence_link_create(demand_id=demand.pk, evidence_id=evidence_id, claim=claim, expected_version=1, by=None)
    assert field in raised.value.errors
    assert not demand.evidence_links.exists()
