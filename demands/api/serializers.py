"""Representations of demands, their history, evidence and resolutions.

Output serializers come in pairs: the plain one for everyone, the `Team...` one adding the
fields its model declares in `TEAM_ONLY_FIELDS`. Views choose per request, so a team-only
field is absent (not null) for anyone else. Input serializers only check field values; the services apply the rules.

The API is bilingual by fields, not by a language switch: every representation carries, beside each
member-facing English text, its Spanish version (`title_es`, ...: the model's `TRANSLATED_FIELDS`, read through
`translation_field_names`), empty when there is none; every input that takes the English text takes the Spanish
one too (`TranslatedInputSerializer`).
"""

import datetime
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import models
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from ..models import (
    Category,
    Demand,
    Evidence,
    EvidenceLink,
    Figure,
    PriorityTier,
    Proposal,
    RatificationVote,
    Resolution,
    ResolutionClause,
    Side,
    Status,
    StatusChange,
    TentativeAgreement,
    Visibility,
    translation_columns,
    translation_field_names,
)

MAX_ID = 2**63 - 1  # bigint primary keys
MAX_VERSION = 2**31 - 1  # Demand.version is a PositiveIntegerField
TEAM_ONLY = "Bargaining team only: absent from responses to anyone else."
SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+$")
USERNAME_RE = re.compile(r"^[\w.@+-]+$")


class ErrorSerializer(serializers.Serializer):
    """The one shape of every 4xx response."""

    detail = serializers.CharField(help_text="What is wrong, for a person.")
    code = serializers.CharField(help_text="What is wrong, for a program, e.g. `validation_failed`, `stale_version`.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per field (dotted for nested fields); empty when the error is not about fields.",
    )


class TokenSerializer(serializers.Serializer):
    """An API token: send it as `Authorization: Token <key>`."""

    token = serializers.CharField(read_only=True)


class CheckedSlugRelatedField(serializers.SlugRelatedField):
    """A slug-related field that refuses malformed input before it reaches the database (NUL bytes, huge text)."""

    def __init__(self, *, pattern: re.Pattern[str], max_length: int, **kwargs: Any) -> None:
        self.pattern, self.max_length = pattern, max_length
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or len(data) > self.max_length or not self.pattern.match(data):
            self.fail("does_not_exist", slug_name=self.slug_field, value=str(data)[:100])
        return super().to_internal_value(data)


# --- Output ---


class UtcDateTimeField(serializers.DateTimeField):
    """Times in UTC (`...Z`), whoever asks: simpler for programs than the site's local time, and
    cheaper (no lookup of the active time zone for every value of every row)."""

    timezone = datetime.UTC


class OutputSerializer(serializers.ModelSerializer):
    """Base of the output serializers: model datetimes come out in UTC."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UtcDateTimeField,
    }


@extend_schema_field({"type": "string", "format": "uri", "nullable": True})
class OptionalURLField(serializers.CharField):
    """A URL, or null when there is none (the model stores a blank string)."""

    def to_representation(self, value: str) -> str | None:
        return value or None


class CategorySerializer(OutputSerializer):
    """A theme that groups demands (its `slug` is a demand's `category`), in English and Spanish."""

    class Meta:
        model = Category
        fields = ["id", "slug", "name", "description", "position", *translation_field_names(Category)]
        read_only_fields = fields


class EvidenceLinkSerializer(OutputSerializer):
    """A piece of evidence cited for a demand, with the claim it supports."""

    class Meta:
        model = EvidenceLink
        fields = ["evidence", "claim"]
        read_only_fields = fields


class DemandSerializer(OutputSerializer):
    """A demand as members and the public see it."""

    category = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    category_name = serializers.CharField(source="category.name", read_only=True)
    category_name_es = serializers.CharField(
        source="category.name_es", read_only=True, help_text="The category's name in Spanish; empty when it has none."
    )
    # Attached by the view for a whole page at once (`DemandViewSet._with_links`).
    clauses = serializers.ListField(
        source="clause_ids",
        child=serializers.IntegerField(),
        read_only=True,
        help_text="Ids of the resolution clauses it rests on.",
    )
    evidence = serializers.SerializerMethodField()

    class Meta:
        model = Demand
        fields = [
            "id",
            "slug",
            "title",
            "summary",
            "body",
            "category",
            "category_name",
            "category_name_es",
            "status",
            "visibility",
            "target",
            "article",
            "current_language",
            "clauses",
            "evidence",
            "version",
            "created_at",
            "updated_at",
            *translation_field_names(Demand),
        ]
        read_only_fields = fields

    @extend_schema_field(EvidenceLinkSerializer(many=True))
    def get_evidence(self, demand: Demand) -> list[dict[str, Any]]:
        return demand.evidence_links_shown


@extend_schema_serializer(component_name="Demand")
class TeamDemandSerializer(DemandSerializer):
    """A demand as the bargaining team sees it: with the team-only fields."""

    # Team-only fields are declared `required=False` rather than read-only so that the schema
    # does not list them as required: the documented shape must also fit responses without them.
    owner = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.none(), required=False, allow_null=True, help_text=TEAM_ONLY
    )
    internal_notes = serializers.CharField(required=False, help_text=TEAM_ONLY)
    fallback_position = serializers.CharField(required=False, help_text=TEAM_ONLY)
    priority_tier = serializers.ChoiceField(choices=PriorityTier.choices, required=False, help_text=TEAM_ONLY)
    allowed_next_statuses = serializers.ListField(
        child=serializers.ChoiceField(choices=Status.choices),
        required=False,
        help_text="Statuses a transition may move this demand to now. " + TEAM_ONLY,
    )

    class Meta(DemandSerializer.Meta):
        # `allowed_next_statuses` is no confidence (it follows from the status): a hint for the team's writes.
        fields = [*DemandSerializer.Meta.fields, *Demand.TEAM_ONLY_FIELDS, "allowed_next_statuses"]
        read_only_fields = fields


class SessionBriefSerializer(serializers.Serializer):
    """The bargaining session a status change happened at: what the public timeline shows."""

    id = serializers.IntegerField(read_only=True)
    held_on = serializers.DateField(read_only=True)
    kind = serializers.CharField(read_only=True)


class StatusChangeSerializer(OutputSerializer):
    """One step of a demand's status history, with its public note."""

    session = SessionBriefSerializer(read_only=True, allow_null=True)
    url = serializers.HyperlinkedIdentityField(
        view_name="status-change-detail", help_text="This change's API URL; `POST <url>publish/` publishes it."
    )

    class Meta:
        model = StatusChange
        fields = [
            "id",
            "url",
            "demand",
            "from_status",
            "to_status",
            "note",
            "changed_at",
            "occurred_at",
            "published_at",
            "embargo_until",
            "session",
            "proposal",
            "agreement",
            "vote",
            *translation_field_names(StatusChange),
        ]
        read_only_fields = fields


@extend_schema_serializer(component_name="StatusChange")
class TeamStatusChangeSerializer(StatusChangeSerializer):
    """A status change with the team-only note and who made it."""

    internal_note = serializers.CharField(required=False, help_text=TEAM_ONLY)
    changed_by = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.none(), required=False, allow_null=True, help_text=TEAM_ONLY
    )
    published_by = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.none(), required=False, allow_null=True, help_text=TEAM_ONLY
    )

    class Meta(StatusChangeSerializer.Meta):
        fields = [*StatusChangeSerializer.Meta.fields, *StatusChange.TEAM_ONLY_FIELDS]
        read_only_fields = fields


class FigureSerializer(OutputSerializer):
    """A number quoted from the evidence."""

    class Meta:
        model = Figure
        fields = ["id", "value", "unit", "period", "description"]
        read_only_fields = fields


class DemandLinkSerializer(OutputSerializer):
    """A demand this evidence supports, with the claim."""

    class Meta:
        model = EvidenceLink
        fields = ["demand", "claim"]
        read_only_fields = fields


class EvidenceSerializer(OutputSerializer):
    """A source backing demands, with its figures and the demands it supports."""

    url = OptionalURLField(read_only=True)
    figures = FigureSerializer(many=True, read_only=True)
    demands = DemandLinkSerializer(source="links", many=True, read_only=True)

    class Meta:
        model = Evidence
        fields = [
            "id",
            "title",
            "kind",
            "publisher",
            "published_on",
            "url",
            "quote",
            "figures",
            "verified_at",
            "visibility",
            "demands",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


@extend_schema_serializer(component_name="Evidence")
class TeamEvidenceSerializer(EvidenceSerializer):
    """Evidence with who on the team verified it."""

    verified_by = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.none(), required=False, allow_null=True, help_text=TEAM_ONLY
    )

    class Meta(EvidenceSerializer.Meta):
        fields = [*EvidenceSerializer.Meta.fields, *Evidence.TEAM_ONLY_FIELDS]
        read_only_fields = fields


class ResolutionClauseSerializer(OutputSerializer):
    """A numbered clause of a resolution."""

    class Meta:
        model = ResolutionClause
        fields = ["id", "number", "text", *translation_field_names(ResolutionClause)]
        read_only_fields = fields


class ResolutionSerializer(OutputSerializer):
    """A resolution of a governing body, with its clauses."""

    url = OptionalURLField(read_only=True)
    clauses = ResolutionClauseSerializer(many=True, read_only=True)

    class Meta:
        model = Resolution
        fields = [
            "id",
            "governing_body",
            "number",
            "title",
            "adopted_on",
            "vote",
            "summary",
            "url",
            "clauses",
            *translation_field_names(Resolution),
        ]
        read_only_fields = fields


# --- Input ---


class VersionField(serializers.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "help_text",
            "The `version` you last saw. Required unless the request carries `If-Match`; "
            "a stale one gets 412 and changes nothing.",
        )
        super().__init__(min_value=1, max_value=MAX_VERSION, required=False, **kwargs)


class TextOnlyField(serializers.CharField):
    """Text, and only text: a number or a list is refused with the field's name, not turned into a string."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class TranslatedInputSerializer(serializers.Serializer):
    """Input that takes a text's Spanish version wherever it takes the English text: for each English field of
    the `translations_of` models' `TRANSLATED_FIELDS` that this serializer has, the Spanish column beside it
    (`title_es` after `title`), optional, with the column's length limit. Empty means "no Spanish version"."""

    translations_of: tuple[type[models.Model], ...] = ()

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        spanish: dict[str, dict[str, serializers.Field]] = {}
        for model in self.translations_of:
            for english, column in translation_columns(model):
                if english in fields:
                    spanish.setdefault(english, {})[column] = TextOnlyField(
                        required=False,
                        allow_blank=True,
                        max_length=model._meta.get_field(column).max_length,
                        trim_whitespace=getattr(fields[english], "trim_whitespace", True),
                        help_text=f"`{english}` in Spanish; empty when there is none (pages then show the English, "
                        "marked as English).",
                    )
        ordered: dict[str, serializers.Field] = {}
        for name, field in fields.items():
            ordered[name] = field
            ordered.update(spanish.get(name, {}))
        return ordered


# Output fields that input accepts and ignores, so a demand read with GET can be sent back whole.
REPRESENTATION_ONLY = frozenset(
    {"id", "category_name", "category_name_es", "evidence", "created_at", "updated_at", "allowed_next_statuses"}
)


class DemandInputSerializer(TranslatedInputSerializer):
    """What the team sends to create or edit a demand. `status` changes only by a transition."""

    translations_of = (Demand,)

    title = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=200, required=False, help_text="Made from the title when left out.")
    summary = serializers.CharField(max_length=Demand._meta.get_field("summary").max_length)
    body = serializers.CharField(required=False, allow_blank=True)
    category = CheckedSlugRelatedField(
        slug_field="slug", queryset=Category.objects.all(), pattern=SLUG_RE, max_length=100, help_text="A slug."
    )
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    owner = CheckedSlugRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        pattern=USERNAME_RE,
        max_length=150,
        required=False,
        allow_null=True,
        help_text="A username.",
    )
    target = serializers.CharField(max_length=255, required=False, allow_blank=True)
    article = serializers.CharField(max_length=100, required=False, allow_blank=True)
    current_language = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    clauses = serializers.PrimaryKeyRelatedField(
        queryset=ResolutionClause.objects.all(), many=True, required=False, help_text="Resolution clause ids."
    )
    internal_notes = serializers.CharField(
        required=False, allow_blank=True, max_length=Demand._meta.get_field("internal_notes").max_length
    )
    fallback_position = serializers.CharField(
        required=False, allow_blank=True, max_length=Demand._meta.get_field("fallback_position").max_length
    )
    priority_tier = serializers.ChoiceField(choices=PriorityTier.choices, required=False)
    version = VersionField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A demand read with GET may be sent back whole: its read-only fields are ignored, `status`
        # is accepted while unchanged, and anything else unknown is refused rather than dropped unseen.
        sent = set(self.initial_data) if isinstance(self.initial_data, dict) else set()
        errors: dict[str, list[str]] = {}
        demand = self.context.get("demand")
        if "status" in sent and (demand is None or self.initial_data["status"] != demand.status):
            errors["status"] = ["Change the status with a transition (POST …/transition/), not an edit."]
        for field in sorted(sent - set(self.fields) - REPRESENTATION_ONLY - {"status"}):
            errors[field] = ["There is no such field."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def hold_field() -> serializers.BooleanField:
    """`hold`: keep what this write records team-only until another team member publishes it."""
    return serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Keep what this records (and the status change it makes) team-only until another team member "
        "publishes it (default: the PUBLISH_REVIEW setting).",
    )


def embargo_field() -> serializers.DateTimeField:
    """`embargo_until`: hold what this write records until this time (the beat task publishes it then)."""
    return serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Hold until this time, in the future."
    )


class TransitionInputSerializer(TranslatedInputSerializer):
    """A move to another status (see the transitions table), with its notes."""

    translations_of = (StatusChange,)

    status = serializers.ChoiceField(choices=Status.choices, help_text="The status to move to.")
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=StatusChange._meta.get_field("note").max_length,
        help_text="Public note.",
    )
    internal_note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=StatusChange._meta.get_field("internal_note").max_length,
        help_text="Team-only note.",
    )
    session = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID, help_text="Bargaining session id."
    )
    occurred_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When it happened at the table (default: the session's date, else now); never in the future, "
        "never before the demand was recorded.",
    )
    hold = hold_field()
    embargo_until = embargo_field()
    version = VersionField()

    def __init__(self, *args: Any, demand: Demand | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if demand is None:  # the schema generator builds it without a demand
            return
        # An unknown status gets the same message as a disallowed one: current and allowed statuses.
        self.fields["status"].error_messages["invalid_choice"] = (
            f"“{{input}}” is not a status. {demand.where_it_can_go}"
        )


class EvidenceCitationInputSerializer(serializers.Serializer):
    """Evidence to cite for a demand, with the one-line claim it supports."""

    evidence = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="Evidence id.")
    claim = serializers.CharField(max_length=255, help_text='One line, e.g. "supports: one counselor per 250".')
    version = VersionField()


class StrictInputSerializer(TranslatedInputSerializer):
    """Input that refuses unknown fields rather than dropping them unseen. The output-only fields of the
    representation (`representation_only`) are accepted and ignored, so what GET returned may be sent back."""

    representation_only: frozenset[str] = frozenset()

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            extra = set(data) - set(self.fields) - self.representation_only
            unknown = {str(field): ["There is no such field."] for field in sorted(extra, key=str)}
        try:
            attrs = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from exc
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return attrs


class OptionalURLInputField(serializers.URLField):
    """A URL; blank or null (as GET shows a missing one) both mean none."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=500, required=False, allow_blank=True, allow_null=True, **kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        value = super().run_validation(data)
        return "" if value is None else value


class CategoryInputSerializer(StrictInputSerializer):
    """What the team sends to add, rename, describe or reorder a category."""

    representation_only = frozenset({"id"})
    translations_of = (Category,)

    name = serializers.CharField(max_length=Category._meta.get_field("name").max_length, help_text="Unique.")
    slug = serializers.SlugField(
        max_length=Category._meta.get_field("slug").max_length, help_text="Unique; demands name their category by it."
    )
    description = serializers.CharField(required=False, allow_blank=True)
    position = serializers.IntegerField(
        min_value=0, max_value=32767, required=False, help_text="Order on pages and in digests."
    )


class FigureInputSerializer(StrictInputSerializer):
    """A number quoted from the evidence."""

    representation_only = frozenset({"id"})

    value = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal(0), help_text="Not negative; up to 2 decimal places."
    )
    unit = serializers.CharField(max_length=100, help_text='e.g. "misconduct complaint records"')
    period = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class EvidenceInputSerializer(StrictInputSerializer):
    """What the team sends to record or edit evidence. `figures`, when given, replace the figures."""

    representation_only = frozenset({"id", "demands", "created_at", "updated_at"})

    title = serializers.CharField(max_length=255, help_text="Unique together with `publisher`.")
    kind = serializers.ChoiceField(choices=Evidence.Kind.choices)
    publisher = serializers.CharField(max_length=200, required=False, allow_blank=True)
    published_on = serializers.DateField(required=False, allow_null=True)
    url = OptionalURLInputField()
    quote = serializers.CharField(required=False, allow_blank=True, help_text="Verbatim quote from the source.")
    figures = FigureInputSerializer(many=True, required=False, help_text="The whole list; replaces the figures.")
    verified_by = CheckedSlugRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        pattern=USERNAME_RE,
        max_length=150,
        required=False,
        allow_null=True,
        help_text="A username.",
    )
    verified_at = UtcDateTimeField(required=False, allow_null=True)
    visibility = serializers.ChoiceField(
        choices=Visibility.choices, required=False, help_text="`team` when left out on create."
    )


class ClauseInputSerializer(StrictInputSerializer):
    """A numbered clause of a resolution."""

    representation_only = frozenset({"id"})
    translations_of = (ResolutionClause,)

    number = serializers.IntegerField(min_value=1, max_value=32767, help_text="Unique within the resolution.")
    text = serializers.CharField()


class ResolutionInputSerializer(StrictInputSerializer):
    """What the team sends to record or edit a resolution.

    `clauses`, when given, is the whole list, matched by number: a clause keeps its id (and the demands
    resting on it) while its number stays; a clause left out is removed, unless demands rest on it (409).
    """

    representation_only = frozenset({"id"})
    translations_of = (Resolution,)

    governing_body = serializers.CharField(max_length=200)
    number = serializers.CharField(
        max_length=50, required=False, allow_blank=True, help_text="The body's own number, when known."
    )
    title = serializers.CharField(max_length=255)
    adopted_on = serializers.DateField()
    vote = serializers.CharField(max_length=100, help_text='e.g. "7–0, unanimous"')
    summary = serializers.CharField(required=False, allow_blank=True)
    url = OptionalURLInputField()
    clauses = ClauseInputSerializer(many=True, required=False, help_text="The whole list of clauses.")

    def validate_clauses(self, clauses: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen: set[int] = set()
        errors: list[dict[str, list[str]]] = []
        for clause in clauses:
            number = clause["number"]
            errors.append({"number": [f"Clause {number} is listed twice."]} if number in seen else {})
            seen.add(number)
        if any(errors):
            raise serializers.ValidationError(errors)
        return clauses


# --- Bargaining at the table ---


class RedlineOpSerializer(serializers.Serializer):
    """One run of a word-level redline: text kept (`equal`), `insert`ed or `delete`d."""

    op = serializers.ChoiceField(choices=["equal", "insert", "delete"])
    text = serializers.CharField()


class ProposalSerializer(OutputSerializer):
    """A proposal as members and the public see it, with its redline against the proposal before it
    (the first against the demand's `current_language`)."""

    session = SessionBriefSerializer(read_only=True, allow_null=True)
    redline = serializers.SerializerMethodField()
    url = serializers.HyperlinkedIdentityField(
        view_name="proposal-detail", help_text="This proposal's API URL; `POST <url>publish/` publishes it."
    )

    class Meta:
        model = Proposal
        fields = [
            "id",
            "url",
            "demand",
            "number",
            "side",
            "exchanged_on",
            "session",
            "language",
            "summary",
            "visibility",
            "redline",
            "created_at",
            "published_at",
            "embargo_until",
            *translation_field_names(Proposal),
        ]
        read_only_fields = fields

    @extend_schema_field(RedlineOpSerializer(many=True))
    def get_redline(self, proposal: Proposal) -> list[dict[str, str]]:
        # Attached by the view from the viewer's visible chain, so a hidden draft never shows through.
        return proposal.redline_data


@extend_schema_serializer(component_name="Proposal")
class TeamProposalSerializer(ProposalSerializer):
    """A proposal with the team's rationale and who recorded it."""

    rationale = serializers.CharField(required=False, help_text=TEAM_ONLY)
    created_by = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.none(), required=False, allow_null=True, help_text=TEAM_ONLY
    )
    published_by = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.none(), required=False, allow_null=True, help_text=TEAM_ONLY
    )

    class Meta(ProposalSerializer.Meta):
        fields = [*ProposalSerializer.Meta.fields, *Proposal.TEAM_ONLY_FIELDS]
        read_only_fields = fields


class AgreementSerializer(OutputSerializer):
    """A demand's tentative agreement. Anyone but the team sees it only once both sides have signed."""

    reached = serializers.BooleanField(source="is_reached", read_only=True)

    class Meta:
        model = TentativeAgreement
        fields = [
            "demand",
            "language",
            "proposal",
            "union_signed_by",
            "union_signed_on",
            "board_signed_by",
            "board_signed_on",
            "reached",
            "reached_at",
            "updated_at",
        ]
        read_only_fields = fields


class VoteSerializer(OutputSerializer):
    """A ratification vote, with its turnout and margin; `demands` lists the covered ones you may see."""

    demands = serializers.SerializerMethodField()
    passed = serializers.BooleanField(read_only=True)
    turnout_percent = serializers.IntegerField(read_only=True)
    margin = serializers.IntegerField(read_only=True)

    class Meta:
        model = RatificationVote
        fields = [
            "id",
            "held_on",
            "yes",
            "no",
            "abstain",
            "eligible",
            "passed",
            "turnout_percent",
            "margin",
            "demands",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_demands(self, vote: RatificationVote) -> list[int]:
        return [demand.pk for demand in vote.visible_demands]


@extend_schema_serializer(component_name="Vote")
class TeamVoteSerializer(VoteSerializer):
    """A vote with who on the team recorded it."""

    recorded_by = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.none(), required=False, allow_null=True, help_text=TEAM_ONLY
    )

    class Meta(VoteSerializer.Meta):
        fields = [*VoteSerializer.Meta.fields, *RatificationVote.TEAM_ONLY_FIELDS]
        read_only_fields = fields


class ProposalInputSerializer(StrictInputSerializer):
    """A proposal passed (or drafted) on a demand. `visibility` `team` is a draft: it moves nothing."""

    # `note` is the public note of the status change the proposal makes.
    translations_of = (Proposal, StatusChange)

    side = serializers.ChoiceField(choices=Side.choices)
    exchanged_on = serializers.DateField(help_text="Not in the future.")
    session = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID, help_text="Bargaining session id."
    )
    language = serializers.CharField(allow_blank=True, trim_whitespace=False, help_text="The proposed language.")
    summary = serializers.CharField(required=False, allow_blank=True, default="", help_text="Member-facing.")
    rationale = serializers.CharField(required=False, allow_blank=True, default="", help_text="Team-only.")
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False, default=Visibility.TEAM)
    note = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Public note on the status change it makes."
    )
    hold = hold_field()
    embargo_until = embargo_field()
    version = VersionField()


class ProposalUpdateInputSerializer(StrictInputSerializer):
    """An edit of a proposal. A team draft's words may change, and `visibility` `members` or `public` passes it
    across the table (moving the demand as a new proposal would); a passed proposal's language is locked."""

    representation_only = frozenset(TeamProposalSerializer.Meta.fields) - {
        "exchanged_on",
        "language",
        "summary",
        "rationale",
        "visibility",
        "side",
        "session",
        "embargo_until",
        *translation_field_names(Proposal),
    }
    translations_of = (Proposal, StatusChange)

    exchanged_on = serializers.DateField(required=False, help_text="Not in the future.")
    language = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, help_text="A team draft's language only."
    )
    summary = serializers.CharField(required=False, allow_blank=True, help_text="Member-facing.")
    rationale = serializers.CharField(required=False, allow_blank=True, help_text="Team-only.")
    visibility = serializers.ChoiceField(
        choices=Visibility.choices, required=False, help_text="From `team` to another: passed across the table."
    )
    note = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Public note on the status change passing makes."
    )
    hold = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When passing a draft: keep it (and the status change it makes) team-only until another team "
        "member publishes it (default: the PUBLISH_REVIEW setting).",
    )
    embargo_until = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="When passing a draft: hold it until this time."
    )
    version = VersionField()


class AgreementInputSerializer(StrictInputSerializer):
    """The agreed language; refused (409) once a side has signed."""

    representation_only = frozenset(AgreementSerializer.Meta.fields) - {"language", "proposal"}

    language = serializers.CharField(help_text="The agreed contract language.")
    proposal = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID, help_text="The proposal it is taken from."
    )
    version = VersionField()


class SignInputSerializer(StrictInputSerializer):
    """One side's signature; the second reaches the agreement."""

    side = serializers.ChoiceField(choices=Side.choices)
    signed_by = serializers.CharField(max_length=200, help_text="Who initialled it for that side.")
    signed_on = serializers.DateField(help_text="Not in the future.")
    session = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID, help_text="Bargaining session id."
    )
    hold = hold_field()
    embargo_until = embargo_field()
    version = VersionField()


class VoteInputSerializer(StrictInputSerializer):
    """A ratification vote on the tentative agreements of `demands`."""

    held_on = serializers.DateField(help_text="Not in the future.")
    yes = serializers.IntegerField(min_value=0, max_value=MAX_VERSION)
    no = serializers.IntegerField(min_value=0, max_value=MAX_VERSION)
    abstain = serializers.IntegerField(min_value=0, max_value=MAX_VERSION, required=False, default=0)
    eligible = serializers.IntegerField(
        min_value=0, max_value=MAX_VERSION, help_text="yes + no + abstain may not exceed it."
    )
    hold = hold_field()
    embargo_until = embargo_field()
    demands = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        min_length=1,
        max_length=1000,
        help_text="Ids of the demands whose signed tentative agreements the vote covers.",
    )
