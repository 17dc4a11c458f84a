from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import call_command

from demands.models import Demand, Evidence, Figure, Resolution, Status, Visibility

pytestmark = pytest.mark.django_db

CAMPAIGN_MODELS = ["Category", "Demand", "StatusChange", "Evidence", "Figure", "EvidenceLink", "Resolution"]


def row_counts() -> dict[str, int]:
    return {name: apps.get_model("demands", name).objects.count() for name in CAMPAIGN_MODELS}


def test_load_campaign_twice_changes_nothing(capsys):
    call_command("load_campaign")
    assert "Created 6 categories" in capsys.readouterr().out
    first = row_counts()
    versions = dict(Demand.objects.values_list("slug", "version"))
    call_command("load_campaign")
    assert capsys.readouterr().out.strip() == "Campaign already loaded."
    assert row_counts() == first
    assert dict(Demand.objects.values_list("slug", "version")) == versions


def test_campaign_holds_the_demands_figures_and_resolution():
    call_command("load_campaign")
    slugs = set(Demand.objects.values_list("slug", flat=True))
    assert {
        "trauma-supports",
        "restorative-practice-training",
        "appropriate-personnel",
        "holistic-safety-practices",
        "sustainable-community-schools",
        "black-lives-matter-at-school-week",
    } <= slugs
    assert all(Demand.objects.values_list("summary", flat=True))
    assert set(Demand.objects.values_list("status", "visibility").distinct()) == {(Status.PROPOSED, Visibility.PUBLIC)}
    assert set(Figure.objects.values_list("value", flat=True)) >= {Decimal(2354), Decimal(38)}
    report = Evidence.objects.get(figures__value=2354)
    assert "2,354 misconduct complaint records" in report.quote
    assert "particularly Black students" in Evidence.objects.get(kind=Evidence.Kind.RESEARCH).quote

    resolution = Resolution.objects.get()
    assert str(resolution.adopted_on) == "2024-02-22"
    assert resolution.vote == "Unanimous"
    clause = resolution.clauses.get()
    assert set(clause.demands.values_list("slug", flat=True)) == slugs


def test_load_campaign_keeps_the_teams_edits():
    call_command("load_campaign")
    Demand.objects.filter(slug="trauma-supports").update(summary="Edited by the team.")
    call_command("load_campaign")
    assert Demand.objects.get(slug="trauma-supports").summary == "Edited by the team."


def test_load_campaign_writes_through_the_services_history_and_audit_included():
    from demands.campaign import DEMANDS
    from demands.models import EvidenceLink, StatusChange

    call_command("load_campaign")
    for item in DEMANDS:
        demand = Demand.objects.get(slug=item["slug"])
        # Created as a draft, proposed by a transition, then each citation bumps the version.
        assert demand.version == 2 + len(item["claims"]), demand.slug
        change = StatusChange.objects.get(demand=demand)
        assert (change.from_status, change.to_status) == (Status.DRAFT, Status.PROPOSED)
        assert demand.history.earliest().history_type == "+"
        assert demand.history.count() == demand.version
    assert EvidenceLink.history.filter(history_type="+").count() == EvidenceLink.objects.count() > 0
    assert Evidence.history.count() == Evidence.objects.count()


def test_campaign_records_the_unions_first_proposal_for_each_demand(db):
    from demands.campaign import STATEMENT_DATE, campaign_load
    from demands.models import Demand, Proposal, StatusChange

    campaign_load()
    campaign_load()
    proposals = Proposal.objects.select_related("demand")
    assert proposals.count() == Demand.objects.count() > 0
    for proposal in proposals:
        assert (proposal.number, proposal.side, proposal.exchanged_on, proposal.visibility) == (
            1,
            "union",
            STATEMENT_DATE,
            "public",
        )
        assert "submitted a demand as part of our upcoming contract negotiation" in proposal.summary
        assert proposal.demand.status == "proposed"
        assert StatusChange.objects.get(demand=proposal.demand).proposal == proposal
