from collections.abc import Iterable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q
from django.forms.models import fields_for_model, model_to_dict
from django.utils.translation import gettext_lazy as _

from demands.forms import embargo_field, hold_choice, hold_field
from demands.models import BargainingSession, Category, Demand, Side, Status, Visibility
from demands.selectors import demands_by_category

from .digests.preview import DigestReader
from .models import Member
from .selectors import member_for_preview


class PreferencesForm(forms.Form):
    """A member's digest preferences; `resubscribe` is offered only to a member who unsubscribed."""

    frequency = forms.ChoiceField(
        choices=[(value, _(label)) for value, label in Member.Frequency.choices],
        widget=forms.RadioSelect,
        label=_("How often should we email you?"),
    )
    topics = forms.ModelMultipleChoiceField(
        queryset=Category.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=_("Which topics?"),
        help_text=_("Leave every box unticked to hear about all of them."),
    )
    language = forms.ChoiceField(
        choices=settings.LANGUAGES, widget=forms.RadioSelect, label=_("In which language?"), required=False
    )
    resubscribe = forms.BooleanField(required=False, label=_("Yes, send me digests again"))

    def __init__(self, *args, member: Member, **kwargs) -> None:
        kwargs.setdefault(
            "initial",
            {"frequency": member.frequency, "topics": list(member.topics.all()), "language": member.digest_language},
        )
        super().__init__(*args, **kwargs)
        if member.state != Member.State.UNSUBSCRIBED:
            del self.fields["resubscribe"]


class DigestPreviewForm(forms.Form):
    """Whose next digest the team previews: a member by email or id, or else a kind of member."""

    member = forms.CharField(
        max_length=254,
        required=False,
        label="Member (email or id)",
        help_text="Leave empty to preview a kind of member.",
    )
    frequency = forms.ChoiceField(
        choices=[(Member.Frequency.WEEKLY, "Weekly"), (Member.Frequency.DAILY, "Daily")],
        initial=Member.Frequency.WEEKLY,
        required=False,
    )
    topics = forms.ModelMultipleChoiceField(
        queryset=Category.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: every topic.",
    )
    language = forms.ChoiceField(choices=settings.LANGUAGES, initial=settings.LANGUAGE_CODE, required=False)

    def clean_member(self) -> Member | None:
        query = self.cleaned_data["member"].strip()
        if not query:
            return None
        member = member_for_preview(query)
        if member is None:
            raise forms.ValidationError(f"No member matches “{query}”.")
        return member

    def reader(self) -> DigestReader:
        """The reader the valid form names."""
        data = self.cleaned_data
        if data["member"] is not None:
            return DigestReader.of(data["member"])
        return DigestReader(
            frequency=data["frequency"] or Member.Frequency.WEEKLY,
            topics=frozenset(category.pk for category in data["topics"]),
            language=data["language"] or settings.LANGUAGE_CODE,
        )


class MemberImportForm(forms.Form):
    """The upload on the admin's member import page."""

    file = forms.FileField(
        label="CSV file", help_text="UTF-8, with the header email,name,school,language,frequency,topics."
    )
    dry_run = forms.BooleanField(required=False, label="Check only: report what would happen, change nothing")


class SessionForm(forms.Form):
    """Record or edit a bargaining session; the demands discussed are those `user` may see.

    Any demand `user` may see passes (one query by id); the checkboxes offer the demands already ticked and a
    page of those matching the search (`find`, `offer`), not every demand: the cite-evidence form's pattern.
    """

    FIELDS = ("held_on", "kind", "location", "team_notes")

    def __init__(
        self, *args: Any, user: User | AnonymousUser, instance: BargainingSession | None = None, **kwargs: Any
    ) -> None:
        if instance is not None:
            initial = model_to_dict(instance, fields=self.FIELDS)
            initial["demands"] = [demand.pk for demand in instance.demands.all()]
            kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.fields.update(
            fields_for_model(
                BargainingSession,
                fields=self.FIELDS,
                widgets={
                    "held_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                    "team_notes": forms.Textarea(attrs={"rows": 5}),
                },
                labels={"held_on": "Date", "team_notes": "Team notes"},
                help_texts={"team_notes": "What was said and what to watch for; never shown outside the team."},
            )
        )
        self.fields["demands"] = forms.ModelMultipleChoiceField(
            queryset=demands_by_category(user).select_related("category"),
            widget=forms.CheckboxSelectMultiple,
            required=False,
            label="Demands discussed",
            help_text="Those ticked, and the demands matching the search below; search again to add others.",
        )
        self.fields["demands"].label_from_instance = self.demand_label

    @staticmethod
    def demand_label(demand: Demand) -> str:
        return f"{demand.title} ({demand.category.name})"

    def find(self, search: str = "") -> Any:
        """The demands this form accepts whose title or category contains `search`."""
        found = self.fields["demands"].queryset
        if search:
            found = found.filter(Q(title__icontains=search) | Q(category__name__icontains=search))
        return found

    def chosen(self) -> list[Demand]:
        """The demands ticked: those posted that this form accepts (unknown ids dropped), or else the initial ones."""
        if self.is_bound:
            if self.is_valid() or "demands" in self.cleaned_data:
                return list(self.cleaned_data["demands"])
            ids = self.data.getlist(self.add_prefix("demands")) if hasattr(self.data, "getlist") else []
        else:
            ids = self.initial.get("demands") or []
        numbers = [int(pk) for pk in ids if str(pk).isdigit()]
        return list(self.fields["demands"].queryset.filter(pk__in=numbers)) if numbers else []

    def offer(self, chosen: Iterable[Demand], found: Iterable[Demand]) -> None:
        """Offer only the `chosen` demands (first, ticked) and those `found`, as checkboxes."""
        offered = {demand.pk: self.demand_label(demand) for demand in chosen}
        for demand in found:
            offered.setdefault(demand.pk, self.demand_label(demand))
        self.fields["demands"].widget.choices = list(offered.items())

    def service_data(self) -> dict[str, Any]:
        """The cleaned input as keyword arguments for `session_create` / `session_update`."""
        data = {name: self.cleaned_data[name] for name in self.FIELDS}
        data["demand_ids"] = [demand.pk for demand in self.cleaned_data["demands"]]
        return data

    def shared_fields(self) -> list[forms.BoundField]:
        """The shared fields above the demand search; the demands discussed come after it."""
        return [self[name] for name in ("held_on", "kind", "location")]

    def demand_fields(self) -> list[forms.BoundField]:
        return [self["demands"]]

    def team_only_fields(self) -> list[forms.BoundField]:
        return [self["team_notes"]]


class OutcomeForm(forms.Form):
    """What happened to one demand at a session: the proposal passed, if any, and a status change, if any."""

    demand = forms.IntegerField(widget=forms.HiddenInput)
    version = forms.IntegerField(widget=forms.HiddenInput)
    side = forms.ChoiceField(choices=[("", "No proposal"), *Side.choices], required=False, label="Proposal passed by")
    language = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, strip=False, label="Proposed language"
    )
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Summary for members")
    rationale = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Rationale (team only)")
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.PUBLIC, label="Proposal visible to")
    to_status = forms.ChoiceField(required=False, label="Status change")
    note = forms.CharField(required=False, label="Public note on the status change")
    hold = hold_field()
    embargo_until = embargo_field()

    def __init__(self, *args: Any, demand: Demand, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"demand": demand.pk, "version": demand.version})
        super().__init__(*args, **kwargs)
        self.for_demand = demand
        nexts = [(value, Status(value).label) for value in demand.allowed_next_statuses]
        self.fields["to_status"].choices = [("", "No change"), *nexts]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("side") and not data.get("language", "").strip():
            self.add_error("language", "Give the language of the proposal passed.")
        return data

    def outcome(self) -> dict[str, Any] | None:
        """The outcome for `session_outcomes_record`, or None when nothing happened to this demand."""
        data = self.cleaned_data
        if not data.get("side") and not data.get("to_status"):
            return None
        proposal = None
        if data.get("side"):
            proposal = {name: data[name] for name in ("side", "language", "summary", "rationale", "visibility")}
        return {
            "demand_id": self.for_demand.pk,
            "expected_version": data["version"],
            "proposal": proposal,
            "to_status": data.get("to_status") or None,
            "note": data.get("note", ""),
            "hold": hold_choice(data),
            "embargo_until": data.get("embargo_until"),
        }
