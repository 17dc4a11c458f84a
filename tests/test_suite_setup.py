import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.test import TransactionTestCase
from django_celery_beat.models import PeriodicTask

from demands.models import Demand
from demands.roles import TEAM_GROUP
from tests.database import restore_migrated_rows
from tests.factories import DemandFactory
from tests.workers import worker_redis_url

ROOT = Path(__file__).resolve().parent.parent


def test_unreachable_database_stops_the_suite_with_a_message():
    env = {**os.environ, "DATABASE_URL": "postgres://postgres@127.0.0.1:1/bdt"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/demands/test_smoke.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3
    output = result.stdout + result.stderr
    assert "PostgreSQL at DATABASE_URL=postgres://postgres@127.0.0.1:1/bdt cannot be reached" in output
    assert "Traceback" not in output


class _TransactionalTest(TransactionTestCase):
    databases = {"default"}


@pytest.mark.django_db(transaction=True)
def test_a_transactional_tests_teardown_puts_back_what_the_migrations_made_and_nothing_else():
    """What the migrations made (groups, permissions, the digest schedules) comes back under the same ids;
    what the test made and changed is gone; the next row created takes a new id."""

    def migrated() -> dict[str, list]:
        return {
            "groups": list(Group.objects.order_by("pk").values_list("pk", "name")),
            "group permissions": list(Group.permissions.through.objects.order_by("pk").values_list()),
            "content types": list(ContentType.objects.order_by("pk").values_list()),
            "schedules": list(PeriodicTask.objects.order_by("pk").values_list("pk", "name", "enabled")),
        }

    before = migrated()
    assert before["groups"] and before["group permissions"] and before["schedules"]
    Group.objects.filter(name=TEAM_GROUP).delete()
    PeriodicTask.objects.update(enabled=False)
    made = DemandFactory()

    restore_migrated_rows(_TransactionalTest())

    assert migrated() == before
    assert not Demand.objects.exists()
    assert DemandFactory().pk > made.pk


@pytest.mark.parametrize(("worker", "db"), [(None, 15), ("gw0", 15), ("gw1", 14)])
def test_each_xdist_worker_has_a_redis_db_of_its_own(worker, db):
    assert worker_redis_url("redis://127.0.0.1:6379/15", worker) == f"redis://127.0.0.1:6379/{db}"
