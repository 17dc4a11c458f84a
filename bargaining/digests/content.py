"""What a digest says: everything members may see that changed in a window, cut per member.

Built only from the member-visibility selectors of `demands`, so nothing team-only can reach a digest.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils import translation
from django.utils.translation import gettext, gettext_noop, ngettext, pgettext

from demands.models import Audience, Category, Localized, Status, StatusChange, Visibility, localized
from demands.redlines import as_html, as_text, redline
from demands.selectors import (
    evidence_for_members,
    proposal_languages_for_members,
    status_changes_for_members,
    status_counts_for,
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
    to_status: str = ""
    note_fallback: bool = False  # the note is the English one: no Spanish version was written
    title_fallback: bool = False
    summary: str = ""  # a proposal's member-facing summary
    summary_fallback: bool = False
    redline_html: str = ""  # a proposal's language against the one before it, inline-styled for mail clients
    redline_text: str = ""  # the same as `[-old-]{+new+}`


@dataclass(frozen=True)
class DigestEvidence:
    title: str
    kind_label: str
    publisher: str
    published_on: datetime.date | None
    url: str
    supports: tuple[tuple[str, str], ...]  # (demand title, demand url): every member-visible demand it supports


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


# What makes a change the digest's headline: an outcome first, then a move at the table.
IMPORTANCE: dict[str, int] = {
    Status.RATIFIED: 5,
    Status.TENTATIVE_AGREEMENT: 4,
    Status.WITHDRAWN: 3,
    Status.COUNTERED: 2,
    Status.PROPOSED: 1,
}


@dataclass
class DigestContent:
    """What one member's digest says: changes and evidence grouped by category, and where we stand.

    Each evidence item appears once, so the counts below are what the body shows.
    """

    window_start: datetime.datetime
    window_end: datetime.datetime
    groups: list[DigestGroup]
    standing: list[StandingRow]
    language: str = "en"

    @property
    def changes(self) -> list[DigestChange]:
        return [change for group in self.groups for change in group.changes]

    @property
    def change_count(self) -> int:
        return len(self.changes)

    @property
    def evidence_count(self) -> int:
        return sum(len(group.evidence) for group in self.groups)

    @property
    def top_change(self) -> DigestChange | None:
        """The most important change: an outcome before a move, the latest of equals."""
        return max(
            self.changes, key=lambda change: (IMPORTANCE.get(change.to_status, 0), change.occurred_at), default=None
        )

    @property
    def summary(self) -> str:
        """What happened, in one line: "2 demands moved, 1 tentative agreement reached" (in the active language)."""
        changes = self.changes
        agreements = sum(1 for change in changes if change.to_status == Status.TENTATIVE_AGREEMENT)
        ratified = sum(1 for change in changes if change.to_status == Status.RATIFIED)
        moved = len(
            {
                change.demand_url
                for change in changes
                if change.to_status not in (Status.TENTATIVE_AGREEMENT, Status.RATIFIED)
            }
        )
        evidence = self.evidence_count
        parts = [
            ngettext("%(count)s demand moved", "%(count)s demands moved", moved) % {"count": moved},
            ngettext("%(count)s tentative agreement reached", "%(count)s tentative agreements reached", agreements)
            % {"count": agreements},
            ngettext("%(count)s agreement ratified", "%(count)s agreements ratified", ratified) % {"count": ratified},
            ngettext("%(count)s new piece of evidence", "%(count)s new pieces of evidence", evidence)
            % {"count": evidence},
        ]
        counts = (moved, agreements, ratified, evidence)
        return pgettext("list separator", ", ").join(part for part, count in zip(parts, counts, strict=True) if count)

    @property
    def subject(self) -> str:
        """The most important change by name, then the summary line."""
        top = self.top_change
        first = next((item for group in self.groups for item in group.evidence), None)
        if top is not None:
            # A demand title with no version in the digest's language is marked, as in the body.
            lead = f"{top.headline} {gettext('(in English)')}" if top.title_fallback else top.headline
        elif first is not None:
            lead = gettext("New evidence: %(title)s") % {"title": first.title}
        else:
            return gettext("Bargaining update: nothing new")
        return f"{lead} · {self.summary}"

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


OTHER_GROUP = gettext_noop("Other new evidence")


class DigestSource:
    """Everything members may see that changed in a span, loaded in a fixed number of queries.

    A batch loads one source for its widest window, then cuts each member's digest from it in
    Python, so the queries for a batch do not grow with its members or their topic sets.
    """

    def __init__(self, *, since: datetime.datetime, until: datetime.datetime) -> None:
        self._categories = {category.id: category for category in Category.objects.only("name", "name_es", "position")}
        self._category_order = {cid: (c.position, c.name) for cid, c in self._categories.items()}
        self._rows = list(status_changes_for_members(since=since, until=until))
        self._chains = proposal_languages_for_members(
            {row.demand_id for row in self._rows if row.proposal_id is not None}
        )
        self._evidence_rows = list(evidence_for_members(since=since, until=until))
        self._counts: dict[int, dict[str, int]] = defaultdict(dict)
        for (category_id, status), count in status_counts_for(Audience.MEMBERS).items():
            self._counts[category_id][status] = count
        # Texts and links per language, each built once, from the rows above: no query per language.
        self._built: dict[str, tuple[dict[int, str], list[_Change], list[_Evidence]]] = {}

    def _in(self, language: str) -> tuple[dict[int, str], list[_Change], list[_Evidence]]:
        if language not in self._built:
            with translation.override(language):
                self._built[language] = self._build()
        return self._built[language]

    def _build(self) -> tuple[dict[int, str], list[_Change], list[_Evidence]]:
        """Category names, changes and evidence in the active language, links in its URLs (/es/...)."""
        names = {cid: localized(category, "name").text for cid, category in self._categories.items()}
        rows, chains = self._rows, self._chains
        changes = [
            _Change(
                at=row.published_at or row.changed_at,  # never empty: the selector reads published rows
                category_id=row.demand.category_id,
                change=DigestChange(
                    demand_title=localized(row.demand, "title").text,
                    demand_url=demand_url(row.demand),
                    from_label=gettext(Status(row.from_status).label),
                    to_label=gettext(Status(row.to_status).label),
                    note=localized(row, "note").text,
                    changed_at=row.changed_at,
                    occurred_at=row.occurred_at,
                    headline=row.headline,
                    to_status=row.to_status,
                    note_fallback=localized(row, "note").fallback,
                    title_fallback=localized(row.demand, "title").fallback,
                    summary=_summary(row).text,
                    summary_fallback=_summary(row).fallback,
                    **_redlines(row, chains),
                ),
            )
            for row in rows
        ]
        evidence = [
            _Evidence(
                at=item.created_at,
                category_ids=frozenset(link.demand.category_id for link in item.member_links),  # type: ignore[attr-defined]  # prefetch to_attr
                evidence=DigestEvidence(
                    title=item.title,
                    kind_label=gettext(item.get_kind_display()),
                    publisher=item.publisher,
                    published_on=item.published_on,
                    url=item.url,
                    supports=tuple(
                        (localized(link.demand, "title").text, demand_url(link.demand))
                        for link in item.member_links  # type: ignore[attr-defined]
                    ),
                ),
            )
            for item in self._evidence_rows
        ]
        return names, changes, evidence

    def content_for(
        self,
        *,
        window_start: datetime.datetime,
        window_end: datetime.datetime,
        topics: TopicKey,
        language: str = "en",
    ) -> DigestContent:
        """The digest for a member whose window, topics (none: every category) and language are these.

        Each evidence item is listed once, under the first of its categories (in page order) the member
        follows; it names every demand it supports.
        """
        names, changes, evidence = self._in(language)

        def wanted(category_id: int) -> bool:
            return not topics or category_id in topics

        groups: dict[int | None, DigestGroup] = {}

        def group(category_id: int | None) -> DigestGroup:
            if category_id not in groups:
                name = gettext(OTHER_GROUP) if category_id is None else names[category_id]
                groups[category_id] = DigestGroup(category=name)
            return groups[category_id]

        for item in changes:
            if window_start < item.at <= window_end and wanted(item.category_id):
                group(item.category_id).changes.append(item.change)
        for entry in evidence:
            if not window_start < entry.at <= window_end:
                continue
            shown_in = sorted((cid for cid in entry.category_ids if wanted(cid)), key=self._category_order.__getitem__)
            if shown_in:
                group(shown_in[0]).evidence.append(entry.evidence)
            elif not entry.category_ids and not topics:
                group(None).evidence.append(entry.evidence)

        for digest_group in groups.values():
            digest_group.changes.sort(key=lambda change: change.occurred_at)
        ordered = sorted(groups, key=lambda cid: (1, (0, "")) if cid is None else (0, self._category_order[cid]))
        return DigestContent(
            window_start=window_start,
            window_end=window_end,
            groups=[groups[cid] for cid in ordered],
            standing=self._standing(topics, language),
            language=language,
        )

    def _standing(self, topics: TopicKey, language: str) -> list[StandingRow]:
        totals = dict.fromkeys(Status.values, 0)
        for category_id, counts in self._counts.items():
            if not topics or category_id in topics:
                for status, count in counts.items():
                    totals[status] += count
        biggest = max(totals.values()) or 1
        with translation.override(language):
            return [
                StandingRow(label=gettext(Status(status).label), count=count, percent=round(100 * count / biggest))
                for status, count in totals.items()
                if count
            ]


def _summary(row: StatusChange) -> Localized:
    """A member-visible proposal's summary in the active language (English, marked, when it has none)."""
    proposal = row.proposal
    if proposal is None or proposal.visibility == Visibility.TEAM:
        return Localized(text="", language="")
    return localized(proposal, "summary")


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


def member_topic_keys(member_ids: Iterable[int]) -> dict[int, TopicKey]:
    """`member_topic_key` of many members in one query, by member id (a member with no topics is absent: every
    category); no model instance per member or topic, which a batch of a 30,000-member run would build by the hundred.
    """
    keys: dict[int, set[int]] = defaultdict(set)
    rows = Member.topics.through.objects.filter(member_id__in=list(member_ids)).values_list("member_id", "category_id")
    for member_id, category_id in rows:
        keys[member_id].add(category_id)
    return {member_id: frozenset(ids) for member_id, ids in keys.items()}


def digest_changes_for(
    member: Member, *, window_start: datetime.datetime, window_end: datetime.datetime
) -> DigestContent:
    """What changed for `member` in (window_start, window_end], within member visibility and their topics."""
    source = DigestSource(since=window_start, until=window_end)
    return source.content_for(
        window_start=window_start,
        window_end=window_end,
        topics=member_topic_key(member),
        language=member.digest_language,
    )
