"""Migrations that move data: run on a real database from the old schema to the new one and back."""

import datetime
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps as global_apps
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from demands.models import BargainingSession
from demands.roles import TEAM_GROUP

ROOT = Path(__file__).resolve().parent.parent

# Sessions lived in `bargaining` up to these; admin's log is there to prove its entries follow the move.
BEFORE_THE_MOVE = [
    ("demands", "0001_initial"),
    ("bargaining", "0009_session_history"),
    ("admin", "0003_logentry_add_action_flag_choices"),
]
AFTER_THE_MOVE = [("demands", "0002_bargaining_sessions"), ("bargaining", "0011_sessions_moved_to_demands")]
TEAM_SESSION_CODENAMES = {
    "add_bargainingsession",
    "change_bargainingsession",
    "view_bargainingsession",
    "view_historicalbargainingsession",
}


def _team_codenames(apps, app_label: str) -> set[str]:
    team = apps.get_model("auth", "Group").objects.get(name=TEAM_GROUP)
    return set(team.permissions.filter(content_type__app_label=app_label).values_list("codename", flat=True))


def _plant_sessions(apps) -> dict:
    """Two sessions (the first deleted, so ids are not just 1), one discussing two demands, a status change
    at it, its history row and an admin log entry about it, all written through the old `bargaining` models."""
    Session = apps.get_model("bargaining", "BargainingSession")
    HistoricalSession = apps.get_model("bargaining", "HistoricalBargainingSession")
    Category = apps.get_model("demands", "Category")
    Demand = apps.get_model("demands", "Demand")
    StatusChange = apps.get_model("demands", "StatusChange")
    ContentType = apps.get_model("contenttypes", "ContentType")
    LogEntry = apps.get_model("admin", "LogEntry")
    user = apps.get_model("auth", "User").objects.create(username="negotiator")
    category = Category.objects.create(name="Staffing", slug="staffing", position=1)
    first, second = (
        Demand.objects.create(title=title, slug=title.lower(), summary="s", category=category, status="proposed")
        for title in ("Nurses", "Counselors")
    )
    Session.objects.create(held_on=datetime.date(2026, 9, 1)).delete()
    session = Session.objects.create(
        held_on=datetime.date(2026, 11, 2), location="CPS headquarters", kind="mediation", team_notes="Hold firm."
    )
    session.demands.set([first, second])
    change = StatusChange.objects.create(
        demand=first, from_status="proposed", to_status="countered", session=session, changed_by=user
    )
    HistoricalSession.objects.create(
        id=session.pk,
        held_on=session.held_on,
        location=session.location,
        kind=session.kind,
        team_notes=session.team_notes,
        created_at=session.created_at,
        history_date=timezone.now(),
        history_type="+",
        history_user=user,
    )
    session_type = ContentType.objects.get(app_label="bargaining", model="bargainingsession")
    entry = LogEntry.objects.create(
        user=user,
        content_type=session_type,
        object_id=str(session.pk),
        object_repr="Mediation, 2026-11-02",
        action_flag=2,
        action_time=timezone.now(),
    )
    return {
        "session": session.pk,
        "demands": {first.pk, second.pk},
        "change": change.pk,
        "user": user.pk,
        "content_type": session_type.pk,
        "log_entry": entry.pk,
    }


def _assert_sessions_under(apps, app_label: str, planted: dict) -> None:
    Session = apps.get_model(app_label, "BargainingSession")
    session = Session.objects.get()
    assert session.pk == planted["session"]
    assert (session.held_on, session.location, session.kind, session.team_notes) == (
        datetime.date(2026, 11, 2),
        "CPS headquarters",
        "mediation",
        "Hold firm.",
    )
    assert set(session.demands.values_list("pk", flat=True)) == planted["demands"]
    assert (
        set(apps.get_model("demands", "Demand").objects.filter(sessions=session).values_list("pk", flat=True))
        == (planted["demands"])
    )
    change = apps.get_model("demands", "StatusChange").objects.get(pk=planted["change"])
    assert change.session_id == session.pk
    assert change.session.location == "CPS headquarters"
    history = apps.get_model(app_label, "HistoricalBargainingSession").objects.get()
    assert (history.id, history.team_notes, history.history_user_id) == (session.pk, "Hold firm.", planted["user"])
    session_type = apps.get_model("contenttypes", "ContentType").objects.get(pk=planted["content_type"])
    assert (session_type.app_label, session_type.model) == (app_label, "bargainingsession")
    entry = apps.get_model("admin", "LogEntry").objects.get(pk=planted["log_entry"])
    assert entry.content_type_id == session_type.pk
    assert _team_codenames(apps, app_label) >= TEAM_SESSION_CODENAMES


@pytest.fixture
def fresh_content_types():
    # The migrator rebuilds the tables; cached content types from before would point at old rows.
    ContentType.objects.clear_cache()
    yield
    ContentType.objects.clear_cache()


# No serialized_rollback: the migrator drops and rebuilds every table, and migrating forward at the end
# recreates the rows the migrations write (groups, schedule), so there is nothing to restore.
@pytest.mark.django_db(transaction=True)
def test_sessions_move_to_demands_keeping_every_row(migrator, fresh_content_types):
    old_state = migrator.apply_initial_migration(BEFORE_THE_MOVE)
    planted = _plant_sessions(old_state.apps)
    assert _team_codenames(old_state.apps, "bargaining") >= TEAM_SESSION_CODENAMES

    new_state = migrator.apply_tested_migration(AFTER_THE_MOVE)
    _assert_sessions_under(new_state.apps, "demands", planted)
    assert ("bargaining", "bargainingsession") not in new_state.models
    assert not _team_codenames(new_state.apps, "bargaining") & TEAM_SESSION_CODENAMES
    assert "bargaining_bargainingsession" not in connection.introspection.table_names()

    # Today's models read the moved rows, and a team member's permissions hold under the new label.
    ContentType.objects.clear_cache()
    session = BargainingSession.objects.get()
    # Only the primary key: today's StatusChange has columns that a later migration adds.
    assert session.status_changes.values_list("pk", flat=True).get() == planted["change"]
    assert session.history.get().history_user_id == planted["user"]
    team_member = User.objects.create(username="team-member")
    team_member.groups.add(Group.objects.get(name=TEAM_GROUP))
    assert {
        "demands.add_bargainingsession",
        "demands.change_bargainingsession",
        "demands.view_bargainingsession",
        "demands.view_historicalbargainingsession",
    } <= team_member.get_all_permissions()

    migrator.apply_tested_migration(BEFORE_THE_MOVE)
    # The state the executor returns after this backward migrate still names the sessions' through table
    # for `demands` (seen once bargaining 0010 came between): read the rows through the state the graph
    # gives for the old nodes, as a migration running there would.
    back_state = MigrationLoader(connection).project_state(BEFORE_THE_MOVE, at_end=True)
    _assert_sessions_under(back_state.apps, "bargaining", planted)
    assert ("demands", "bargainingsession") not in back_state.models
    assert "demands_bargainingsession" not in connection.introspection.table_names()


def test_the_sessions_move_works_on_sqlite_too(tmp_path):
    """`make demo` runs on SQLite, whose table renames and foreign keys differ from PostgreSQL's."""
    if connection.vendor == "sqlite":
        pytest.skip("this is the SQLite run")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'moved.sqlite3'}"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    command += [f"{__file__}::test_sessions_move_to_demands_keeping_every_row"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_no_demands_model_refers_to_bargaining():
    """`bargaining` uses `demands`, never the other way round, in the schema too."""
    references = [
        f"{model._meta.label}.{field.name}"
        for model in global_apps.get_app_config("demands").get_models(include_auto_created=True)
        for field in model._meta.get_fields()
        if field.is_relation and field.concrete and field.related_model._meta.app_label == "bargaining"
    ]
    assert references == []


RECORDED = datetime.datetime(2026, 3, 4, 5, 6, tzinfo=datetime.UTC)


def _plant_change(apps) -> tuple[Any, Any]:
    """A countered demand and its status change, recorded at `RECORDED`, in the models of `apps`."""
    category = apps.get_model("demands", "Category").objects.create(name="Staffing", slug="staffing", position=1)
    demand = apps.get_model("demands", "Demand").objects.create(
        title="Nurses", slug="nurses", summary="s", category=category, status="countered"
    )
    StatusChange = apps.get_model("demands", "StatusChange")
    change = StatusChange.objects.create(demand=demand, from_status="proposed", to_status="countered")
    StatusChange.objects.filter(pk=change.pk).update(changed_at=RECORDED)
    return demand, change


@pytest.mark.django_db(transaction=True)
def test_status_changes_recorded_before_occurred_at_happened_when_recorded(migrator, fresh_content_types):
    old_state = migrator.apply_initial_migration(("demands", "0004_change_logs"))
    _demand, change = _plant_change(old_state.apps)

    new_state = migrator.apply_tested_migration(("demands", "0005_bargaining_at_the_table"))
    moved = new_state.apps.get_model("demands", "StatusChange").objects.get(pk=change.pk)
    assert moved.occurred_at == RECORDED


@pytest.mark.django_db(transaction=True)
def test_everything_recorded_before_publishing_was_published_when_recorded(migrator, fresh_content_types):
    old_state = migrator.apply_initial_migration(("demands", "0007_spanish_versions"))
    demand, change = _plant_change(old_state.apps)

    new_state = migrator.apply_tested_migration(("demands", "0008_publishing"))
    assert new_state.apps.get_model("demands", "StatusChange").objects.get(pk=change.pk).published_at == RECORDED
    assert new_state.apps.get_model("demands", "Demand").objects.get(pk=demand.pk).published_status == "countered"


@pytest.mark.django_db(transaction=True)
def test_members_languages_become_en_or_es_and_going_back_keeps_them(migrator, fresh_content_types):
    old_state = migrator.apply_initial_migration(("bargaining", "0015_digest_sending_pause"))
    Member = old_state.apps.get_model("bargaining", "Member")
    codes = {"en": "en", "es": "es", "es-mx": "es", "es-419": "es", "fr": "en", "zh-hant": "en", "en-gb": "en"}
    for number, code in enumerate(codes):
        Member.objects.create(email=f"m{number}@example.org", language=code)

    new_state = migrator.apply_tested_migration(("bargaining", "0016_member_language_en_or_es"))
    Member = new_state.apps.get_model("bargaining", "Member")
    languages = dict(Member.objects.values_list("email", "language"))
    assert languages == {f"m{number}@example.org": stored for number, stored in enumerate(codes.values())}

    back = migrator.apply_tested_migration(("bargaining", "0015_digest_sending_pause"))
    assert dict(back.apps.get_model("bargaining", "Member").objects.values_list("email", "language")) == languages
