"""One form for a session's outcomes: proposals passed and status changes for every demand discussed."""

import datetime

import pytest

from demands.models import Demand, Proposal, Status, StatusChange, Visibility
from tests.factories import BargainingSessionFactory, DemandFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def session():
    session = BargainingSessionFactory(held_on=datetime.date.today())
    return session


def _form(demand: Demand, **fields) -> dict:
    prefix = f"demand-{demand.pk}"
    data = {"demand": demand.pk, "version": demand.version, "visibility": Visibility.PUBLIC, **fields}
    return {f"{prefix}-{name}": value for name, value in data.items()}


def test_team_records_a_sessions_outcomes_on_one_form(client, team_user, session):
    counselors = DemandFactory(title="Counselors", status=Status.PROPOSED, current_language="One per 500.")
    nurses = DemandFactory(title="Nurses", status=Status.PROPOSED)
    untouched = DemandFactory(title="Untouched", status=Status.PROPOSED)
    session.demands.set([counselors, nurses, untouched])
    client.force_login(team_user)
    page = client.get(f"/sessions/{session.pk}/outcomes/").content.decode()
    assert "Counselors" in page and "Nurses" in page and "<script" not in page
    body = {
        **_form(counselors, side="board", language="One per 450.", summary="The Board moved to 1:450."),
        **_form(nurses, to_status=Status.WITHDRAWN, note="Folded into the counselor demand."),
        **_form(untouched),
    }
    response = client.post(f"/sessions/{session.pk}/outcomes/", body)
    assert response.status_code == 302, response.content.decode()
    counter = Proposal.objects.get(demand=counselors)
    assert (counter.side, counter.number, counter.session, counter.exchanged_on) == (
        "board",
        1,
        session,
        session.held_on,
    )
    assert Demand.objects.get(pk=counselors.pk).status == Status.COUNTERED
    assert Demand.objects.get(pk=nurses.pk).status == Status.WITHDRAWN
    assert not StatusChange.objects.filter(demand=untouched).exists()
    listing = client.get("/sessions/").content.decode()
    assert "The Board passed:" in listing and "Counselors, proposal 1" in listing


def test_one_refused_outcome_writes_none(client, team_user, session):
    first = DemandFactory(title="First", status=Status.PROPOSED)
    final = DemandFactory(title="Final", status=Status.RATIFIED)
    session.demands.set([first, final])
    client.force_login(team_user)
    body = {
        **_form(first, side="union", language="Revised."),
        **_form(final, side="board", language="Anything."),
    }
    response = client.post(f"/sessions/{session.pk}/outcomes/", body)
    assert response.status_code == 400
    assert "Ratified is final" in response.content.decode()
    assert not Proposal.objects.exists()
    assert Demand.objects.get(pk=first.pk).version == 1


def test_withdrawing_without_a_note_is_refused_on_the_form(client, team_user, session):
    demand = DemandFactory(status=Status.PROPOSED)
    session.demands.set([demand])
    client.force_login(team_user)
    response = client.post(f"/sessions/{session.pk}/outcomes/", _form(demand, to_status=Status.WITHDRAWN))
    assert response.status_code == 400
    assert "requires a public note" in response.content.decode()
    assert Demand.objects.get(pk=demand.pk).status == Status.PROPOSED


@pytest.mark.parametrize("who", ["anonymous", "member_user"])
def test_outcomes_form_is_the_teams(client, request, session, who):
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))
    response = client.get(f"/sessions/{session.pk}/outcomes/")
    assert response.status_code in (302, 403)
