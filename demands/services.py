"""Every write to demands goes through these functions."""

from collections.abc import Iterable, Mapping
from typing import Any

from django.apps import apps
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from .errors import Conflict, InvalidTransition, StaleVersion, ValidationFailed
from .models import (
    NOTE_REQUIRED,
    Demand,
    Evidence,
    EvidenceLink,
    Figure,
    Resolution,
    ResolutionClause,
    Status,
    StatusChange,
)

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


def _check_editable(data: Mapping[str, Any], editable: frozenset[str]) -> None:
    unknown = sorted(set(data) - editable)
    if unknown:
        raise ValidationFailed({field: ["This field cannot be edited."] for field in unknown})


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


EVIDENCE_FIELDS = frozenset(
    {"title", "kind", "publisher", "published_on", "url", "quote", "verified_by", "verified_at", "visibility"}
)
FIGURE_FIELDS = frozenset({"value", "unit", "period", "description"})


def _refuse_duplicate_evidence(evidence: Evidence) -> None:
    taken = Evidence.objects.filter(title=evidence.title, publisher=evidence.publisher).exclude(pk=evidence.pk)
    other = taken.values_list("pk", flat=True).first()
    if other is not None:
        source = f"from “{evidence.publisher}”" if evidence.publisher else "without a publisher"
        raise Conflict(
            f"There is already evidence titled “{evidence.title}” {source} (id {other}); edit that one instead.",
            field="title",
        )


def _clean_figures(figures: Iterable[Mapping[str, Any]]) -> list[Figure]:
    """Unsaved figures, every problem keyed like `figures.0.value`; the database's check never sees a negative."""
    cleaned, errors = [], {}
    for index, data in enumerate(figures):
        unknown = sorted(set(data) - FIGURE_FIELDS)
        messages: dict[str, list[str]] = {field: ["There is no such field."] for field in unknown}
        figure = Figure(**{field: value for field, value in data.items() if field in FIGURE_FIELDS})
        try:
            # The check constraint is checked below with a message a person can act on.
            figure.full_clean(exclude=["evidence"], validate_constraints=False)
        except ValidationError as exc:
            messages.update(exc.message_dict)
        if "value" not in messages and figure.value < 0:
            messages["value"] = ["A figure cannot be negative."]
        errors.update({f"figures.{index}.{field}": found for field, found in messages.items()})
        cleaned.append(figure)
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def _save_evidence(evidence: Evidence, figures: list[Figure] | None, by: User | None) -> None:
    _refuse_duplicate_evidence(evidence)
    # Uniqueness was just checked with a clearer message than the constraint's own.
    _full_clean(evidence, validate_constraints=False)
    evidence._history_user = by
    evidence.save()
    if figures is not None:
        evidence.figures.all().delete()
        for figure in figures:
            figure.evidence = evidence
            figure.save()


def evidence_create(*, by: User | None, figures: Iterable[Mapping[str, Any]] = (), **fields: Any) -> Evidence:
    """Record a piece of evidence with its figures (each {value, unit, period, description})."""
    _check_editable(fields, EVIDENCE_FIELDS)
    evidence = Evidence(**fields)
    cleaned = _clean_figures(figures)
    with transaction.atomic():
        _save_evidence(evidence, cleaned, by)
    return evidence


def evidence_update(
    *, evidence_id: int, by: User | None, figures: Iterable[Mapping[str, Any]] | None = None, **fields: Any
) -> Evidence:
    """Edit a piece of evidence; `figures`, when given, replace its figures."""
    _check_editable(fields, EVIDENCE_FIELDS)
    cleaned = None if figures is None else _clean_figures(figures)
    with transaction.atomic():
        evidence = Evidence.objects.select_for_update().get(pk=evidence_id)
        for field, value in fields.items():
            setattr(evidence, field, value)
        _save_evidence(evidence, cleaned, by)
    return evidence


RESOLUTION_FIELDS = frozenset({"governing_body", "number", "title", "adopted_on", "vote", "summary", "url"})
CLAUSE_FIELDS = frozenset({"number", "text"})


def _refuse_duplicate_resolution(resolution: Resolution) -> None:
    others = Resolution.objects.filter(governing_body=resolution.governing_body).exclude(pk=resolution.pk)
    if resolution.number and others.filter(number=resolution.number).exists():
        raise Conflict(
            f"{resolution.governing_body} already has a resolution numbered “{resolution.number}”.", field="number"
        )
    if others.filter(adopted_on=resolution.adopted_on, title=resolution.title).exists():
        raise Conflict(
            f"{resolution.governing_body} already has a resolution “{resolution.title}” adopted on "
            f"{resolution.adopted_on}.",
            field="title",
        )


def _clean_clauses(clauses: Iterable[Mapping[str, Any]]) -> dict[int, str]:
    """Clause texts by number; numbers whole, at least 1 and unique. Errors keyed like `clauses.1.number`."""
    by_number: dict[int, str] = {}
    errors: dict[str, list[str]] = {}
    for index, data in enumerate(clauses):
        for field in sorted(set(data) - CLAUSE_FIELDS):
            errors[f"clauses.{index}.{field}"] = ["There is no such field."]
        clause = ResolutionClause(number=data.get("number"), text=data.get("text", ""))  # type: ignore[misc]
        try:
            clause.full_clean(exclude=["resolution"], validate_constraints=False)
        except ValidationError as exc:
            errors.update({f"clauses.{index}.{field}": found for field, found in exc.message_dict.items()})
            continue
        if clause.number < 1:
            errors[f"clauses.{index}.number"] = ["Clause numbers start at 1."]
        elif clause.number in by_number:
            errors[f"clauses.{index}.number"] = [f"Clause {clause.number} is listed twice."]
        else:
            by_number[clause.number] = clause.text
    if errors:
        raise ValidationFailed(errors)
    return by_number


def _save_clauses(resolution: Resolution, clauses: dict[int, str], by: User | None) -> None:
    """Match clauses by number: existing ones keep their id (and so their demand links)."""
    existing = {clause.number: clause for clause in resolution.clauses.select_for_update()}
    dropped = [clause for number, clause in existing.items() if number not in clauses]
    cited = {clause.number: count for clause in dropped if (count := clause.demands.count())}  # type: ignore[attr-defined]
    if cited:
        described = "; ".join(
            f"clause {number} by {count} demand{'s' if count != 1 else ''}" for number, count in sorted(cited.items())
        )
        raise Conflict(
            f"Demands rest on clauses this edit would remove ({described}). Unlink those demands first, "
            "or keep the clauses.",
            field="clauses",
        )
    for clause in dropped:
        clause._history_user = by
        clause.delete()
    for number, text in sorted(clauses.items()):
        clause = existing.get(number) or ResolutionClause(resolution=resolution, number=number)
        if clause.pk is not None and clause.text == text:
            continue
        clause.text = text
        clause._history_user = by
        clause.save()


def _save_resolution(resolution: Resolution, clauses: dict[int, str] | None, by: User | None) -> None:
    _refuse_duplicate_resolution(resolution)
    _full_clean(resolution, validate_constraints=False)
    resolution._history_user = by
    resolution.save()
    if clauses is not None:
        _save_clauses(resolution, clauses, by)


def resolution_create(*, by: User | None, clauses: Iterable[Mapping[str, Any]] = (), **fields: Any) -> Resolution:
    """Record a resolution with its numbered clauses (each {number, text})."""
    _check_editable(fields, RESOLUTION_FIELDS)
    resolution = Resolution(**fields)
    cleaned = _clean_clauses(clauses)
    with transaction.atomic():
        _save_resolution(resolution, cleaned, by)
    return resolution


def resolution_update(
    *, resolution_id: int, by: User | None, clauses: Iterable[Mapping[str, Any]] | None = None, **fields: Any
) -> Resolution:
    """Edit a resolution. `clauses`, when given, is the whole list, matched by number: a clause keeps its
    id while its number stays; one left out is removed, unless demands rest on it."""
    _check_editable(fields, RESOLUTION_FIELDS)
    cleaned = None if clauses is None else _clean_clauses(clauses)
    with transaction.atomic():
        resolution = Resolution.objects.select_for_update().get(pk=resolution_id)
        for field, value in fields.items():
            setattr(resolution, field, value)
        _save_resolution(resolution, cleaned, by)
    return resolution
