"""`occurred_at` on a status change through the API and the status form: never in the future, never before the
demand was recorded, each edge tested."""

import datetime

import pytest
from django.utils import timezone

from demands.models import Demand, Status, StatusChange
from tests.factories import DemandFactory

pytestmark = pytest.mark.django_db

SECOND = datetime.timedelta(seconds=1)


def _transition(client, demand: Demand, occurred_at):
    body = {"status": "countered", "version": Demand.objects.get(pk=demand.pk).version}
    if occurred_at is not None:
        body["occurred_at"] = occurred_at.isoformat() if isinstance(occurred_at, datetime.datetime) else occurred_at
    return client.post(f"/api/v1/demands/{demand.pk}/transition/", body, format="json")


@pytest.fixture
def old_demand(db) -> Demand:
    demand = DemandFactory(status=Status.PROPOSED)
    Demand.objects.filter(pk=demand.pk).update(created_at=timezone.now() - datetime.timedelta(days=30))
    return Demand.objects.get(pk=demand.pk)


def test_api_accepts_now(api_client, team_user, old_demand):
    now = timezone.now()
    response = _transition(api_client(team_user), old_demand, now)
    assert response.status_code == 200, response.json()
    assert StatusChange.objects.get(demand=old_demand).occurred_at == now


def test_api_refuses_one_second_in_the_future(api_client, team_user, old_demand):
    response = _transition(api_client(team_user), old_demand, timezone.now() + SECOND)
    assert response.status_code == 400
    assert response.json()["errors"]["occurred_at"] == ["A status change cannot have happened in the future."]
    assert not StatusChange.objects.exists()
    assert Demand.objects.get(pk=old_demand.pk).status == Status.PROPOSED


def test_api_accepts_the_moment_the_demand_was_recorded(api_client, team_user, old_demand):
    response = _transition(api_client(team_user), old_demand, old_demand.created_at)
    assert response.status_code == 200, response.json()
    assert StatusChange.objects.get(demand=old_demand).occurred_at == old_demand.created_at


def test_api_refuses_one_second_before_the_demand_was_recorded(api_client, team_user, old_demand):
    response = _transition(api_client(team_user), old_demand, old_demand.created_at - SECOND)
    assert response.status_code == 400
    [message] = response.json()["errors"]["occurred_at"]
    assert "cannot have happened before that" in message and "was recorded at" in message
    assert not StatusChange.objects.exists()


def test_api_backdated_change_is_ordered_by_when_it_happened(api_client, team_user, old_demand):
    team = api_client(team_user)
    last_week = timezone.now() - datetime.timedelta(days=7)
    assert _transition(team, old_demand, None).status_code == 200
    body = {"status": "proposed", "version": Demand.objects.get(pk=old_demand.pk).version}
    assert (
        team.post(
            f"/api/v1/demands/{old_demand.pk}/transition/",
            {**body, "occurred_at": last_week.isoformat()},
            format="json",
        ).status_code
        == 200
    )
    history = team.get(f"/api/v1/demands/{old_demand.pk}/history/").json()
    rows = history["results"] if isinstance(history, dict) else history
    assert [row["to_status"] for row in rows] == ["countered", "proposed"], "newest at the table first"


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01T00:00:00Z", 12])
def test_api_refuses_a_malformed_time(api_client, team_user, old_demand, value):
    response = _transition(api_client(team_user), old_demand, value)
    assert response.status_code == 400
    assert "occurred_at" in response.json()["errors"]
    assert not StatusChange.objects.exists()


def _local_minute(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def test_status_form_records_when_it_happened(client, team_user, old_demand):
    client.force_login(team_user)
    when = timezone.localtime(timezone.now() - datetime.timedelta(days=3)).replace(second=0, microsecond=0)
    response = client.post(
        f"{old_demand.get_absolute_url()}status/",
        {"to_status": "countered", "version": old_demand.version, "occurred_at": _local_minute(when)},
    )
    assert response.status_code == 302
    assert StatusChange.objects.get(demand=old_demand).occurred_at == when


def test_status_form_refuses_a_future_time(client, team_user, old_demand):
    client.force_login(team_user)
    tomorrow = timezone.now() + datetime.timedelta(days=1)
    client.post(
        f"{old_demand.get_absolute_url()}status/",
        {"to_status": "countered", "version": old_demand.version, "occurred_at": _local_minute(tomorrow)},
    )
    page = client.get(old_demand.get_absolute_url()).content.decode()
    assert "The status was not changed" in page
    assert "A status change cannot have happened in the future." in page
    assert not StatusChange.objects.exists()
