from collections import defaultdict

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import ProtectedError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from simple_history.admin import SimpleHistoryAdmin

from .errors import DomainError
from .forms import TransitionForm
from .models import (
    BargainingSession,
    Category,
    Demand,
    Evidence,
    EvidenceLink,
    Figure,
    Resolution,
    ResolutionClause,
    StatusChange,
)
from .services import EDITABLE_FIELDS, SESSION_FIELDS, demand_update, session_create, session_update


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position"]
    list_editable = ["position"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


class EvidenceLinkInline(admin.TabularInline):
    model = EvidenceLink
    extra = 0
    autocomplete_fields = ["evidence"]


class StatusChangeInline(admin.TabularInline):
    """The status history, read-only: rows are written by `demand_transition` alone."""

    model = StatusChange
    fields = ["changed_at", "from_status", "to_status", "note", "internal_note", "session", "changed_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-changed_at"]

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class DemandAdminForm(forms.ModelForm):
    """The admin's demand form; `seen_version` refuses an edit made on a copy someone changed since."""

    seen_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Demand
        fields = sorted(EDITABLE_FIELDS | {"clauses"})

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["seen_version"].initial = self.instance.version

    def clean(self) -> dict:
        cleaned = super().clean()
        seen = cleaned.get("seen_version")
        # At POST time the instance was just read from the database: its version is the current one.
        if self.instance.pk and seen is not None and seen != self.instance.version:
            raise forms.ValidationError(
                f"This demand was changed by someone else since you opened it (you saw version {seen}, "
                f"it is now version {self.instance.version}). Reload it and make your change again."
            )
        return cleaned


@admin.register(Demand)
class DemandAdmin(SimpleHistoryAdmin):
    list_display = ["title", "category", "status", "visibility", "priority_tier", "owner", "version", "updated_at"]
    list_filter = ["status", "category", "visibility", "priority_tier"]
    list_select_related = ["category", "owner"]
    search_fields = ["title", "summary", "slug"]
    date_hierarchy = "updated_at"
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["category", "owner", "clauses"]
    readonly_fields = ["status", "version", "created_at", "updated_at"]
    inlines = [EvidenceLinkInline, StatusChangeInline]
    form = DemandAdminForm
    fieldsets = [
        (None, {"fields": ["title", "slug", "category", "summary", "body", "target", "owner", "clauses"]}),
        ("Status", {"fields": ["status", "visibility", "version", "seen_version", "created_at", "updated_at"]}),
        (
            "Team only — never shown to members or the public",
            {"fields": ["priority_tier", "internal_notes", "fallback_position"]},
        ),
    ]
    change_form_template = "admin/demands/demand/change_form.html"

    def get_urls(self):
        return [
            path(
                "<int:object_id>/transition/",
                self.admin_site.admin_view(self.transition_view),
                name="demands_demand_transition",
            ),
            *super().get_urls(),
        ]

    def save_model(self, request: HttpRequest, obj: Demand, form, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Edits go through the service: row lock, version check and bump, audit with the user.
        changed = {name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_FIELDS}
        seen = form.cleaned_data.get("seen_version")
        updated = demand_update(
            demand_id=obj.pk, expected_version=obj.version if seen is None else seen, by=request.user, **changed
        )
        obj.version = updated.version

    def delete_view(self, request: HttpRequest, object_id: str, extra_context=None) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except ProtectedError:
            self.message_user(request, "A demand with status history cannot be deleted.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:demands_demand_change", args=[object_id]))

    def transition_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        demand = get_object_or_404(Demand, pk=object_id)
        if not request.user.has_perm("demands.transition_demand"):
            raise PermissionDenied
        form = TransitionForm(request.POST or None, demand=demand)
        if request.method == "POST" and form.is_valid():
            try:
                change = form.save(by=request.user)
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                self.message_user(request, f"{change}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:demands_demand_change", args=[demand.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": demand,
            "form": form,
            "title": f"Change the status of “{demand}”",
        }
        return TemplateResponse(request, "admin/demands/demand/transition.html", context)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the services alone: browsable, never added, edited or deleted here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(StatusChange)
class StatusChangeAdmin(ReadOnlyAdmin):
    """Browse the append-only history; nothing here can add, edit or delete a row."""

    list_display = ["changed_at", "demand", "from_status", "to_status", "session", "changed_by"]
    list_filter = ["to_status", "from_status", "demand__category"]
    list_select_related = ["demand", "session", "changed_by"]
    search_fields = ["demand__title", "note"]
    date_hierarchy = "changed_at"


class FigureInline(admin.TabularInline):
    model = Figure
    extra = 0


@admin.register(Evidence)
class EvidenceAdmin(SimpleHistoryAdmin):
    list_display = ["title", "kind", "publisher", "published_on", "visibility", "verified_at"]
    list_filter = ["kind", "visibility", "publisher"]
    search_fields = ["title", "publisher", "quote"]
    date_hierarchy = "published_on"
    autocomplete_fields = ["verified_by"]
    inlines = [FigureInline, EvidenceLinkInline]


class ResolutionClauseInline(admin.TabularInline):
    model = ResolutionClause
    extra = 0


@admin.register(Resolution)
class ResolutionAdmin(SimpleHistoryAdmin):
    list_display = ["title", "governing_body", "number", "adopted_on", "vote"]
    list_filter = ["governing_body"]
    search_fields = ["title", "number", "summary"]
    date_hierarchy = "adopted_on"
    inlines = [ResolutionClauseInline]


@admin.register(ResolutionClause)
class ResolutionClauseAdmin(SimpleHistoryAdmin):
    list_display = ["__str__", "resolution", "number"]
    list_select_related = ["resolution"]
    search_fields = ["text", "resolution__title"]
    autocomplete_fields = ["resolution"]


class AuditChangeList(ChangeList):
    """Loads the record before each one on the page in one query, not one `prev_record` query per row."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        records = list(self.result_list)
        if not records:
            return
        ids = {record.id for record in records}
        latest = max(record.history_date for record in records)
        chains: dict[int, list] = defaultdict(list)
        for row in self.model.objects.filter(id__in=ids, history_date__lte=latest).order_by(
            "history_date", "history_id"
        ):
            chains[row.id].append(row)
        for record in records:
            chain = chains[record.id]
            position = next(i for i, row in enumerate(chain) if row.history_id == record.history_id)
            record.audit_previous = chain[position - 1] if position else None
        self.result_list = records


class AuditLogAdmin(ReadOnlyAdmin):
    """Read-only audit of every edit, including of objects deleted since: who, when, which fields, from → to."""

    list_display = ["history_date", "history_user", "history_type", "audited_object", "changes"]
    list_filter = ["history_type", "history_date"]
    list_select_related = ["history_user"]
    date_hierarchy = "history_date"
    list_per_page = 50

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return ["history_user__username", *self.searchable]

    def get_changelist(self, request: HttpRequest, **kwargs) -> type[ChangeList]:
        return AuditChangeList

    @admin.display(description="object")
    def audited_object(self, record) -> str:
        # The first searchable field names the object without loading its relations.
        return f"{record.instance_type.__name__} #{record.id}: {getattr(record, self.searchable[0])}"

    @admin.display(description="changes (from → to)")
    def changes(self, record) -> str:
        previous = getattr(record, "audit_previous", None)
        if record.history_type == "+" or previous is None:
            return "created"
        if record.history_type == "-":
            return "deleted"
        delta = record.diff_against(previous)
        return "; ".join(f"{change.field}: {change.old!r} → {change.new!r}" for change in delta.changes) or "—"


for audited, searchable in [
    (Demand, ["title", "slug"]),
    (Evidence, ["title"]),
    (EvidenceLink, ["claim"]),
    (Resolution, ["title"]),
    (ResolutionClause, ["text"]),
]:
    admin.site.register(
        audited.history.model, type(f"{audited.__name__}AuditAdmin", (AuditLogAdmin,), {"searchable": searchable})
    )


admin.site.register(
    BargainingSession.history.model,
    type("BargainingSessionAuditAdmin", (AuditLogAdmin,), {"searchable": ["location", "team_notes"]}),
)


@admin.register(BargainingSession)
class BargainingSessionAdmin(SimpleHistoryAdmin):
    list_display = ["held_on", "kind", "location"]
    list_filter = ["kind"]
    search_fields = ["location", "team_notes"]
    date_hierarchy = "held_on"
    autocomplete_fields = ["demands"]

    def save_model(self, request: HttpRequest, obj: BargainingSession, form, change: bool) -> None:
        # Through the services, like the site and the API: demands checked, history written with the user.
        fields = {name: form.cleaned_data[name] for name in SESSION_FIELDS if name in form.cleaned_data}
        demand_ids = [demand.pk for demand in form.cleaned_data.get("demands", [])]
        if change:
            saved = session_update(session_id=obj.pk, by=request.user, demand_ids=demand_ids, **fields)
        else:
            saved = session_create(by=request.user, demand_ids=demand_ids, **fields)
        obj.pk, obj.created_at = saved.pk, saved.created_at

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """Nothing left to save: the service has set the demands discussed."""
