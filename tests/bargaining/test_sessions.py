"""Recording bargaining sessions through the services: fields, the demands discussed, refusals."""

import datetime
from unittest import mock

import pytest

from demands.errors import ValidationFailed
from demands.models import BargainingSession
from demands.services import session_create, session_update
from tests.factories import BargainingSessionFactory, DemandFactory

pytestmark = pytest.mark.django_db


def test_session_create_records_the_demands_discussed(team_user):
    first, second = DemandFactory.create_batch(2)
    session = session_create(
        by=team_user,
        held_on=datetime.date(2026, 12, 1),
        location="CPS headquarters",
        kind="mediation",
        team_notes="They will move on counselors.",
        demand_ids=[first.pk, second.pk, first.pk],
    )
    session.refresh_from_db()
    assert (session.kind, session.team_notes) == ("mediation", "They will move on counselors.")
    assert set(session.demands.all()) == {first, second}


def test_session_update_replaces_demands_only_when_given(team_user):
    first, second = DemandFactory.create_batch(2)
    session = BargainingSessionFactory()
    session.demands.add(first)
    session_update(session_id=session.pk, by=team_user, location="City Hall")
    assert list(session.demands.all()) == [first]
    session_update(session_id=session.pk, by=team_user, demand_ids=[second.pk])
    session.refresh_from_db()
    assert (session.location, list(session.demands.all())) == ("City Hall", [second])


def test_unknown_demand_ids_are_named_and_nothing_is_saved(team_user):
    demand = DemandFactory()
    with pytest.raises(ValidationFailed) as excinfo:
        session_create(by=team_user, held_on=datetime.date(2026, 12, 1), demand_ids=[demand.pk, 987654])
    assert excinfo.value.errors == {"demands": ["There is no demand with id 987654."]}
    assert not BargainingSession.objects.exists()


@pytest.mark.parametrize(
    "fields, key", [({"kind": "picnic"}, "kind"), ({"held_on": None}, "held_on"), ({"created_at": None}, "created_at")]
)
def test_bad_session_fields_are_named(team_user, fields, key):
    session = BargainingSessionFactory(kind="table")
    with pytest.raises(ValidationFailed) as excinfo:
        session_update(session_id=session.pk, by=team_user, **fields)
    assert key in excinfo.value.errors
    session.refresh_from_db()
    assert session.kind == "table"


def test_session_edits_are_audited_with_the_user(team_user, client, admin_user):
    session = session_create(by=team_user, held_on=datetime.date(2026, 11, 2), team_notes="Open with staffing.")
    session_update(session_id=session.pk, by=team_user, team_notes="Open with trauma supports.")
    latest = session.history.latest()
    assert latest.history_user == team_user
    delta = latest.diff_against(latest.prev_record)
    assert [(c.field, c.old, c.new) for c in delta.changes] == [
        ("team_notes", "Open with staffing.", "Open with trauma supports.")
    ]
    assert team_user.has_perm("demands.view_historicalbargainingsession")
    client.force_login(admin_user)
    page = client.get("/admin/demands/historicalbargainingsession/").content.decode()
    assert "team_notes: &#x27;Open with staffing.&#x27; → &#x27;Open with trauma supports.&#x27;" in page


def test_the_admin_records_and_edits_sessions_through_the_services(client, admin_user):
    first, second = DemandFactory.create_batch(2)
    client.force_login(admin_user)
    form = {"held_on": "2026-11-02", "kind": "table", "location": "City Hall", "team_notes": "Open with staffing."}
    with mock.patch("demands.admin.session_create", wraps=session_create) as create:
        response = client.post("/admin/demands/bargainingsession/add/", {**form, "demands": [first.pk, second.pk]})
    assert response.status_code == 302
    create.assert_called_once()
    session = BargainingSession.objects.get()
    assert set(session.demands.all()) == {first, second}
    assert session.history.get().history_user == admin_user

    form.update(kind="mediation", team_notes="Open with trauma supports.")
    with mock.patch("demands.admin.session_update", wraps=session_update) as update:
        response = client.post(
            f"/admin/demands/bargainingsession/{session.pk}/change/", {**form, "demands": [second.pk]}
        )
    assert response.status_code == 302
    update.assert_called_once()
    session.refresh_from_db()
    assert (session.kind, list(session.demands.all())) == ("mediation", [second])
    latest = session.history.latest()
    assert latest.history_user == admin_user
    assert {change.field for change in latest.diff_against(latest.prev_record).changes} == {"kind", "team_notes"}
