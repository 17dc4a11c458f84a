import os

import psycopg
import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.utils import translation
from pytest_django.fixtures import validate_django_db
from pytest_django.plugin import blocking_manager_key

from demands.roles import MEMBERS_GROUP, TEAM_GROUP

from . import factories


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop at once, with a plain message, when the test database server cannot be reached."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return
    try:
        psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        pytest.exit(
            f"PostgreSQL at DATABASE_URL={url} cannot be reached ({str(exc).strip()}).\n"
            "Start it (.ci/run shows how) or point DATABASE_URL at a server you can use.",
            returncode=3,
        )


@pytest.fixture(autouse=True)
def english_between_tests():
    """Each test starts in English: a request to /es/... leaves Spanish active in the test's thread (as
    LocaleMiddleware does in any thread), which would turn a later `reverse` into an /es/ path."""
    translation.activate("en")
    yield
    translation.deactivate()


def _is_transactional(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    fixtures = getattr(item, "fixturenames", ())
    return bool(marker and validate_django_db(marker)[0]) or bool({"transactional_db", "live_server"} & set(fixtures))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """After a transactional test, put the database back as the migrations left it.

    Its teardown empties every table (and re-creates content types and permissions under new ids),
    so without this the tests after it, in whatever order, would find no groups or digest schedules,
    and a `serialized_rollback` test would fail to restore its snapshot over the re-created rows.
    The snapshot is taken once, right after the migrations (`django_db_setup` below).
    """
    result = yield
    # After the last test the test database is gone, unless --reuse-db keeps it for the next run.
    database_kept = nextitem is not None or item.config.getoption("reuse_db")
    if database_kept and _is_transactional(item):
        from django.core.management import call_command
        from django.db import connection

        snapshot = getattr(connection, "_test_serialized_contents", None)
        if snapshot:
            with item.config.stash[blocking_manager_key].unblock():
                # Sequences run on (as in Django's own flush between tests): the snapshot's rows keep their ids
                # and the next row created takes a new one.
                call_command("flush", verbosity=0, interactive=False, reset_sequences=False, inhibit_post_migrate=True)
                connection.creation.deserialize_db_from_string(snapshot)
    return result


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database as the migrations left it, with a snapshot of their rows (groups, permissions, digest
    schedules) for `pytest_runtest_teardown` to restore. pytest-django takes one only when some test asks for
    `serialized_rollback`; no test needs to."""
    from django.db import connection

    with django_db_blocker.unblock():
        if not getattr(connection, "_test_serialized_contents", None):
            connection._test_serialized_contents = connection.creation.serialize_db_to_string()


def _group(name: str) -> Group:
    return Group.objects.get_or_create(name=name)[0]


@pytest.fixture
def anonymous() -> AnonymousUser:
    return AnonymousUser()


@pytest.fixture
def team_user(db) -> User:
    user = factories.UserFactory(username="team-member")
    user.groups.add(_group(TEAM_GROUP))
    return user


@pytest.fixture
def member_user(db) -> User:
    user = factories.UserFactory(username="member-account")
    user.groups.add(_group(MEMBERS_GROUP))
    return user


@pytest.fixture
def admin_user(db) -> User:
    return factories.UserFactory(username="admin", is_staff=True, is_superuser=True)


# --- API ---


@pytest.fixture
def fast_passwords(settings) -> None:
    """Hash test passwords cheaply: API tests create several users each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def no_public_page_cache(settings) -> None:
    """Factories write around the services, which are what replace cached pages: the cache of anonymous pages
    is on only where a test turns it on (tests/demands/test_page_cache.py)."""
    settings.PUBLIC_PAGE_CACHE_SECONDS = 0


@pytest.fixture
def api_client(db):
    """Makes DRF test clients: `api_client()` is anonymous, `api_client(user)` sends `user`'s token."""
    from django.core.cache import cache
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    cache.clear()  # throttle counters live in the cache: each test starts with none

    def make(user: User | None = None) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make
