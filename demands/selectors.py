"""Reads scoped to the viewer. Everything that lists demands, history or evidence starts here."""

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from .models import Demand, Evidence, EvidenceLink, Resolution, StatusChange
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


def evidence_links_visible_to(user: Viewer) -> QuerySet[EvidenceLink]:
    """Links whose demand and evidence `user` may both see: a link never reveals a hidden side."""
    visible = visibilities_for(user)
    return EvidenceLink.objects.filter(demand__visibility__in=visible, evidence__visibility__in=visible)
