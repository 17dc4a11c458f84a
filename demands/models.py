"""The union's contract demands, their status through bargaining, evidence and the resolution."""

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import get_language, gettext, gettext_noop
from simple_history.models import HistoricalRecords

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public"
    MEMBERS = "members", "Members"
    TEAM = "team", "Bargaining team only"


class Audience(models.TextChoices):
    """Who reads: decided from the user by `roles.audience_of`, and nowhere else."""

    PUBLIC = "public", "The public"
    MEMBERS = "members", "Members"
    TEAM = "team", "The bargaining team"

    @property
    def visibilities(self) -> tuple[str, ...]:
        """The visibility keys this audience may read: the one mapping from audience to visibility."""
        return AUDIENCE_VISIBILITIES[self]


AUDIENCE_VISIBILITIES: dict[str, tuple[str, ...]] = {
    Audience.PUBLIC: (Visibility.PUBLIC,),
    Audience.MEMBERS: (Visibility.PUBLIC, Visibility.MEMBERS),
    Audience.TEAM: (Visibility.PUBLIC, Visibility.MEMBERS, Visibility.TEAM),
}


class VisibleQuerySet(models.QuerySet):
    """Rows scoped to an audience, as NetBox's `restrict(user)`: every read for a viewer starts here.

    `visibility_paths` names the visibility columns a row depends on; the row is visible when all are.
    """

    visibility_paths: tuple[str, ...] = ("visibility",)

    def visible_to(self, audience: Audience) -> "VisibleQuerySet":
        keys = Audience(audience).visibilities
        rows = self.filter(**{f"{path}__in": keys for path in self.visibility_paths})
        return rows if audience == Audience.TEAM else rows.published()

    def published(self) -> "VisibleQuerySet":
        """What has left the team's hands: the one place where a held item (`published_at` empty) is hidden
        from members and the public. A row with nothing that can be held is always published."""
        return self


def held_changes() -> "StatusChangeQuerySet":
    """Status changes still held by the team (`published_at` empty)."""
    return StatusChange.objects.filter(published_at__isnull=True)


class StatusChangeQuerySet(VisibleQuerySet):
    visibility_paths = ("demand__visibility",)

    def published(self) -> "StatusChangeQuerySet":
        return self.filter(published_at__isnull=False)


class EvidenceLinkQuerySet(VisibleQuerySet):
    # A link never reveals a hidden side: both the demand and the evidence must be visible.
    visibility_paths = ("demand__visibility", "evidence__visibility")


class PublishedStatusIterable(models.query.ModelIterable):
    """Demands as members and the public see them: at the last published status, never a held one."""

    def __iter__(self) -> "Iterator[Any]":
        for demand in super().__iter__():
            # A read that defers `status` (`.only("id", "title")`) does not show it, and loads neither.
            if "status" not in demand.get_deferred_fields():
                demand.status = demand.published_status
            yield demand


class DemandQuerySet(VisibleQuerySet):
    def published(self) -> "DemandQuerySet":
        # A demand is never held itself; its displayed status is the last published one (`status_field`).
        shown = self._chain()
        shown._iterable_class = PublishedStatusIterable
        return shown


def status_field(audience: Audience) -> str:
    """The column that holds a demand's status as `audience` sees it: filters and counts read this."""
    return "status" if audience == Audience.TEAM else "published_status"


def team_only_fields(model: type[models.Model] | models.Model) -> tuple[str, ...]:
    """The fields of `model` that never leave the team's views, as the model declares them."""
    return tuple(getattr(model, "TEAM_ONLY_FIELDS", ()))


# Limits that keep pages, feeds, exports and digests readable. A limited text field carries its limit as
# `max_length` (forms show it and set `maxlength`, DRF and the schema read it), as a validator (the services'
# `full_clean` and the admin refuse more) and as a database constraint (nothing else writes more).
SUMMARY_MAX_LENGTH = 600
NOTE_MAX_LENGTH = 2000
TEAM_NOTES_MAX_LENGTH = 5000


def limited_text(max_length: int, **kwargs: object) -> models.TextField:
    """A text field of at most `max_length` characters, refused beyond it with the limit in the message."""
    return models.TextField(max_length=max_length, validators=[MaxLengthValidator(max_length)], **kwargs)


def length_within(field: str, max_length: int, model: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=LessThanOrEqual(Length(field), max_length), name=f"{model}_{field}_max_length"
    )


# Member-facing texts have a Spanish version beside the English one: each model lists the English fields that
# have one (`TRANSLATED_FIELDS`), the Spanish column named `<field>_es`. Evidence quotes stay in their original
# language, and team-only fields are never translated. `localized` is the one rule for which of the two shows.
TRANSLATION_LANGUAGES = ("es",)  # besides English (settings.LANGUAGE_CODE), which every text has


def translated_fields(model: type[models.Model] | models.Model) -> tuple[str, ...]:
    """The English fields of `model` that have a Spanish version, as the model declares them."""
    return tuple(getattr(model, "TRANSLATED_FIELDS", ()))


def translation_columns(model: type[models.Model] | models.Model) -> tuple[tuple[str, str], ...]:
    """Each English field of `model` that has a Spanish version, with that version's column: (`title`, `title_es`)."""
    return tuple((name, f"{name}_{code}") for name in translated_fields(model) for code in TRANSLATION_LANGUAGES)


def translation_field_names(model: type[models.Model] | models.Model) -> tuple[str, ...]:
    """The Spanish columns of `model`: `title_es`, ..."""
    return tuple(column for _english, column in translation_columns(model))


@dataclass(frozen=True)
class Localized:
    """A text in the active language, or in English (`fallback`) when it has no version in that language."""

    text: str
    language: str
    fallback: bool = False

    def __str__(self) -> str:
        return self.text


def active_language() -> str:
    """The active language as one of LANGUAGES (en for anything else)."""
    code = (get_language() or settings.LANGUAGE_CODE).split("-")[0]
    return code if code in TRANSLATION_LANGUAGES else settings.LANGUAGE_CODE


def localized(instance: models.Model, field: str, *, language: str | None = None) -> Localized:
    """`instance.<field>` in `language` (default: the active one); English, marked as a fallback, when missing."""
    language = language or active_language()
    english = getattr(instance, field) or ""
    if language in TRANSLATION_LANGUAGES and field in translated_fields(instance):
        text = getattr(instance, f"{field}_{language}") or ""
        if text.strip():
            return Localized(text=text, language=language)
        return Localized(text=english, language=settings.LANGUAGE_CODE, fallback=bool(english))
    return Localized(text=english, language=settings.LANGUAGE_CODE)


def change_log(name: str, plural: str) -> HistoricalRecords:
    """The audit of every edit (django-simple-history), named in the admin as the change log it is."""
    return HistoricalRecords(verbose_name=f"{name} change", verbose_name_plural=f"change log: {plural}")


class Status(models.TextChoices):
    DRAFT = "draft", gettext_noop("Draft")
    PROPOSED = "proposed", gettext_noop("Proposed")
    COUNTERED = "countered", gettext_noop("Countered")
    TENTATIVE_AGREEMENT = "tentative_agreement", gettext_noop("Tentative agreement")
    RATIFIED = "ratified", gettext_noop("Ratified")
    WITHDRAWN = "withdrawn", gettext_noop("Withdrawn")


# The only statement of which status may follow which. `ratified` and `withdrawn` are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.DRAFT: frozenset({Status.PROPOSED, Status.WITHDRAWN}),
    Status.PROPOSED: frozenset({Status.COUNTERED, Status.TENTATIVE_AGREEMENT, Status.WITHDRAWN}),
    Status.COUNTERED: frozenset({Status.PROPOSED, Status.TENTATIVE_AGREEMENT, Status.WITHDRAWN}),
    Status.TENTATIVE_AGREEMENT: frozenset({Status.RATIFIED, Status.COUNTERED, Status.WITHDRAWN}),
    Status.RATIFIED: frozenset(),
    Status.WITHDRAWN: frozenset(),
}
# Moving to these statuses needs a public note saying why.
NOTE_REQUIRED: frozenset[str] = frozenset({Status.WITHDRAWN})
# These moves need a public note too: reopening a tentative agreement says why.
NOTE_REQUIRED_MOVES: frozenset[tuple[str, str]] = frozenset({(Status.TENTATIVE_AGREEMENT, Status.COUNTERED)})


class PriorityTier(models.TextChoices):
    MUST_HAVE = "must_have", "Must-have"
    IMPORTANT = "important", "Important"
    TRADEABLE = "tradeable", "Tradeable"


class Category(models.Model):
    """A theme that groups demands, e.g. trauma supports or holistic safety."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Order on pages and in digests.")
    name_es = models.CharField("name (Spanish)", max_length=100, blank=True)
    description_es = models.TextField("description (Spanish)", blank=True)

    TRANSLATED_FIELDS = ("name", "description")

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Demand(models.Model):
    """A contract demand the union brings to the table."""

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    summary = limited_text(SUMMARY_MAX_LENGTH, help_text="Member-facing summary, shown on pages and in digests.")
    body = models.TextField(blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="demands")
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.DRAFT, db_index=True)
    published_status = models.CharField(
        max_length=32,
        choices=Status.choices,
        default=Status.DRAFT,
        db_index=True,
        editable=False,
        help_text="The status members and the public see: the last published move (held moves are not).",
    )
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.TEAM, db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="owned_demands"
    )
    target = models.CharField(max_length=255, blank=True, help_text='e.g. "one social worker per 250 students"')
    article = models.CharField(max_length=100, blank=True, help_text='The contract article, e.g. "Article 44-3".')
    current_language = models.TextField(blank=True, help_text="The contract's text today; empty for a new article.")
    clauses = models.ManyToManyField("ResolutionClause", blank=True, related_name="demands")
    version = models.PositiveIntegerField(default=1, editable=False)
    internal_notes = limited_text(TEAM_NOTES_MAX_LENGTH, blank=True)
    fallback_position = limited_text(NOTE_MAX_LENGTH, blank=True)
    priority_tier = models.CharField(max_length=16, choices=PriorityTier.choices, default=PriorityTier.IMPORTANT)
    title_es = models.CharField("title (Spanish)", max_length=200, blank=True)
    summary_es = limited_text(SUMMARY_MAX_LENGTH, blank=True, verbose_name="summary (Spanish)")
    target_es = models.CharField("target (Spanish)", max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    history = change_log("demand", "demands")
    _history_user: "User | None"  # simple_history records it as the author; the services set it
    objects = DemandQuerySet.as_manager()

    # Never shown outside the bargaining team's views: serializers, forms, admin, pages and exports read this.
    TEAM_ONLY_FIELDS = ("internal_notes", "fallback_position", "priority_tier", "owner")
    TRANSLATED_FIELDS = ("title", "summary", "target")

    class Meta:
        ordering = ["category__position", "title"]
        permissions = [("transition_demand", "Can move a demand to another status")]
        constraints = [
            length_within("summary", SUMMARY_MAX_LENGTH, "demand"),
            length_within("summary_es", SUMMARY_MAX_LENGTH, "demand"),
            length_within("internal_notes", TEAM_NOTES_MAX_LENGTH, "demand"),
            length_within("fallback_position", NOTE_MAX_LENGTH, "demand"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("demands:demand_detail", kwargs={"slug": self.slug})

    @property
    def is_open(self) -> bool:
        return bool(TRANSITIONS[self.status])

    @property
    def allowed_next_statuses(self) -> list[str]:
        """The statuses this demand may move to next, in the order of `Status`."""
        return [value for value in Status.values if value in TRANSITIONS[self.status]]

    @property
    def where_it_can_go(self) -> str:
        """ "Current status: Proposed. Allowed next statuses: Countered, ...": labels, as a person reads them."""
        current = Status(self.status).label
        nexts = ", ".join(Status(value).label for value in self.allowed_next_statuses) or f"none: {current} is final"
        return f"Current status: {current}. Allowed next statuses: {nexts}."


class Publishable(models.Model):
    """What can be held: a status change, and a proposal (which may move nothing). Empty `published_at` while
    held: only the team sees it (each queryset's `published()`). Holding is a deliberate act of the services
    (`demand_transition`, `proposal_create`); a row written any other way is published as it is written."""

    published_at = models.DateTimeField(
        null=True,
        blank=True,
        default=timezone.now,
        db_index=True,
        help_text="When members and the public could first see it; empty while held.",
    )
    embargo_until = models.DateTimeField(
        null=True, blank=True, help_text="A held item is published when this time passes."
    )
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        abstract = True


class StatusChange(Publishable):
    """One move of a demand from one status to another; append-only."""

    demand = models.ForeignKey(Demand, on_delete=models.PROTECT, related_name="status_changes")
    from_status = models.CharField(max_length=32, choices=Status.choices)
    to_status = models.CharField(max_length=32, choices=Status.choices)
    note = limited_text(NOTE_MAX_LENGTH, blank=True, help_text="Public note, shown to members and the public.")
    note_es = limited_text(NOTE_MAX_LENGTH, blank=True, verbose_name="public note (Spanish)")
    internal_note = limited_text(NOTE_MAX_LENGTH, blank=True, help_text="Team-only note.")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True, help_text="When it was recorded.")
    occurred_at = models.DateTimeField(
        default=timezone.now, help_text="When it happened at the table; never in the future."
    )
    session = models.ForeignKey(
        "BargainingSession",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="status_changes",
    )
    # What caused the move, when it was not a plain transition.
    proposal = models.ForeignKey(
        "Proposal", on_delete=models.PROTECT, null=True, blank=True, related_name="status_changes"
    )
    agreement = models.ForeignKey(
        "TentativeAgreement", on_delete=models.PROTECT, null=True, blank=True, related_name="status_changes"
    )
    vote = models.ForeignKey(
        "RatificationVote", on_delete=models.PROTECT, null=True, blank=True, related_name="status_changes"
    )

    history = change_log("status change", "status changes")
    _history_user: "User | None"  # simple_history records it as the author; the services set it
    objects = StatusChangeQuerySet.as_manager()

    TEAM_ONLY_FIELDS = ("internal_note", "changed_by", "published_by")
    TRANSLATED_FIELDS = ("note",)

    class Meta:
        # Timelines read in the order things happened at the table; digests select by `changed_at`.
        ordering = ["-occurred_at", "-id"]
        get_latest_by = "changed_at"
        # A demand's timeline page: its rows in timeline order, read a page at a time without a sort
        # (bench/README.md, "The timeline index").
        # A demand's timeline a page at a time, and the latest changes of all demands (the dashboard), newest
        # first: bench/README.md, "The timeline index", has the EXPLAINs.
        indexes = [
            models.Index(fields=["demand", "-occurred_at", "-id"], name="status_change_timeline"),
            models.Index(fields=["-occurred_at", "-id"], name="status_change_recent"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(from_status=models.F("to_status")), name="status_change_moves"),
            length_within("note", NOTE_MAX_LENGTH, "status_change"),
            length_within("note_es", NOTE_MAX_LENGTH, "status_change"),
            length_within("internal_note", NOTE_MAX_LENGTH, "status_change"),
        ]

    def __str__(self) -> str:
        return f"{self.demand}: {self.get_from_status_display()} → {self.get_to_status_display()}"

    @property
    def is_held(self) -> bool:
        return self.published_at is None

    @property
    def headline(self) -> str:
        """The move in a sentence, for feeds and digests: what happened at the table, when something did.

        Reads `demand.title` and, for a vote, the vote's counts (select them with the row).
        """
        title = localized(self.demand, "title").text
        if self.vote_id is not None:
            vote = self.vote
            assert vote is not None
            counts = gettext("%(yes)s yes to %(no)s no, %(turnout)s%% turnout") % {
                "yes": number_format(vote.yes, force_grouping=True),
                "no": number_format(vote.no, force_grouping=True),
                "turnout": vote.turnout_percent,
            }
            if self.to_status == Status.RATIFIED:
                return gettext("Members ratified %(title)s, %(counts)s") % {"title": title, "counts": counts}
            return gettext("Members voted down the tentative agreement on %(title)s, %(counts)s") % {
                "title": title,
                "counts": counts,
            }
        if self.agreement_id is not None and self.to_status == Status.TENTATIVE_AGREEMENT:
            return gettext("Tentative agreement reached on %(title)s") % {"title": title}
        if self.proposal_id is not None:
            if self.to_status == Status.COUNTERED:
                return gettext("The Board countered on %(title)s") % {"title": title}
            return gettext("The union proposed new language on %(title)s") % {"title": title}
        # The labels are marked with gettext_noop: translated here, in the active language.
        return f"{title}: {gettext(self.get_from_status_display())} → {gettext(self.get_to_status_display())}"


class Evidence(models.Model):
    """A source that backs demands: a report, statistic, news item, testimony or board document."""

    class Kind(models.TextChoices):
        REPORT = "report", gettext_noop("Report")
        STATISTIC = "statistic", gettext_noop("Statistic")
        NEWS = "news", gettext_noop("News")
        TESTIMONY = "testimony", gettext_noop("Testimony")
        RESEARCH = "research", gettext_noop("Research")
        BOARD_DOCUMENT = "board_document", gettext_noop("Board document")

    title = models.CharField(max_length=255)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    publisher = models.CharField(max_length=200, blank=True)
    published_on = models.DateField(null=True, blank=True)
    url = models.URLField(max_length=500, blank=True)
    quote = models.TextField(blank=True, help_text="Verbatim quote from the source.")
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.TEAM, db_index=True)
    demands = models.ManyToManyField(Demand, through="EvidenceLink", related_name="evidence", blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = change_log("evidence", "evidence")
    _history_user: "User | None"  # simple_history records it as the author; the services set it
    objects = VisibleQuerySet.as_manager()

    TEAM_ONLY_FIELDS = ("verified_by",)

    class Meta:
        ordering = ["-published_on", "title"]
        verbose_name_plural = "evidence"
        constraints = [
            models.UniqueConstraint(fields=["title", "publisher"], name="evidence_unique_title_publisher"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("demands:evidence_list") + f"#evidence-{self.pk}"


class Figure(models.Model):
    """A number quoted from a piece of evidence, e.g. 2354 misconduct complaint records."""

    evidence = models.ForeignKey(Evidence, on_delete=models.CASCADE, related_name="figures")
    value = models.DecimalField(max_digits=14, decimal_places=2)
    unit = models.CharField(max_length=100, help_text='e.g. "misconduct complaint records"')
    period = models.CharField(max_length=100, blank=True)
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["evidence", "id"]
        constraints = [models.CheckConstraint(condition=Q(value__gte=0), name="figure_value_non_negative")]

    def __str__(self) -> str:
        value = self.value.normalize() if self.value == self.value.to_integral() else self.value
        return f"{value:,f} {self.unit}"


class EvidenceLink(models.Model):
    """Evidence cited for a demand, with the one-line claim it supports."""

    demand = models.ForeignKey(Demand, on_delete=models.CASCADE, related_name="evidence_links")
    evidence = models.ForeignKey(Evidence, on_delete=models.CASCADE, related_name="links")
    claim = models.CharField(max_length=255, help_text='One line: "supports: ..."')

    history = change_log("evidence citation", "evidence citations")
    _history_user: "User | None"  # simple_history records it as the author; the services set it
    objects = EvidenceLinkQuerySet.as_manager()

    class Meta:
        ordering = ["demand", "id"]
        constraints = [models.UniqueConstraint(fields=["demand", "evidence"], name="evidence_link_unique_pair")]

    def __str__(self) -> str:
        return f"{self.evidence} → {self.demand}"


class Resolution(models.Model):
    """A resolution of a governing body, such as the Board of Education's vote on police in schools."""

    governing_body = models.CharField(max_length=200)
    number = models.CharField(max_length=50, blank=True, help_text="The body's own number, when known.")
    title = models.CharField(max_length=255)
    adopted_on = models.DateField()
    vote = models.CharField(max_length=100, help_text='e.g. "7–0, unanimous"')
    summary = models.TextField(blank=True)
    url = models.URLField(max_length=500, blank=True)
    title_es = models.CharField("title (Spanish)", max_length=255, blank=True)
    summary_es = models.TextField("summary (Spanish)", blank=True)

    history = change_log("resolution", "resolutions")
    _history_user: "User | None"  # simple_history records it as the author; the services set it

    TRANSLATED_FIELDS = ("title", "summary")

    class Meta:
        ordering = ["-adopted_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["governing_body", "number"], condition=~Q(number=""), name="resolution_unique_number"
            ),
            models.UniqueConstraint(fields=["governing_body", "adopted_on", "title"], name="resolution_unique_title"),
        ]

    def __str__(self) -> str:
        return f"{self.governing_body}, {self.adopted_on:%Y-%m-%d}: {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("demands:resolution_detail", kwargs={"pk": self.pk})


class ResolutionClause(models.Model):
    """A numbered clause of a resolution that demands can rest on."""

    resolution = models.ForeignKey(Resolution, on_delete=models.CASCADE, related_name="clauses")
    number = models.PositiveSmallIntegerField()
    text = models.TextField()
    text_es = models.TextField("text (Spanish)", blank=True)

    history = change_log("resolution clause", "resolution clauses")
    _history_user: "User | None"  # simple_history records it as the author; the services set it

    TRANSLATED_FIELDS = ("text",)

    class Meta:
        ordering = ["resolution", "number"]
        constraints = [
            models.UniqueConstraint(fields=["resolution", "number"], name="clause_unique_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="clause_number_positive"),
        ]

    def __str__(self) -> str:
        return f"§{self.number} {self.text[:60]}"


class BargainingSession(models.Model):
    """A meeting with the Board's negotiators where demands were discussed."""

    class Kind(models.TextChoices):
        TABLE = "table", gettext_noop("Main table")
        SUBCOMMITTEE = "subcommittee", gettext_noop("Subcommittee")
        MEDIATION = "mediation", gettext_noop("Mediation")
        CAUCUS = "caucus", "Team caucus"

    held_on = models.DateField(db_index=True)
    location = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TABLE)
    demands = models.ManyToManyField(Demand, blank=True, related_name="sessions")
    team_notes = limited_text(TEAM_NOTES_MAX_LENGTH, blank=True, help_text="Team-only.")
    created_at = models.DateTimeField(auto_now_add=True)

    history = change_log("bargaining session", "bargaining sessions")
    _history_user: "User | None"  # simple_history records it as the author; the services set it

    TEAM_ONLY_FIELDS = ("team_notes",)

    class Meta:
        ordering = ["-held_on", "-id"]
        constraints = [length_within("team_notes", TEAM_NOTES_MAX_LENGTH, "session")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}, {self.held_on:%Y-%m-%d}"


class Side(models.TextChoices):
    UNION = "union", gettext_noop("The union")
    BOARD = "board", gettext_noop("The Board")


class ProposalQuerySet(VisibleQuerySet):
    # A proposal is seen only by who may see both it and its demand.
    visibility_paths = ("visibility", "demand__visibility")

    def published(self) -> "ProposalQuerySet":
        # A proposal and the move it makes are held and published together (`demands.services`), so the
        # proposal's own column says it for both.
        return self.filter(published_at__isnull=False)


def held_proposals() -> "ProposalQuerySet":
    """Proposals still held by the team (`published_at` empty)."""
    return Proposal.objects.filter(published_at__isnull=True)


class Proposal(Publishable):
    """One written pass of contract language on a demand, by one side, numbered per demand from 1."""

    demand = models.ForeignKey(Demand, on_delete=models.PROTECT, related_name="proposals")
    number = models.PositiveIntegerField(editable=False)
    side = models.CharField(max_length=8, choices=Side.choices)
    exchanged_on = models.DateField(help_text="When it was passed across the table; never in the future.")
    session = models.ForeignKey(
        BargainingSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="proposals"
    )
    language = models.TextField(blank=True, help_text="The proposed contract language, in full.")
    summary = models.TextField(blank=True, help_text="Member-facing summary.")
    summary_es = models.TextField("summary (Spanish)", blank=True)
    rationale = models.TextField(blank=True, help_text="Team-only: why the team proposes or how it reads this.")
    visibility = models.CharField(
        max_length=16,
        choices=Visibility.choices,
        default=Visibility.TEAM,
        db_index=True,
        help_text="A union draft not yet passed across the table stays `team`.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    history = change_log("proposal", "proposals")
    _history_user: "User | None"  # simple_history records it as the author; the services set it
    objects = ProposalQuerySet.as_manager()

    TEAM_ONLY_FIELDS = ("rationale", "created_by", "published_by")
    TRANSLATED_FIELDS = ("summary",)

    class Meta:
        ordering = ["demand", "number"]
        constraints = [
            models.UniqueConstraint(fields=["demand", "number"], name="proposal_unique_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="proposal_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.demand}: {self.get_side_display()} proposal {self.number}"

    def get_absolute_url(self) -> str:
        return self.demand.get_absolute_url() + f"#proposal-{self.number}"

    @property
    def is_held(self) -> bool:
        return self.published_at is None

    def clean(self) -> None:
        if self.exchanged_on and self.exchanged_on > timezone.localdate():
            today = timezone.localdate()
            raise ValidationError({"exchanged_on": f"A proposal cannot be exchanged in the future (today is {today})."})


class TentativeAgreementQuerySet(models.QuerySet):
    def visible_to(self, audience: Audience) -> "TentativeAgreementQuerySet":
        """The team sees every agreement; members and the public only those both sides signed."""
        agreements = self.filter(demand__visibility__in=Audience(audience).visibilities)
        if audience != Audience.TEAM:
            # A held signature holds the move it makes, and the agreement with it.
            held = held_changes().filter(agreement__isnull=False).values("agreement_id")
            agreements = agreements.filter(reached_at__isnull=False).exclude(pk__in=held)
        return agreements


class TentativeAgreement(models.Model):
    """The agreed language of a demand; reached, and locked, when both sides have signed."""

    demand = models.OneToOneField(Demand, on_delete=models.PROTECT, related_name="agreement")
    language = models.TextField(help_text="The agreed contract language; editable until a side signs.")
    proposal = models.ForeignKey(
        Proposal, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", help_text="Taken from."
    )
    union_signed_by = models.CharField(max_length=200, blank=True)
    union_signed_on = models.DateField(null=True, blank=True)
    board_signed_by = models.CharField(max_length=200, blank=True)
    board_signed_on = models.DateField(null=True, blank=True)
    reached_at = models.DateTimeField(null=True, blank=True, help_text="When the second side signed.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = change_log("tentative agreement", "tentative agreements")
    _history_user: "User | None"  # simple_history records it as the author; the services set it
    objects = TentativeAgreementQuerySet.as_manager()

    # The whole agreement is team-only until reached (see the queryset); no field is team-only after.
    TEAM_ONLY_FIELDS: tuple[str, ...] = ()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(union_signed_on__isnull=True) | ~Q(union_signed_by=""), name="agreement_union_signer"
            ),
            models.CheckConstraint(
                condition=Q(board_signed_on__isnull=True) | ~Q(board_signed_by=""), name="agreement_board_signer"
            ),
        ]

    def __str__(self) -> str:
        return f"Tentative agreement on {self.demand}"

    def signed_on(self, side: str) -> "datetime.date | None":
        return self.union_signed_on if side == Side.UNION else self.board_signed_on

    @property
    def is_signed(self) -> bool:
        """Signed by at least one side: the language is locked."""
        return self.union_signed_on is not None or self.board_signed_on is not None

    @property
    def is_reached(self) -> bool:
        return self.union_signed_on is not None and self.board_signed_on is not None


class RatificationVoteQuerySet(models.QuerySet):
    def visible_to(self, audience: Audience) -> "RatificationVoteQuerySet":
        """Votes that cover at least one demand the audience may see."""
        visible = Demand.objects.visible_to(audience)
        votes = self.filter(
            pk__in=RatificationVote.demands.through.objects.filter(demand__in=visible).values("ratificationvote_id")
        )
        if audience != Audience.TEAM:
            # A held result holds the moves it makes, and the vote with them.
            votes = votes.exclude(pk__in=held_changes().filter(vote__isnull=False).values("vote_id"))
        return votes


class RatificationVote(models.Model):
    """The members' vote on tentative agreements: passed when yes outnumbers no."""

    held_on = models.DateField()
    yes = models.PositiveIntegerField()
    no = models.PositiveIntegerField()
    abstain = models.PositiveIntegerField(default=0)
    eligible = models.PositiveIntegerField(help_text="Members eligible to vote.")
    demands = models.ManyToManyField(Demand, related_name="votes", help_text="The demands whose TAs it covers.")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    history = change_log("ratification vote", "ratification votes")
    _history_user: "User | None"  # simple_history records it as the author; the services set it
    objects = RatificationVoteQuerySet.as_manager()

    TEAM_ONLY_FIELDS = ("recorded_by",)

    class Meta:
        ordering = ["-held_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(yes__gte=0) & Q(no__gte=0) & Q(abstain__gte=0) & Q(eligible__gte=0),
                name="vote_counts_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(eligible__gte=models.F("yes") + models.F("no") + models.F("abstain")),
                name="vote_counts_within_eligible",
            ),
        ]

    def __str__(self) -> str:
        return f"Ratification vote, {self.held_on:%Y-%m-%d}"

    @property
    def passed(self) -> bool:
        return self.yes > self.no

    @property
    def cast(self) -> int:
        return self.yes + self.no + self.abstain

    @property
    def turnout_percent(self) -> int:
        return round(100 * self.cast / self.eligible) if self.eligible else 0

    @property
    def margin(self) -> int:
        return self.yes - self.no
