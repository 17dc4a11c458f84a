"""Pages of bargaining at the table: the demand page's chain and redlines, the dashboard, the feed."""

import datetime

import pytest
from django.utils import timezone

from demands.models import Demand, RatificationVote, Status, TentativeAgreement, Visibility
from demands.services import proposal_create
from tests.factories import DemandFactory, ProposalFactory

pytestmark = pytest.mark.django_db


def _propose(demand, user, side, language, **extra):
    return proposal_create(
        demand_id=demand.pk,
        expected_version=Demand.objects.get(pk=demand.pk).version,
        by=user,
        side=side,
        exchanged_on=datetime.date.today(),
        language=language,
        visibility=extra.pop("visibility", Visibility.PUBLIC),
        **extra,
    )


def test_demand_page_shows_the_chain_with_redlines_and_a_legend(client, team_user):
    demand = DemandFactory(status=Status.PROPOSED, current_language="One nurse per 1,500 students.")
    _propose(demand, team_user, "board", "One nurse per 1,200 students.", summary="The Board moved a little.")
    _propose(demand, team_user, "union", "One nurse per 750 students.", rationale="RATIONALE-CANARY")
    _propose(demand, team_user, "union", "DRAFT-CANARY language", visibility=Visibility.TEAM)
    page = client.get(demand.get_absolute_url()).content.decode()
    assert "<ins>underlined text</ins> was added" in page
    assert "One nurse per <del>1,500</del> <ins>1,200</ins> students." in page
    assert "One nurse per <del>1,200</del> <ins>750</ins> students." in page
    assert "The Board moved a little." in page
    assert "RATIONALE-CANARY" not in page and "DRAFT-CANARY" not in page
    client.force_login(team_user)
    team_page = client.get(demand.get_absolute_url()).content.decode()
    assert "RATIONALE-CANARY" in team_page and "DRAFT-CANARY" in team_page


def test_unsigned_agreement_is_the_teams_and_a_vote_shows_turnout_and_margin(client, team_user):
    demand = DemandFactory(status=Status.TENTATIVE_AGREEMENT)
    agreement = TentativeAgreement.objects.create(demand=demand, language="UNSIGNED-CANARY")
    assert "UNSIGNED-CANARY" not in client.get(demand.get_absolute_url()).content.decode()
    agreement.union_signed_by, agreement.union_signed_on = "Union lead", datetime.date(2024, 5, 1)
    agreement.board_signed_by, agreement.board_signed_on = "Board lead", datetime.date(2024, 5, 2)
    agreement.reached_at = timezone.now()
    agreement.save()
    vote = RatificationVote.objects.create(held_on=datetime.date(2024, 6, 1), yes=18204, no=1310, eligible=27103)
    vote.demands.add(demand)
    page = client.get(demand.get_absolute_url()).content.decode()
    assert "UNSIGNED-CANARY" in page and "Board lead, May 2, 2024" in page
    assert "18,204 yes to 1,310 no" in page and "margin 16,894" in page and "turnout 72%" in page


@pytest.mark.parametrize("proposals", [1, 50])
@pytest.mark.parametrize(("who", "queries"), [("anonymous", 9), ("team", 14)])
def test_demand_page_queries_do_not_grow_with_proposals(
    client, team_user, django_assert_num_queries, proposals, who, queries
):
    if who == "team":
        client.force_login(team_user)
    demand = DemandFactory(status=Status.COUNTERED)
    for number in range(1, proposals + 1):
        ProposalFactory(demand=demand, number=number, side="union" if number % 2 else "board")
    vote = RatificationVote.objects.create(held_on=datetime.date(2024, 6, 1), yes=3, no=1, eligible=5)
    vote.demands.add(demand)
    with django_assert_num_queries(queries):
        page = client.get(demand.get_absolute_url()).content.decode()
    assert page.count('class="card proposal"') == min(proposals, 20)


@pytest.mark.parametrize(("proposals", "pages"), [(20, 1), (21, 2)])
def test_the_chain_shows_the_latest_twenty_with_earlier_pages(client, team_user, proposals, pages):
    demand = DemandFactory(status=Status.COUNTERED, current_language="Words 0")
    for number in range(1, proposals + 1):
        ProposalFactory(
            demand=demand, number=number, side="union" if number % 2 else "board", language=f"Words {number}"
        )
    page = client.get(demand.get_absolute_url()).content.decode()
    assert page.count('class="card proposal"') == 20
    assert f'id="proposal-{proposals}"' in page and f'id="proposal-{proposals - 19}"' in page
    assert f'id="proposal-{proposals - 20}"' not in page
    # The first one shown is redlined against the one before it, even when that one is on the earlier page.
    assert f"Words <del>{proposals - 20}</del><ins>{proposals - 19}</ins>" in page
    assert ('rel="next" href="?proposals=2#at-the-table">Earlier proposals' in page) is (pages == 2)
    if pages == 2:
        earlier = client.get(f"{demand.get_absolute_url()}?proposals=2").content.decode()
        assert earlier.count('class="card proposal"') == 1 and "Words <del>0</del><ins>1</ins>" in earlier
        assert 'rel="prev" href="?proposals=1#at-the-table">Later proposals' in earlier
        # The team's agreement form still starts from the latest proposal passed, whatever page is shown.
        client.force_login(team_user)
        team = client.get(f"{demand.get_absolute_url()}?proposals=2").content.decode()
        assert f"Words {proposals}</textarea>" in team
    for bad in ("0", "x", "999"):
        assert client.get(f"{demand.get_absolute_url()}?proposals={bad}").status_code == 200


def test_dashboard_counts_agreements_reached_ratified_and_open(client):
    for status in (Status.TENTATIVE_AGREEMENT, Status.RATIFIED, Status.RATIFIED, Status.PROPOSED, Status.WITHDRAWN):
        DemandFactory(status=status)
    page = client.get("/").content.decode()
    assert "<strong>1</strong> tentative agreement reached" in page
    assert "<strong>2</strong> ratified by members" in page
    assert "<strong>1</strong> still open" in page


def test_feed_says_what_happened_at_the_table(client, team_user):
    demand = DemandFactory(title="Nurses", status=Status.PROPOSED)
    _propose(demand, team_user, "board", "Counter.")
    feed = client.get("/feed/").content.decode()
    assert "The Board countered on Nurses" in feed


def test_admin_shows_proposals_and_agreement_read_only_and_rationale_to_the_team_only(
    client, staff_user, staff_team_user
):
    from django.urls import reverse

    demand = DemandFactory(status=Status.PROPOSED)
    ProposalFactory(demand=demand, number=1, rationale="ADMIN-RATIONALE-CANARY", language="Proposal language")
    TentativeAgreement.objects.create(demand=demand, language="ADMIN-UNSIGNED-CANARY")
    url = reverse("admin:demands_demand_change", args=[demand.pk])
    client.force_login(staff_team_user)
    team_page = client.get(url).content.decode()
    assert "ADMIN-RATIONALE-CANARY" in team_page and "ADMIN-UNSIGNED-CANARY" in team_page
    assert 'name="proposals-0-language"' not in team_page  # shown, not editable
    client.force_login(staff_user)
    staff_page = client.get(url).content.decode()
    assert "Proposal language" in staff_page
    assert "ADMIN-RATIONALE-CANARY" not in staff_page and "ADMIN-UNSIGNED-CANARY" not in staff_page
