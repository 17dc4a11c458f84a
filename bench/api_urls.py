"""The site's URLs plus plain Django views to compare with, each doing the same reads by the shortest route:
/bench/plain-demands/ (the demand list), /bench/plain-proposals/<id>/ (a demand's proposals with their redlines,
as JSON) and /bench/plain-page/<id>/ (the same redlines as bare HTML, the floor of the demand page).

Mounted only through bench/api_settings.py; production URLs never include it.
"""

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns
from demands.models import Demand, EvidenceLink, Proposal, Visibility, translation_field_names
from demands.redlines import as_data, as_html, redline

FIELDS = [
    "id",
    "slug",
    "title",
    "summary",
    "body",
    "status",
    "visibility",
    "target",
    "article",
    "current_language",
    "version",
    *translation_field_names(Demand),
]


def plain_demands(request: HttpRequest) -> JsonResponse:
    """The first 100 public demands with the fields the API gives anonymous readers, from values()."""
    demands = Demand.objects.filter(visibility=Visibility.PUBLIC)
    rows = list(
        demands.order_by("category__position", "title").values(
            *FIELDS,
            "created_at",
            "updated_at",
            category_slug=F("category__slug"),
            category_title=F("category__name"),
            category_title_es=F("category__name_es"),
        )[:100]
    )
    ids = [row["id"] for row in rows]
    clauses: dict[int, list[int]] = {}
    for demand_id, clause_id in Demand.clauses.through.objects.filter(demand_id__in=ids).values_list(
        "demand_id", "resolutionclause_id"
    ):
        clauses.setdefault(demand_id, []).append(clause_id)
    evidence: dict[int, list[dict]] = {}
    links = EvidenceLink.objects.filter(demand_id__in=ids, evidence__visibility=Visibility.PUBLIC).order_by("id")
    for demand_id, evidence_id, claim in links.values_list("demand_id", "evidence_id", "claim"):
        evidence.setdefault(demand_id, []).append({"evidence": evidence_id, "claim": claim})
    results = [
        {
            **{field: row[field] for field in FIELDS},
            "category": row["category_slug"],
            "category_name": row["category_title"],
            "category_name_es": row["category_title_es"],
            "clauses": clauses.get(row["id"], []),
            "evidence": evidence.get(row["id"], []),
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
        }
        for row in rows
    ]
    return JsonResponse({"count": demands.count(), "results": results}, encoder=DjangoJSONEncoder)


PROPOSAL_FIELDS = [
    "id",
    "number",
    "side",
    "exchanged_on",
    "language",
    "summary",
    "visibility",
    "created_at",
    *translation_field_names(Proposal),
]


def _chain(demand_id: int) -> list[tuple[dict, list]]:
    """The demand's public proposals from values(), each with its redline against the one before."""
    previous = Demand.objects.values_list("current_language", flat=True).get(pk=demand_id)
    proposals = Proposal.objects.filter(demand_id=demand_id, visibility=Visibility.PUBLIC).order_by("number")
    chain = []
    for row in proposals.values(*PROPOSAL_FIELDS):
        chain.append((row, redline(previous, row["language"])))
        previous = row["language"]
    return chain


def plain_proposals(request: HttpRequest, demand_id: int) -> JsonResponse:
    results = [{**row, "demand": demand_id, "redline": as_data(ops)} for row, ops in _chain(demand_id)]
    return JsonResponse({"count": len(results), "results": results}, encoder=DjangoJSONEncoder)


def plain_page(request: HttpRequest, demand_id: int) -> HttpResponse:
    items = "".join(
        f'<li class="card proposal">{row["number"]} {row["side"]}: {as_html(ops)}</li>'
        for row, ops in _chain(demand_id)
    )
    return HttpResponse(f"<!doctype html><title>Chain</title><ol>{items}</ol>")


urlpatterns = [
    path("bench/plain-demands/", plain_demands),
    path("bench/plain-proposals/<int:demand_id>/", plain_proposals),
    path("bench/plain-page/<int:demand_id>/", plain_page),
    *site_urlpatterns,
]
