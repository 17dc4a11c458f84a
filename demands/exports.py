"""What a viewer may take away: the demands they may see, with status, history, evidence and clauses.

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

from .models import Audience, Demand, Evidence, ResolutionClause, StatusChange, team_only_fields
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
    for demand in demands_for_export(user).iterator(chunk_size=CHUNK):
        row = _record(demand, demand_fields)
        row["url"] = demand.get_absolute_url()
        row["history"] = [_record(change, history_fields) for change in demand.visible_history]
        row["evidence"] = [
            {**_record(link.evidence, evidence_fields), "claim": link.claim} for link in demand.visible_links
        ]
        row["clauses"] = [_clause(clause) for clause in demand.listed_clauses]
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
    header = [*_fields(Demand, DEMAND_FIELDS, audience), "url", "history", "evidence", "clauses"]
    yield writer.writerow(header)
    for row in demand_rows(user):
        flat = {**row, **{key: _lines(row[key]) for key in ("history", "evidence", "clauses")}}
        yield writer.writerow([csv_cell(flat[name]) for name in header])
