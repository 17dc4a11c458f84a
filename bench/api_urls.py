"""The site's URLs plus /bench/plain-demands/: the demand list as a plain Django view, for comparison.

Mounted only through bench/api_settings.py; production URLs never include it.
"""

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import F
from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns
from demands.models import Demand, EvidenceLink, Visibility

FIELDS = ["id", "slug", "title", "summary", "body", "status", "visibility", "target", "version"]


def plain_demands(request: HttpRequest) -> JsonResponse:
    """The first 100 public demands with the fields the API gives anonymous readers, from values()."""
    demands = Demand.objects.filter(visibility=Visibility.PUBLIC)
    rows = list(
        demands.order_by("category__position", "title").values(
            *FIELDS, "created_at", "updated_at", category_slug=F("category__slug"), category_title=F("category__name")
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
            "clauses": clauses.get(row["id"], []),
            "evidence": evidence.get(row["id"], []),
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
        }
        for row in rows
    ]
    return JsonResponse({"count": demands.count(), "results": results}, encoder=DjangoJSONEncoder)


urlpatterns = [path("bench/plain-demands/", plain_demands), *site_urlpatterns]
