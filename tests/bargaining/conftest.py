import importlib
from functools import cache

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

# The bargaining migrations that write rows: groups, the team's permissions, the digest schedule.
DATA_MIGRATIONS = [
    ("0003_groups", "create_groups"),
    ("0006_team_member_permissions", "grant_view"),
    ("0008_digest_schedule", "create_schedule"),
    ("0009_session_history", "grant_team_view"),
]


@cache
def _migrated_apps():
    """The app registry as the migrations see it once all have run (they must not touch the real one)."""
    return MigrationLoader(connection).project_state().apps


@pytest.fixture(autouse=True)
def migration_rows(request):
    """Every database test starts with the rows the migrations create, made by the migrations' own code.

    A transactional test ends by flushing every table, and with --reuse-db nothing puts those rows
    back, so tests after it would depend on the order they run in. Each function is idempotent.
    """
    if not {"db", "transactional_db", "_django_db_helper"} & set(request.fixturenames):
        return
    request.getfixturevalue("_django_db_helper")
    for module, function in DATA_MIGRATIONS:
        getattr(importlib.import_module(f"bargaining.migrations.{module}"), function)(_migrated_apps(), None)
