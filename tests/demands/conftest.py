import os

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache

from demands.roles import MEMBERS_GROUP, TEAM_GROUP
from tests import factories

# What a narrow admin account is given: it may open and edit demands and evidence in the admin.
ADMIN_CODENAMES = [
    "view_demand",
    "change_demand",
    "add_demand",
    "view_evidence",
    "change_evidence",
    "view_statuschange",
    "view_historicaldemand",
    "view_historicalevidence",
]


def _with_admin_permissions(user: User) -> User:
    user.user_permissions.add(*Permission.objects.filter(codename__in=ADMIN_CODENAMES))
    return user


@pytest.fixture
def staff_user(db) -> User:
    """A staff account outside the bargaining team, with view/change permissions in the admin: it is public."""
    return _with_admin_permissions(factories.UserFactory(username="staff-only", is_staff=True))


@pytest.fixture
def staff_member_user(db) -> User:
    """A staff account in the `members` group but not the team: it reads what a member reads."""
    user = _with_admin_permissions(factories.UserFactory(username="staff-member", is_staff=True))
    user.groups.add(Group.objects.get_or_create(name=MEMBERS_GROUP)[0])
    return user


@pytest.fixture
def staff_team_user(team_user) -> User:
    """A bargaining-team account that may also sign in to the admin."""
    team_user.is_staff = True
    team_user.save()
    return _with_admin_permissions(team_user)


@pytest.fixture
def approver(db) -> User:
    """A second bargaining-team account: it may publish what another team member recorded."""
    user = factories.UserFactory(username="second-team-member")
    user.groups.add(Group.objects.get_or_create(name=TEAM_GROUP)[0])
    return user


@pytest.fixture
def redis_cache(settings):
    """The page cache on real Redis, as in production, emptied before and after the test."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["TEST_REDIS_URL"]}
    }
    settings.PUBLIC_PAGE_CACHE_SECONDS = 600
    cache.clear()
    yield
    cache.clear()
