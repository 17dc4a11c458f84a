"""Forms of the team's pages. They collect input; the services decide what is allowed."""

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.db.models import Q
from django.forms.models import ModelChoiceIterator, fields_for_model, model_to_dict
from django.utils import timezone

from .models import (
    BargainingSession,
    Demand,
    Evidence,
    Proposal,
    RatificationVote,
    ResolutionClause,
    Side,
    Status,
    StatusChange,
    TentativeAgreement,
    Visibility,
    translation_field_names,
)
from .roles import TEAM_GROUP
from .services import agreement_set_language, agreement_sign, demand_transition, proposal_update, vote_record

SESSION_CHOICES = 50


class RecentChoices(ModelChoiceIterator):
    """The first `field.menu_size` rows of the field's queryset: a menu whose length does not grow."""

    def __iter__(self) -> Iterator[Any]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for item in self.queryset[: self.field.menu_size]:
            yield self.choice(item)

    def __len__(self) -> int:
        return min(self.queryset.count(), self.field.menu_size) + (self.field.empty_label is not None)

    def __bool__(self) -> bool:
        return self.field.empty_label is not None or self.queryset.exists()


class RecentChoiceField(forms.ModelChoiceField):
    """Accepts any row of its queryset (one query by id) but offers only the first `menu_size` in its menu."""

    iterator = RecentChoices
    menu_size = SESSION_CHOICES


def hold_field() -> forms.BooleanField:
    """Hold what a form records until a second team member publishes it (`hold` of the services); every form
    that records something members will see has it, read by `hold_choice`."""
    return forms.BooleanField(
        label="Hold for a second team member to publish",
        required=False,
        help_text="Members and the public see it only once another team member publishes it from the held list "
        "(or its embargo passes). With PUBLISH_REVIEW on, everything is held anyway.",
    )


def embargo_field() -> forms.DateTimeField:
    """Hold what a form records until this time (`embargo_until` of the services)."""
    return forms.DateTimeField(
        label="Publish at",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        help_text="An embargo: held until this time (in the future), then published within a minute.",
    )


def hold_choice(data: dict[str, Any]) -> bool | None:
    # An unticked box leaves the choice to the service's default (the PUBLISH_REVIEW setting).
    return True if data.get("hold") else None


class TransitionForm(forms.Form):
    """Move a demand to another status; offers only the statuses allowed next."""

    to_status = forms.ChoiceField(
        label="New status", choices=Status.choices, error_messages={"required": "Choose the new status."}
    )
    note = forms.CharField(
        label="Public note",
        required=False,
        max_length=StatusChange._meta.get_field("note").max_length,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown to members and the public, in digests and in the feed.",
    )
    note_es = forms.CharField(
        label="Spanish version of the note",
        required=False,
        max_length=StatusChange._meta.get_field("note_es").max_length,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown to Spanish-speaking members and readers; left empty, they see the English note.",
    )
    internal_note = forms.CharField(
        label="Team-only note",
        required=False,
        max_length=StatusChange._meta.get_field("internal_note").max_length,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Confidential — bargaining team only.",
    )
    session = RecentChoiceField(
        queryset=BargainingSession.objects.order_by("-held_on", "-id"),
        required=False,
        label="Bargaining session",
        empty_label="Not at a session",
        help_text=f"The {SESSION_CHOICES} most recent sessions.",
    )
    occurred_at = forms.DateTimeField(
        label="When it happened",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        help_text="At the table. Left empty: the session's date, or now. Never in the future.",
    )
    hold = hold_field()
    embargo_until = embargo_field()
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, demand: Demand, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any status passes the form so that the service, which checks the version first and then the
        # transitions table, gives the answer; the menu offers only what the table allows now.
        # Nothing preselected: the first allowed status is a choice like the others, not a default.
        self.fields["to_status"].widget.choices = [("", "Choose the new status")] + [
            (value, Status(value).label) for value in demand.allowed_next_statuses
        ]
        self.fields["version"].initial = demand.version
        self.demand = demand

    def save(self, *, by: User) -> StatusChange:
        """Ask `demand_transition` for the change; its DomainError says why it was refused."""
        session = self.cleaned_data["session"]
        return demand_transition(
            demand_id=self.demand.pk,
            to_status=self.cleaned_data["to_status"],
            expected_version=self.cleaned_data["version"],
            by=by,
            note=self.cleaned_data["note"],
            note_es=self.cleaned_data["note_es"],
            internal_note=self.cleaned_data["internal_note"],
            session_id=session.pk if session else None,
            occurred_at=self.cleaned_data["occurred_at"],
            hold=hold_choice(self.cleaned_data),
            embargo_until=self.cleaned_data["embargo_until"],
        )


class DemandForm(forms.ModelForm):
    """Create or edit a demand's fields; the status changes only through `TransitionForm`."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Demand
        fields = [
            "title",
            "slug",
            "category",
            "summary",
            "body",
            "target",
            "article",
            "current_language",
            "visibility",
            "clauses",
            *Demand.TEAM_ONLY_FIELDS,
            *translation_field_names(Demand),
        ]
        widgets = {
            "current_language": forms.Textarea(attrs={"rows": 6}),
            "summary": forms.Textarea(attrs={"rows": 3}),
            "summary_es": forms.Textarea(attrs={"rows": 3}),
            "body": forms.Textarea(attrs={"rows": 6}),
            "internal_notes": forms.Textarea(attrs={"rows": 4}),
            "fallback_position": forms.Textarea(attrs={"rows": 3}),
            "clauses": forms.CheckboxSelectMultiple,
        }
        help_texts = {"slug": "The address of the page; left empty, it follows the title."}

    CONFIRM_PUBLIC = "confirm_public"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        editing = self.instance.pk is not None
        if not (editing and self.instance.visibility == Visibility.PUBLIC):
            # Not public yet: making it public takes a tick, as it is readable by anyone the moment it is saved.
            self.fields[self.CONFIRM_PUBLIC] = forms.BooleanField(
                label="Yes, make it public now",
                required=False,
                help_text="Needed only with the visibility Public: anyone can then read this demand at once, on "
                "its page, in the list, the exports and the feed.",
            )
        self.fields["slug"].required = editing
        self.fields["version"].required = editing
        if editing:
            self.fields["version"].initial = self.instance.version
        self.fields["owner"].queryset = User.objects.filter(groups__name=TEAM_GROUP, is_active=True).order_by(
            "username"
        )
        self.fields["clauses"].queryset = ResolutionClause.objects.select_related("resolution")
        self.fields["clauses"].label_from_instance = self.clause_label
        self.fields["clauses"].label = "Resolution clauses it rests on"

    @staticmethod
    def clause_label(clause: ResolutionClause) -> str:
        resolution = clause.resolution
        return f"{resolution.governing_body}, {resolution.adopted_on:%Y-%m-%d}, clause {clause.number}: {clause.text}"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            self.CONFIRM_PUBLIC in self.fields
            and cleaned.get("visibility") == Visibility.PUBLIC
            and not cleaned.get(self.CONFIRM_PUBLIC)
        ):
            self.add_error(
                self.CONFIRM_PUBLIC, "Tick this to make the demand public: anyone can read it as soon as it is saved."
            )
        return cleaned

    def service_data(self) -> dict[str, Any]:
        """The cleaned fields as keyword arguments for `demand_create` / `demand_update`."""
        data = {name: self.cleaned_data[name] for name in self.Meta.fields}
        if not data["slug"]:
            del data["slug"]
        return data

    def team_only_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in Demand.TEAM_ONLY_FIELDS]

    def shared_fields(self) -> list[forms.BoundField]:
        names = [name for name in self.Meta.fields if name not in Demand.TEAM_ONLY_FIELDS]
        if self.CONFIRM_PUBLIC in self.fields:
            names.insert(names.index("visibility") + 1, self.CONFIRM_PUBLIC)
        return [self[name] for name in names]


class EvidenceLinkForm(forms.Form):
    """Cite a piece of evidence for a demand, with the claim it supports."""

    evidence = forms.ModelChoiceField(queryset=None, label="Evidence")
    claim = forms.CharField(
        label="Claim it supports", max_length=255, help_text="One line, e.g. “supports: more social workers”."
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, demand: Demand, evidence: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any evidence not yet cited passes (one query by id); the menu offers a page of it (`offer`).
        self.fields["evidence"].queryset = evidence.exclude(links__demand=demand).order_by("title", "id")
        self.fields["evidence"].label_from_instance = self.evidence_label
        self.fields["version"].initial = demand.version

    @staticmethod
    def evidence_label(evidence: Evidence) -> str:
        return f"{evidence.title} ({evidence.publisher})" if evidence.publisher else evidence.title

    def citable(self, search: str = "") -> Any:
        """The evidence this form accepts, narrowed to titles or publishers containing `search`."""
        citable = self.fields["evidence"].queryset.only("id", "title", "publisher")
        if search:
            citable = citable.filter(Q(title__icontains=search) | Q(publisher__icontains=search))
        return citable

    def offer(self, evidence: Iterable[Evidence]) -> None:
        """Show only `evidence` in the menu (a page of `citable()`), and the item already chosen, if any."""
        choices = [(item.pk, self.evidence_label(item)) for item in evidence]
        chosen = self.cleaned_data.get("evidence") if self.is_bound and hasattr(self, "cleaned_data") else None
        if chosen is not None and chosen.pk not in {pk for pk, _ in choices}:
            choices.insert(0, (chosen.pk, self.evidence_label(chosen)))
        self.fields["evidence"].widget.choices = [("", "Choose the evidence"), *choices]


class EvidenceForm(forms.Form):
    """Create or edit a piece of evidence; `verified` stands for who checked it against the source, and when.

    A plain form with the model's fields: a ModelForm would check the title+publisher constraint itself,
    and the service's message, which names the evidence already there, is the one to show.
    """

    FIELDS = ("title", "kind", "publisher", "published_on", "url", "quote", "visibility")

    def __init__(self, *args: Any, instance: Evidence | None = None, **kwargs: Any) -> None:
        if instance is not None:
            kwargs.setdefault("initial", model_to_dict(instance, fields=self.FIELDS))
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.fields.update(
            fields_for_model(
                Evidence,
                fields=self.FIELDS,
                widgets={
                    "published_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                    "quote": forms.Textarea(attrs={"rows": 4}),
                },
                labels={"published_on": "Published on", "url": "Link to the source", "quote": "Verbatim quote"},
            )
        )
        self.fields["verified"] = forms.BooleanField(
            label="Checked against the source",
            required=False,
            initial=instance is not None and instance.verified_at is not None,
            help_text="Ticking it records you and the time as the check; unticking it clears the check.",
        )

    def service_data(self, *, by: User) -> dict[str, Any]:
        """The cleaned fields as keyword arguments for `evidence_create` / `evidence_update`."""
        data = {name: self.cleaned_data[name] for name in self.FIELDS}
        if not self.cleaned_data["verified"]:
            data.update(verified_by=None, verified_at=None)
        elif self.instance is None or self.instance.verified_at is None:
            # A check already on record keeps its author and time; a new one is this user's, now.
            data.update(verified_by=by, verified_at=timezone.now())
        return data


def _plain(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()


class FigureForm(forms.Form):
    """One figure quoted from the evidence; the service decides what a valid figure is."""

    value = forms.DecimalField(label="Value", help_text="A number, e.g. 2354.")
    unit = forms.CharField(label="Unit", help_text="e.g. “misconduct complaint records”.")
    period = forms.CharField(label="Period", required=False)
    description = forms.CharField(label="Description", required=False)

    FIELDS = ("value", "unit", "period", "description")


class BaseFigureFormSet(forms.BaseFormSet):
    """The figure rows: blank rows and rows ticked for removal are left out."""

    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = "Remove this figure"

    def kept_forms(self) -> list[FigureForm]:
        """The rows that become figures, in order: the service's `figures.N` is the N-th of these."""
        initial_count = self.initial_form_count()
        return [
            form
            for index, form in enumerate(self.forms)
            if (index < initial_count or form.has_changed())
            and not (self.can_delete and self._should_delete_form(form))
        ]

    def figures(self) -> list[dict[str, Any]]:
        """The kept rows as the `figures` argument of `evidence_create` / `evidence_update`."""
        return [{name: form.cleaned_data[name] for name in FigureForm.FIELDS} for form in self.kept_forms()]

    @staticmethod
    def initial_for(evidence: Evidence) -> list[dict[str, Any]]:
        """The stored figures as rows; 2354.00 shows as 2354 (a changed-row check compares the text)."""
        rows = []
        for figure in evidence.figures.all():
            row = {name: getattr(figure, name) for name in FigureForm.FIELDS}
            row["value"] = _plain(figure.value)
            rows.append(row)
        return rows


FigureFormSet = forms.formset_factory(FigureForm, formset=BaseFigureFormSet, extra=1, can_delete=True)


# The database's limit on an integer column (a count, an id); beyond it the form refuses the number rather than
# the database failing.
VOTE_COUNT_MAX = 2**31 - 1


class AgreementLanguageForm(forms.Form):
    """Set or edit the agreed language of a demand while no side has signed it; `agreement_set_language` decides."""

    language = forms.CharField(
        label="Agreed contract language",
        widget=forms.Textarea(attrs={"rows": 6}),
        strip=False,
        error_messages={"required": "Give the agreed contract language."},
        help_text="Editable until a side signs; then it is locked.",
    )
    proposal = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1, max_value=VOTE_COUNT_MAX)
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        demand: Demand,
        agreement: TentativeAgreement | None = None,
        latest: Proposal | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("auto_id", "id_agreement_%s")  # unique on the demand page, beside the other forms
        super().__init__(*args, **kwargs)
        self.demand = demand
        self.fields["version"].initial = demand.version
        if agreement is not None:
            self.fields["language"].initial = agreement.language
        elif latest is not None:
            # A new agreement starts from the last language passed across the table.
            self.fields["language"].initial = latest.language
            self.fields["proposal"].initial = latest.pk

    def save(self, *, by: User) -> TentativeAgreement:
        return agreement_set_language(
            demand_id=self.demand.pk,
            language=self.cleaned_data["language"],
            proposal_id=self.cleaned_data["proposal"],
            expected_version=self.cleaned_data["version"],
            by=by,
        )


class AgreementSignForm(forms.Form):
    """One side initials the tentative agreement; the second signature reaches it (`agreement_sign`)."""

    side = forms.ChoiceField(
        label="Side signing", choices=Side.choices, error_messages={"required": "Choose the side that signs."}
    )
    signed_by = forms.CharField(
        label="Signed by",
        max_length=TentativeAgreement._meta.get_field("union_signed_by").max_length,
        help_text="Who initialled it for that side.",
        error_messages={"required": "Say who signed for this side."},
    )
    signed_on = forms.DateField(
        label="Signed on",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Not in the future.",
        error_messages={"required": "Give the date it was signed."},
    )
    hold = hold_field()
    embargo_until = embargo_field()
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, demand: Demand, agreement: TentativeAgreement | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_sign_%s")  # unique on the demand page, beside the other forms
        super().__init__(*args, **kwargs)
        self.demand = demand
        # Any side passes the form so that the service says why a signature is refused; the menu offers the
        # sides still to sign.
        unsigned = [
            (value, label) for value, label in Side.choices if agreement is None or not agreement.signed_on(value)
        ]
        self.fields["side"].widget.choices = [("", "Choose the side"), *unsigned]
        self.fields["signed_on"].initial = timezone.localdate()
        self.fields["version"].initial = demand.version

    def save(self, *, by: User) -> TentativeAgreement:
        return agreement_sign(
            demand_id=self.demand.pk,
            side=self.cleaned_data["side"],
            signed_by=self.cleaned_data["signed_by"],
            signed_on=self.cleaned_data["signed_on"],
            expected_version=self.cleaned_data["version"],
            by=by,
            hold=hold_choice(self.cleaned_data),
            embargo_until=self.cleaned_data["embargo_until"],
        )


def _count_field(label: str, **kwargs: Any) -> forms.IntegerField:
    # No minimum here: the service refuses a negative count with its own message.
    return forms.IntegerField(
        label=label, max_value=VOTE_COUNT_MAX, error_messages={"required": "Give a whole number."}, **kwargs
    )


class VoteForm(forms.Form):
    """The members' ratification vote on signed tentative agreements; `vote_record` decides."""

    held_on = forms.DateField(
        label="Held on",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Not in the future.",
        error_messages={"required": "Give the date of the vote."},
    )
    yes = _count_field("Yes")
    no = _count_field("No")
    abstain = _count_field("Abstaining", required=False, help_text="Left empty: none.")
    eligible = _count_field("Eligible members", help_text="Yes + no + abstaining may not exceed it.")
    demands = forms.ModelMultipleChoiceField(
        queryset=Demand.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="Tentative agreements it covers",
        error_messages={"required": "Tick the demands whose tentative agreements the vote covers."},
    )
    hold = hold_field()
    embargo_until = embargo_field()

    def __init__(self, *args: Any, demands: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any visible demand passes the form, so that the service says why one cannot go to a vote; the
        # boxes offer those with a tentative agreement.
        self.fields["demands"].queryset = demands
        self.fields["demands"].widget.choices = [
            (demand.pk, demand.title) for demand in demands.filter(status=Status.TENTATIVE_AGREEMENT)
        ]
        self.fields["held_on"].initial = timezone.localdate()

    def save(self, *, by: User) -> RatificationVote:
        data = self.cleaned_data
        return vote_record(
            held_on=data["held_on"],
            demand_ids=[demand.pk for demand in data["demands"]],
            by=by,
            yes=data["yes"],
            no=data["no"],
            abstain=0 if data["abstain"] is None else data["abstain"],
            eligible=data["eligible"],
            hold=hold_choice(data),
            embargo_until=data["embargo_until"],
        )


class ProposalForm(forms.Form):
    """Edit a proposal (`proposal_update`): a team draft's words, or pass it across the table by its visibility.
    A passed proposal's language, date and visibility are shown but locked; its summary and rationale stay editable."""

    LOCKED_ONCE_PASSED = ("exchanged_on", "language", "visibility")

    exchanged_on = forms.DateField(
        label="Passed across the table on",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Not in the future.",
        error_messages={"required": "Give the date it was (or will be) passed."},
    )
    language = forms.CharField(
        label="Proposed language", widget=forms.Textarea(attrs={"rows": 8}), strip=False, required=False
    )
    summary = forms.CharField(label="Summary for members", widget=forms.Textarea(attrs={"rows": 3}), required=False)
    rationale = forms.CharField(
        label="Rationale", widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="Team-only."
    )
    visibility = forms.ChoiceField(
        label="Visible to",
        choices=Visibility.choices,
        help_text="Bargaining team only: a draft. Members or Public: passed across the table, which moves the demand.",
    )
    note = forms.CharField(
        label="Public note on the status change",
        required=False,
        max_length=StatusChange._meta.get_field("note").max_length,
        help_text="Used only when passing the draft moves the demand.",
    )
    hold = hold_field()
    embargo_until = embargo_field()
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, proposal: Proposal, **kwargs: Any) -> None:
        initial = {name: getattr(proposal, name) for name in ("exchanged_on", "language", "summary", "rationale")}
        kwargs.setdefault("initial", {**initial, "visibility": proposal.visibility, "version": proposal.demand.version})
        super().__init__(*args, **kwargs)
        self.proposal = proposal
        self.passed = proposal.visibility != Visibility.TEAM
        if self.passed:
            for name in self.LOCKED_ONCE_PASSED:
                self.fields[name].disabled = True
            self.fields["language"].help_text = "Passed across the table: locked. Record a new proposal instead."
            del self.fields["note"]
            del self.fields["hold"]
            del self.fields["embargo_until"]

    def save(self, *, by: User) -> Proposal:
        data = {
            name: value
            for name, value in self.cleaned_data.items()
            if not self.fields[name].disabled and name != "hold"
        }
        return proposal_update(
            proposal_id=self.proposal.pk,
            expected_version=data.pop("version"),
            by=by,
            note=data.pop("note", ""),
            hold=hold_choice(self.cleaned_data),
            **data,
        )
