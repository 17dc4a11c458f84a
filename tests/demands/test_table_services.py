"""Bargaining at the table through the services: proposals, tentative agreements, votes, backdated moves."""

import datetime

import pytest
from django.utils import timezone

from demands.errors import Conflict, InvalidTransition, StaleVersion, ValidationFailed
from demands.models import Demand, Proposal, RatificationVote, Status, StatusChange, TentativeAgreement, Visibility
from demands.redlines import as_text, redline
from demands.services import (
    agreement_set_language,
    agreement_sign,
    demand_transition,
    proposal_create,
    vote_record,
)
from tests.concurrency import at_once
from tests.factories import BargainingSessionFactory, DemandFactory

TODAY = datetime.date.today


def _version(demand: Demand) -> int:
    return Demand.objects.get(pk=demand.pk).version


def _propose(demand: Demand, user, side: str = "union", **fields) -> Proposal:
    fields = {"exchanged_on": TODAY(), "language": "text", "visibility": Visibility.PUBLIC, **fields}
    return proposal_create(demand_id=demand.pk, expected_version=_version(demand), by=user, side=side, **fields)


def _sign(demand: Demand, user, side: str, on: datetime.date | None = None) -> TentativeAgreement:
    return agreement_sign(
        demand_id=demand.pk,
        side=side,
        signed_by=f"{side} negotiator",
        signed_on=on or TODAY(),
        expected_version=_version(demand),
        by=user,
    )


def _reach(demand: Demand, user, language: str = "Agreed text.") -> TentativeAgreement:
    agreement_set_language(demand_id=demand.pk, language=language, expected_version=_version(demand), by=user)
    _sign(demand, user, "union")
    return _sign(demand, user, "board")


def test_proposals_number_per_demand_and_move_the_demand(team_user):
    demand = DemandFactory(status=Status.DRAFT)
    other = DemandFactory(status=Status.DRAFT)
    first = _propose(demand, team_user, "union")
    _propose(other, team_user, "union")
    counter = _propose(demand, team_user, "board")
    revised = _propose(demand, team_user, "union")
    again = _propose(demand, team_user, "union")
    assert [first.number, counter.number, revised.number, again.number] == [1, 2, 3, 4]
    assert Proposal.objects.get(demand=other).number == 1
    demand.refresh_from_db()
    assert demand.status == Status.PROPOSED
    moves = StatusChange.objects.filter(demand=demand).order_by("id")
    assert [(c.to_status, c.proposal_id) for c in moves] == [
        (Status.PROPOSED, first.pk),
        (Status.COUNTERED, counter.pk),
        (Status.PROPOSED, revised.pk),
    ]
    assert demand.version == 5  # every proposal changes the demand, moving it or not


def test_team_draft_moves_nothing(team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    draft = _propose(demand, team_user, "board", visibility=Visibility.TEAM)
    demand.refresh_from_db()
    assert (draft.number, demand.status) == (1, Status.PROPOSED)
    assert not StatusChange.objects.filter(demand=demand).exists()


@pytest.mark.parametrize("status", [Status.RATIFIED, Status.WITHDRAWN])
@pytest.mark.parametrize("side", ["union", "board"])
def test_proposal_on_a_final_demand_is_refused_and_nothing_written(team_user, status, side):
    demand = DemandFactory(status=status)
    with pytest.raises(InvalidTransition, match="is final"):
        _propose(demand, team_user, side)
    assert not Proposal.objects.exists()
    assert _version(demand) == 1


def test_proposal_refused_by_the_table_writes_nothing(team_user):
    demand = DemandFactory(status=Status.DRAFT)  # draft → countered is not in the table
    with pytest.raises(InvalidTransition, match="Allowed next statuses: Proposed, Withdrawn"):
        _propose(demand, team_user, "board")
    assert not Proposal.objects.exists()


def test_exchanged_today_is_allowed_tomorrow_refused(team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    _propose(demand, team_user, exchanged_on=TODAY())
    with pytest.raises(ValidationFailed, match="cannot be exchanged in the future") as excinfo:
        _propose(demand, team_user, exchanged_on=TODAY() + datetime.timedelta(days=1))
    assert "exchanged_on" in excinfo.value.errors
    assert Proposal.objects.count() == 1


def test_stale_version_refuses_a_proposal(team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    with pytest.raises(StaleVersion):
        proposal_create(
            demand_id=demand.pk, expected_version=2, by=team_user, side="union", exchanged_on=TODAY(), language="x"
        )
    assert not Proposal.objects.exists()


def test_word_level_redline():
    ops = redline("One social worker per 500 students.", "One social worker and one counselor per 250 students.")
    assert as_text(ops) == "One social worker {+and one counselor+} per [-500-] {+250+} students."
    assert [op.op for op in ops] == ["equal", "insert", "equal", "delete", "insert", "equal"]
    assert as_text(redline("", "All new.")) == "{+All new.+}"
    assert redline("Same text.", "Same text.")[0].op == "equal"


def test_agreement_reached_by_the_second_signature(team_user):
    demand = DemandFactory(status=Status.COUNTERED)
    agreement_set_language(demand_id=demand.pk, language="Draft.", expected_version=_version(demand), by=team_user)
    agreement = agreement_set_language(
        demand_id=demand.pk, language="Agreed.", expected_version=_version(demand), by=team_user
    )
    assert agreement.language == "Agreed."
    _sign(demand, team_user, "board")
    demand.refresh_from_db()
    assert demand.status == Status.COUNTERED
    agreement = _sign(demand, team_user, "union")
    demand.refresh_from_db()
    assert agreement.is_reached and agreement.reached_at is not None
    assert demand.status == Status.TENTATIVE_AGREEMENT
    change = StatusChange.objects.get(demand=demand)
    assert (change.from_status, change.agreement_id) == (Status.COUNTERED, agreement.pk)


def test_signed_language_cannot_be_edited(team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    agreement_set_language(demand_id=demand.pk, language="Agreed.", expected_version=_version(demand), by=team_user)
    _sign(demand, team_user, "union")
    with pytest.raises(Conflict, match=r"is signed by the union .*its language is locked"):
        agreement_set_language(demand_id=demand.pk, language="Other.", expected_version=_version(demand), by=team_user)
    assert TentativeAgreement.objects.get().language == "Agreed."


def test_third_signature_and_second_by_one_side_are_refused(team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    agreement_set_language(demand_id=demand.pk, language="Agreed.", expected_version=_version(demand), by=team_user)
    _sign(demand, team_user, "union")
    with pytest.raises(Conflict, match="The union has signed already"):
        _sign(demand, team_user, "union")
    _sign(demand, team_user, "board")
    with pytest.raises(Conflict, match="both sides have signed already"):
        _sign(demand, team_user, "board")
    assert StatusChange.objects.filter(demand=demand).count() == 1


def test_signature_in_the_future_is_refused(team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    agreement_set_language(demand_id=demand.pk, language="Agreed.", expected_version=_version(demand), by=team_user)
    with pytest.raises(ValidationFailed, match="cannot be in the future"):
        _sign(demand, team_user, "union", on=TODAY() + datetime.timedelta(days=1))
    assert not TentativeAgreement.objects.get().is_signed


def test_sign_without_language_is_refused(team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    with pytest.raises(ValidationFailed, match="no agreed language"):
        _sign(demand, team_user, "union")


@pytest.mark.django_db(transaction=True)
def test_two_signers_at_once_reach_one_agreement(team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    agreement_set_language(demand_id=demand.pk, language="Agreed.", expected_version=_version(demand), by=team_user)
    _sign(demand, team_user, "union")
    version = _version(demand)

    def sign() -> str:
        agreement_sign(
            demand_id=demand.pk,
            side="board",
            signed_by="Board negotiator",
            signed_on=TODAY(),
            expected_version=version,
            by=team_user,
        )
        return "signed"

    outcomes = [outcome if isinstance(outcome, str) else type(outcome).__name__ for outcome in at_once(sign, sign)]
    assert sorted(outcomes) == ["StaleVersion", "signed"]
    assert StatusChange.objects.filter(demand=demand, to_status=Status.TENTATIVE_AGREEMENT).count() == 1
    assert Demand.objects.get(pk=demand.pk).status == Status.TENTATIVE_AGREEMENT


def test_reopening_needs_a_note_and_keeps_the_signed_agreement_in_history(team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    _reach(demand, team_user)
    with pytest.raises(InvalidTransition, match="Reopening a tentative agreement requires a public note"):
        demand_transition(
            demand_id=demand.pk, to_status=Status.COUNTERED, expected_version=_version(demand), by=team_user
        )
    demand_transition(
        demand_id=demand.pk,
        to_status=Status.COUNTERED,
        expected_version=_version(demand),
        by=team_user,
        note="The Board withdrew its signature.",
    )
    agreement = TentativeAgreement.objects.get(demand=demand)
    assert not agreement.is_signed and agreement.reached_at is None
    signed = [h for h in agreement.history.all() if h.union_signed_on and h.board_signed_on]
    assert signed and signed[0].language == "Agreed text."


def _vote(demands, user, **counts) -> RatificationVote:
    counts = {"yes": 18204, "no": 1310, "abstain": 0, "eligible": 27000, **counts}
    return vote_record(held_on=TODAY(), demand_ids=[d.pk for d in demands], by=user, **counts)


def test_passed_vote_ratifies_every_covered_demand(team_user):
    demands = [DemandFactory(status=Status.PROPOSED) for _ in range(2)]
    for demand in demands:
        _reach(demand, team_user)
    vote = _vote(demands, team_user)
    assert vote.passed and vote.turnout_percent == 72 and vote.margin == 16894
    assert {Demand.objects.get(pk=d.pk).status for d in demands} == {Status.RATIFIED}
    assert StatusChange.objects.filter(vote=vote).count() == 2


def test_tied_vote_fails_and_sends_every_demand_back_to_countered(team_user):
    demands = [DemandFactory(status=Status.PROPOSED) for _ in range(2)]
    for demand in demands:
        _reach(demand, team_user)
    vote = _vote(demands, team_user, yes=500, no=500)
    assert not vote.passed
    assert {Demand.objects.get(pk=d.pk).status for d in demands} == {Status.COUNTERED}
    assert not TentativeAgreement.objects.filter(reached_at__isnull=False).exists()


def test_vote_with_one_demand_not_at_a_ta_writes_nothing(team_user):
    ready = DemandFactory(status=Status.PROPOSED)
    _reach(ready, team_user)
    not_ready = DemandFactory(status=Status.COUNTERED, title="Nurses")
    with pytest.raises(ValidationFailed, match="“Nurses” \\(countered\\)"):
        _vote([ready, not_ready], team_user)
    assert not RatificationVote.objects.exists()
    assert Demand.objects.get(pk=ready.pk).status == Status.TENTATIVE_AGREEMENT


@pytest.mark.parametrize(
    ("counts", "field"),
    [
        ({"yes": 10, "no": 5, "abstain": 6, "eligible": 20}, "eligible"),
        ({"yes": -1}, "yes"),
        ({"no": -1}, "no"),
        ({"abstain": -1}, "abstain"),
        ({"eligible": -1}, "eligible"),
    ],
)
def test_vote_counts_are_checked(team_user, counts, field):
    demand = DemandFactory(status=Status.PROPOSED)
    _reach(demand, team_user)
    with pytest.raises(ValidationFailed) as excinfo:
        _vote([demand], team_user, **counts)
    assert field in excinfo.value.errors
    assert not RatificationVote.objects.exists()


def test_vote_counts_may_reach_eligible_exactly(team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    _reach(demand, team_user)
    vote = _vote([demand], team_user, yes=10, no=5, abstain=5, eligible=20)
    assert vote.turnout_percent == 100


def test_backdated_change_happens_at_its_session_date(team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    last_week = timezone.localdate() - datetime.timedelta(days=7)
    Demand.objects.filter(pk=demand.pk).update(created_at=timezone.now() - datetime.timedelta(days=30))
    session = BargainingSessionFactory(held_on=last_week)
    change = demand_transition(
        demand_id=demand.pk, to_status=Status.COUNTERED, expected_version=1, by=team_user, session_id=session.pk
    )
    assert timezone.localdate(change.occurred_at) == last_week
    assert change.changed_at > change.occurred_at


def test_occurred_at_never_in_the_future_nor_before_the_demand(team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    with pytest.raises(ValidationFailed, match="in the future"):
        demand_transition(
            demand_id=demand.pk,
            to_status=Status.COUNTERED,
            expected_version=1,
            by=team_user,
            occurred_at=timezone.now() + datetime.timedelta(minutes=5),
        )
    with pytest.raises(ValidationFailed, match="cannot have happened before that"):
        demand_transition(
            demand_id=demand.pk,
            to_status=Status.COUNTERED,
            expected_version=1,
            by=team_user,
            occurred_at=timezone.now() - datetime.timedelta(days=2),
        )
    assert not StatusChange.objects.exists()
