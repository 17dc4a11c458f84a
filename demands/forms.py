"""Forms of the team's pages. They collect input; the services decide what is allowed."""

from typing import Any

from django import forms
from django.apps import apps
from django.contrib.auth.models import User

from .models import Demand, Evidence, ResolutionClause, Status, StatusChange
from .roles import TEAM_GROUP
from .services import demand_transition


def _session_queryset() -> Any:
    # By label: `demands` never imports `bargaining`.
    return apps.get_model("bargaining", "BargainingSession").objects.all()


class TransitionForm(forms.Form):
    """Move a demand to another status; offers only the statuses allowed next."""

    to_status = forms.ChoiceField(label="New status", choices=Status.choices)
    note = forms.CharField(
        label="Public note",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown to members and the public, in digests and in the feed.",
    )
    internal_note = forms.CharField(
        label="Team-only note",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Confidential — bargaining team only.",
    )
    session = forms.ModelChoiceField(
        queryset=None, required=False, label="Bargaining session", empty_label="Not at a session"
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, demand: Demand, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any status passes the form so that the service, which checks the version first and then the
        # transitions table, gives the answer; the menu offers only what the table allows now.
        self.fields["to_status"].widget.choices = [
            (value, Status(value).label) for value in demand.allowed_next_statuses
        ]
        self.fields["session"].queryset = _session_queryset()
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
            "visibility",
            "owner",
            "clauses",
            "priority_tier",
            "internal_notes",
            "fallback_position",
        ]
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 3}),
            "body": forms.Textarea(attrs={"rows": 6}),
            "internal_notes": forms.Textarea(attrs={"rows": 4}),
            "fallback_position": forms.Textarea(attrs={"rows": 3}),
            "clauses": forms.CheckboxSelectMultiple,
        }
        help_texts = {"slug": "The address of the page; left empty, it follows the title."}

    TEAM_ONLY_FIELDS = ("priority_tier", "internal_notes", "fallback_position")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        editing = self.instance.pk is not None
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

    def service_data(self) -> dict[str, Any]:
        """The cleaned fields as keyword arguments for `demand_create` / `demand_update`."""
        data = {name: self.cleaned_data[name] for name in self.Meta.fields}
        if not data["slug"]:
            del data["slug"]
        return data

    def team_only_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.TEAM_ONLY_FIELDS]

    def shared_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.Meta.fields if name not in self.TEAM_ONLY_FIELDS]


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
