"""The admin's audit lists of proposals, tentative agreements and votes, scoped by the viewer's audience."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from demands.models import Demand, Proposal, RatificationVote, Status, TentativeAgreement, Visibility
from demands.services import agreement_set_language, agreement_sign, proposal_create, proposal_update, vote_record
from tests.factories import DemandFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today
AUDITS = ("historicalproposal", "historicaltentativeagreement", "historicalratificationvote")


def _version(demand: Demand) -> int:
    return Demand.objects.get(pk=demand.pk).version


def _audit_url(name: str) -> str:
    return reverse(f"admin:demands_{name}_changelist")


@pytest.fixture
def audit_viewers(staff_user, staff_team_user):
    for user in (staff_user, staff_team_user):
        user.user_permissions.add(*Permission.objects.filter(codename__in=[f"view_{name}" for name in AUDITS]))
    return {"staff": staff_user, "team": staff_team_user}


@pytest.fixture
def table(team_user) -> dict:
    """A public demand with a union draft (edited, then passed) and a team draft; an agreement edited unsigned,
    then signed by both; a vote on it. Team-only words carry canaries."""
    demand = DemandFactory(status=Status.DRAFT, visibility=Visibility.PUBLIC)
    draft = proposal_create(
        demand_id=demand.pk,
        expected_version=1,
        by=team_user,
        side="union",
        exchanged_on=TODAY(),
        language="DRAFT-CANARY first words.",
        rationale="RATIONALE-CANARY",
        visibility=Visibility.TEAM,
    )
    proposal_update(proposal_id=draft.pk, expected_version=_version(demand), by=team_user, language="Passed words.")
    proposal_update(proposal_id=draft.pk, expected_version=_version(demand), by=team_user, visibility=Visibility.PUBLIC)
    proposal_update(
        proposal_id=draft.pk, expected_version=_version(demand), by=team_user, rationale="RATIONALE-CANARY later"
    )
    proposal_create(
        demand_id=demand.pk,
        expected_version=_version(demand),
        by=team_user,
        side="union",
        exchanged_on=TODAY(),
        language="HIDDEN-DRAFT-CANARY",
        visibility=Visibility.TEAM,
    )
    agreement_set_language(
        demand_id=demand.pk, language="UNSIGNED-CANARY", expected_version=_version(demand), by=team_user
    )
    agreement_set_language(
        demand_id=demand.pk, language="Signed words.", expected_version=_version(demand), by=team_user
    )
    for side in ("union", "board"):
        agreement_sign(
            demand_id=demand.pk,
            side=side,
            signed_by=f"{side} lead",
            signed_on=TODAY(),
            expected_version=_version(demand),
            by=team_user,
        )
    vote = vote_record(held_on=TODAY(), demand_ids=[demand.pk], by=team_user, yes=7, no=2, abstain=0, eligible=10)
    hidden = DemandFactory(status=Status.COUNTERED, visibility=Visibility.TEAM, title="TEAM-DEMAND-CANARY")
    proposal_create(
        demand_id=hidden.pk,
        expected_version=1,
        by=team_user,
        side="board",
        exchanged_on=TODAY(),
        language="TEAM-DEMAND-PROPOSAL-CANARY",
        visibility=Visibility.PUBLIC,
    )
    return {"demand": demand, "vote": vote}


CANARIES = (
    "DRAFT-CANARY",
    "RATIONALE-CANARY",
    "HIDDEN-DRAFT-CANARY",
    "UNSIGNED-CANARY",
    "TEAM-DEMAND-PROPOSAL-CANARY",
)


def _page(client, user, name: str) -> str:
    client.force_login(user)
    response = client.get(_audit_url(name))
    assert response.status_code == 200
    return response.content.decode()


def test_team_reads_the_whole_audit_of_the_table(client, audit_viewers, table):
    proposals = _page(client, audit_viewers["team"], "historicalproposal")
    for canary in ("DRAFT-CANARY", "RATIONALE-CANARY", "HIDDEN-DRAFT-CANARY", "TEAM-DEMAND-PROPOSAL-CANARY"):
        assert canary in proposals, canary
    assert "visibility: &#x27;team&#x27; → &#x27;public&#x27;" in proposals
    assert "rationale: &#x27;RATIONALE-CANARY&#x27; → &#x27;RATIONALE-CANARY later&#x27;" in proposals
    agreements = _page(client, audit_viewers["team"], "historicaltentativeagreement")
    assert "UNSIGNED-CANARY" in agreements
    votes = _page(client, audit_viewers["team"], "historicalratificationvote")
    assert f"RatificationVote #{table['vote'].pk}" in votes


def test_staff_outside_the_team_reads_only_what_the_public_may(client, audit_viewers, table):
    staff = audit_viewers["staff"]
    pages = {name: _page(client, staff, name) for name in AUDITS}
    for name, page in pages.items():
        leaked = [canary for canary in CANARIES if canary in page]
        assert not leaked, (name, leaked)
    proposal = Proposal.objects.get(demand=table["demand"], number=1)
    assert f"Proposal #{proposal.pk}" in pages["historicalproposal"], "the passed proposal's record is listed"
    agreement = TentativeAgreement.objects.get(demand=table["demand"])
    assert f"TentativeAgreement #{agreement.pk}" in pages["historicaltentativeagreement"], "once both signed"
    assert f"RatificationVote #{table['vote'].pk}" in pages["historicalratificationvote"]


def test_staff_audit_rows_are_exactly_the_visible_records(client, audit_viewers, table):
    client.force_login(audit_viewers["staff"])
    response = client.get(_audit_url("historicalproposal"))
    records = list(response.context["cl"].result_list)
    passed = Proposal.objects.get(demand=table["demand"], number=1)
    assert {record.id for record in records} == {passed.pk}
    assert all(record.visibility == Visibility.PUBLIC for record in records)
    agreement_records = client.get(_audit_url("historicaltentativeagreement")).context["cl"].result_list
    assert all(record.reached_at is not None for record in agreement_records)
    assert len(agreement_records) == 1


def test_a_vote_on_a_team_demand_only_is_not_in_the_staff_audit(client, audit_viewers, team_user):
    demand = DemandFactory(status=Status.TENTATIVE_AGREEMENT, visibility=Visibility.TEAM)
    TentativeAgreement.objects.create(
        demand=demand,
        language="x",
        union_signed_by="u",
        union_signed_on=TODAY(),
        board_signed_by="b",
        board_signed_on=TODAY(),
        reached_at=datetime.datetime.now(datetime.UTC),
    )
    vote = vote_record(held_on=TODAY(), demand_ids=[demand.pk], by=team_user, yes=1, no=0, eligible=1)
    assert RatificationVote.objects.filter(pk=vote.pk).exists()
    assert f"RatificationVote #{vote.pk}" not in _page(client, audit_viewers["staff"], "historicalratificationvote")
    assert f"RatificationVote #{vote.pk}" in _page(client, audit_viewers["team"], "historicalratificationvote")
