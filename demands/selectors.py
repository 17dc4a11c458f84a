"""Reads scoped to the viewer. Everything that lists demands, history or evidence starts here."""

import datetime
from collections.abc import Collection

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, Prefetch, QuerySet

from .models import Demand, Evidence, EvidenceLink, Resolution, StatusChange, Visibility
from .roles import visibilities_for

Viewer = User | AnonymousUser | None


def demands_visible_to(user: Viewer) -> QuerySet[Demand]:
    """The demands `user` may see: public for anyone, members for member accounts, all for the team."""
    return Demand.objects.filter(visibility__in=visibilities_for(user)).select_related("category")


def demands_visible_at(visibilities: list[str]) -> QuerySet[Demand]:
    """The demands visible at the given visibility keys; for readers without an account (digests)."""
    return Demand.objects.filter(visibility__in=visibilities).select_related("category")


def status_changes_visible_to(user: Viewer) -> QuerySet[StatusChange]:
    """History rows of the demands `user` may see, newest first."""
    return StatusChange.objects.filter(demand__visibility__in=visibilities_for(user)).select_related(
        "demand", "demand__category", "session"
    )


def evidence_visible_to(user: Viewer) -> QuerySet[Evidence]:
    """Evidence items `user` may see (the evidence's own visibility, not its demands')."""
    return Evidence.objects.filter(visibility__in=visibilities_for(user))


def resolutions_visible_to(user: Viewer) -> QuerySet[Resolution]:
    """Resolutions are public records of a governing body: everyone may read them."""
    return Resolution.objects.all()


# What a member may read, signed in or by email. Digests and member pages share these selectors.
MEMBER_VISIBILITIES = [Visibility.PUBLIC, Visibility.MEMBERS]


def status_changes_for_members(
    *, since: datetime.datetime, until: datetime.datetime, category_ids: Collection[int] | None = None
) -> QuerySet[StatusChange]:
    """Status changes in (since, until] of demands members may see, oldest first.

    Only member-facing columns are loaded: the team-only note is not even read from the database.
    """
    changes = StatusChange.objects.filter(
        demand__visibility__in=MEMBER_VISIBILITIES, changed_at__gt=since, changed_at__lte=until
    )
    if category_ids:
        changes = changes.filter(demand__category_id__in=category_ids)
    return (
        changes.select_related("demand__category")
        .only(
            "from_status",
            "to_status",
            "note",
            "changed_at",
            "demand__title",
            "demand__slug",
            "demand__category__name",
            "demand__category__slug",
            "demand__category__position",
        )
        .order_by("changed_at", "id")
    )


def evidence_for_members(*, since: datetime.datetime, until: datetime.datetime) -> QuerySet[Evidence]:
    """Evidence members may see that was added in (since, until], with its links to member-visible demands."""
    links = (
        EvidenceLink.objects.filter(demand__visibility__in=MEMBER_VISIBILITIES)
        .select_related("demand__category")
        .only(
            "evidence_id",
            "claim",
            "demand__title",
            "demand__slug",
            "demand__category__name",
            "demand__category__slug",
            "demand__category__position",
        )
        .order_by("demand__title", "id")
    )
    return (
        Evidence.objects.filter(visibility__in=MEMBER_VISIBILITIES, created_at__gt=since, created_at__lte=until)
        .only("title", "kind", "publisher", "published_on", "url", "created_at")
        .prefetch_related(Prefetch("links", queryset=links, to_attr="member_links"))
        .order_by("created_at", "id")
    )


def demand_status_counts_for_members() -> QuerySet:
    """Rows of (category_id, status, count) over the demands members may see."""
    return (
        Demand.objects.filter(visibility__in=MEMBER_VISIBILITIES)
        .values("category_id", "status")
        .annotate(count=Count("id"))
        .order_by()
    )
