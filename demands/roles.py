"""Who is who: the one rule that turns a user into an audience (public, members, team)."""

from django.contrib.auth.models import AnonymousUser, User

from .models import Audience

TEAM_GROUP = "bargaining-team"
MEMBERS_GROUP = "members"

Viewer = User | AnonymousUser | None


def _group_names(user: User) -> frozenset[str]:
    # Cached on the user object: one query per request, however often the audience is asked.
    if not hasattr(user, "_role_group_names"):
        user._role_group_names = frozenset(user.groups.values_list("name", flat=True))
    return user._role_group_names


def audience_of(user: Viewer) -> Audience:
    """The team is the `bargaining-team` group and superusers; members are the `members` group; else the public.

    Staff status alone grants nothing: it opens the Django admin, whose permissions say what may be edited
    there, but what a staff account may read is decided here like anyone else's.
    """
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Audience.PUBLIC
    if user.is_superuser or TEAM_GROUP in _group_names(user):
        return Audience.TEAM
    if MEMBERS_GROUP in _group_names(user):
        return Audience.MEMBERS
    return Audience.PUBLIC


def is_team(user: Viewer) -> bool:
    """Whether `user` sees and writes the team's material: the team audience."""
    return audience_of(user) == Audience.TEAM
