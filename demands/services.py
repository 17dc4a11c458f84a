"""Every write to demands goes through these functions."""

import datetime
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext
from slugify import slugify

from .errors import Conflict, DomainError, Forbidden, InvalidTransition, StaleVersion, ValidationFailed
from .models import (
    NOTE_REQUIRED,
    NOTE_REQUIRED_MOVES,
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
    Side,
    Status,
    StatusChange,
    TentativeAgreement,
    Visibility,
    held_changes,
    held_proposals,
    translation_field_names,
)
from .pagecache import public_pages_changed

# The demand's fields an edit may set; `status` moves only by `demand_transition`.
DEMAND_FIELDS = frozenset(
    {
        "title",
        "slug",
        "summary",
        "body",
        "category",
        "visibility",
        "target",
        "article",
        "current_language",
        "clauses",
        *Demand.TEAM_ONLY_FIELDS,
        *translation_field_names(Demand),
    }
)
NOT_EDITABLE = {"status": "Change the status with a transition, not an edit."}


# Taken by pages under /demands/: a demand with this slug could never be opened.
RESERVED_SLUGS = frozenset({"new"})


@contextmanager
def _writing() -> Iterator[None]:
    """The transaction of every write here: what the public pages show may change, so their cache moves on
    once it commits (`demands.pagecache`); a write refused or rolled back leaves it as it was."""
    with transaction.atomic():
        # Robust: the write has committed; a cache that cannot be reached must not turn it into an error.
        transaction.on_commit(public_pages_changed, robust=True)
        yield


def rows_delete(*, rows: models.Model | models.QuerySet) -> None:
    """Delete one row or a queryset's rows (the admin's delete page and bulk delete action): like every write
    here, in `_writing`, so the cached public pages that showed them are replaced once it commits. A delete that
    `on_delete=PROTECT` refuses raises `ProtectedError` and changes nothing."""
    with _writing():
        rows.delete()


def _full_clean(instance: Any, **kwargs: Any) -> None:
    try:
        instance.full_clean(**kwargs)
    except ValidationError as exc:
        raise ValidationFailed(exc.message_dict) from exc


def refuse_unknown_fields(
    data: Mapping[str, Any], editable: Collection[str], reasons: Mapping[str, str] = NOT_EDITABLE
) -> None:
    """Refuse, in one message per field, any field that is not `editable`."""
    unknown = sorted(set(data) - set(editable))
    if unknown:
        raise ValidationFailed({name: [reasons.get(name, "This field cannot be edited.")] for name in unknown})


def apply_fields(
    instance: models.Model,
    data: Mapping[str, Any],
    *,
    editable: Collection[str],
    reasons: Mapping[str, str] = NOT_EDITABLE,
    **clean: Any,
) -> set[str]:
    """The one update helper: refuse fields not `editable`, set the others, `full_clean`, and return the
    names of the fields whose value changed (an edit that changes nothing is not saved by the caller).

    Many-to-many values are compared, not set: the caller sets those named in the result after saving.
    `clean` goes to `full_clean` (e.g. `validate_constraints=False` where a service checks them itself).
    """
    refuse_unknown_fields(data, editable, reasons)
    opts = instance._meta
    plain = {name: value for name, value in data.items() if not opts.get_field(name).many_to_many}
    fields = {name: cast(models.Field, opts.get_field(name)) for name in plain}  # concrete: not many-to-many
    before = {name: field.value_from_object(instance) for name, field in fields.items()}
    for name, value in plain.items():
        setattr(instance, name, value)
    _full_clean(instance, **clean)
    changed = {name for name, field in fields.items() if field.value_from_object(instance) != before[name]}
    for name, values in data.items():
        if name in plain:
            continue
        wanted = {getattr(value, "pk", value) for value in values}
        if instance.pk is None or set(getattr(instance, name).values_list("pk", flat=True)) != wanted:
            changed.add(name)
    return changed


def refuse_stale(instance: Any, expected_version: int) -> None:
    """The one stale-version check: `instance` (a row read now) must still be at `expected_version`."""
    if instance.version != expected_version:
        raise StaleVersion(
            f"“{instance}” was changed by someone else (you saw version {expected_version}, "
            f"it is now version {instance.version}). Reload it and try again."
        )


def _unique_slug(title: str) -> str:
    """A readable slug for a title in any script: transliterated ("Consejeros en cada escuela", "Школьные
    психологи" → "shkolnye-psikhologi"); a title with nothing to transliterate gets the day's date, never a word
    every such title would share. Numbered from 2 when taken."""
    base = slugify(title, max_length=190, word_boundary=True) or f"demand-{timezone.localdate():%Y-%m-%d}"
    slug, n = base, 2
    while slug in RESERVED_SLUGS or Demand.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def demand_create(*, by: User | None, **data: Any) -> Demand:
    """Create a demand in `draft` (or the given status for imports); the slug follows the title if not given."""
    status = data.pop("status", Status.DRAFT)
    refuse_unknown_fields(data, DEMAND_FIELDS)
    if not data.get("slug"):
        data["slug"] = _unique_slug(data.get("title", ""))
    demand = Demand(status=status, published_status=status)
    apply_fields(demand, data, editable=DEMAND_FIELDS)
    _refuse_reserved_slug(demand)
    demand._history_user = by
    with _writing():
        demand.save()
        if "clauses" in data:
            demand.clauses.set(data["clauses"])
    return demand


def demand_update(*, demand_id: int, expected_version: int, by: User | None, **data: Any) -> Demand:
    """Edit a demand's fields if nobody changed it since `expected_version`; bumps `version` if anything
    changed. An edit that changes nothing keeps the version and writes no audit row."""
    refuse_unknown_fields(data, DEMAND_FIELDS)
    with _writing():
        demand = Demand.objects.select_for_update().get(pk=demand_id)
        refuse_stale(demand, expected_version)
        changed = apply_fields(demand, data, editable=DEMAND_FIELDS)
        if not changed:
            return demand
        _refuse_reserved_slug(demand)
        demand.version += 1
        demand._history_user = by
        demand.save()
        if "clauses" in changed:
            demand.clauses.set(data["clauses"])
    return demand


def _refuse_reserved_slug(demand: Demand) -> None:
    if demand.slug in RESERVED_SLUGS:
        raise ValidationFailed({"slug": [f"“{demand.slug}” is reserved for the site's own pages; choose another."]})


def _refuse_move(demand: Demand, to_status: str) -> None:
    """The transitions table's refusal, with the message every caller shows."""
    allowed = demand.allowed_next_statuses
    if to_status in allowed:
        return
    current = Status(demand.status).label
    if to_status not in Status.values:
        problem = f"“{to_status}” is not a status"
    else:
        problem = f"A demand cannot move from {current} to {Status(to_status).label}"
    raise InvalidTransition(f"{problem}. {demand.where_it_can_go}", field="status")


def _moment_of(day: datetime.date, demand: Demand) -> datetime.datetime:
    """A day at the table as a moment for the timeline: noon of that day, never later than now, and never
    before the demand was entered here (the tracker may be caught up on sessions held before)."""
    noon = timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))
    return max(min(noon, timezone.now()), demand.created_at)


def _clean_occurred_at(
    demand: Demand, occurred_at: datetime.datetime | None, session: BargainingSession | None
) -> datetime.datetime:
    """When a move happened: given, else its session's date, else now; never in the future, never before
    the demand existed."""
    if occurred_at is None:
        if session is None:
            return timezone.now()
        return _moment_of(session.held_on, demand)
    if occurred_at > timezone.now():
        raise ValidationFailed({"occurred_at": ["A status change cannot have happened in the future."]})
    if occurred_at < demand.created_at:
        raise ValidationFailed(
            {
                "occurred_at": [
                    f"“{demand}” was recorded at {timezone.localtime(demand.created_at):%Y-%m-%d %H:%M:%S %Z}; "
                    "a change to it cannot have happened before that."
                ]
            }
        )
    return occurred_at


def demand_transition(
    *,
    demand_id: int,
    to_status: str,
    expected_version: int,
    by: User | None,
    note: str = "",
    internal_note: str = "",
    session_id: int | None = None,
    occurred_at: datetime.datetime | None = None,
    note_es: str = "",
    proposal_id: int | None = None,
    agreement_id: int | None = None,
    vote_id: int | None = None,
    hold: bool | None = None,
    embargo_until: datetime.datetime | None = None,
) -> StatusChange:
    """Move a demand to `to_status` if the transitions table allows it, writing its history row.

    `hold` (default: the `PUBLISH_REVIEW` setting; implied by `embargo_until`) keeps the change team-only
    until `change_publish` or its embargo publishes it; a change after a held one of the same demand is held
    too, so members never see a later move before an earlier one.

    `proposal_id`, `agreement_id` and `vote_id` name what caused the move (set by the services below).
    Reopening a tentative agreement (→ countered) needs a note and unsigns the agreement; its signed
    state stays in the agreement's history.
    """
    with _writing():
        demand = Demand.objects.select_for_update().get(pk=demand_id)
        refuse_stale(demand, expected_version)
        _refuse_move(demand, to_status)
        note, internal_note, note_es = note.strip(), internal_note.strip(), note_es.strip()
        session = None
        if session_id is not None:
            session = BargainingSession.objects.filter(pk=session_id).first()
            if session is None:
                raise ValidationFailed({"session": [f"There is no bargaining session with id {session_id}."]})
        if (to_status in NOTE_REQUIRED or (demand.status, to_status) in NOTE_REQUIRED_MOVES) and not note:
            what = "Reopening a tentative agreement" if to_status == Status.COUNTERED else "Moving to "
            what = what if to_status == Status.COUNTERED else f"{what}{Status(to_status).label}"
            raise InvalidTransition(f"{what} requires a public note saying why.", field="note")
        when = _clean_occurred_at(demand, occurred_at, session)
        held = _holds(demand, hold, embargo_until)
        if demand.status == Status.TENTATIVE_AGREEMENT and to_status == Status.COUNTERED:
            _agreement_reopen(demand, by)
        change = StatusChange(
            demand=demand,
            from_status=demand.status,
            to_status=to_status,
            note=note,
            note_es=note_es,
            internal_note=internal_note,
            changed_by=by,
            session=session,
            occurred_at=when,
            proposal_id=proposal_id,
            agreement_id=agreement_id,
            vote_id=vote_id,
            embargo_until=embargo_until,
            published_at=None if held else timezone.now(),
        )
        # The field limits (the notes' lengths); the session, the time and the move itself are checked above.
        _full_clean(
            change,
            exclude=["demand", "session", "changed_by", "occurred_at", "proposal", "agreement", "vote", "published_by"],
            validate_constraints=False,
        )
        change._history_user = by
        change.save()
        demand.status = to_status
        if not held:
            demand.published_status = to_status
        demand.version += 1
        demand._history_user = by
        demand.save(update_fields=["status", "published_status", "version", "updated_at"])
    return change


# --- Publishing ---


def _holds(demand: Demand, hold: bool | None, embargo_until: datetime.datetime | None) -> bool:
    """Whether what is recorded now on `demand` is held: if asked (default: the `PUBLISH_REVIEW` setting), if
    embargoed, or if something recorded before on the demand still is, so members never see a later step
    before an earlier one. An embargo must end in the future."""
    if embargo_until is not None and embargo_until <= timezone.now():
        raise ValidationFailed({"embargo_until": ["An embargo must end in the future."]})
    return (
        (settings.PUBLISH_REVIEW if hold is None else hold)
        or embargo_until is not None
        or held_changes().filter(demand=demand).exists()
        or held_proposals().filter(demand=demand).exists()
    )


@dataclass(frozen=True)
class Publication:
    """What one publishing act made visible: held status changes and proposals, by id."""

    change_ids: list[int]
    proposal_ids: list[int]

    def __len__(self) -> int:
        return len(self.change_ids) + len(self.proposal_ids)


def _held_together(
    changes: models.QuerySet[StatusChange], proposals: models.QuerySet[Proposal]
) -> tuple[models.QuerySet[StatusChange], models.QuerySet[Proposal]]:
    """Everything held that is published with `changes` and `proposals`: a vote's result publishes all the
    moves it made, and a proposal and the move it makes are published together."""
    vote_ids = changes.filter(vote__isnull=False).values("vote_id")
    moved_by = changes.filter(proposal__isnull=False).values("proposal_id")
    return (
        held_changes().filter(
            models.Q(pk__in=changes.values("pk"))
            | models.Q(vote_id__in=vote_ids)
            | models.Q(proposal_id__in=proposals.values("pk"))
        ),
        held_proposals().filter(models.Q(pk__in=proposals.values("pk")) | models.Q(pk__in=moved_by)),
    )


def _publish(
    changes: models.QuerySet[StatusChange],
    proposals: models.QuerySet[Proposal],
    by: User | None,
    now: datetime.datetime,
    *,
    skip_locked: bool = False,
) -> Publication:
    """The one publish path (by hand and by embargo): lock and publish what is held together with `changes`
    and `proposals`, bring each touched demand's shown status along and bump its `version` (its
    representation changed: a conditional GET gets the new one). The recorder of any of it may not
    publish it (`by` None is the embargo)."""
    held_changes_, held_proposals_ = _held_together(changes, proposals)
    changes_ = list(held_changes_.select_for_update(skip_locked=skip_locked).order_by("pk"))
    proposals_ = list(held_proposals_.select_for_update(skip_locked=skip_locked).order_by("pk"))
    if by is not None:
        own = [c for c in changes_ if c.changed_by_id == by.pk] + [p for p in proposals_ if p.created_by_id == by.pk]
        if own:
            raise Forbidden(
                f"You recorded “{own[0]}”: another member of the team must check and publish it.",
                field="published_by",
            )
    held: list[StatusChange | Proposal] = [*changes_, *proposals_]
    for item in held:
        item.published_at, item.published_by = now, by
        item._history_user = by
        item.save(update_fields=["published_at", "published_by"])
    demand_ids = {item.demand_id for item in held}
    for demand in Demand.objects.select_for_update().filter(pk__in=demand_ids).order_by("pk"):
        last = StatusChange.objects.filter(demand=demand).published().order_by("-changed_at", "-id").first()
        if last is not None:
            demand.published_status = last.to_status
        demand.version += 1
        demand._history_user = by
        demand.save(update_fields=["published_status", "version", "updated_at"])
    return Publication([c.pk for c in changes_], [p.pk for p in proposals_])


def change_publish(*, change_id: int, by: User) -> StatusChange:
    """A second team member publishes a held change (and whatever it carries: its proposal, agreement, or
    the vote's other moves). The recorder may not publish their own; publishing twice changes nothing."""
    with _writing():
        change = StatusChange.objects.select_for_update().get(pk=change_id)
        if change.published_at is None:
            _publish(StatusChange.objects.filter(pk=change.pk), Proposal.objects.none(), by, timezone.now())
            change.refresh_from_db()
    return change


def proposal_publish(*, proposal_id: int, by: User) -> Proposal:
    """A second team member publishes a held proposal, and the move it makes with it. The recorder may not
    publish their own; publishing twice changes nothing."""
    with _writing():
        proposal = Proposal.objects.select_for_update().get(pk=proposal_id)
        if proposal.published_at is None:
            _publish(StatusChange.objects.none(), Proposal.objects.filter(pk=proposal.pk), by, timezone.now())
            proposal.refresh_from_db()
    return proposal


def embargoes_publish(*, now: datetime.datetime | None = None) -> Publication:
    """Publish everything held whose embargo has passed (the beat task calls this each minute); rows another
    publisher holds locked are left to the next run."""
    now = now or timezone.now()
    with _writing():
        return _publish(
            held_changes().filter(embargo_until__lte=now),
            held_proposals().filter(embargo_until__lte=now),
            None,
            now,
            skip_locked=True,
        )


def _bump_version(demand: Demand, by: User | None) -> None:
    demand.version += 1
    demand._history_user = by
    demand.save(update_fields=["version", "updated_at"])


def evidence_link_create(
    *, demand_id: int, evidence_id: int, claim: str, expected_version: int, by: User | None
) -> EvidenceLink:
    """Cite a piece of evidence for a demand with the claim it supports; bumps the demand's `version`."""
    claim = claim.strip()
    if not claim:
        raise ValidationFailed({"claim": ["Say in one line what the evidence supports."]})
    with _writing():
        demand = Demand.objects.select_for_update().get(pk=demand_id)
        refuse_stale(demand, expected_version)
        evidence = Evidence.objects.filter(pk=evidence_id).first()
        if evidence is None:
            raise ValidationFailed({"evidence": [f"There is no evidence with id {evidence_id}."]})
        if EvidenceLink.objects.filter(demand=demand, evidence=evidence).exists():
            raise Conflict(f"“{evidence}” is already cited for “{demand}”.", field="evidence")
        link = EvidenceLink(demand=demand, evidence=evidence, claim=claim)
        _full_clean(link)
        link._history_user = by
        link.save()
        _bump_version(demand, by)
    return link


CATEGORY_FIELDS = frozenset({"name", "slug", "description", "position", *translation_field_names(Category)})


def category_create(**fields: Any) -> Category:
    """Add a category; its name and slug are unique."""
    category = Category()
    apply_fields(category, fields, editable=CATEGORY_FIELDS)
    with _writing():
        category.save()
    return category


def category_update(*, category_id: int, **fields: Any) -> Category:
    """Rename, describe or reorder a category; nothing changed, nothing saved."""
    with _writing():
        category = Category.objects.select_for_update().get(pk=category_id)
        if apply_fields(category, fields, editable=CATEGORY_FIELDS):
            category.save()
    return category


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


def _figure_rows(figures: Iterable[Figure]) -> list[tuple[Any, ...]]:
    return [(figure.value, figure.unit, figure.period, figure.description) for figure in figures]


def _save_evidence(evidence: Evidence, figures: list[Figure] | None, by: User | None) -> None:
    _refuse_duplicate_evidence(evidence)
    evidence._history_user = by
    evidence.save()
    if figures is not None:
        evidence.figures.all().delete()
        for figure in figures:
            figure.evidence = evidence
            figure.save()


def evidence_create(*, by: User | None, figures: Iterable[Mapping[str, Any]] = (), **fields: Any) -> Evidence:
    """Record a piece of evidence with its figures (each {value, unit, period, description})."""
    evidence = Evidence()
    # Uniqueness is checked by `_refuse_duplicate_evidence`, with a clearer message than the constraint's own.
    apply_fields(evidence, fields, editable=EVIDENCE_FIELDS, validate_constraints=False)
    cleaned = _clean_figures(figures)
    with _writing():
        _save_evidence(evidence, cleaned, by)
    return evidence


def evidence_update(
    *, evidence_id: int, by: User | None, figures: Iterable[Mapping[str, Any]] | None = None, **fields: Any
) -> Evidence:
    """Edit a piece of evidence; `figures`, when given, replace its figures. Nothing changed: nothing saved."""
    refuse_unknown_fields(fields, EVIDENCE_FIELDS)
    cleaned = None if figures is None else _clean_figures(figures)
    with _writing():
        evidence = Evidence.objects.select_for_update().get(pk=evidence_id)
        changed = apply_fields(evidence, fields, editable=EVIDENCE_FIELDS, validate_constraints=False)
        if cleaned is not None and _figure_rows(cleaned) == _figure_rows(evidence.figures.order_by("id")):
            cleaned = None
        if changed or cleaned is not None:
            _save_evidence(evidence, cleaned, by)
    return evidence


RESOLUTION_FIELDS = frozenset(
    {"governing_body", "number", "title", "adopted_on", "vote", "summary", "url", *translation_field_names(Resolution)}
)
CLAUSE_FIELDS = frozenset({"number", "text", *translation_field_names(ResolutionClause)})
ClauseTexts = tuple[str, str]  # (text, text_es)


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


def _clean_clauses(clauses: Iterable[Mapping[str, Any]]) -> dict[int, ClauseTexts]:
    """Clause texts (English, Spanish) by number; numbers whole, at least 1 and unique.

    Errors keyed like `clauses.1.number`.
    """
    by_number: dict[int, ClauseTexts] = {}
    errors: dict[str, list[str]] = {}
    for index, data in enumerate(clauses):
        for field in sorted(set(data) - CLAUSE_FIELDS):
            errors[f"clauses.{index}.{field}"] = ["There is no such field."]
        clause = ResolutionClause(number=data.get("number"), text=data.get("text", ""), text_es=data.get("text_es", ""))  # type: ignore[misc]
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
            by_number[clause.number] = (clause.text, clause.text_es)
    if errors:
        raise ValidationFailed(errors)
    return by_number


def _clauses_changed(resolution: Resolution, clauses: dict[int, ClauseTexts]) -> bool:
    return {
        number: (text, es) for number, text, es in resolution.clauses.values_list("number", "text", "text_es")
    } != clauses


def _save_clauses(resolution: Resolution, clauses: dict[int, ClauseTexts], by: User | None) -> None:
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
    for number, (text, text_es) in sorted(clauses.items()):
        clause = existing.get(number) or ResolutionClause(resolution=resolution, number=number)
        if clause.pk is not None and (clause.text, clause.text_es) == (text, text_es):
            continue
        clause.text, clause.text_es = text, text_es
        clause._history_user = by
        clause.save()


def _save_resolution(resolution: Resolution, clauses: dict[int, ClauseTexts] | None, by: User | None) -> None:
    _refuse_duplicate_resolution(resolution)
    resolution._history_user = by
    resolution.save()
    if clauses is not None:
        _save_clauses(resolution, clauses, by)


def resolution_create(*, by: User | None, clauses: Iterable[Mapping[str, Any]] = (), **fields: Any) -> Resolution:
    """Record a resolution with its numbered clauses (each {number, text})."""
    resolution = Resolution()
    # Uniqueness is checked by `_refuse_duplicate_resolution`, with a message naming what is already there.
    apply_fields(resolution, fields, editable=RESOLUTION_FIELDS, validate_constraints=False)
    cleaned = _clean_clauses(clauses)
    with _writing():
        _save_resolution(resolution, cleaned, by)
    return resolution


def resolution_update(
    *, resolution_id: int, by: User | None, clauses: Iterable[Mapping[str, Any]] | None = None, **fields: Any
) -> Resolution:
    """Edit a resolution. `clauses`, when given, is the whole list, matched by number: a clause keeps its
    id while its number stays; one left out is removed, unless demands rest on it. Nothing changed: nothing
    saved."""
    refuse_unknown_fields(fields, RESOLUTION_FIELDS)
    cleaned = None if clauses is None else _clean_clauses(clauses)
    with _writing():
        resolution = Resolution.objects.select_for_update().get(pk=resolution_id)
        changed = apply_fields(resolution, fields, editable=RESOLUTION_FIELDS, validate_constraints=False)
        if cleaned is not None and not _clauses_changed(resolution, cleaned):
            cleaned = None
        if changed:
            _save_resolution(resolution, cleaned, by)
        elif cleaned is not None:
            _save_clauses(resolution, cleaned, by)
    return resolution


# --- Bargaining sessions ---

SESSION_FIELDS = frozenset({"held_on", "location", "kind", "team_notes"})


def _existing_demand_ids(demand_ids: Iterable[int]) -> list[int]:
    """The ids, once each, if every one names a demand; otherwise ValidationFailed naming the unknown ones."""
    wanted = list(dict.fromkeys(demand_ids))
    found = set(Demand.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    missing = [str(pk) for pk in wanted if pk not in found]
    if missing:
        ids = ", ".join(missing)
        message = f"There is no demand with id {ids}." if len(missing) == 1 else f"There are no demands with ids {ids}."
        raise ValidationFailed({"demands": [message]})
    return wanted


def session_create(*, by: User | None, demand_ids: Iterable[int] = (), **fields: Any) -> BargainingSession:
    """Record a bargaining session: date, place, kind, team notes and the demands discussed."""
    session = BargainingSession()
    apply_fields(session, fields, editable=SESSION_FIELDS)
    ids = _existing_demand_ids(demand_ids)
    session._history_user = by
    with _writing():
        session.save()
        session.demands.set(ids)
    return session


def session_update(
    *, session_id: int, by: User | None, demand_ids: Iterable[int] | None = None, **fields: Any
) -> BargainingSession:
    """Edit a session; `demand_ids`, when given, replace the demands discussed. An edit that changes
    nothing writes no audit row."""
    refuse_unknown_fields(fields, SESSION_FIELDS)
    ids = None if demand_ids is None else _existing_demand_ids(demand_ids)
    with _writing():
        session = BargainingSession.objects.select_for_update().get(pk=session_id)
        data = fields if ids is None else {**fields, "demands": ids}
        changed = apply_fields(session, data, editable=SESSION_FIELDS | {"demands"})
        if changed - {"demands"}:
            session._history_user = by
            session.save()
        if ids is not None and "demands" in changed:
            session.demands.set(ids)
    return session


# --- Bargaining at the table ---

# The status a proposal of each side moves its demand to.
PROPOSAL_MOVES = {Side.UNION: Status.PROPOSED, Side.BOARD: Status.COUNTERED}
PROPOSAL_FIELDS = frozenset(
    {"side", "exchanged_on", "language", "summary", "rationale", "visibility", *translation_field_names(Proposal)}
)


def _refuse_future(field: str, day: datetime.date | None, what: str) -> None:
    if day is not None and day > timezone.localdate():
        raise ValidationFailed({field: [f"{what} cannot be in the future (today is {timezone.localdate()})."]})


def proposal_create(
    *,
    demand_id: int,
    expected_version: int,
    by: User | None,
    session_id: int | None = None,
    note: str = "",
    note_es: str = "",
    hold: bool | None = None,
    embargo_until: datetime.datetime | None = None,
    **fields: Any,
) -> Proposal:
    """Record a proposal, numbered next on its demand, and move the demand as the side's pass does (a union
    proposal to `proposed`, a Board one to `countered`; no move when it is there already). A team draft
    (visibility `team`) has not crossed the table and moves nothing. Refused moves write nothing.

    `hold` and `embargo_until` hold a passed proposal as `demand_transition` holds a change (`_holds`), and
    the move it makes with it: one is published with the other (`proposal_publish`, `change_publish`)."""
    refuse_unknown_fields(fields, PROPOSAL_FIELDS)
    with _writing():
        demand = Demand.objects.select_for_update().get(pk=demand_id)
        refuse_stale(demand, expected_version)
        proposal = Proposal(demand=demand, session_id=session_id, created_by=by, number=1)
        apply_fields(proposal, fields, editable=PROPOSAL_FIELDS, exclude=["number"], validate_constraints=False)
        if session_id is not None and not BargainingSession.objects.filter(pk=session_id).exists():
            raise ValidationFailed({"session": [f"There is no bargaining session with id {session_id}."]})
        to_status = _proposal_move(demand, proposal)
        held = _hold_pass(demand, proposal, hold, embargo_until)
        last = Proposal.objects.filter(demand=demand).aggregate(models.Max("number"))["number__max"]
        proposal.number = (last or 0) + 1
        proposal._history_user = by
        proposal.save()
        _record_pass(demand, proposal, to_status, by=by, note=note, note_es=note_es, session_id=session_id, hold=held)
    return proposal


def _hold_pass(demand: Demand, proposal: Proposal, hold: bool | None, embargo_until: datetime.datetime | None) -> bool:
    """Set whether a proposal passed across the table now is held (`_holds`), and return it for the move it
    makes. A team draft has reached nobody: it is not held, and its publication is decided when it passes."""
    if proposal.visibility == Visibility.TEAM:
        return False
    held = _holds(demand, hold, embargo_until)
    proposal.published_at = None if held else timezone.now()
    proposal.embargo_until = embargo_until
    return held


def _proposal_move(demand: Demand, proposal: Proposal) -> str | None:
    """The status a proposal passed across the table moves its demand to (a union one to `proposed`, a Board
    one to `countered`), or None: a team draft, or a demand there already. A move the transitions table
    refuses, and any proposal on a final demand, is refused with the table's message."""
    to_status = PROPOSAL_MOVES[Side(proposal.side)]
    moves = proposal.visibility != Visibility.TEAM and demand.status != to_status
    if moves or not demand.is_open:
        _refuse_move(demand, to_status)
    return to_status if moves else None


def _record_pass(
    demand: Demand,
    proposal: Proposal,
    to_status: str | None,
    *,
    by: User | None,
    note: str,
    note_es: str = "",
    session_id: int | None,
    hold: bool = False,
) -> None:
    """Move the demand as `_proposal_move` said, one history row citing the proposal, held as the proposal is
    (`_hold_pass`, which has checked its embargo); else bump its version."""
    if to_status is None:
        _bump_version(demand, by)
        return
    demand_transition(
        demand_id=demand.pk,
        to_status=to_status,
        expected_version=demand.version,
        by=by,
        note=note,
        note_es=note_es,
        session_id=session_id,
        occurred_at=_moment_of(proposal.exchanged_on, demand),
        proposal_id=proposal.pk,
        hold=hold,
        embargo_until=proposal.embargo_until if hold else None,
    )


# A team draft may be edited and passed across the table (visibility `team` → `members` or `public`); once
# passed, its words are what the other side received: only the member-facing summary and the team's rationale
# stay editable.
PROPOSAL_EDITABLE = frozenset(
    {"exchanged_on", "language", "summary", "rationale", "visibility", *translation_field_names(Proposal)}
)
PASSED_PROPOSAL_EDITABLE = frozenset({"summary", "rationale", *translation_field_names(Proposal)})
PROPOSAL_NOT_EDITABLE = {
    "side": "A proposal's side cannot change; record a new proposal.",
    "number": "Proposals are numbered in the order they are recorded.",
    "session": "A proposal's session cannot change.",
}


def proposal_update(
    *,
    proposal_id: int,
    expected_version: int,
    by: User | None,
    note: str = "",
    note_es: str = "",
    hold: bool | None = None,
    embargo_until: datetime.datetime | None = None,
    **fields: Any,
) -> Proposal:
    """Edit a proposal if nobody changed its demand since `expected_version` (the demand's version, as every
    write on a demand). A team draft's language, summary, rationale and date may change; setting its visibility
    to `members` or `public` passes it across the table, which moves the demand as `proposal_create` does for
    a passed proposal, one history row citing it. A passed proposal's language, date and visibility are locked
    (409). An edit that changes nothing writes nothing."""
    refuse_unknown_fields(fields, PROPOSAL_EDITABLE, PROPOSAL_NOT_EDITABLE)
    with _writing():
        demand_id = Proposal.objects.values_list("demand_id", flat=True).get(pk=proposal_id)
        demand = Demand.objects.select_for_update().get(pk=demand_id)
        refuse_stale(demand, expected_version)
        proposal = Proposal.objects.select_for_update().get(pk=proposal_id)
        draft = proposal.visibility == Visibility.TEAM
        before = {name: getattr(proposal, name) for name in fields}
        changed = apply_fields(
            proposal, fields, editable=PROPOSAL_EDITABLE, exclude=["number"], validate_constraints=False
        )
        if not changed:
            return proposal
        locked = sorted(changed - PASSED_PROPOSAL_EDITABLE)
        if not draft and locked:
            raise Conflict(
                f"Proposal {proposal.number} on “{demand}” was passed across the table on "
                f"{before.get('exchanged_on', proposal.exchanged_on):%Y-%m-%d}: its {' and '.join(locked)} cannot be "
                "edited. Record a new proposal instead.",
                field=locked[0],
            )
        to_status = _proposal_move(demand, proposal) if draft else None
        # Passing a draft across the table is when it reaches members: held, or published, from now.
        held = _hold_pass(demand, proposal, hold, embargo_until) if draft else False
        proposal._history_user = by
        proposal.save()
        _record_pass(
            demand, proposal, to_status, by=by, note=note, note_es=note_es, session_id=proposal.session_id, hold=held
        )
    return proposal


def _locked_agreement(demand: Demand) -> TentativeAgreement | None:
    return TentativeAgreement.objects.select_for_update().filter(demand=demand).first()


def _signed_message(agreement: TentativeAgreement) -> str:
    signatures = [
        f"{label} ({name}, {day})"
        for label, name, day in (
            ("the union", agreement.union_signed_by, agreement.union_signed_on),
            ("the Board", agreement.board_signed_by, agreement.board_signed_on),
        )
        if day is not None
    ]
    return f"The tentative agreement on “{agreement.demand}” is signed by {' and '.join(signatures)}"


def agreement_set_language(
    *, demand_id: int, language: str, expected_version: int, by: User | None, proposal_id: int | None = None
) -> TentativeAgreement:
    """Create or edit the agreed language of a demand while no side has signed it."""
    language = language.strip()
    if not language:
        raise ValidationFailed({"language": ["Give the agreed contract language."]})
    with _writing():
        demand = Demand.objects.select_for_update().get(pk=demand_id)
        refuse_stale(demand, expected_version)
        if not demand.is_open:
            _refuse_move(demand, Status.TENTATIVE_AGREEMENT)
        agreement = _locked_agreement(demand) or TentativeAgreement(demand=demand)
        if agreement.is_signed:
            raise Conflict(f"{_signed_message(agreement)}: its language is locked.", field="language")
        if proposal_id is not None and not Proposal.objects.filter(pk=proposal_id, demand=demand).exists():
            raise ValidationFailed({"proposal": [f"“{demand}” has no proposal with id {proposal_id}."]})
        if agreement.pk is not None and agreement.language == language and proposal_id is None:
            return agreement
        agreement.language = language
        if proposal_id is not None:
            agreement.proposal_id = proposal_id
        agreement._history_user = by
        agreement.save()
        _bump_version(demand, by)
    return agreement


def agreement_sign(
    *,
    demand_id: int,
    side: str,
    signed_by: str,
    signed_on: datetime.date,
    expected_version: int,
    by: User | None,
    session_id: int | None = None,
    hold: bool | None = None,
    embargo_until: datetime.datetime | None = None,
) -> TentativeAgreement:
    """One side initials the agreement. The second signature reaches it: the demand moves to
    `tentative_agreement` in the same transaction, and the language is locked. `hold` and `embargo_until` hold
    that move (a first signature alone is never shown to members)."""
    signed_by = signed_by.strip()
    errors: dict[str, list[str]] = {}
    if side not in Side.values:
        errors["side"] = [f"“{side}” is not a side; use union or board."]
    if not signed_by:
        errors["signed_by"] = ["Say who signed for this side."]
    if errors:
        raise ValidationFailed(errors)
    _refuse_future("signed_on", signed_on, "A signature")
    with _writing():
        # The demand's row lock serializes signers: of two at once, exactly one reaches the agreement.
        demand = Demand.objects.select_for_update().get(pk=demand_id)
        refuse_stale(demand, expected_version)
        agreement = _locked_agreement(demand)
        if agreement is None:
            raise ValidationFailed({"side": [f"“{demand}” has no agreed language to sign yet; set it first."]})
        if agreement.is_reached:
            raise Conflict(f"{_signed_message(agreement)}: both sides have signed already.", field="side")
        if agreement.signed_on(side) is not None:
            raise Conflict(f"{_signed_message(agreement)}: {Side(side).label} has signed already.", field="side")
        if not agreement.is_signed:
            # The first signature: the move the second will make must be allowed now.
            _refuse_move(demand, Status.TENTATIVE_AGREEMENT)
        setattr(agreement, f"{side}_signed_by", signed_by)
        setattr(agreement, f"{side}_signed_on", signed_on)
        if agreement.is_reached:
            agreement.reached_at = timezone.now()
        agreement._history_user = by
        agreement.save()
        if agreement.is_reached:
            demand_transition(
                demand_id=demand.pk,
                to_status=Status.TENTATIVE_AGREEMENT,
                expected_version=demand.version,
                by=by,
                session_id=session_id,
                occurred_at=_moment_of(max(agreement.union_signed_on, agreement.board_signed_on), demand),
                agreement_id=agreement.pk,
                hold=hold,
                embargo_until=embargo_until,
            )
        else:
            _bump_version(demand, by)
    return agreement


def _agreement_reopen(demand: Demand, by: User | None) -> None:
    """Unsign a reached agreement (called by `demand_transition`); the signed state stays in its history."""
    agreement = _locked_agreement(demand)
    if agreement is None:
        return
    agreement.union_signed_by = agreement.board_signed_by = ""
    agreement.union_signed_on = agreement.board_signed_on = None
    agreement.reached_at = None
    agreement._history_user = by
    agreement.save()


VOTE_COUNTS = ("yes", "no", "abstain", "eligible")


def _clean_vote_counts(counts: Mapping[str, Any]) -> dict[str, int]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, int] = {}
    for name in VOTE_COUNTS:
        value = counts.get(name, 0 if name == "abstain" else None)
        if isinstance(value, bool) or not isinstance(value, int):
            errors[name] = ["Give a whole number."]
        elif value < 0:
            errors[name] = ["A count cannot be negative."]
        else:
            cleaned[name] = value
    if not errors and cleaned["yes"] + cleaned["no"] + cleaned["abstain"] > cleaned["eligible"]:
        cast = cleaned["yes"] + cleaned["no"] + cleaned["abstain"]
        errors["eligible"] = [
            f"{cast:,} votes were cast (yes + no + abstain) but only {cleaned['eligible']:,} members were eligible."
        ]
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def _vote_note(vote: RatificationVote, language: str) -> str:
    """The public note of a vote's status changes, in `language`, its counts grouped as that language does."""
    with translation.override(language):
        counts = {
            "yes": number_format(vote.yes, force_grouping=True),
            "no": number_format(vote.no, force_grouping=True),
        }
        if vote.passed:
            return gettext("Members ratified the tentative agreement, %(yes)s yes to %(no)s no.") % counts
        return gettext("Members voted down the tentative agreement, %(yes)s yes to %(no)s no.") % counts


def vote_record(
    *,
    held_on: datetime.date,
    demand_ids: Iterable[int],
    by: User | None,
    hold: bool | None = None,
    embargo_until: datetime.datetime | None = None,
    **counts: Any,
) -> RatificationVote:
    """Record the members' vote on the tentative agreements of `demand_ids`. Passed (yes > no) ratifies every
    covered demand; failed sends each back to `countered`. All or nothing, in one transaction. `hold` and
    `embargo_until` hold the result (every move it makes) until it is published, e.g. after a press conference."""
    refuse_unknown_fields(counts, VOTE_COUNTS)
    cleaned = _clean_vote_counts(counts)
    _refuse_future("held_on", held_on, "A vote")
    ids = sorted(set(demand_ids))
    if not ids:
        raise ValidationFailed({"demands": ["Name the demands whose tentative agreements the vote covers."]})
    with _writing():
        demands = list(Demand.objects.select_for_update().filter(pk__in=_existing_demand_ids(ids)).order_by("pk"))
        reached = set(
            TentativeAgreement.objects.filter(demand__in=demands, reached_at__isnull=False).values_list(
                "demand_id", flat=True
            )
        )
        not_ready = [
            f"“{demand}” ({demand.status})"
            for demand in demands
            if demand.status != Status.TENTATIVE_AGREEMENT or demand.pk not in reached
        ]
        if not_ready:
            raise ValidationFailed(
                {"demands": ["Only demands with a signed tentative agreement go to a vote: " + ", ".join(not_ready)]}
            )
        vote = RatificationVote(held_on=held_on, recorded_by=by, **cleaned)
        _full_clean(vote)
        vote._history_user = by
        vote.save()
        vote.demands.set(demands)
        to_status = Status.RATIFIED if vote.passed else Status.COUNTERED
        note, note_es = (_vote_note(vote, language) for language in (settings.LANGUAGE_CODE, "es"))
        for demand in demands:
            demand_transition(
                demand_id=demand.pk,
                to_status=to_status,
                expected_version=demand.version,
                by=by,
                note=note,
                note_es=note_es,
                occurred_at=_moment_of(held_on, demand),
                vote_id=vote.pk,
                hold=hold,
                embargo_until=embargo_until,
            )
    return vote


def session_outcomes_record(*, session_id: int, outcomes: Iterable[Mapping[str, Any]], by: User | None) -> int:
    """Record what happened at a session on its demands, all or nothing: for each demand discussed, the
    proposal passed (`proposal`: the fields of `proposal_create`) and/or a status change (`to_status`, `note`),
    both held if `hold` or `embargo_until` says so (as `demand_transition` and `proposal_create` hold).

    Each outcome names `demand_id` and the `expected_version` the recorder saw. Errors are keyed by the
    outcome's position (`0.language`). Returns how many proposals and status changes were written."""
    session = BargainingSession.objects.filter(pk=session_id).first()
    if session is None:
        raise ValidationFailed({"session": [f"There is no bargaining session with id {session_id}."]})
    written = 0
    with _writing():
        for index, outcome in enumerate(outcomes):
            demand_id, version = outcome["demand_id"], outcome["expected_version"]
            try:
                if outcome.get("proposal"):
                    proposal_create(
                        demand_id=demand_id,
                        expected_version=version,
                        by=by,
                        session_id=session.pk,
                        exchanged_on=session.held_on,
                        hold=outcome.get("hold"),
                        embargo_until=outcome.get("embargo_until"),
                        **outcome["proposal"],
                    )
                    version = Demand.objects.values_list("version", flat=True).get(pk=demand_id)
                    written += 1
                if outcome.get("to_status"):
                    demand_transition(
                        demand_id=demand_id,
                        to_status=outcome["to_status"],
                        expected_version=version,
                        by=by,
                        note=outcome.get("note", ""),
                        session_id=session.pk,
                        hold=outcome.get("hold"),
                        embargo_until=outcome.get("embargo_until"),
                    )
                    written += 1
            except ValidationFailed as error:
                raise ValidationFailed({f"{index}.{field}": found for field, found in error.errors.items()}) from error
            except DomainError as error:
                raise ValidationFailed({f"{index}.{error.field or 'demand'}": [error.message]}) from error
    return written
