"""Who is who: the groups of the specification and what each may see."""

from django.contrib.auth.models import AnonymousUser, User

from .models import Visibility

TEAM_GROUP = "bargaining-team"
MEMBERS_GROUP = "members"


def _group_names(user: User) -> frozenset[str]:
    # Cached on the user object: one query per request, however often roles are asked.
    if not hasattr(user, "_role_group_names"):
        user._role_group_names = frozenset(user.groups.values_list("name", flat=True))
    return user._role_group_names


def is_team(user: User | AnonymousUser | None) -> bool:
    """The bargaining team and admins see everything, team-only material included."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.is_staff or TEAM_GROUP in _group_names(user)


def is_member(user: User | AnonymousUser | None) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return MEMBERS_GROUP in _group_names(user)


def visibilities_for(user: User | AnonymousUser | None) -> list[str]:
    """The visibility keys a user may read."""
    if is_team(user):
        return [Visibility.PUBLIC, Visibility.MEMBERS, Visibility.TEAM]
    if is_member(user):
        return [Visibility.PUBLIC, Visibility.MEMBERS]
    return [Visibility.PUBLIC]
