"""Every write to demands goes through these functions."""

from typing import Any

from django.apps import apps
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from .errors import Conflict, InvalidTransition, StaleVersion, ValidationFailed
from .models import NOTE_REQUIRED, Demand, Evidence, EvidenceLink, Status, StatusChange

EDITABLE_FIELDS = frozenset(
    {
        "title",
        "slug",
        "summary",
        "body",
        "category",
        "visibility",
        "owner",
        "target",
        "internal_notes",
        "fallback_position",
        "priority_tier",
    }
)


# Taken by pages under /demands/: a demand with this slug could never be opened.
RESERVED_SLUGS = frozenset({"new"})


def _full_clean(instance: Any, **kwargs: Any) -> None:
    try:
        instance.full_clean(**kwargs)
    except ValidationError as exc:
        raise ValidationFailed(exc.message_dict) from exc


def _unique_slug(title: str) -> str:
    base = slugify(title)[:190] or "demand"
    slug, n = base, 2
    while slug in RESERVED_SLUGS or Demand.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _check_fields(data: dict[str, Any]) -> None:
    unknown = sorted(set(data) - EDITABLE_FIELDS - {"clauses"})
    if unknown:
        reasons = {
            field: ["Change the status with a transition, not an edit."]
            if field == "status"
            else ["This field cannot be edited."]
            for field in unknown
        }
        raise ValidationFailed(reasons)


def demand_create(*, by: User | None, **data: Any) -> Demand:
    """Create a demand in `draft` (or the given status for imports); the slug follows the title if not given."""
    clauses = data.pop("clauses", None)
    status = data.pop("status", Status.DRAFT)
    _check_fields(data)
    demand = Demand(status=status, **data)
    if not demand.slug:
        demand.slug = _unique_slug(demand.title)
    _full_clean(demand)
    _refuse_reserved_slug(demand)
    demand._history_user = by
    with transaction.atomic():
        demand.save()
        if clauses is not None:
            demand.clauses.set(clauses)
    return demand


def demand_update(*, demand_id: int, expected_version: int, by: User | None, **data: Any) -> Demand:
    """Edit a demand's fields if nobody changed it since `expected_version`; bumps `version`."""
    _check_fields(data)
    clauses = data.pop("clauses", None)
    with transaction.atomic():
        demand = Demand.objects.select_for_update().get(pk=demand_id)
        _refuse_stale(demand, expected_version)
        for field, value in data.items():
            setattr(demand, field, value)
        _full_clean(demand)
        _refuse_reserved_slug(demand)
        demand.version += 1
        demand._history_user = by
        demand.save()
        if clauses is not None:
            demand.clauses.set(clauses)
    return demand


def _refuse_reserved_slug(demand: Demand) -> None:
    if demand.slug in RESERVED_SLUGS:
        raise ValidationFailed({"slug": [f"“{demand.slug}” is reserved for the site's own pages; choose another."]})


def _session_model() -> Any:
    # By label: `demands` never imports `bargaining`.
    return apps.get_model("bargaining", "BargainingSession")


def _refuse_stale(demand: Demand, expected_version: int) -> None:
    if demand.version != expected_version:
        raise StaleVersion(
            f"“{demand.title}” was changed by someone else (you saw version {expected_version}, "
            f"it is now version {demand.version}). Reload it and try again."
        )


def demand_transition(
    *,
    demand_id: int,
    to_status: str,
    expected_version: int,
    by: User | None,
    note: str = "",
    internal_note: str = "",
    session_id: int | None = None,
) -> StatusChange:
    """Move a demand to `to_status` if the transitions table allows it, writing its history row."""
    with transaction.atomic():
        demand = Demand.objects.select_for_update().get(pk=demand_id)
        _refuse_stale(demand, expected_version)
        allowed = demand.allowed_next_statuses
        if to_status not in allowed:
            current = Status(demand.status).label
            if to_status not in Status.values:
                problem = f"“{to_status}” is not a status"
            else:
                problem = f"A demand cannot move from {current} to {Status(to_status).label}"
            nexts = ", ".join(allowed) if allowed else f"none: {current} is final"
            raise InvalidTransition(
                f"{problem}. Current status: {demand.status}. Allowed next statuses: {nexts}.", field="status"
            )
        note, internal_note = note.strip(), internal_note.strip()
        if session_id is not None and not _session_model().objects.filter(pk=session_id).exists():
            raise ValidationFailed({"session": [f"There is no bargaining session with id {session_id}."]})
        if to_status in NOTE_REQUIRED and not note:
            raise InvalidTransition(
                f"Moving to {Status(to_status).label} requires a public note saying why.", field="note"
            )
        change = StatusChange.objects.create(
            demand=demand,
            from_status=demand.status,
            to_status=to_status,
            note=note,
            internal_note=internal_note,
            changed_by=by,
            session_id=session_id,
        )
        demand.status = to_status
        demand.version += 1
        demand._history_user = by
        demand.save(update_fields=["status", "version", "updated_at"])
    return change


def evidence_link_create(
    *, demand_id: int, evidence_id: int, claim: str, expected_version: int, by: User | None
) -> EvidenceLink:
    """Cite a piece of evidence for a demand with the claim it supports; bumps the demand's `version`."""
    claim = claim.strip()
    if not claim:
        raise ValidationFailed({"claim": ["Say in one line what the evidence supports."]})
    with transaction.atomic():
        demand = Demand.objects.select_for_update().get(pk=demand_id)
        _refuse_stale(demand, expected_version)
        evidence = Evidence.objects.filter(pk=evidence_id).first()
        if evidence is None:
            raise ValidationFailed({"evidence": [f"There is no evidence with id {evidence_id}."]})
        if EvidenceLink.objects.filter(demand=demand, evidence=evidence).exists():
            raise Conflict(f"“{evidence}” is already cited for “{demand}”.", field="evidence")
        link = EvidenceLink(demand=demand, evidence=evidence, claim=claim)
        _full_clean(link)
        link._history_user = by
        link.save()
        demand.version += 1
        demand._history_user = by
        demand.save(update_fields=["version", "updated_at"])
    return link
