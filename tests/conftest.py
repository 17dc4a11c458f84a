import os
from pathlib import Path

import psycopg
import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.test import TransactionTestCase
from django.utils import translation

from demands.roles import MEMBERS_GROUP, TEAM_GROUP

from . import factories
from .database import restore_migrated_rows, snapshot_migrated_rows
from .production import collect_static
from .workers import worker_redis_url


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker has a Redis db of its own (`worker_redis_url`)."""
    worker = getattr(config, "workerinput", {}).get("workerid")
    os.environ["TEST_REDIS_URL"] = worker_redis_url(os.environ["TEST_REDIS_URL"], worker)


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


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database as the migrations left it, with a copy of their rows that every transactional test's
    teardown puts back (tests/database.py). On SQLite (no schemas; one migration test runs there,
    tests/test_migrations.py) Django's own teardown stays."""
    from django.db import connection

    if connection.vendor != "postgresql":
        yield
        return
    with django_db_blocker.unblock():
        snapshot_migrated_rows(connection)
    patch = pytest.MonkeyPatch()
    patch.setattr(TransactionTestCase, "_fixture_teardown", restore_migrated_rows)
    yield
    patch.undo()


@pytest.fixture(scope="session")
def production_static(tmp_path_factory) -> Path:
    """The static files as production serves them, collected once per test process: collectstatic takes
    about 40 s here, and the deployment, hostile-input and load tests all serve them."""
    return collect_static(tmp_path_factory.mktemp("static"))


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
