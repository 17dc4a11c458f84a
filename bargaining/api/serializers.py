"""Representations of bargaining sessions and member records."""

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from demands.api.serializers import TEAM_ONLY, OutputSerializer

from ..models import BargainingSession, Member


class SessionSerializer(OutputSerializer):
    """A bargaining session as anyone sees it: when, where, what kind, which visible demands came up."""

    demands = serializers.PrimaryKeyRelatedField(many=True, read_only=True, help_text="Ids of demands discussed.")

    class Meta:
        model = BargainingSession
        fields = ["id", "held_on", "location", "kind", "demands", "created_at"]
        read_only_fields = fields


@extend_schema_serializer(component_name="Session")
class TeamSessionSerializer(SessionSerializer):
    """A session with the team's notes."""

    # Not read-only so the schema does not require it: responses to non-team callers lack it.
    team_notes = serializers.CharField(required=False, help_text=TEAM_ONLY)

    class Meta(SessionSerializer.Meta):
        fields = [*SessionSerializer.Meta.fields, "team_notes"]
        read_only_fields = SessionSerializer.Meta.fields


class MemberSerializer(OutputSerializer):
    """A member's digest subscription: personal data, for the bargaining team and admins only."""

    topics = serializers.SlugRelatedField(
        slug_field="slug", many=True, read_only=True, help_text="Category slugs; empty means every category."
    )

    class Meta:
        model = Member
        fields = [
            "id",
            "email",
            "name",
            "school",
            "language",
            "frequency",
            "topics",
            "state",
            "created_at",
            "updated_at",
            "unsubscribed_at",
        ]
        read_only_fields = fields
