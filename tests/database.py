"""The test database as the migrations left it, put back after every transactional test (tests/conftest.py).

Django's own teardown of a transactional test empties every table with TRUNCATE and re-creates content types
and permissions under new ids (post_migrate), so the tests after it would find no groups or digest schedules;
putting a serialized snapshot back row by row took about 1.7 s a test. Here the migrated rows are copied once
into `SNAPSHOT_SCHEMA` (outside the search path, so Django sees none of its tables), and a teardown empties
every table with DELETE (cheaper than TRUNCATE for the few rows a test makes; the foreign keys are deferred to
COMMIT) and copies them back, in one transaction: about 0.07 s. Sequences run on, as in Django's flush
between tests: the snapshot's rows keep their ids and the next row created takes a new one.
"""

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import TransactionTestCase

SNAPSHOT_SCHEMA = "test_snapshot"


def _tables(connection: BaseDatabaseWrapper) -> list[str]:
    return connection.introspection.django_table_names(only_existing=True, include_views=False)


def snapshot_migrated_rows(connection: BaseDatabaseWrapper) -> None:
    """Copy every table that has rows (groups, permissions, digest schedules, ...) into `SNAPSHOT_SCHEMA`."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SNAPSHOT_SCHEMA} CASCADE; CREATE SCHEMA {SNAPSHOT_SCHEMA}")
        tables = []
        for table in _tables(connection):
            cursor.execute(f"SELECT EXISTS (SELECT FROM {quote(table)})")
            if cursor.fetchone()[0]:
                cursor.execute(f"CREATE TABLE {SNAPSHOT_SCHEMA}.{quote(table)} AS TABLE {quote(table)}")
                tables.append(table)
    connection._test_snapshot_tables = tables


def restore_migrated_rows(test_case: TransactionTestCase) -> None:
    """A transactional test's teardown (in place of `TransactionTestCase._fixture_teardown`)."""
    for alias in test_case._databases_names(include_mirrors=False):
        connection = connections[alias]
        quote = connection.ops.quote_name
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            for table in _tables(connection):
                cursor.execute(f"DELETE FROM {quote(table)}")
            for table in connection._test_snapshot_tables:
                cursor.execute(f"INSERT INTO {quote(table)} SELECT * FROM {SNAPSHOT_SCHEMA}.{quote(table)}")
