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
