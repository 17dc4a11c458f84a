from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from demands.errors import ValidationFailed

from .forms import MemberImportForm
from .models import BargainingSession, Member
from .roster import CSV_COLUMNS, members_csv_lines, members_csv_parse
from .services import member_create, member_update, members_import

# Rejected rows listed on the import page; the counts above them always cover every row.
IMPORT_REPORT_ROWS_SHOWN = 500


@admin.register(BargainingSession)
class BargainingSessionAdmin(admin.ModelAdmin):
    list_display = ["held_on", "kind", "location"]
    list_filter = ["kind"]
    search_fields = ["location", "team_notes"]
    date_hierarchy = "held_on"
    autocomplete_fields = ["demands"]


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    """The roster. Personal data: the bargaining team may look members up (view permission); adding,
    changing, importing and exporting need `change_member`, which only admins hold."""

    list_display = ["email", "name", "school", "language", "frequency", "state", "topic_names", "updated_at"]
    list_filter = ["state", "frequency", "language", "topics"]
    search_fields = ["email", "name", "school"]
    add_fields = ["email", "name", "school", "language", "frequency", "topics"]
    fields = [*add_fields, "state", "unsubscribed_at", "created_at", "updated_at"]
    readonly_fields = ["unsubscribed_at", "created_at", "updated_at"]
    filter_horizontal = ["topics"]
    list_per_page = 100
    actions = ["export_csv"]
    change_list_template = "admin/bargaining/member/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Member]:
        return super().get_queryset(request).prefetch_related("topics")

    def get_fields(self, request: HttpRequest, obj: Member | None = None) -> list[str]:
        # A new member starts active; the state changes later (unsubscribe, bounce), with its timestamp.
        return self.fields if obj else self.add_fields

    @admin.display(description="Topics")
    def topic_names(self, member: Member) -> str:
        return ", ".join(topic.name for topic in member.topics.all()) or "All"

    def save_model(self, request: HttpRequest, obj: Member, form, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        if change:
            saved = member_update(member_id=obj.pk, **data)
        else:
            saved = member_create(**{name: form.cleaned_data[name] for name in self.add_fields})
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        # Topics were saved by the service in save_model; the form's own m2m save is not needed.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("bargaining.change_member")

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("bargaining.add_member") and request.user.has_perm("bargaining.change_member")

    @admin.action(description="Export selected members as CSV", permissions=["export"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Member]) -> StreamingHttpResponse:
        filename = f"members-{timezone.localdate():%Y-%m-%d}.csv"
        response = StreamingHttpResponse(members_csv_lines(queryset), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="bargaining_member_import"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "can_import": self.has_import_permission(request)}
        return super().changelist_view(request, extra_context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a roster CSV; the same service as `import_members` runs and its report is shown."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = MemberImportForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                text = upload.read().decode("utf-8-sig")
                rows = members_csv_parse(text=text)
            except UnicodeDecodeError:
                form.add_error("file", "This file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again.")
            except ValidationFailed as exc:
                form.add_error("file", exc.errors["file"])
            else:
                report = members_import(rows=rows, dry_run=form.cleaned_data["dry_run"])
                level = messages.WARNING if report.rejected else messages.SUCCESS
                verb = "Checked (dry run, nothing changed)" if report.dry_run else "Imported"
                self.message_user(request, f"{verb} {upload.name}: {report}", level)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import members from CSV",
            "form": form,
            "columns": ",".join(CSV_COLUMNS),
            "report": report,
            "rejected_shown": report.rejected[:IMPORT_REPORT_ROWS_SHOWN] if report else [],
        }
        return TemplateResponse(request, "admin/bargaining/member/import.html", context)
