"""What a digest says: everything members may see that changed in a window, cut per member.

Built only from the member-visibility selectors of `demands`, so nothing team-only can reach a digest.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from demands.models import Category, Status, StatusChange, Visibility
from demands.redlines import as_html, as_text, redline
from demands.selectors import (
    demand_status_counts_for_members,
    evidence_for_members,
    proposal_languages_for_members,
    status_changes_for_members,
)

from ..links import demand_url
from ..models import Member

TopicKey = frozenset[int]  # category ids; empty means every category


@dataclass(frozen=True)
class DigestChange:
    demand_title: str
    demand_url: str
    from_label: str
    to_label: str
    note: str
    changed_at: datetime.datetime  # when it was recorded: what puts it in a digest
    occurred_at: datetime.datetime  # when it happened at the table: what the digest shows and orders by
    headline: str = ""
    redline_html: str = ""  # a proposal's language against the one before it, inline-styled for mail clients
    redline_text: str = ""  # the same as `[-old-]{+new+}`


@dataclass(frozen=True)
class DigestEvidence:
    title: str
    kind_label: str
    publisher: str
    published_on: datetime.date | None
    url: str
    supports: tuple[tuple[str, str], ...]  # (demand title, demand url)


@dataclass
class DigestGroup:
    category: str
    changes: list[DigestChange] = field(default_factory=list)
    evidence: list[DigestEvidence] = field(default_factory=list)


@dataclass(frozen=True)
class StandingRow:
    label: str
    count: int
    percent: int


@dataclass
class DigestContent:
    """What one member's digest says: changes and evidence grouped by category, and where we stand."""

    window_start: datetime.datetime
    window_end: datetime.datetime
    groups: list[DigestGroup]
    standing: list[StandingRow]

    @property
    def change_count(self) -> int:
        return sum(len(group.changes) for group in self.groups)

    @property
    def evidence_count(self) -> int:
        return sum(len(group.evidence) for group in self.groups)

    @property
    def is_empty(self) -> bool:
        return not any(group.changes or group.evidence for group in self.groups)


@dataclass(frozen=True)
class _Change:
    at: datetime.datetime
    category_id: int
    change: DigestChange


@dataclass(frozen=True)
class _Evidence:
    at: datetime.datetime
    category_ids: frozenset[int]
    evidence: DigestEvidence


OTHER_GROUP = "Other new evidence"


class DigestSource:
    """Everything members may see that changed in a span, loaded in a fixed number of queries.

    A batch loads one source for its widest window, then cuts each member's digest from it in
    Python, so the queries for a batch do not grow with its members or their topic sets.
    """

    def __init__(self, *, since: datetime.datetime, until: datetime.datetime) -> None:
        categories = {category.id: category for category in Category.objects.only("name", "position")}
        self._category_order = {cid: (c.position, c.name) for cid, c in categories.items()}
        self._category_names = {cid: c.name for cid, c in categories.items()}
        rows = list(status_changes_for_members(since=since, until=until))
        chains = proposal_languages_for_members({row.demand_id for row in rows if row.proposal_id is not None})
        self._changes = [
            _Change(
                at=row.published_at or row.changed_at,  # never empty: the selector reads published rows
                category_id=row.demand.category_id,
                change=DigestChange(
                    demand_title=row.demand.title,
                    demand_url=demand_url(row.demand),
                    from_label=Status(row.from_status).label,
                    to_label=Status(row.to_status).label,
                    note=row.note,
                    changed_at=row.changed_at,
                    occurred_at=row.occurred_at,
                    headline=row.headline,
                    **_redlines(row, chains),
                ),
            )
            for row in rows
        ]
        self._evidence = [
            _Evidence(
                at=item.created_at,
                category_ids=frozenset(link.demand.category_id for link in item.member_links),  # type: ignore[attr-defined]  # prefetch to_attr
                evidence=DigestEvidence(
                    title=item.title,
                    kind_label=item.get_kind_display(),
                    publisher=item.publisher,
                    published_on=item.published_on,
                    url=item.url,
                    supports=tuple((link.demand.title, demand_url(link.demand)) for link in item.member_links),  # type: ignore[attr-defined]
                ),
            )
            for item in evidence_for_members(since=since, until=until)
        ]
        self._counts: dict[int, dict[str, int]] = defaultdict(dict)
        for row in demand_status_counts_for_members():
            self._counts[row["category_id"]][row["shown_status"]] = row["count"]

    def content_for(
        self, *, window_start: datetime.datetime, window_end: datetime.datetime, topics: TopicKey
    ) -> DigestContent:
        """The digest for a member whose window and topics are these (no topics: every category)."""

        def wanted(category_id: int) -> bool:
            return not topics or category_id in topics

        groups: dict[int | None, DigestGroup] = {}

        def group(category_id: int | None) -> DigestGroup:
            if category_id not in groups:
                name = OTHER_GROUP if category_id is None else self._category_names[category_id]
                groups[category_id] = DigestGroup(category=name)
            return groups[category_id]

        for item in self._changes:
            if window_start < item.at <= window_end and wanted(item.category_id):
                group(item.category_id).changes.append(item.change)
        for item in self._evidence:
            if not window_start < item.at <= window_end:
                continue
            shown_in = [cid for cid in item.category_ids if wanted(cid)]
            if not item.category_ids and not topics:
                shown_in = [None]
            for category_id in sorted(shown_in, key=lambda cid: cid or 0):
                group(category_id).evidence.append(item.evidence)

        for digest_group in groups.values():
            digest_group.changes.sort(key=lambda change: change.occurred_at)
        ordered = sorted(groups, key=lambda cid: (1, (0, "")) if cid is None else (0, self._category_order[cid]))
        return DigestContent(
            window_start=window_start,
            window_end=window_end,
            groups=[groups[cid] for cid in ordered],
            standing=self._standing(topics),
        )

    def _standing(self, topics: TopicKey) -> list[StandingRow]:
        totals = dict.fromkeys(Status.values, 0)
        for category_id, counts in self._counts.items():
            if not topics or category_id in topics:
                for status, count in counts.items():
                    totals[status] += count
        biggest = max(totals.values()) or 1
        return [
            StandingRow(label=Status(status).label, count=count, percent=round(100 * count / biggest))
            for status, count in totals.items()
            if count
        ]


def _redlines(row: StatusChange, chains: dict[int, list[tuple[int, str]]]) -> dict[str, str]:
    """A proposal's redline against the member-visible proposal before it (the first against the contract)."""
    proposal = row.proposal
    if proposal is None or proposal.visibility == Visibility.TEAM:
        return {}
    earlier = [language for number, language in chains.get(row.demand_id, []) if number < proposal.number]
    ops = redline(earlier[-1] if earlier else row.demand.current_language, proposal.language)
    return {"redline_html": as_html(ops, inline_styles=True), "redline_text": as_text(ops)}


def member_topic_key(member: Member) -> TopicKey:
    """The member's topics as category ids; uses prefetched topics when present."""
    return frozenset(topic.id for topic in member.topics.all())


def digest_changes_for(
    member: Member, *, window_start: datetime.datetime, window_end: datetime.datetime
) -> DigestContent:
    """What changed for `member` in (window_start, window_end], within member visibility and their topics."""
    source = DigestSource(since=window_start, until=window_end)
    return source.content_for(window_start=window_start, window_end=window_end, topics=member_topic_key(member))
