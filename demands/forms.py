"""Forms of the team's pages. They collect input; the services decide what is allowed."""

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.forms.models import fields_for_model, model_to_dict
from django.utils import timezone

from .models import (
    BargainingSession,
    Demand,
    Evidence,
    ResolutionClause,
    Status,
    StatusChange,
    Visibility,
    translation_field_names,
)
from .roles import TEAM_GROUP
from .services import demand_transition


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
    session = forms.ModelChoiceField(
        queryset=BargainingSession.objects.all(),
        required=False,
        label="Bargaining session",
        empty_label="Not at a session",
    )
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
        self.fields["evidence"].queryset = evidence.exclude(links__demand=demand).order_by("title")
        self.fields["evidence"].label_from_instance = self.evidence_label
        self.fields["version"].initial = demand.version

    @staticmethod
    def evidence_label(evidence: Evidence) -> str:
        return f"{evidence.title} ({evidence.publisher})" if evidence.publisher else evidence.title


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
