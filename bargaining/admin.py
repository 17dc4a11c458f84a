from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from demands.errors import DomainError

from .models import BargainingSession, Delivery, DigestRun, Member
from .services import digest_preview, digest_send_test


@admin.register(BargainingSession)
class BargainingSessionAdmin(admin.ModelAdmin):
    list_display = ["held_on", "kind", "location"]
    list_filter = ["kind"]
    search_fields = ["location", "team_notes"]
    date_hierarchy = "held_on"
    autocomplete_fields = ["demands"]


def _count(state: str | None = None) -> Count:
    return Count("deliveries", filter=Q(deliveries__state=state) if state else None)


@admin.register(DigestRun)
class DigestRunAdmin(admin.ModelAdmin):
    """Runs with their accounting: once done, eligible = sent + failed + skipped."""

    list_display = ["__str__", "state", "eligible", "sent", "failed", "skipped", "waiting", "window_end", "finished_at"]
    list_filter = ["frequency", "state"]
    date_hierarchy = "period_start"
    readonly_fields = [field.name for field in DigestRun._meta.fields]
    change_list_template = "admin/bargaining/digestrun/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[DigestRun]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                eligible_count=_count(),
                sent_count=_count(Delivery.State.SENT),
                failed_count=_count(Delivery.State.FAILED),
                skipped_count=_count(Delivery.State.SKIPPED),
                waiting_count=Count(
                    "deliveries", filter=Q(deliveries__state__in=[Delivery.State.PENDING, Delivery.State.SENDING])
                ),
            )
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs come from the planner (schedule or send_digests)

    def has_change_permission(self, request: HttpRequest, obj: DigestRun | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: DigestRun | None = None) -> bool:
        return False  # the ledger is the record of who got what; deleting it would allow resends

    @admin.display(description="eligible", ordering="eligible_count")
    def eligible(self, run: DigestRun) -> int:
        return run.eligible_count

    @admin.display(description="sent", ordering="sent_count")
    def sent(self, run: DigestRun) -> str:
        return self._deliveries_link(run, Delivery.State.SENT, run.sent_count)

    @admin.display(description="failed", ordering="failed_count")
    def failed(self, run: DigestRun) -> str:
        return self._deliveries_link(run, Delivery.State.FAILED, run.failed_count)

    @admin.display(description="skipped", ordering="skipped_count")
    def skipped(self, run: DigestRun) -> str:
        return self._deliveries_link(run, Delivery.State.SKIPPED, run.skipped_count)

    @admin.display(description="pending or sending")
    def waiting(self, run: DigestRun) -> int:
        return run.waiting_count

    def _deliveries_link(self, run: DigestRun, state: str, count: int) -> str:
        url = reverse("admin:bargaining_delivery_changelist") + f"?run__id__exact={run.pk}&state__exact={state}"
        return format_html('<a href="{}">{}</a>', url, count)

    def get_urls(self) -> list:
        preview = path("preview/", self.admin_site.admin_view(self.preview_view), name="bargaining_digest_preview")
        return [preview, *super().get_urls()]

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """The digest a chosen member would get now, and "send a test digest to me"."""
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
            try:
                sent = digest_send_test(member=member, to=request.user.email)
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                if sent:
                    messages.success(request, f"A test digest went to {request.user.email}.")
                else:
                    messages.warning(request, "Nothing new for this member: no test digest sent.")
            return HttpResponseRedirect(request.get_full_path())
        content = rendered = None
        if member is not None:
            content, rendered = digest_preview(member=member)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Preview a member's digest",
            "query": query,
            "member": member,
            "content": content,
            "rendered": rendered,
        }
        return TemplateResponse(request, "admin/bargaining/digestrun/preview.html", context)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["member", "run", "state", "skip_reason", "attempts", "short_error", "sent_at", "updated_at"]
    list_filter = ["state", "skip_reason", "run__frequency", "run"]
    search_fields = ["member__email", "message_id", "last_error"]
    list_select_related = ["member", "run"]
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
