"""Reads scoped to the viewer. Everything that lists demands, history or evidence starts here."""

import datetime
import heapq
import itertools
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils.translation import gettext

from .models import (
    Audience,
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
    Status,
    StatusChange,
    TentativeAgreement,
    held_changes,
    held_proposals,
    status_field,
)
from .redlines import Op, redline
from .roles import Viewer, audience_of


def demands_visible_to(user: Viewer) -> QuerySet[Demand]:
    """The demands `user` may see: public for anyone, members for member accounts, all for the team."""
    return Demand.objects.visible_to(audience_of(user)).select_related("category")


def status_changes_visible_to(user: Viewer) -> QuerySet[StatusChange]:
    """History rows of the demands `user` may see, newest first."""
    return StatusChange.objects.visible_to(audience_of(user)).select_related(
        "demand", "demand__category", "session", "vote"
    )


def demands_at_status(demands: QuerySet[Demand], status: str, user: Viewer) -> QuerySet[Demand]:
    """Those of `demands` at `status` as `user` sees it: members and the public filter by the published status."""
    return demands.filter(**{status_field(audience_of(user)): status})


def held_status_changes() -> QuerySet[StatusChange]:
    """Every held status change, oldest first, for the team: what `change_publish` is waiting for."""
    return (
        held_changes()
        .select_related("demand", "demand__category", "session", "vote", "proposal", "changed_by", "published_by")
        .order_by("changed_at", "id")
    )


def held_proposals_on_their_own() -> QuerySet[Proposal]:
    """Held proposals that make no held move, oldest first: what `proposal_publish` is waiting for. One that
    makes a move is published with it, and listed as that status change."""
    moves = held_changes().filter(proposal__isnull=False).values("proposal_id")
    return (
        held_proposals()
        .exclude(pk__in=moves)
        .select_related("demand", "demand__category", "session", "created_by", "published_by")
        .order_by("created_at", "id")
    )


class HeldItems(Sequence):
    """Everything held, oldest first by when it was recorded: status changes and proposals that move nothing.

    A lazy sequence for a paginator: `count()` is two counts, and a slice reads no more rows of either kind
    than the slice's end, so the held list costs the same at one held item as at 200,000."""

    @staticmethod
    def _recorded(item: StatusChange | Proposal) -> tuple[datetime.datetime, int]:
        return (item.changed_at if isinstance(item, StatusChange) else item.created_at, item.pk)

    def count(self, value: Any = None) -> int:  # what Paginator calls (Sequence.count would iterate)
        return held_status_changes().count() + held_proposals_on_their_own().count()

    def __len__(self) -> int:
        return self.count()

    @overload
    def __getitem__(self, index: int) -> StatusChange | Proposal: ...
    @overload
    def __getitem__(self, index: slice) -> list[StatusChange | Proposal]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, int):
            return self[index : index + 1][0]
        start, stop = index.start or 0, index.stop
        changes: Iterable[StatusChange | Proposal] = held_status_changes()[:stop]
        proposals: Iterable[StatusChange | Proposal] = held_proposals_on_their_own()[:stop]
        return list(itertools.islice(heapq.merge(changes, proposals, key=self._recorded), start, stop))

    def __iter__(self) -> Iterator[StatusChange | Proposal]:
        return iter(self[:])


def held_items() -> HeldItems:
    """Everything held, oldest first (status changes and proposals that move nothing), read a slice at a time."""
    return HeldItems()


def evidence_visible_to(user: Viewer) -> QuerySet[Evidence]:
    """Evidence items `user` may see (the evidence's own visibility, not its demands')."""
    return Evidence.objects.visible_to(audience_of(user))


def resolutions_visible_to(user: Viewer) -> QuerySet[Resolution]:
    """Resolutions are public records of a governing body: everyone may read them."""
    return Resolution.objects.all()


def demands_by_category(user: Viewer) -> QuerySet[Demand]:
    """Visible demands in the order pages group them: by category, then title."""
    return demands_visible_to(user).order_by("category__position", "category__name", "category_id", "title")


# Stemming in English: "workers" finds "social worker". Spanish texts live in other columns.
SEARCH_CONFIG = "english"


def demands_matching(demands: QuerySet[Demand], text: str) -> QuerySet[Demand]:
    """Those of `demands` whose title, summary or a public note of their history matches `text`.

    PostgreSQL's full-text search (web-search syntax: words, "phrases", -exclusions) where it runs, a plain
    case-insensitive substring match elsewhere (SQLite). Only the public `note` of a status change is read,
    never the team's one; the demands are already scoped to the viewer, so a note of a hidden demand finds nothing.
    """
    if connection.vendor == "postgresql":
        query = SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)
        notes = StatusChange.objects.annotate(search=SearchVector("note", config=SEARCH_CONFIG)).filter(search=query)
        return demands.annotate(search=SearchVector("title", "summary", config=SEARCH_CONFIG)).filter(
            Q(search=query) | Q(pk__in=notes.values("demand_id"))
        )
    notes = StatusChange.objects.filter(note__icontains=text)
    return demands.filter(Q(title__icontains=text) | Q(summary__icontains=text) | Q(pk__in=notes.values("demand_id")))


def demands_for_export(user: Viewer, *, latest_change_only: bool = False) -> QuerySet[Demand]:
    """Visible demands by category, each with its visible history, visible evidence links and clauses.

    The prefetches are scoped by the same audience as the demands: `visible_history`, `visible_links`.
    `latest_change_only` (the bulletin, which shows each demand's last change): `visible_history` holds only the
    latest visible change, picked in the database, instead of every one of them.
    """
    history = status_changes_visible_to(user).select_related("changed_by").order_by("changed_at", "id")
    if latest_change_only:
        history = history.reverse()[:1]
    links = evidence_links_visible_to(user).select_related("evidence__verified_by").order_by("id")
    clauses = ResolutionClause.objects.select_related("resolution").order_by("resolution_id", "number")
    # At the table, by the same audience: passed proposals (the team's drafts too, for the team), the agreement
    # once both sides signed (unsigned too, for the team), and the votes; a visible demand's votes are visible.
    proposals = proposals_visible_to(user).select_related("created_by", "published_by")
    votes = RatificationVote.objects.select_related("recorded_by").order_by("held_on", "id")
    return (
        demands_by_category(user)
        .select_related("owner")
        .prefetch_related(
            Prefetch("status_changes", history, to_attr="visible_history"),
            Prefetch("evidence_links", links, to_attr="visible_links"),
            Prefetch("clauses", clauses, to_attr="listed_clauses"),
            Prefetch("proposals", proposals, to_attr="visible_proposals"),
            Prefetch("agreement", agreements_visible_to(user), to_attr="visible_agreement"),
            Prefetch("votes", votes, to_attr="visible_votes"),
        )
    )


def figures_visible_to(user: Viewer) -> QuerySet[Figure]:
    """Figures quoted from the evidence `user` may see, with their evidence."""
    return Figure.objects.filter(evidence__in=evidence_visible_to(user)).select_related("evidence").order_by("id")


def evidence_links_for(demand: Demand, user: Viewer) -> QuerySet[EvidenceLink]:
    """The evidence cited for `demand` that `user` may see, with its figures."""
    return (
        EvidenceLink.objects.filter(demand=demand, evidence__in=evidence_visible_to(user))
        .select_related("evidence")
        .prefetch_related("evidence__figures")
        .order_by("id")
    )


def evidence_links_visible_to(user: Viewer) -> QuerySet[EvidenceLink]:
    """Links whose demand and evidence `user` may both see: a link never reveals a hidden side."""
    return EvidenceLink.objects.visible_to(audience_of(user))


def evidence_with_links_for(user: Viewer) -> QuerySet[Evidence]:
    """Visible evidence with figures, and in `visible_links` only the citing demands `user` may see."""
    links = EvidenceLink.objects.filter(demand__in=demands_visible_to(user)).select_related("demand").order_by("id")
    return evidence_visible_to(user).prefetch_related("figures", Prefetch("links", links, to_attr="visible_links"))


def resolution_with_clauses_for(user: Viewer) -> QuerySet[Resolution]:
    """Resolutions with their clauses, and on each clause in `visible_demands` the demands `user` may see."""
    clauses = ResolutionClause.objects.prefetch_related(
        Prefetch("demands", demands_by_category(user), to_attr="visible_demands")
    )
    return resolutions_visible_to(user).prefetch_related(Prefetch("clauses", clauses))


@dataclass
class Bar:
    """One bar of a progress chart: a label, a count and its share of the longest bar."""

    key: str
    label: str
    count: int
    percent: int


@dataclass
class CategoryProgress:
    """How the demands of one category stand, as a stacked bar of statuses."""

    category: Category
    total: int
    segments: list[Bar] = field(default_factory=list)


@dataclass
class Progress:
    """Counts of demands by status and by category, ready to draw."""

    total: int
    by_status: list[Bar]
    by_category: list[CategoryProgress]


def _bar(status: Status, count: int, whole: int) -> Bar:
    return Bar(key=status.value, label=gettext(status.label), count=count, percent=round(100 * count / whole))


@dataclass(frozen=True)
class StatusCount:
    """How many demands of one category are at one status."""

    category: Category
    status: str
    count: int


def status_counts_for(audience: Audience) -> dict[tuple[int, str], int]:
    """How many demands `audience` may see, by (category id, the status it sees them at): one grouped query."""
    rows = Demand.objects.visible_to(audience).values_list("category_id", status_field(audience)).annotate(Count("id"))
    return {(category_id, status): count for category_id, status, count in rows.order_by()}


def status_counts_visible_to(user: Viewer) -> list[StatusCount]:
    """The demands `user` may see counted by category and status in the database: two queries, whatever their
    number; categories in the order pages group them."""
    counts = status_counts_for(audience_of(user))
    categories = Category.objects.filter(pk__in={category_id for category_id, _ in counts}).order_by(
        "position", "name", "id"
    )
    return [
        StatusCount(category, status, counts[category.pk, status])
        for category in categories
        for status in Status
        if (category.pk, status) in counts
    ]


def progress_of(counts: Collection[StatusCount]) -> Progress:
    """Progress bars from counts by category and status; no queries."""
    by_status: Counter[str] = Counter()
    categories: dict[int, CategoryProgress] = {}
    per_category: dict[int, Counter] = {}
    for row in counts:
        by_status[row.status] += row.count
        entry = categories.setdefault(row.category.pk, CategoryProgress(category=row.category, total=0))
        entry.total += row.count
        per_category.setdefault(row.category.pk, Counter())[row.status] += row.count
    longest = max(by_status.values(), default=0) or 1
    status_bars = [_bar(status, by_status[status], longest) for status in Status]
    for category_id, entry in categories.items():
        category_counts = per_category[category_id]
        entry.segments = [
            _bar(status, category_counts[status], entry.total) for status in Status if category_counts[status]
        ]
    return Progress(total=sum(by_status.values()), by_status=status_bars, by_category=list(categories.values()))


# Digests are read by members by email, without an account: the members audience, by the same rule as pages.
def status_changes_for_members(
    *, since: datetime.datetime, until: datetime.datetime, category_ids: Collection[int] | None = None
) -> QuerySet[StatusChange]:
    """Status changes published in (since, until] of demands members may see, oldest first.

    Only member-facing columns are loaded: the team-only note is not even read from the database.
    """
    # Picked up when published, not when recorded: a change held past a window goes into the next digest, once.
    changes = StatusChange.objects.visible_to(Audience.MEMBERS).filter(published_at__gt=since, published_at__lte=until)
    if category_ids:
        changes = changes.filter(demand__category_id__in=category_ids)
    return (
        changes.select_related("demand__category", "vote", "proposal")
        .only(
            "from_status",
            "to_status",
            "note",
            "note_es",
            "changed_at",
            "published_at",
            "occurred_at",
            "agreement_id",
            "vote__yes",
            "vote__no",
            "vote__abstain",
            "vote__eligible",
            # A proposal's member-facing columns only: never its team-only rationale.
            "proposal__demand_id",
            "proposal__number",
            "proposal__language",
            "proposal__summary",
            "proposal__summary_es",
            "proposal__visibility",
            "demand__current_language",
            "demand__title",
            "demand__title_es",
            "demand__slug",
            "demand__category__name",
            "demand__category__slug",
            "demand__category__position",
        )
        .order_by("published_at", "changed_at", "id")
    )


def proposal_languages_for_members(demand_ids: Collection[int]) -> dict[int, list[tuple[int, str]]]:
    """(number, language) of the proposals members may see on each demand, in chain order: what a digest
    redlines a proposal against."""
    rows = (
        Proposal.objects.visible_to(Audience.MEMBERS)
        .filter(demand_id__in=demand_ids)
        .order_by("demand_id", "number")
        .values_list("demand_id", "number", "language")
    )
    chains: dict[int, list[tuple[int, str]]] = {}
    for demand_id, number, language in rows:
        chains.setdefault(demand_id, []).append((number, language))
    return chains


def evidence_for_members(*, since: datetime.datetime, until: datetime.datetime) -> QuerySet[Evidence]:
    """Evidence members may see that was added in (since, until], with its links to member-visible demands."""
    links = (
        EvidenceLink.objects.visible_to(Audience.MEMBERS)
        .select_related("demand__category")
        .only(
            "evidence_id",
            "claim",
            "demand__title",
            "demand__title_es",
            "demand__slug",
            "demand__category__name",
            "demand__category__slug",
            "demand__category__position",
        )
        .order_by("demand__title", "id")
    )
    return (
        Evidence.objects.visible_to(Audience.MEMBERS)
        .filter(created_at__gt=since, created_at__lte=until)
        .only("title", "kind", "publisher", "published_on", "url", "created_at")
        .prefetch_related(Prefetch("links", queryset=links, to_attr="member_links"))
        .order_by("created_at", "id")
    )


def sessions_with_demands_for(user: Viewer) -> QuerySet[BargainingSession]:
    """Sessions, newest first, each with `visible_demands`: the demands discussed that `user` may see."""
    demands = demands_by_category(user).select_related("category")
    proposals = proposals_visible_to(user).select_related("demand").order_by("side", "demand__title", "number")
    return BargainingSession.objects.prefetch_related(
        Prefetch("demands", demands, to_attr="visible_demands"),
        Prefetch("proposals", proposals, to_attr="visible_proposals"),
    )


# --- Bargaining at the table ---


def proposals_visible_to(user: Viewer) -> QuerySet[Proposal]:
    """Proposals `user` may see: both the proposal and its demand visible to them; in chain order."""
    return Proposal.objects.visible_to(audience_of(user)).select_related("session").order_by("demand_id", "number")


def agreements_visible_to(user: Viewer) -> QuerySet[TentativeAgreement]:
    """Tentative agreements `user` may see: the team sees drafts; everyone else only those both sides signed."""
    return TentativeAgreement.objects.visible_to(audience_of(user))


def votes_visible_to(user: Viewer) -> QuerySet[RatificationVote]:
    """Ratification votes covering a demand `user` may see, each with `visible_demands`."""
    demands = demands_visible_to(user).only("id", "title", "slug", "category_id")
    return RatificationVote.objects.visible_to(audience_of(user)).prefetch_related(
        Prefetch("demands", demands, to_attr="visible_demands")
    )


@dataclass
class ChainLink:
    """A proposal of a demand's chain with its redline against the one before it."""

    proposal: Proposal
    ops: list[Op]


def proposal_chain(demand: Demand, proposals: Collection[Proposal], *, previous: str | None = None) -> list[ChainLink]:
    """Redline each proposal against the previous one of `proposals` (the first against `previous`, by default
    the demand's `current_language`). Given the viewer's visible proposals, a hidden draft never shows through a
    diff."""
    links: list[ChainLink] = []
    if previous is None:
        previous = demand.current_language
    for proposal in proposals:
        links.append(ChainLink(proposal=proposal, ops=redline(previous, proposal.language)))
        previous = proposal.language
    return links


def previous_language(proposal: Proposal, user: Viewer) -> str:
    """What `proposal` is redlined against for `user`: the language of the visible proposal before it."""
    earlier = proposals_visible_to(user).filter(demand_id=proposal.demand_id, number__lt=proposal.number)
    language = earlier.order_by("-number").values_list("language", flat=True).first()
    return proposal.demand.current_language if language is None else language


@dataclass
class AtTheTable:
    """What a demand's page shows of the bargaining: the proposal chain with redlines, the agreement, votes."""

    chain: list[ChainLink]
    agreement: TentativeAgreement | None
    votes: list[RatificationVote]
    proposals: Page | None = None  # the page of the chain shown (`chain` holds its rows)


PROPOSALS_PAGE_SIZE = 20


def table_of(demand: Demand, user: Viewer, *, page: str | None = None) -> AtTheTable:
    """The bargaining on `demand` that `user` may see: one page of the chain, in four queries however long it
    is. Page 1 (the default) is the latest PROPOSALS_PAGE_SIZE proposals, page 2 the ones before, ...; each
    page reads oldest first, its first proposal redlined against the visible one before it (on the next page),
    as on one long page. A bad page number gets the first or the last page."""
    latest_first = (
        proposals_visible_to(user)
        .filter(demand=demand)
        .select_related("created_by", "published_by")
        .order_by("-number")
    )
    shown = Paginator(latest_first, PROPOSALS_PAGE_SIZE).get_page(page)
    rows: list[Proposal] = []
    if shown.paginator.count:
        # The page's rows and the one before them (what the page's first is redlined against), in one query
        # (the page's own `object_list` is never read: it would be a second).
        rows = list(latest_first[shown.start_index() - 1 : shown.end_index() + 1])
    before = rows.pop() if len(rows) > shown.end_index() - shown.start_index() + 1 else None
    agreement = agreements_visible_to(user).filter(demand=demand).first()
    votes = list(votes_visible_to(user).filter(demands=demand))
    chain = proposal_chain(demand, rows[::-1], previous=before.language if before else None)
    return AtTheTable(chain=chain, agreement=agreement, votes=votes, proposals=shown)


@dataclass
class TableCounts:
    """How many demands have reached a tentative agreement, been ratified, or are still open at the table."""

    tentative: int
    ratified: int
    open: int


def table_counts(counts: Collection[StatusCount]) -> TableCounts:
    """Summed from counts by category and status; no queries. Withdrawn demands are in none of the three."""
    statuses: Counter[str] = Counter()
    for row in counts:
        statuses[row.status] += row.count
    still_open = sum(statuses[status] for status in (Status.DRAFT, Status.PROPOSED, Status.COUNTERED))
    return TableCounts(
        tentative=statuses[Status.TENTATIVE_AGREEMENT], ratified=statuses[Status.RATIFIED], open=still_open
    )
