"""The Django admin over demands. Django permissions say who may open and edit a model here; what a
staff account may read follows the site's audience rule (`roles.audience_of`), and every write goes
through the services, so a refusal reads as it does on the site and in the API."""

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import EmptyResultSet, PermissionDenied
from django.core.paginator import Paginator
from django.db import connections, models
from django.db.models import ProtectedError
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import Truncator
from simple_history.admin import SimpleHistoryAdmin

from .errors import DomainError, StaleVersion
from .forms import TransitionForm
from .models import (
    Audience,
    BargainingSession,
    Category,
    Demand,
    Evidence,
    EvidenceLink,
    Figure,
    Proposal,
    RatificationVote,
    Resolution,
    ResolutionClause,
    StatusChange,
    TentativeAgreement,
    team_only_fields,
    translation_field_names,
)
from .roles import audience_of, is_team
from .services import (
    CATEGORY_FIELDS,
    CLAUSE_FIELDS,
    DEMAND_FIELDS,
    EVIDENCE_FIELDS,
    FIGURE_FIELDS,
    RESOLUTION_FIELDS,
    SESSION_FIELDS,
    category_create,
    category_update,
    demand_create,
    demand_update,
    evidence_create,
    evidence_link_create,
    evidence_update,
    refuse_stale,
    resolution_create,
    resolution_update,
    rows_delete,
    session_create,
    session_update,
)
from .views import add_domain_error


class EstimatedCountPaginator(Paginator):
    """A changelist's pages, counted exactly up to `exact_up_to` rows and by PostgreSQL's estimate above it.

    An exact count of a large table (300,000 deliveries, 200,000 status changes) reads all of it on every page;
    the planner's estimate of the same query costs a plan. Only the number of pages is approximate: a page
    past the estimate is empty and redirects to the first, as any out-of-range page does.
    """

    exact_up_to = 10_000

    @property
    def count(self) -> int:
        if not hasattr(self, "_count"):
            self._count = self._estimate()
            if self._count is None or self._count <= self.exact_up_to:
                self._count = super().count
        return self._count

    def _estimate(self) -> int | None:
        rows = self.object_list
        if not isinstance(rows, models.QuerySet) or connections[rows.db].vendor != "postgresql":
            return None
        try:
            sql, params = rows.order_by().values("pk").query.sql_with_params()
        except EmptyResultSet:  # a filter nothing can match (`pk__in=[]`): the exact count is 0, with no query
            return None
        with connections[rows.db].cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        return int(plan[0]["Plan"]["Plan Rows"])


class SiteAdminMixin:
    """What every ModelAdmin of both apps shares (`tests/demands/test_admin_page_cache.py` checks each has it).

    - The admin's own writes go through the services: saves already do (`ServiceAdminMixin`, the apps' save
      hooks), and the delete page and the bulk delete action delete through `rows_delete`, so the cached
      anonymous pages that showed the rows are replaced as after any other write (`demands.pagecache`).
    - Changelists count large tables by estimate (`EstimatedCountPaginator`), not by a scan on every page.
    """

    paginator = EstimatedCountPaginator
    # The count of the table without the filters: another scan of it on every filtered page.
    show_full_result_count = False

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        rows_delete(rows=obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        rows_delete(rows=queryset)


class AudienceAdminMixin:
    """Rows scoped to the viewer's audience and team-only fields left out for anyone outside the team,
    in lists, forms, filters and inlines alike: the admin shows a staff account what the site would."""

    def hidden_fields(self, request: HttpRequest) -> tuple[str, ...]:
        if is_team(request.user):
            return ()
        # A history model declares nothing itself: its object's model does.
        return team_only_fields(getattr(self.model, "instance_type", self.model))

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        rows = super().get_queryset(request)
        return rows.visible_to(audience_of(request.user)) if hasattr(rows, "visible_to") else rows

    def _without_hidden(self, request: HttpRequest, names: Iterable[Any]) -> list[Any]:
        hidden = self.hidden_fields(request)
        return [name for name in names if name not in hidden]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return self._without_hidden(request, super().get_fields(request, obj))

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        fieldsets = []
        for name, options in super().get_fieldsets(request, obj):
            fields = self._without_hidden(request, options["fields"])
            if fields:
                fieldsets.append((name, {**options, "fields": fields}))
        return fieldsets

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*(super().get_exclude(request, obj) or ()), *self.hidden_fields(request)]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return self._without_hidden(request, super().get_readonly_fields(request, obj))

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        return self._without_hidden(request, super().get_list_display(request))

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        return self._without_hidden(request, super().get_list_filter(request))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # A staff account outside the team cannot pick (and so cite) what it may not see.
        related = db_field.related_model
        if hasattr(related._default_manager.all(), "visible_to"):
            kwargs.setdefault("queryset", related.objects.visible_to(audience_of(request.user)))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class RefusedForm:
    """Mixed into an admin form to show the service's refusal of the save just tried."""

    refusal: DomainError | None = None

    def clean(self) -> dict:
        cleaned = super().clean()
        # The form's own version check may already have said it in the same words.
        if self.refusal is not None and self.refusal.message not in self.non_field_errors():
            add_domain_error(self, self.refusal)
        return cleaned


class ServiceAdminMixin(SiteAdminMixin, AudienceAdminMixin):
    """Saves through the services (`save_model`/`save_related` call them). A DomainError raised by a
    service rolls the whole save back (the admin's view runs in a transaction) and the same input is
    shown again with the refusal on the form: a form error, never a 500."""

    def changeform_view(self, request: HttpRequest, object_id=None, form_url="", extra_context=None) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as refusal:
            request._service_refusal = refusal
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> type:
        form = super().get_form(request, obj, change, **kwargs)
        refusal = getattr(request, "_service_refusal", None)
        if refusal is None:
            return form
        return type(form.__name__, (RefusedForm, form), {"refusal": refusal})

    @staticmethod
    def adopt(obj: models.Model, saved: models.Model) -> None:
        """Make the admin's object the row the service saved: the admin redirects and logs with it."""
        for field in obj._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding, obj._state.db = False, saved._state.db

    @staticmethod
    def field_values(form: forms.ModelForm, names: Iterable[str]) -> dict[str, Any]:
        return {name: form.cleaned_data[name] for name in names if name in form.cleaned_data}

    @staticmethod
    def whole_list(request: HttpRequest, formsets: list, model: type, names: Iterable[str]) -> list | None:
        """The rows of `model`'s inline as the whole list its service takes (`figures`, `clauses`); None,
        which keeps them as they are, when the inline is absent or the viewer may not rewrite all of it."""
        for formset in formsets:
            formset.save(commit=False)  # writes nothing; records what changed, for the admin's log message
        found = [formset for formset in formsets if formset.model is model]
        opts = model._meta
        rewrite = [f"{opts.app_label}.{action}_{opts.model_name}" for action in ("add", "change", "delete")]
        if not found or not request.user.has_perms(rewrite):
            return None
        deleted = set(map(id, found[0].deleted_forms))
        return [
            {name: form.cleaned_data[name] for name in names}
            for form in found[0].forms
            if form.cleaned_data and id(form) not in deleted
        ]

    def save_new_links(self, request: HttpRequest, formset: Any) -> None:
        """Citations added in the evidence-link inline, each through `evidence_link_create`."""
        for link in formset.save(commit=False):
            version = Demand.objects.values_list("version", flat=True).get(pk=link.demand_id)
            evidence_link_create(
                demand_id=link.demand_id,
                evidence_id=link.evidence_id,
                claim=link.claim,
                expected_version=version,
                by=request.user,
            )


class AuditedAdmin(ServiceAdminMixin, SimpleHistoryAdmin):
    """An object's history pages, for those who may see the object. Reverting to an old version is off:
    it would write around the services (and the version check)."""

    def _refuse_hidden(self, request: HttpRequest, object_id: str) -> None:
        # The team also reads the history of objects deleted since; anyone else only of what they may see.
        if not is_team(request.user) and not self.get_queryset(request).filter(pk=object_id).exists():
            raise Http404

    def history_view(self, request: HttpRequest, object_id: str, extra_context=None) -> HttpResponse:
        self._refuse_hidden(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request: HttpRequest, object_id: str, version_id: str, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        self._refuse_hidden(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def set_history_delta_changes(self, request: HttpRequest, historical_records: Any, foreign_keys_are_objs=True):
        # simple-history's own loop, with the fields hidden from the viewer left out of each diff.
        hidden = self.hidden_fields(request)
        previous = None
        for current in historical_records:
            if previous is not None:
                delta = previous.diff_against(
                    current, excluded_fields=hidden, foreign_keys_are_objs=foreign_keys_are_objs
                )
                helper = self.get_historical_record_context_helper(request, previous)
                previous.history_delta_changes = helper.context_for_delta_changes(delta)
            previous = current


@admin.register(Category)
class CategoryAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "position"]
    list_editable = ["position"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}

    def save_model(self, request: HttpRequest, obj: Category, form, change: bool) -> None:
        fields = self.field_values(form, CATEGORY_FIELDS)
        saved = category_update(category_id=obj.pk, **fields) if change else category_create(**fields)
        self.adopt(obj, saved)


class RecentInlineFormSet(BaseInlineFormSet):
    """An inline of the latest rows only: the inline's `recent` newest by its ordering, whatever the total.

    The change page links to the full list, filtered to the object (`recent_list_links`).
    """

    recent = 10

    def get_queryset(self) -> models.QuerySet:
        if not hasattr(self, "_recent_rows"):
            self._recent_rows = super().get_queryset()[: self.recent]
        return self._recent_rows


class RecentInlineMixin:
    """A bounded, read-only slice of a large related table, its related rows fetched in the same query."""

    formset = RecentInlineFormSet
    list_select_related: tuple[str, ...] = ()
    # The changelist the "all of them" link opens, filtered there by the inline's foreign key.
    full_list_url_name = ""

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return super().get_queryset(request).select_related(*self.list_select_related)  # type: ignore[misc]


class EvidenceLinkInline(RecentInlineMixin, AudienceAdminMixin, admin.TabularInline):
    """Citations, latest first: new rows are written by `evidence_link_create` (the demand's version
    bumped, history written); existing ones are shown, not edited or deleted here."""

    model = EvidenceLink
    extra = 0
    # Both sides searched as typed: a menu of every demand (on the evidence page) or every item would be megabytes.
    autocomplete_fields = ["demand", "evidence"]
    can_delete = False
    ordering = ["-id"]
    list_select_related = ("demand", "evidence")
    full_list_url_name = "admin:demands_evidencelink_changelist"

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class StatusChangeInline(RecentInlineMixin, AudienceAdminMixin, admin.TabularInline):
    """The latest status history, read-only: rows are written by `demand_transition` alone."""

    model = StatusChange
    fields = [
        "occurred_at",
        "changed_at",
        "from_status",
        "to_status",
        "note",
        "note_es",
        "internal_note",
        "session",
        "proposal",
        "agreement",
        "vote",
        "changed_by",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-occurred_at", "-id"]
    list_select_related = ("demand", "session", "changed_by", "proposal", "agreement", "vote")
    full_list_url_name = "admin:demands_statuschange_changelist"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadOnlyInline(AudienceAdminMixin, admin.TabularInline):
    """Rows shown on their demand and never written here: the services write them (pages, API), so the
    demand's version, its history and the transitions table hold. A signed agreement is locked anyway."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return self._without_hidden(request, self.fields or [])

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        # Part of the demand: whoever may view the demand sees them (within their audience).
        return request.user.has_perm("demands.view_demand")

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ProposalInline(ReadOnlyInline):
    model = Proposal
    fields = [
        "number",
        "side",
        "exchanged_on",
        "session",
        "visibility",
        "summary",
        "summary_es",
        "language",
        *Proposal.TEAM_ONLY_FIELDS,
    ]
    ordering = ["number"]


class TentativeAgreementInline(ReadOnlyInline):
    model = TentativeAgreement
    fields = [
        "language",
        "proposal",
        "union_signed_by",
        "union_signed_on",
        "board_signed_by",
        "board_signed_on",
        "reached_at",
    ]


def recent_list_links(inline_admin_formsets: Iterable[Any], obj: models.Model) -> list[dict[str, str]]:
    """For each bounded inline on a change page, the link to all of the object's rows in its changelist."""
    return [
        {
            "label": f"All {inline.opts.opts.verbose_name_plural} of this {obj._meta.verbose_name}",
            "url": f"{reverse(inline.opts.full_list_url_name)}?{inline.formset.fk.name}__id__exact={obj.pk}",
            "shown": f"the latest {inline.formset.recent} are shown above",
        }
        for inline in inline_admin_formsets
        if isinstance(inline.opts, RecentInlineMixin) and inline.opts.full_list_url_name
    ]


class DemandAdminForm(forms.ModelForm):
    """The admin's demand form; `seen_version` refuses an edit made on a copy someone changed since."""

    seen_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Demand
        fields = sorted(DEMAND_FIELDS)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["seen_version"].initial = self.instance.version

    def clean(self) -> dict:
        cleaned = super().clean()
        seen = cleaned.get("seen_version")
        # At POST time the instance was just read from the database: its version is the current one.
        if self.instance.pk and seen is not None:
            try:
                refuse_stale(self.instance, seen)
            except StaleVersion as error:
                raise forms.ValidationError(error.message) from error
        return cleaned


@admin.register(Demand)
class DemandAdmin(AuditedAdmin):
    list_display = ["title", "category", "status", "visibility", "priority_tier", "owner", "version", "updated_at"]
    list_filter = ["status", "category", "visibility", "priority_tier"]
    list_select_related = ["category", "owner"]
    search_fields = ["title", "summary", "slug"]
    date_hierarchy = "updated_at"
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["category", "owner", "clauses"]
    readonly_fields = ["status", "version", "created_at", "updated_at"]
    inlines = [EvidenceLinkInline, ProposalInline, TentativeAgreementInline, StatusChangeInline]
    form = DemandAdminForm
    fieldsets = [
        (None, {"fields": ["title", "slug", "category", "summary", "body", "target", "clauses"]}),
        (
            "In Spanish — shown to Spanish readers; left empty, they see the English",
            {"fields": list(translation_field_names(Demand))},
        ),
        ("Contract language", {"fields": ["article", "current_language"]}),
        ("Status", {"fields": ["status", "visibility", "version", "seen_version", "created_at", "updated_at"]}),
        ("Team only — never shown to members or the public", {"fields": list(Demand.TEAM_ONLY_FIELDS)}),
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

    def render_change_form(self, request: HttpRequest, context: dict, *args: Any, **kwargs: Any) -> HttpResponse:
        context["can_transition"] = is_team(request.user)
        obj = kwargs.get("obj")
        if obj is not None:
            context["recent_list_links"] = recent_list_links(context.get("inline_admin_formsets", ()), obj)
        return super().render_change_form(request, context, *args, **kwargs)

    def save_model(self, request: HttpRequest, obj: Demand, form, change: bool) -> None:
        # Through the services: reserved slugs refused, row lock, version check and bump, audit with the user.
        fields = self.field_values(form, DEMAND_FIELDS)
        if change:
            seen = form.cleaned_data.get("seen_version")
            expected = obj.version if seen is None else seen
            saved = demand_update(demand_id=obj.pk, expected_version=expected, by=request.user, **fields)
        else:
            saved = demand_create(by=request.user, **fields)
        self.adopt(obj, saved)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        # Clauses were set by the service; the status history inline is read-only.
        for formset in formsets:
            if formset.model is EvidenceLink:
                self.save_new_links(request, formset)
            else:
                formset.save(commit=False)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context=None) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except ProtectedError:
            self.message_user(request, "A demand with status history cannot be deleted.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:demands_demand_change", args=[object_id]))

    def transition_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        # The same rule as the site's status form and the API's transition: the team audience.
        if not is_team(request.user):
            raise PermissionDenied
        demand = get_object_or_404(self.get_queryset(request), pk=object_id)
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


class ReadOnlyAdmin(SiteAdminMixin, admin.ModelAdmin):
    """Rows written by the services alone: browsable, never added, edited or deleted here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(StatusChange)
class StatusChangeAdmin(AudienceAdminMixin, ReadOnlyAdmin):
    """Browse the append-only history; nothing here can add, edit or delete a row."""

    list_display = ["occurred_at", "changed_at", "demand", "from_status", "to_status", "session", "changed_by"]
    list_filter = ["to_status", "from_status", "demand__category"]
    list_select_related = ["demand", "session", "changed_by"]
    search_fields = ["demand__title", "note"]
    # No date_hierarchy: it would scan the whole history on every page (counts: `SiteAdminMixin`).
    list_filter = [*list_filter, ("changed_at", admin.DateFieldListFilter)]


@admin.register(EvidenceLink)
class EvidenceLinkAdmin(AudienceAdminMixin, ReadOnlyAdmin):
    """Every citation, e.g. all of one demand's (the change page's inline shows the latest only)."""

    list_display = ["demand", "evidence", "claim"]
    list_select_related = ["demand", "evidence"]
    search_fields = ["claim", "evidence__title", "demand__title"]
    # Newest first along the primary key, as the inline: the model's order (its demand's category and title)
    # sorted every citation for each page.
    ordering = ["-id"]


@admin.register(RatificationVote)
class RatificationVoteAdmin(AudienceAdminMixin, ReadOnlyAdmin):
    """Ratification votes, as recorded by `vote_record` (which moved their demands); read-only here."""

    list_display = ["held_on", "yes", "no", "abstain", "eligible", "recorded_by"]
    date_hierarchy = "held_on"
    filter_horizontal = ["demands"]


class FigureInline(admin.TabularInline):
    """Figures are saved with their evidence, through `evidence_create` / `evidence_update`."""

    model = Figure
    extra = 0


@admin.register(Evidence)
class EvidenceAdmin(AuditedAdmin):
    list_display = ["title", "kind", "publisher", "published_on", "visibility", "verified_at"]
    list_filter = ["kind", "visibility", "publisher"]
    search_fields = ["title", "publisher", "quote"]
    date_hierarchy = "published_on"
    autocomplete_fields = ["verified_by"]
    inlines = [FigureInline, EvidenceLinkInline]

    def save_model(self, request: HttpRequest, obj: Evidence, form, change: bool) -> None:
        """Saved with its figures in `save_related`, where the figure rows are."""

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        fields = self.field_values(form, EVIDENCE_FIELDS)
        figures = self.whole_list(request, formsets, Figure, FIGURE_FIELDS)
        if change:
            saved = evidence_update(evidence_id=form.instance.pk, by=request.user, figures=figures, **fields)
        else:
            saved = evidence_create(by=request.user, figures=figures or (), **fields)
        self.adopt(form.instance, saved)
        for formset in formsets:
            if formset.model is EvidenceLink:
                self.save_new_links(request, formset)


class ResolutionClauseInline(admin.TabularInline):
    """Clauses are saved with their resolution, through the services: one that demands rest on stays."""

    model = ResolutionClause
    extra = 0


@admin.register(Resolution)
class ResolutionAdmin(AuditedAdmin):
    list_display = ["title", "governing_body", "number", "adopted_on", "vote"]
    list_filter = ["governing_body"]
    search_fields = ["title", "number", "summary"]
    date_hierarchy = "adopted_on"
    inlines = [ResolutionClauseInline]

    def save_model(self, request: HttpRequest, obj: Resolution, form, change: bool) -> None:
        """Saved with its clauses in `save_related`, where the clause rows are."""

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        fields = self.field_values(form, RESOLUTION_FIELDS)
        clauses = self.whole_list(request, formsets, ResolutionClause, CLAUSE_FIELDS)
        if change:
            saved = resolution_update(resolution_id=form.instance.pk, by=request.user, clauses=clauses, **fields)
        else:
            saved = resolution_create(by=request.user, clauses=clauses or (), **fields)
        self.adopt(form.instance, saved)

    def has_delete_permission(self, request: HttpRequest, obj: Resolution | None = None) -> bool:
        # Deleting it would delete clauses demands rest on, which an edit refuses.
        if obj is not None and Demand.objects.filter(clauses__resolution=obj).exists():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(ResolutionClause)
class ResolutionClauseAdmin(ReadOnlyAdmin, AuditedAdmin):
    """Browse clauses; they are written with their resolution (a clause demands rest on is never removed)."""

    list_display = ["__str__", "resolution", "number"]
    list_select_related = ["resolution"]
    search_fields = ["text", "resolution__title"]


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
        # Each record is compared with the previous one the viewer may read: a row that was hidden then (a team
        # draft, an unsigned agreement, a demand before it was public) never shows through a diff.
        scoped = self.model_admin.get_queryset(request)
        for row in scoped.filter(id__in=ids, history_date__lte=latest).order_by("history_date", "history_id"):
            chains[row.id].append(row)
        for record in records:
            chain = chains[record.id]
            position = next(i for i, row in enumerate(chain) if row.history_id == record.history_id)
            record.audit_previous = chain[position - 1] if position else None
            record.audit_hidden = self.model_admin.hidden_fields(request)
        self.result_list = records


class AuditLogAdmin(AudienceAdminMixin, ReadOnlyAdmin):
    """Read-only audit of every edit, including of objects deleted since: who, when, which fields, from → to.

    Outside the team, records of rows the viewer may not see are left out, and so are team-only fields.
    """

    list_display = ["history_date", "history_user", "history_type", "audited_object", "changes"]
    list_filter = ["history_type", "history_date"]
    list_select_related = ["history_user"]
    date_hierarchy = "history_date"
    list_per_page = 50

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return ["history_user__username", *self.searchable]

    def get_changelist(self, request: HttpRequest, **kwargs) -> type[ChangeList]:
        return AuditChangeList

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        records = super().get_queryset(request)
        if is_team(request.user):
            return records
        return self.scope(records, audience_of(request.user))

    def scope(self, records: models.QuerySet, audience: Audience) -> models.QuerySet:
        """The audited model's own scoping, applied to its history's columns of the same names; a model scoped
        otherwise (`visible_to` without visibility columns) by the rows the audience may read now."""
        rows = self.model.instance_type.objects.all()
        paths = getattr(rows, "visibility_paths", ())
        if paths:
            return records.filter(**{f"{path}__in": audience.visibilities for path in paths})
        if hasattr(rows, "visible_to"):
            return records.filter(id__in=rows.visible_to(audience).values("pk"))
        return records

    @admin.display(description="object")
    def audited_object(self, record) -> str:
        # The first searchable field names the object without loading its relations.
        # Cut short: a proposal's or agreement's language may run to pages.
        name = Truncator(str(getattr(record, self.searchable[0]))).chars(100)
        return f"{record.instance_type.__name__} #{record.id}: {name}"

    @admin.display(description="changes (from → to)")
    def changes(self, record) -> str:
        previous = getattr(record, "audit_previous", None)
        if record.history_type == "+" or previous is None:
            return "created"
        if record.history_type == "-":
            return "deleted"
        # Without the viewer's audience (never expected), hide what would be hidden from anyone outside the team.
        hidden = getattr(record, "audit_hidden", team_only_fields(record.instance_type))
        delta = record.diff_against(previous, excluded_fields=hidden)
        return "; ".join(f"{change.field}: {change.old!r} → {change.new!r}" for change in delta.changes) or "—"


for audited, searchable in [
    (Demand, ["title", "slug"]),
    (Evidence, ["title"]),
    (EvidenceLink, ["claim"]),
    (Resolution, ["title"]),
    (ResolutionClause, ["text"]),
    (BargainingSession, ["location", "team_notes"]),
    (Proposal, ["language", "summary"]),
    (RatificationVote, ["held_on"]),
]:
    admin.site.register(
        audited.history.model, type(f"{audited.__name__}AuditAdmin", (AuditLogAdmin,), {"searchable": searchable})
    )


@admin.register(TentativeAgreement.history.model)
class TentativeAgreementAuditAdmin(AuditLogAdmin):
    """Outside the team, only the records of an agreement both sides had signed, as the site shows it."""

    searchable = ["language"]

    def scope(self, records: models.QuerySet, audience: Audience) -> models.QuerySet:
        return records.filter(reached_at__isnull=False, demand__visibility__in=audience.visibilities)


@admin.register(BargainingSession)
class BargainingSessionAdmin(AuditedAdmin):
    list_display = ["held_on", "kind", "location"]
    list_filter = ["kind"]
    search_fields = ["location", "team_notes"]
    date_hierarchy = "held_on"
    autocomplete_fields = ["demands"]

    def save_model(self, request: HttpRequest, obj: BargainingSession, form, change: bool) -> None:
        # Through the services, like the site and the API: demands checked, history written with the user.
        fields = self.field_values(form, SESSION_FIELDS)
        demand_ids = [demand.pk for demand in form.cleaned_data.get("demands", [])]
        if change:
            saved = session_update(session_id=obj.pk, by=request.user, demand_ids=demand_ids, **fields)
        else:
            saved = session_create(by=request.user, demand_ids=demand_ids, **fields)
        self.adopt(obj, saved)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """Nothing left to save: the service has set the demands discussed."""
