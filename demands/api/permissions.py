"""Who may call what: reading is scoped by the selectors; writing is for the bargaining team."""

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from ..roles import is_team


class IsTeam(BasePermission):
    """The bargaining team and admins only (member records, for example)."""

    message = "Only the bargaining team and admins may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_team(request.user)


class IsTeamOrReadOnly(IsTeam):
    """Anyone reads what the selectors let them see; only the team writes."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in SAFE_METHODS or is_team(request.user)
