from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from demands.admin import SiteAdminMixin
from demands.errors import ValidationFailed

from .digests.preview import DigestReader, digest_next, preview_texts
from .forms import MemberImportForm
from .models import Delivery, DigestRun, DigestSending, Member
from .preview_actions import digest_preview_send_to_me
from .roster import CSV_COLUMNS, members_csv_lines, members_csv_parse, members_import
from .selectors import digest_runs_counts
from .services import digest_sending_pause, member_create, member_revoke_links, member_update
from .tasks import digest_sending_resume_and_enqueue

# Rejected rows listed on the import page; the counts above them always cover every row.
IMPORT_REPORT_ROWS_SHOWN = 500


class LanguageFilter(admin.SimpleListFilter):
    """The site's languages and "other" (their digests come in the default language): a fixed list, where
    the field's own filter would read every member's language (`SELECT DISTINCT` over the roster) per page."""

    title = "language"
    parameter_name = "language"
    OTHER = "other"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [*settings.LANGUAGES, (self.OTHER, "Other (digests in the default language)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Member]) -> QuerySet[Member]:
        if self.value() is None:
            return queryset
        if self.value() == self.OTHER:
            return queryset.exclude(language__in=[code for code, _ in settings.LANGUAGES])
        return queryset.filter(language=self.value())


@admin.register(Member)
class MemberAdmin(SiteAdminMixin, admin.ModelAdmin):
    """The roster. Personal data: the bargaining team may look members up (view permission); adding,
    changing, importing and exporting need `change_member`, which only admins hold."""

    list_display = [
        "email",
        "name",
        "school",
        "language",
        "frequency",
        "state",
        "last_failure",
        "topic_names",
        "updated_at",
    ]
    list_filter = ["state", "frequency", LanguageFilter, "topics"]
    search_fields = ["email", "name", "school"]
    add_fields = ["email", "name", "school", "language", "frequency", "topics"]
    fields = [*add_fields, "state", "unsubscribed_at", "created_at", "updated_at"]
    readonly_fields = ["unsubscribed_at", "created_at", "updated_at"]
    filter_horizontal = ["topics"]
    list_per_page = 100
    actions = ["export_csv", "revoke_links"]
    change_list_template = "admin/bargaining/member/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Member]:
        # Why a member bounced: the error of their latest failed delivery (fixing the address reactivates).
        failures = Delivery.objects.filter(member=OuterRef("pk"), state=Delivery.State.FAILED).order_by("-updated_at")
        return (
            super()
            .get_queryset(request)
            .prefetch_related("topics")
            .annotate(last_failure=Subquery(failures.values("last_error")[:1]))
        )

    @admin.display(description="Last failure", ordering="last_failure")
    def last_failure(self, member: Member) -> str:
        return getattr(member, "last_failure", None) or ""

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

    @admin.action(description="Revoke the links in emails sent so far to selected members", permissions=["change"])
    def revoke_links(self, request: HttpRequest, queryset: QuerySet[Member]) -> None:
        member_ids = list(queryset.values_list("pk", flat=True))
        for member_id in member_ids:
            member_revoke_links(member_id=member_id)
        self.message_user(
            request, f"Revoked the links of {len(member_ids)} member(s); their next emails carry new ones."
        )

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


@admin.register(DigestRun)
class DigestRunAdmin(SiteAdminMixin, admin.ModelAdmin):
    """Runs with their accounting: once done, eligible = sent + failed + skipped.

    The counts come from one grouped query over the deliveries of the runs on the page (cached
    once a run is done), never from a join of every run with every delivery.
    """

    list_display = ["__str__", "state", "eligible", "sent", "failed", "skipped", "waiting", "window_end", "finished_at"]
    list_filter = ["frequency", "state"]
    date_hierarchy = "period_start"  # one row per period: a small table
    readonly_fields = [field.name for field in DigestRun._meta.fields]
    change_list_template = "admin/bargaining/digestrun/change_list.html"

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        changelist = super().get_changelist_instance(request)
        runs = list(changelist.result_list)  # evaluates the page once; the list view reuses it
        counts = digest_runs_counts(runs)
        for run in runs:
            run.counts = counts[run.pk]
        return changelist

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs come from the planner (schedule or send_digests)

    def has_change_permission(self, request: HttpRequest, obj: DigestRun | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: DigestRun | None = None) -> bool:
        return False  # the ledger is the record of who got what; deleting it would allow resends

    @admin.display(description="eligible")
    def eligible(self, run: DigestRun) -> int:
        return run.counts.eligible

    @admin.display(description="sent")
    def sent(self, run: DigestRun) -> str:
        return self._deliveries_link(run, Delivery.State.SENT, run.counts.sent)

    @admin.display(description="failed")
    def failed(self, run: DigestRun) -> str:
        return self._deliveries_link(run, Delivery.State.FAILED, run.counts.failed)

    @admin.display(description="skipped")
    def skipped(self, run: DigestRun) -> str:
        return self._deliveries_link(run, Delivery.State.SKIPPED, run.counts.skipped)

    @admin.display(description="pending or sending")
    def waiting(self, run: DigestRun) -> int:
        return run.counts.pending + run.counts.sending

    def _deliveries_link(self, run: DigestRun, state: str, count: int) -> str:
        url = reverse("admin:bargaining_delivery_changelist") + f"?run__id__exact={run.pk}&state__exact={state}"
        return format_html('<a href="{}">{}</a>', url, count)

    def get_urls(self) -> list:
        # The preview shows the email's HTML, inline styles and all; scripts stay refused (and the iframe sandboxed).
        view = self.admin_site.admin_view(csp_update(settings.CSP_EMAIL_HTML)(self.preview_view))
        preview = path("preview/", view, name="bargaining_digest_preview")
        sending = path("sending/", self.admin_site.admin_view(self.sending_view), name="bargaining_digest_sending")
        return [preview, sending, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        switch = DigestSending.objects.select_related("paused_by").filter(pk=DigestSending.SINGLETON).first()
        context = {
            "digest_sending": switch,
            "can_switch_sending": request.user.has_perm("bargaining.change_digestsending"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def sending_view(self, request: HttpRequest) -> HttpResponse:
        """The kill switch (POST `action=pause|resume`): the same services as `send_digests --pause/--resume`."""
        if not request.user.has_perm("bargaining.change_digestsending"):
            raise PermissionDenied
        back = HttpResponseRedirect(reverse("admin:bargaining_digestrun_changelist"))
        action = request.POST.get("action") if request.method == "POST" else None
        if action == "pause":
            if digest_sending_pause(by_id=request.user.pk):
                messages.success(request, "Digest sending paused: batches stop after the message in flight.")
            else:
                messages.info(request, "Digest sending was already paused.")
        elif action == "resume":
            # As `send_digests --resume`: resume and sweep at once, so paused runs complete without waiting.
            enqueued = digest_sending_resume_and_enqueue()
            if enqueued is None:
                messages.info(request, "Digest sending was not paused.")
            else:
                messages.success(request, f"Digest sending resumed: {enqueued} pending deliveries enqueued.")
        else:
            messages.error(request, "Choose pause or resume (a POST with action=pause or action=resume).")
        return back

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """A chosen member's next digest as it will be sent (the team site's preview), and "send a test digest to
        me"."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        query = request.GET.get("member", "").strip()
        member = None
        if query:
            lookup = Q(email__iexact=query) | (Q(pk=int(query)) if query.isdigit() else Q(pk__in=[]))
            member = Member.objects.filter(lookup).prefetch_related("topics").first()
            if member is None:
                messages.error(request, f"No member matches “{query}”.")
        if member is not None and request.method == "POST":
            digest_preview_send_to_me(request, DigestReader.of(member))
            return HttpResponseRedirect(request.get_full_path())
        preview = digest_next(reader=DigestReader.of(member)) if member is not None else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Preview a member's digest",
            "query": query,
            "member": member,
            "preview": preview,
            **preview_texts(preview),
        }
        return TemplateResponse(request, "admin/bargaining/digestrun/preview.html", context)


@admin.register(Delivery)
class DeliveryAdmin(SiteAdminMixin, admin.ModelAdmin):
    list_display = ["member", "run", "state", "skip_reason", "attempts", "short_error", "sent_at", "updated_at"]
    list_filter = ["state", "skip_reason", "run__frequency", "run"]
    search_fields = ["member__email", "message_id", "last_error"]
    list_select_related = ["member", "run"]
    # Newest first, along the primary key: the model's (run_id, id) has no index of its own and sorted every
    # delivery for each page (bench/README.md, "Admin and pages at the large size").
    ordering = ["-id"]
    readonly_fields = [field.name for field in Delivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False

    @admin.display(description="last error")
    def short_error(self, delivery: Delivery) -> str:
        return delivery.last_error[:120]
