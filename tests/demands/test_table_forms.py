"""The team's web forms at the table: the agreed language, the signatures, the ratification vote, and the whole
chain from the first proposal to ratification through the pages, on PostgreSQL."""

import datetime
import re

import pytest
from django.test import Client
from django.utils import timezone

from demands.models import Demand, Proposal, RatificationVote, Status, StatusChange, TentativeAgreement, Visibility
from demands.services import agreement_set_language, agreement_sign
from tests.factories import BargainingSessionFactory, DemandFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today


@pytest.fixture
def team_client(client, team_user):
    client.force_login(team_user)
    return client


def html(response) -> str:
    return response.content.decode()


def page_of(client, demand: Demand) -> str:
    return html(client.get(demand.get_absolute_url()))


def form_on(page: str, action: str) -> str:
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', page, re.S)
    assert form, f"no form posting to {action}"
    return form.group(0)


def version_in(page: str, action: str) -> int:
    return int(re.search(r'name="version" value="(\d+)"', form_on(page, action)).group(1))


def fresh(demand: Demand) -> Demand:
    return Demand.objects.get(pk=demand.pk)


def post_refused(client, demand: Demand, path: str, data: dict, summary_id: str) -> str:
    """Post a form of the demand page that is refused: back to the page (post/redirect/get), the reason shown once."""
    response = client.post(f"{demand.get_absolute_url()}{path}", data)
    assert response.status_code == 302
    assert response["Location"] == demand.get_absolute_url()
    page = page_of(client, demand)
    assert f'id="{summary_id}" role="alert" tabindex="-1" autofocus' in page
    assert summary_id not in page_of(client, demand), "a reload shows a fresh page and re-posts nothing"
    return page


def sign_data(demand: Demand, side: str, **extra) -> dict:
    return {
        "side": side,
        "signed_by": f"{side} negotiator",
        "signed_on": TODAY().isoformat(),
        "version": fresh(demand).version,
        **extra,
    }


def reach(demand: Demand, language: str = "Agreed text.") -> None:
    agreement_set_language(demand_id=demand.pk, language=language, expected_version=fresh(demand).version, by=None)
    for side in ("union", "board"):
        agreement_sign(
            demand_id=demand.pk,
            side=side,
            signed_by=f"{side} lead",
            signed_on=TODAY(),
            expected_version=fresh(demand).version,
            by=None,
        )


# --- The agreed language -------------------------------------------------------------------------


def test_agreement_form_starts_from_the_last_proposal_passed(team_client, team_user):
    demand = DemandFactory(status=Status.COUNTERED)
    passed = Proposal.objects.create(
        demand=demand, number=1, side="board", exchanged_on=TODAY(), language="Board's words.", visibility="public"
    )
    Proposal.objects.create(
        demand=demand, number=2, side="union", exchanged_on=TODAY(), language="Team draft words.", visibility="team"
    )
    page = page_of(team_client, demand)
    form = form_on(page, f"{demand.get_absolute_url()}agreement/")
    assert ">\nBoard&#x27;s words.</textarea>" in form or ">Board&#x27;s words.</textarea>" in form
    assert f'name="proposal" value="{passed.pk}"' in form
    assert f"{demand.get_absolute_url()}agreement/sign/" not in page, "nothing to sign before there is language"


def test_team_sets_and_edits_the_language_while_unsigned(team_client, team_user):
    demand = DemandFactory(status=Status.COUNTERED)
    url = f"{demand.get_absolute_url()}agreement/"
    version = version_in(page_of(team_client, demand), url)
    response = team_client.post(url, {"language": "First wording.", "version": version})
    assert response.status_code == 302
    assert response["Location"] == f"{demand.get_absolute_url()}#agreement"
    response = team_client.post(url, {"language": "Second wording.", "version": version + 1})
    assert response.status_code == 302
    agreement = TentativeAgreement.objects.get(demand=demand)
    assert agreement.language == "Second wording."
    assert agreement.history.count() == 2
    page = page_of(team_client, demand)
    assert "Saved the agreed language." in page
    assert "Second wording." in form_on(page, url)
    demand.visibility = Visibility.PUBLIC
    demand.save()
    assert "Second wording." not in page_of(Client(), demand), "an unsigned agreement is the team's"


def test_empty_language_is_refused_at_the_field(team_client):
    demand = DemandFactory(status=Status.COUNTERED)
    page = post_refused(
        team_client, demand, "agreement/", {"language": "  ", "version": demand.version}, "agreement-form-errors"
    )
    assert "Give the agreed contract language." in page
    assert not TentativeAgreement.objects.exists()


def test_edit_of_signed_language_is_refused_saying_it_is_signed(team_client):
    demand = DemandFactory(status=Status.COUNTERED)
    agreement_set_language(demand_id=demand.pk, language="Locked words.", expected_version=1, by=None)
    agreement_sign(
        demand_id=demand.pk, side="union", signed_by="Union lead", signed_on=TODAY(), expected_version=2, by=None
    )
    page = page_of(team_client, demand)
    assert f'{demand.get_absolute_url()}agreement/"' not in page, "no language form once a side has signed"
    page = post_refused(
        team_client,
        demand,
        "agreement/",
        {"language": "Changed words.", "version": fresh(demand).version},
        "agreement-form-errors",
    )
    assert "is signed by the union (Union lead," in page and "its language is locked" in page
    assert TentativeAgreement.objects.get(demand=demand).language == "Locked words."
    assert fresh(demand).version == 3


def test_stale_language_form_is_refused_with_a_message(team_client):
    demand = DemandFactory(status=Status.COUNTERED)
    agreement_set_language(demand_id=demand.pk, language="Someone else's.", expected_version=1, by=None)
    response = team_client.post(
        f"{demand.get_absolute_url()}agreement/", {"language": "Mine.", "version": 1}, follow=True
    )
    assert "was changed by someone else" in html(response)
    assert TentativeAgreement.objects.get(demand=demand).language == "Someone else's."


# --- Signatures ----------------------------------------------------------------------------------


def test_two_signatures_reach_the_agreement_and_move_the_demand(team_client, team_user):
    demand = DemandFactory(status=Status.COUNTERED)
    agreement_set_language(demand_id=demand.pk, language="Agreed text.", expected_version=1, by=None)
    sign_url = f"{demand.get_absolute_url()}agreement/sign/"
    form = form_on(page_of(team_client, demand), sign_url)
    assert re.findall(r'<option value="([^"]*)"', form) == ["", "union", "board"]
    response = team_client.post(sign_url, sign_data(demand, "union"))
    assert response["Location"] == f"{demand.get_absolute_url()}#agreement"
    assert fresh(demand).status == Status.COUNTERED
    page = page_of(team_client, demand)
    assert "The union signed; the other side has still to sign." in page
    assert re.findall(r'<option value="([^"]*)"', form_on(page, sign_url)) == ["", "board"]
    team_client.post(sign_url, sign_data(demand, "board"))
    agreement = TentativeAgreement.objects.get(demand=demand)
    assert agreement.is_reached and agreement.reached_at is not None
    demand = fresh(demand)
    assert demand.status == Status.TENTATIVE_AGREEMENT
    change = StatusChange.objects.get(demand=demand)
    assert (change.to_status, change.agreement_id, change.changed_by) == (
        Status.TENTATIVE_AGREEMENT,
        agreement.pk,
        team_user,
    )
    page = page_of(team_client, demand)
    assert "tentative agreement reached." in page
    assert sign_url not in page and "/votes/new/" in page


def test_a_third_signature_is_refused_and_writes_nothing(team_client):
    demand = DemandFactory(status=Status.COUNTERED)
    reach(demand)
    before = fresh(demand).version
    page = post_refused(team_client, demand, "agreement/sign/", sign_data(demand, "union"), "sign-form-errors")
    assert "both sides have signed already" in page
    assert fresh(demand).version == before
    assert StatusChange.objects.filter(demand=demand).count() == 1


def test_a_side_signing_twice_is_refused(team_client):
    demand = DemandFactory(status=Status.COUNTERED)
    agreement_set_language(demand_id=demand.pk, language="Agreed text.", expected_version=1, by=None)
    team_client.post(f"{demand.get_absolute_url()}agreement/sign/", sign_data(demand, "union"))
    page = post_refused(team_client, demand, "agreement/sign/", sign_data(demand, "union"), "sign-form-errors")
    assert "The union has signed already" in page
    assert TentativeAgreement.objects.get(demand=demand).board_signed_on is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"signed_on": (TODAY() + datetime.timedelta(days=1)).isoformat()}, "A signature cannot be in the future"),
        ({"signed_by": ""}, "Say who signed for this side."),
        ({"side": ""}, "Choose the side that signs."),
        ({"side": "mediator"}, "Select a valid choice"),
    ],
)
def test_bad_signatures_are_refused_at_the_field(team_client, change, message):
    demand = DemandFactory(status=Status.COUNTERED)
    agreement_set_language(demand_id=demand.pk, language="Agreed text.", expected_version=1, by=None)
    page = post_refused(
        team_client, demand, "agreement/sign/", {**sign_data(demand, "union"), **change}, "sign-form-errors"
    )
    assert message in page
    assert not TentativeAgreement.objects.get(demand=demand).is_signed


def test_signing_today_is_allowed(team_client):
    demand = DemandFactory(status=Status.COUNTERED)
    agreement_set_language(demand_id=demand.pk, language="Agreed text.", expected_version=1, by=None)
    today = timezone.localdate().isoformat()
    response = team_client.post(
        f"{demand.get_absolute_url()}agreement/sign/", sign_data(demand, "board", signed_on=today)
    )
    assert response["Location"].endswith("#agreement")
    assert TentativeAgreement.objects.get(demand=demand).board_signed_on == timezone.localdate()


@pytest.mark.parametrize("who", ["anonymous", "member"])
def test_only_the_team_uses_the_agreement_forms(client, member_user, who):
    demand = DemandFactory(status=Status.COUNTERED, visibility=Visibility.PUBLIC)
    if who == "member":
        client.force_login(member_user)
    for path, data in (
        ("agreement/", {"language": "Hijacked.", "version": 1}),
        ("agreement/sign/", {"side": "union", "signed_by": "x", "signed_on": TODAY().isoformat(), "version": 1}),
    ):
        response = client.post(f"{demand.get_absolute_url()}{path}", data)
        assert response.status_code == (302 if who == "anonymous" else 403)
    assert not TentativeAgreement.objects.exists()
    page = page_of(client, demand)
    assert "agreement/sign/" not in page and 'name="language"' not in page
    assert client.get("/votes/new/").status_code == (302 if who == "anonymous" else 403)


# --- The ratification vote -----------------------------------------------------------------------


def vote_data(*demands: Demand, **counts) -> dict:
    return {
        "held_on": TODAY().isoformat(),
        "yes": 18204,
        "no": 1310,
        "abstain": 0,
        "eligible": 27103,
        "demands": [demand.pk for demand in demands],
        **counts,
    }


def test_vote_form_offers_the_signed_agreements(team_client):
    signed = DemandFactory(title="Signed one", status=Status.COUNTERED)
    reach(signed)
    DemandFactory(title="Still countered", status=Status.COUNTERED)
    page = html(team_client.get("/votes/new/"))
    assert "Signed one" in page and "Still countered" not in page
    assert "<script" not in page


def test_vote_passes_and_ratifies_with_turnout_and_margin_on_the_page(team_client, team_user):
    demand = DemandFactory(status=Status.COUNTERED, visibility=Visibility.PUBLIC)
    reach(demand)
    response = team_client.post("/votes/new/", vote_data(demand))
    vote = RatificationVote.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{demand.get_absolute_url()}#vote-{vote.pk}"
    assert (vote.recorded_by, fresh(demand).status) == (team_user, Status.RATIFIED)
    page = page_of(Client(), demand)
    assert "18,204 yes to 1,310 no" in page and "margin 16,894" in page and "turnout 72%" in page


@pytest.mark.parametrize(
    ("counts", "field", "message"),
    [
        ({"yes": 5, "no": 3, "abstain": 3, "eligible": 10}, "eligible", "11 votes were cast"),
        ({"yes": -1}, "yes", "A count cannot be negative."),
        ({"abstain": -1}, "abstain", "A count cannot be negative."),
        ({"no": ""}, "no", "Give a whole number."),
        ({"eligible": 2**31}, "eligible", "less than or equal to 2147483647"),
        ({"held_on": (TODAY() + datetime.timedelta(days=1)).isoformat()}, "held_on", "A vote cannot be in the future"),
    ],
)
def test_bad_votes_are_refused_at_the_field_and_write_nothing(team_client, counts, field, message):
    demand = DemandFactory(status=Status.COUNTERED)
    reach(demand)
    response = team_client.post("/votes/new/", vote_data(demand, **counts))
    page = html(response)
    assert response.status_code == 400
    assert 'id="vote-form-errors"' in page
    assert re.search(rf'<a href="#id_{field}">[^<]+</a>: [^<]*{re.escape(message)}', page), page
    assert not RatificationVote.objects.exists()
    assert fresh(demand).status == Status.TENTATIVE_AGREEMENT


def test_counts_exactly_at_eligible_are_allowed(team_client):
    demand = DemandFactory(status=Status.COUNTERED)
    reach(demand)
    response = team_client.post("/votes/new/", vote_data(demand, yes=5, no=3, abstain=2, eligible=10))
    assert response.status_code == 302
    assert RatificationVote.objects.get().cast == 10


def test_a_vote_on_a_demand_without_a_signed_agreement_is_refused(team_client):
    signed = DemandFactory(status=Status.COUNTERED)
    reach(signed)
    unsigned = DemandFactory(title="Not signed", status=Status.COUNTERED)
    response = team_client.post("/votes/new/", vote_data(signed, unsigned))
    assert response.status_code == 400
    assert "Only demands with a signed tentative agreement go to a vote" in html(response)
    assert "Not signed" in html(response)
    assert not RatificationVote.objects.exists()
    assert fresh(signed).status == Status.TENTATIVE_AGREEMENT


# --- The whole chain through the pages -----------------------------------------------------------


def outcome(demand: Demand, **fields) -> dict:
    prefix = f"demand-{demand.pk}"
    data = {"demand": demand.pk, "version": fresh(demand).version, "visibility": Visibility.PUBLIC, **fields}
    return {f"{prefix}-{name}": value for name, value in data.items()}


def test_whole_chain_through_the_web_forms(team_client):
    client = Client()
    demand = DemandFactory(
        status=Status.DRAFT, visibility=Visibility.PUBLIC, current_language="One counselor per 500 students."
    )
    sessions = [BargainingSessionFactory(held_on=TODAY()) for _ in range(3)]
    passes = [
        ("union", "One counselor per 250 students."),
        ("board", "One counselor per 400 students."),
        ("union", "One counselor per 300 students."),
    ]
    for session, (side, language) in zip(sessions, passes, strict=True):
        session.demands.set([demand])
        response = team_client.post(f"/sessions/{session.pk}/outcomes/", outcome(demand, side=side, language=language))
        assert response.status_code == 302, html(response)
    demand = fresh(demand)
    assert demand.status == Status.PROPOSED
    assert [c.to_status for c in StatusChange.objects.filter(demand=demand).order_by("id")] == [
        Status.PROPOSED,
        Status.COUNTERED,
        Status.PROPOSED,
    ]
    public = page_of(client, demand)
    assert "One counselor per <del>250</del> <ins>400</ins> students." in public
    assert "One counselor per <del>400</del> <ins>300</ins> students." in public

    page = page_of(team_client, demand)
    language_url = f"{demand.get_absolute_url()}agreement/"
    assert "One counselor per 300 students." in form_on(page, language_url)
    last = Proposal.objects.get(demand=demand, number=3)
    team_client.post(
        language_url, {"language": last.language, "proposal": last.pk, "version": version_in(page, language_url)}
    )
    assert TentativeAgreement.objects.get(demand=demand).language == "One counselor per 300 students."
    assert 'id="agreement"' not in page_of(client, demand), "nobody outside the team sees an unsigned agreement"
    team_client.post(f"{demand.get_absolute_url()}agreement/sign/", sign_data(demand, "board"))
    team_client.post(f"{demand.get_absolute_url()}agreement/sign/", sign_data(demand, "union"))
    agreement = TentativeAgreement.objects.get(demand=demand)
    assert (agreement.proposal, agreement.is_reached, fresh(demand).status) == (
        last,
        True,
        Status.TENTATIVE_AGREEMENT,
    )
    assert 'id="agreement"' in page_of(client, demand), "the public hears of it once both have signed"

    page = post_refused(
        team_client,
        demand,
        "agreement/",
        {"language": "One counselor per 350 students.", "version": fresh(demand).version},
        "agreement-form-errors",
    )
    assert "its language is locked" in page
    assert TentativeAgreement.objects.get(demand=demand).language == "One counselor per 300 students."

    response = team_client.post("/votes/new/", vote_data(demand))
    assert response.status_code == 302
    assert fresh(demand).status == Status.RATIFIED
    history = StatusChange.objects.filter(demand=demand).order_by("id")
    assert [c.to_status for c in history][-2:] == [Status.TENTATIVE_AGREEMENT, Status.RATIFIED]
    assert re.search(r"Ratification vote, [^<]+: ratified</h3>", page_of(client, demand))


def test_failed_vote_through_the_form_sends_every_covered_demand_back(team_client):
    demands = [DemandFactory(status=Status.COUNTERED) for _ in range(2)]
    for demand in demands:
        reach(demand)
    response = team_client.post("/votes/new/", vote_data(*demands, yes=900, no=1100, eligible=3000))
    assert response.status_code == 302
    vote = RatificationVote.objects.get()
    assert not vote.passed
    for demand in demands:
        assert fresh(demand).status == Status.COUNTERED
        last = StatusChange.objects.filter(demand=demand).latest("id")
        assert (last.from_status, last.to_status, last.vote_id) == (
            Status.TENTATIVE_AGREEMENT,
            Status.COUNTERED,
            vote.pk,
        )
        assert not TentativeAgreement.objects.get(demand=demand).is_reached


# --- Hostile input gets a form error, never a 500 -------------------------------------------------


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("agreement/", {"language": "x", "proposal": "99999999999999999999", "version": 1}),
        ("agreement/", {"language": "x", "proposal": "-1", "version": 1}),
        ("agreement/", {"language": "x", "version": "99999999999999999999"}),
        ("agreement/sign/", {"side": "union", "signed_by": "x", "signed_on": "0000-01-01", "version": 1}),
        ("agreement/sign/", {"side": "union", "signed_by": "x" * 201, "signed_on": "2024-01-01", "version": 1}),
    ],
)
def test_hostile_agreement_input_is_refused_on_the_form(team_client, path, data):
    demand = DemandFactory(status=Status.COUNTERED)
    if path == "agreement/sign/":
        agreement_set_language(demand_id=demand.pk, language="Agreed text.", expected_version=1, by=None)
        data = {**data, "version": fresh(demand).version}
    response = team_client.post(f"{demand.get_absolute_url()}{path}", data)
    assert response.status_code == 302
    assert response["Location"] == demand.get_absolute_url()
    assert not TentativeAgreement.objects.filter(demand=demand, union_signed_on__isnull=False).exists()


@pytest.mark.parametrize("demands", [["99999999999999999999"], ["-3"], ["abc"], []])
def test_hostile_vote_input_is_refused_on_the_form(team_client, demands):
    response = team_client.post("/votes/new/", {**vote_data(), "demands": demands})
    assert response.status_code == 400
    assert 'id="vote-form-errors"' in html(response)
    assert not RatificationVote.objects.exists()


def test_the_table_reads_in_spanish_under_es(team_client):
    """The proposal chain, the signed agreement and the vote on `/es/...`: Spanish words, Spanish numbers."""
    demand = DemandFactory(status=Status.COUNTERED, visibility=Visibility.PUBLIC, slug="consejeros")
    Proposal.objects.create(
        demand=demand, number=1, side="union", exchanged_on=TODAY(), language="Counselors.", visibility="public"
    )
    reach(demand)
    team_client.post("/votes/new/", vote_data(demand))
    page = html(Client().get(f"/es/demands/{demand.slug}/"))
    assert "Propuesta 1: el sindicato propuso" in page
    assert "Firmado por el sindicato" in page and "Votación de ratificación" in page
    # Spanish groups digits with a no-break space (Django's `es` format), English with a comma.
    assert "18\xa0204 a favor y 1\xa0310 en contra" in page and "margen de 16\xa0894" in page
    assert "Los miembros ratificaron el acuerdo tentativo" in page
    assert "Signed for the union" not in page and "yes to" not in page
