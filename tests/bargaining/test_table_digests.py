"""Digests of bargaining at the table: the table's sentences, redlines, and backdated changes sent once."""

import datetime

import pytest
from django.utils import timezone

from bargaining.digests.content import DigestSource
from bargaining.digests.rendering import digest_render
from demands.models import Demand, Status, StatusChange, Visibility
from demands.services import agreement_set_language, agreement_sign, demand_transition, proposal_create, vote_record
from tests.factories import BargainingSessionFactory, DemandFactory

pytestmark = pytest.mark.django_db
TODAY = datetime.date.today


def _version(demand) -> int:
    return Demand.objects.get(pk=demand.pk).version


def _content(since: datetime.datetime, until: datetime.datetime):
    return DigestSource(since=since, until=until).content_for(window_start=since, window_end=until, topics=frozenset())


def _changes(content):
    return [change for group in content.groups for change in group.changes]


def test_digest_says_what_happened_at_the_table(team_user):
    start = timezone.now() - datetime.timedelta(seconds=1)
    demand = DemandFactory(
        title="Counselors",
        status=Status.PROPOSED,
        current_language="One counselor per 500 students.",
        visibility=Visibility.PUBLIC,
    )
    proposal_create(
        demand_id=demand.pk,
        expected_version=1,
        by=team_user,
        side="board",
        exchanged_on=TODAY(),
        language="One counselor per 450 students.",
        rationale="TEAM-RATIONALE-CANARY",
        visibility=Visibility.PUBLIC,
    )
    agreement_set_language(demand_id=demand.pk, language="1:300.", expected_version=_version(demand), by=team_user)
    for side in ("union", "board"):
        agreement_sign(
            demand_id=demand.pk,
            side=side,
            signed_by="x",
            signed_on=TODAY(),
            expected_version=_version(demand),
            by=team_user,
        )
    vote_record(held_on=TODAY(), demand_ids=[demand.pk], by=team_user, yes=18204, no=1310, abstain=0, eligible=27103)
    content = _content(start, timezone.now())
    headlines = [change.headline for change in _changes(content)]
    assert headlines == [
        "The Board countered on Counselors",
        "Tentative agreement reached on Counselors",
        "Members ratified Counselors, 18,204 yes to 1,310 no, 72% turnout",
    ]
    countered = _changes(content)[0]
    assert countered.redline_text == "One counselor per [-500-] {+450+} students."
    assert '<del style="' in countered.redline_html and "500</del>" in countered.redline_html
    rendered = digest_render(content)
    assert "The Board countered on Counselors." in rendered.text
    assert "One counselor per [-500-] {+450+} students." in rendered.text
    assert "Members ratified Counselors, 18,204 yes to 1,310 no, 72% turnout." in rendered.text
    assert "500</del>" in rendered.html and "text-decoration:line-through" in rendered.html
    for part in (rendered.subject, rendered.text, rendered.html):
        assert "TEAM-RATIONALE-CANARY" not in part


def test_backdated_change_reaches_the_next_digest_exactly_once(team_user):
    demand = DemandFactory(status=Status.PROPOSED, visibility=Visibility.PUBLIC)
    Demand.objects.filter(pk=demand.pk).update(created_at=timezone.now() - datetime.timedelta(days=60))
    last_weeks_session = BargainingSessionFactory(held_on=timezone.localdate() - datetime.timedelta(days=7))
    previous_digest_end = timezone.now() - datetime.timedelta(seconds=1)
    change = demand_transition(
        demand_id=demand.pk,
        to_status=Status.COUNTERED,
        expected_version=1,
        by=team_user,
        session_id=last_weeks_session.pk,
        note="Recorded late.",
    )
    assert change.occurred_at < previous_digest_end  # it happened before the last digest went out
    next_digest_end = timezone.now()
    earlier = _content(previous_digest_end - datetime.timedelta(days=7), previous_digest_end)
    following = _content(previous_digest_end, next_digest_end)
    after = _content(next_digest_end, next_digest_end + datetime.timedelta(days=7))
    assert [c.note for c in _changes(earlier)] == []
    assert [c.note for c in _changes(following)] == ["Recorded late."]
    assert _changes(following)[0].occurred_at == change.occurred_at
    assert [c.note for c in _changes(after)] == []


def test_digest_orders_changes_by_when_they_happened(team_user):
    start = timezone.now() - datetime.timedelta(seconds=1)
    demand = DemandFactory(status=Status.PROPOSED, visibility=Visibility.PUBLIC)
    Demand.objects.filter(pk=demand.pk).update(created_at=timezone.now() - datetime.timedelta(days=60))
    demand_transition(demand_id=demand.pk, to_status=Status.COUNTERED, expected_version=1, by=team_user, note="now")
    demand_transition(
        demand_id=demand.pk,
        to_status=Status.PROPOSED,
        expected_version=2,
        by=team_user,
        note="a week ago",
        occurred_at=timezone.now() - datetime.timedelta(days=7),
    )
    assert [c.note for c in _changes(_content(start, timezone.now()))] == ["a week ago", "now"]
    assert StatusChange.objects.count() == 2
