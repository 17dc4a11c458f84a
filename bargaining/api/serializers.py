"""Representations of bargaining sessions and member records."""

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from demands.api.serializers import MAX_ID, TEAM_ONLY, OutputSerializer, StrictInputSerializer
from demands.models import BargainingSession

from ..models import Member


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


class SessionInputSerializer(StrictInputSerializer):
    """What the team sends to record or edit a session. `demands`, when given, replace the demands discussed."""

    representation_only = frozenset({"id", "created_at"})

    held_on = serializers.DateField()
    location = serializers.CharField(max_length=200, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=BargainingSession.Kind.choices, required=False)
    demands = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        help_text="Ids of the demands discussed: the whole list.",
    )
    team_notes = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=BargainingSession._meta.get_field("team_notes").max_length,
        help_text="Team-only.",
    )


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
