"""What a viewer may take away: the demands they may see, with status, history, evidence and clauses, and what
happened at the table (proposals, the tentative agreement, votes).

Rows are built once, as plain dicts, and written as JSON (nested) or CSV (one row per demand, the history,
evidence and clauses one item a line in their cells). Each audience gets the fields it may read: the shared
fields below, and for the team the fields each model declares team-only (`team_only_fields`), nothing else.
"""

import csv
import datetime
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib.auth.models import User
from django.db import models
from django.utils import timezone

from .models import (
    Audience,
    Demand,
    Evidence,
    Proposal,
    RatificationVote,
    ResolutionClause,
    StatusChange,
    TentativeAgreement,
    team_only_fields,
)
from .roles import Viewer, audience_of
from .selectors import demands_for_export
from .spreadsheets import csv_cell

# A cell starting with one of these is a formula to a spreadsheet (CSV injection, OWASP).

DEMAND_FIELDS = (
    "id",
    "slug",
    "title",
    "category",
    "status",
    "visibility",
    "summary",
    "target",
    "version",
    "updated_at",
)
HISTORY_FIELDS = ("changed_at", "from_status", "to_status", "note", "session")
EVIDENCE_FIELDS = ("title", "kind", "publisher", "published_on", "url")
PROPOSAL_FIELDS = ("number", "side", "exchanged_on", "session", "visibility", "summary", "language")
AGREEMENT_FIELDS = (
    "language",
    "union_signed_by",
    "union_signed_on",
    "board_signed_by",
    "board_signed_on",
    "reached_at",
)
VOTE_FIELDS = ("held_on", "yes", "no", "abstain", "eligible", "passed", "turnout_percent", "margin")
# The lists of a row, each one item a line in its CSV cell; the agreement is a list of at most one.
LISTS = ("history", "evidence", "clauses", "proposals", "agreement", "votes")
CHUNK = 200


def _fields(model: type[models.Model], shared: tuple[str, ...], audience: Audience) -> tuple[str, ...]:
    return shared + team_only_fields(model) if audience == Audience.TEAM else shared


def _value(instance: models.Model, name: str) -> Any:
    value = getattr(instance, name)
    if isinstance(value, User):
        return value.get_username()
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return value


def _record(instance: models.Model, names: Iterable[str]) -> dict[str, Any]:
    return {name: _value(instance, name) for name in names}


def demand_rows(user: Viewer) -> Iterator[dict[str, Any]]:
    """One dict per demand `user` may see, with `history`, `evidence` and `clauses` lists, in page order."""
    audience = audience_of(user)
    demand_fields = _fields(Demand, DEMAND_FIELDS, audience)
    history_fields = _fields(StatusChange, HISTORY_FIELDS, audience)
    evidence_fields = _fields(Evidence, EVIDENCE_FIELDS, audience)
    proposal_fields = _fields(Proposal, PROPOSAL_FIELDS, audience)
    agreement_fields = _fields(TentativeAgreement, AGREEMENT_FIELDS, audience)
    vote_fields = _fields(RatificationVote, VOTE_FIELDS, audience)
    for demand in demands_for_export(user).iterator(chunk_size=CHUNK):
        row = _record(demand, demand_fields)
        row["url"] = demand.get_absolute_url()
        row["history"] = [_record(change, history_fields) for change in demand.visible_history]
        row["evidence"] = [
            {**_record(link.evidence, evidence_fields), "claim": link.claim} for link in demand.visible_links
        ]
        row["clauses"] = [_clause(clause) for clause in demand.listed_clauses]
        row["proposals"] = [_record(proposal, proposal_fields) for proposal in demand.visible_proposals]
        agreement = demand.visible_agreement
        row["agreement"] = [] if agreement is None else [_record(agreement, agreement_fields)]
        row["votes"] = [_record(vote, vote_fields) for vote in demand.visible_votes]
        yield row


def _clause(clause: ResolutionClause) -> dict[str, Any]:
    return {"resolution": str(clause.resolution), "number": clause.number, "text": clause.text}


def json_chunks(user: Viewer) -> Iterator[str]:
    """`{"generated_at", "audience", "demands": [...]}`, written a demand at a time."""
    head = {"generated_at": timezone.now().isoformat(), "audience": str(audience_of(user))}
    yield json.dumps(head)[:-1] + ', "demands": ['
    for index, row in enumerate(demand_rows(user)):
        yield ("," if index else "") + json.dumps(row, ensure_ascii=False, default=str)
    yield "]}\n"


class _Echo:
    """A file-like object that hands back what `csv.writer` writes, for streaming (Django's CSV how-to)."""

    def write(self, value: str) -> str:
        return value


def _lines(items: list[dict[str, Any]]) -> str:
    return "\n".join(" · ".join(str(value) for value in item.values() if value not in (None, "")) for item in items)


def csv_lines(user: Viewer) -> Iterator[str]:
    """A header and one row per demand; every cell through `csv_cell`."""
    writer = csv.writer(_Echo())
    audience = audience_of(user)
    header = [*_fields(Demand, DEMAND_FIELDS, audience), "url", *LISTS]
    yield writer.writerow(header)
    for row in demand_rows(user):
        flat = {**row, **{key: _lines(row[key]) for key in LISTS}}
        yield writer.writerow([csv_cell(flat[name]) for name in header])
