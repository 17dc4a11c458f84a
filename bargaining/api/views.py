"""Bargaining sessions (anyone, notes for the team) and member records (team and admins only)."""

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.serializers import BaseSerializer

from demands.api.exceptions import error_responses
from demands.api.permissions import IsTeam
from demands.api.views import WriteViewSet, is_schema_request, viewer_is_team, write_schemas
from demands.models import BargainingSession
from demands.selectors import demands_visible_to
from demands.services import session_create, session_update

from ..models import Member
from .filters import MemberFilter, SessionFilter
from .serializers import MemberSerializer, SessionInputSerializer, SessionSerializer, TeamSessionSerializer


@extend_schema_view(
    list=extend_schema(
        summary="List bargaining sessions",
        responses={200: TeamSessionSerializer(many=True), **error_responses(400, 401, 404, 429)},
    ),
    retrieve=extend_schema(
        summary="Get a bargaining session", responses={200: TeamSessionSerializer, **error_responses(401, 404, 429)}
    ),
    **write_schemas("a bargaining session", SessionInputSerializer, TeamSessionSerializer),
)
class SessionViewSet(WriteViewSet):
    """Sessions at the table. Date, place, kind and the visible demands discussed are public (the
    demand timeline shows them); `team_notes` is for the team only. The team records and edits them."""

    input_serializer_class = SessionInputSerializer

    filterset_class = SessionFilter
    search_fields = ["location"]
    ordering_fields = ["id", "held_on"]

    def get_queryset(self) -> QuerySet[BargainingSession]:
        user = None if is_schema_request(self) else self.request.user
        demands = demands_visible_to(user).only("id").select_related(None).order_by()
        return BargainingSession.objects.prefetch_related(Prefetch("demands", queryset=demands))

    def get_serializer_class(self) -> type[BaseSerializer]:
        return TeamSessionSerializer if viewer_is_team(self) else SessionSerializer

    def create_object(self, data: dict[str, Any]) -> int:
        demand_ids = data.pop("demands", ())
        return session_create(by=self.request.user, demand_ids=demand_ids, **data).pk

    def update_object(self, pk: int, data: dict[str, Any]) -> None:
        demand_ids = data.pop("demands", None)
        session_update(session_id=pk, by=self.request.user, demand_ids=demand_ids, **data)


@extend_schema_view(
    list=extend_schema(
        summary="List members (team and admins)",
        responses={200: MemberSerializer(many=True), **error_responses(400, 401, 403, 404, 429)},
    ),
    retrieve=extend_schema(
        summary="Get a member (team and admins)",
        responses={200: MemberSerializer, **error_responses(401, 403, 404, 429)},
    ),
)
class MemberViewSet(viewsets.ReadOnlyModelViewSet):
    """Members' digest subscriptions, read-only: personal data, so the team and admins only."""

    permission_classes = [IsTeam]
    serializer_class = MemberSerializer
    filterset_class = MemberFilter
    search_fields = ["email", "name", "school"]
    ordering_fields = ["id", "email", "name", "created_at", "updated_at"]

    def get_queryset(self) -> QuerySet[Member]:
        return Member.objects.prefetch_related("topics")
