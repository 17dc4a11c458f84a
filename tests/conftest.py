import os

import psycopg
import pytest
from django.contrib.auth.models import AnonymousUser, Group, User

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


def _group(name: str) -> Group:
    # A migration creates the groups, but a transactional test's flush empties every table,
    # so the tests that run after one find no groups.
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
