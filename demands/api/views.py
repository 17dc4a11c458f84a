"""The demands API: thin views over the selectors (reads) and the services (writes)."""

import functools
import re
from abc import ABCMeta, abstractmethod
from collections import defaultdict
from typing import Any

from csp.decorators import csp_update
from django.conf import settings
from django.contrib.staticfiles import finders
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework import mixins, viewsets
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.serializers import BaseSerializer
from rest_framework.throttling import ScopedRateThrottle

from ..models import Category, Demand, Proposal, StatusChange
from ..redlines import as_data, redline
from ..roles import is_team
from ..selectors import (
    agreements_visible_to,
    demands_visible_to,
    evidence_links_visible_to,
    evidence_visible_to,
    held_items,
    held_status_changes,
    previous_language,
    proposals_visible_to,
    resolutions_visible_to,
    status_changes_visible_to,
    votes_visible_to,
)
from ..services import (
    agreement_set_language,
    agreement_sign,
    category_create,
    category_update,
    change_publish,
    demand_create,
    demand_transition,
    demand_update,
    evidence_create,
    evidence_link_create,
    evidence_update,
    proposal_create,
    proposal_publish,
    proposal_update,
    refuse_stale,
    resolution_create,
    resolution_update,
    vote_record,
)
from .exceptions import InvalidIfMatch, PreconditionRequired, error_body, error_responses
from .filters import DemandFilter, EvidenceFilter
from .parsers import SafeJSONParser
from .permissions import IsTeam
from .serializers import (
    AgreementInputSerializer,
    AgreementSerializer,
    CategoryInputSerializer,
    CategorySerializer,
    DemandInputSerializer,
    DemandSerializer,
    EvidenceCitationInputSerializer,
    EvidenceInputSerializer,
    EvidenceSerializer,
    ProposalInputSerializer,
    ProposalSerializer,
    ProposalUpdateInputSerializer,
    ResolutionInputSerializer,
    ResolutionSerializer,
    SignInputSerializer,
    StatusChangeSerializer,
    TeamDemandSerializer,
    TeamEvidenceSerializer,
    TeamProposalSerializer,
    TeamStatusChangeSerializer,
    TeamVoteSerializer,
    TokenSerializer,
    TransitionInputSerializer,
    VoteInputSerializer,
    VoteSerializer,
)

# A strong ETag such as "3". A weak one (W/"3", as compressing proxies rewrite it) names the same version.
IF_MATCH_RE = re.compile(r'^\s*(?:W/)?"([0-9]{1,10})"\s*$')
REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"  # the only URL of another origin the bundle loads

ETAG_HEADER = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description='The demand\'s `version` as an entity tag, e.g. "3". Send it back as If-Match to change the demand.',
)
IF_MATCH_HEADER = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    pattern=r'^(W/)?"[0-9]{1,10}"$',
    description="The ETag from GET. A stale one gets 412 and changes nothing. "
    "Without it the body must carry `version`; with neither the request gets 428.",
)


LOCATION_HEADER = OpenApiParameter(
    "Location", OpenApiTypes.URI, OpenApiParameter.HEADER, response=[201], description="The URL of what was created."
)


@csrf_exempt  # changes nothing; a CSRF refusal would be an HTML page
def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Any other URL under /api/: a 404 in the API's error shape, not an HTML page.

    This catch-all keeps Django's APPEND_SLASH from redirecting, so it redirects a GET or HEAD
    itself when the URL with a slash exists.
    """
    with_slash = f"{request.path}/"
    if not request.path.endswith("/") and _is_api_route(f"{request.path_info}/"):
        if request.method in ("GET", "HEAD"):
            query = request.META.get("QUERY_STRING", "")
            return HttpResponsePermanentRedirect(f"{with_slash}?{query}" if query else with_slash)
        detail = f"API URLs end with a slash: {with_slash}"
    else:
        detail = "There is no such API URL; see /api/docs/."
    return JsonResponse(error_body(detail, "not_found"), status=404)


def _is_api_route(path: str) -> bool:
    try:
        return resolve(path).func is not not_found
    except Resolver404:
        return False


class DocsView(SpectacularSwaggerSplitView):
    """The interactive docs (Swagger UI) for /api/schema/: its files served by the app (drf-spectacular-sidecar)
    and its start-up script from this URL (`?script`), so the page runs under the strict Content-Security-Policy."""

    template_name = "demands/api_docs.html"

    def options(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        # The parent renders OPTIONS through its HTML template renderer without a template: a 500.
        return HttpResponse(status=204, headers={"Allow": "GET, HEAD, OPTIONS"})


@method_decorator(csp_update(settings.CSP_REDOC), name="dispatch")  # two hashed <style>s and a blob: worker
class RedocView(SpectacularRedocView):
    """The reference docs (Redoc) for /api/schema/, from drf-spectacular-sidecar's bundle: no CDN, no web font,
    no inline script. Its own two <style> contents are allowed by hash and its search worker from blob:
    (settings.CSP_REDOC); every other page keeps the plain policy."""

    template_name = "demands/api_redoc.html"

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        if "script" in request.GET:
            return HttpResponse(redoc_bundle(), content_type="application/javascript")
        return super().get(request, *args, **kwargs)

    def options(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        # As for DocsView: the parent's HTML template renderer has no template for OPTIONS.
        return HttpResponse(status=204, headers={"Allow": "GET, HEAD, OPTIONS"})


@functools.cache
def redoc_bundle() -> str:
    """drf-spectacular-sidecar's Redoc bundle, less the one thing it fetches from another origin: the Redocly logo
    in its menu, which it draws unconditionally from a CDN. `data:,` is no image, so Redoc drops the <img>."""
    path = finders.find(REDOC_BUNDLE)
    assert isinstance(path, str), REDOC_BUNDLE
    with open(path, encoding="utf-8") as bundle:
        return bundle.read().replace(REDOC_LOGO, "data:,")


def is_schema_request(view: Any) -> bool:
    """drf-spectacular builds views without a real user; document the fullest (team) shape."""
    return getattr(view, "swagger_fake_view", False)


def viewer_is_team(view: Any) -> bool:
    return is_schema_request(view) or is_team(view.request.user)


def _if_match_version(request: Request) -> int | None:
    header = request.headers.get("If-Match")
    if header is None:
        return None
    match = IF_MATCH_RE.match(header)
    if match is None:
        raise InvalidIfMatch()
    return int(match.group(1))


def _expected_version(header_version: int | None, body_version: int | None) -> int:
    if header_version is not None and body_version is not None and header_version != body_version:
        raise InvalidIfMatch(f"If-Match names version {header_version} but the body says {body_version}.")
    version = header_version if header_version is not None else body_version
    if version is None:
        raise PreconditionRequired()
    return version


def _precondition(request: Request, demand: Demand) -> int | None:
    """The If-Match version, checked against `demand` before the body is read (RFC 9110)."""
    header_version = _if_match_version(request)
    if header_version is not None:
        refuse_stale(demand, header_version)
    return header_version


def _proposals_with_redlines(proposals: list[Proposal], user: Any) -> list[Proposal]:
    """Attach to each proposal (its demand selected with it) its redline against the visible proposal before
    it on its demand, the first against the demand's `current_language`: one query, whatever the demands."""
    chains: dict[int, dict[int, str]] = defaultdict(dict)
    rows = proposals_visible_to(user).filter(demand_id__in={proposal.demand_id for proposal in proposals})
    for demand_id, number, language in rows.values_list("demand_id", "number", "language").order_by("number"):
        chains[demand_id][number] = language
    for proposal in proposals:
        languages = chains[proposal.demand_id]
        earlier = [number for number in languages if number < proposal.number]
        before = languages[earlier[-1]] if earlier else proposal.demand.current_language
        proposal.redline_data = as_data(redline(before, proposal.language))
    return proposals


@extend_schema_view(
    list=extend_schema(
        summary="List demands",
        description="Demands visible to the caller. `priority_tier` filtering is for the bargaining team.",
        responses={200: TeamDemandSerializer(many=True), **error_responses(400, 401, 404, 429)},
    ),
    retrieve=extend_schema(
        summary="Get a demand",
        parameters=[ETAG_HEADER],
        responses={200: TeamDemandSerializer, **error_responses(401, 404, 429)},
    ),
    create=extend_schema(
        summary="Create a demand (team)",
        request=DemandInputSerializer,
        parameters=[ETAG_HEADER],
        responses={201: TeamDemandSerializer, **error_responses(400, 401, 403, 409, 429)},
    ),
    update=extend_schema(
        summary="Replace a demand's fields (team)",
        request=DemandInputSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
        responses={200: TeamDemandSerializer, **error_responses(400, 401, 403, 404, 409, 412, 428, 429)},
    ),
    partial_update=extend_schema(
        summary="Change some of a demand's fields (team)",
        request=DemandInputSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
        responses={200: TeamDemandSerializer, **error_responses(400, 401, 403, 404, 409, 412, 428, 429)},
    ),
)
class DemandViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Demands: read by anyone within their visibility; written by the bargaining team through the services."""

    parser_classes = [SafeJSONParser]
    filterset_class = DemandFilter
    search_fields = ["title", "summary"]
    ordering_fields = ["id", "title", "status", "created_at", "updated_at"]

    def get_queryset(self) -> QuerySet[Demand]:
        user = None if is_schema_request(self) else self.request.user
        demands = demands_visible_to(user)
        return demands.select_related("owner") if viewer_is_team(self) else demands

    def _with_links(self, demands: list[Demand]) -> list[Demand]:
        """Attach each demand's clause ids and visible evidence links, two queries for the whole page.

        Rows from values_list, not prefetch_related: a page of 100 would otherwise build a queryset
        per demand per relation and 400 model instances, most of the list's time in a profile.
        """
        ids = [demand.pk for demand in demands]
        clauses: dict[int, list[int]] = defaultdict(list)
        through = Demand.clauses.through.objects.filter(demand_id__in=ids)
        for demand_id, clause_id in through.order_by(
            "resolutionclause__resolution_id", "resolutionclause__number"
        ).values_list("demand_id", "resolutionclause_id"):
            clauses[demand_id].append(clause_id)
        evidence: dict[int, list[dict[str, Any]]] = defaultdict(list)
        links = evidence_links_visible_to(self.request.user).filter(demand_id__in=ids).order_by("id")
        for demand_id, evidence_id, claim in links.values_list("demand_id", "evidence_id", "claim"):
            evidence[demand_id].append({"evidence": evidence_id, "claim": claim})
        for demand in demands:
            demand.clause_ids, demand.evidence_links_shown = clauses[demand.pk], evidence[demand.pk]
        return demands

    def get_serializer_class(self) -> type[BaseSerializer]:
        return TeamDemandSerializer if viewer_is_team(self) else DemandSerializer

    def get_object(self) -> Demand:
        """The demand of the URL, if the caller may see it; without the prefetches of a representation.

        Detail routes ignore the list filters: /demands/5/?status=draft is demand 5, whatever its status.
        """
        demand = get_object_or_404(demands_visible_to(self.request.user), pk=self.kwargs["pk"])
        self.check_object_permissions(self.request, demand)
        return demand

    def _demand_response(self, demand_id: int, status: int = 200) -> Response:
        [demand] = self._with_links([self.get_queryset().get(pk=demand_id)])
        headers = {"ETag": f'"{demand.version}"'}
        if status == 201:
            headers["Location"] = reverse("demand-detail", kwargs={"pk": demand.pk}, request=self.request)
        return Response(self.get_serializer(demand).data, status=status, headers=headers)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None, "DEFAULT_PAGINATION_CLASS is set: lists are always paginated"
        return self.get_paginated_response(self.get_serializer(self._with_links(page), many=True).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        [demand] = self._with_links([get_object_or_404(self.get_queryset(), pk=kwargs["pk"])])
        return Response(self.get_serializer(demand).data, headers={"ETag": f'"{demand.version}"'})

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = DemandInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("version", None)  # nothing to compare against yet
        demand = demand_create(by=request.user, **data)
        return self._demand_response(demand.pk, status=201)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        demand = self.get_object()
        header_version = _precondition(request, demand)
        serializer = DemandInputSerializer(
            data=request.data, partial=kwargs.get("partial", False), context={"demand": demand}
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version = _expected_version(header_version, data.pop("version", None))
        demand_update(demand_id=demand.pk, expected_version=version, by=request.user, **data)
        return self._demand_response(demand.pk)

    @extend_schema(
        summary="Move a demand to another status (team)",
        description="Calls the transitions table. A disallowed move gets 400 naming the current and allowed "
        "statuses; moving to `withdrawn` needs a public `note`.",
        request=TransitionInputSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
        responses={200: TeamDemandSerializer, **error_responses(400, 401, 403, 404, 409, 412, 428, 429)},
    )
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, pk: str | None = None) -> Response:
        demand = self.get_object()
        header_version = _precondition(request, demand)
        serializer = TransitionInputSerializer(data=request.data, demand=demand)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        demand_transition(
            demand_id=demand.pk,
            to_status=data["status"],
            expected_version=_expected_version(header_version, data.get("version")),
            by=request.user,
            note=data["note"],
            note_es=data.get("note_es", ""),
            internal_note=data["internal_note"],
            session_id=data.get("session"),
            occurred_at=data.get("occurred_at"),
            hold=data["hold"],
            embargo_until=data["embargo_until"],
        )
        return self._demand_response(demand.pk)

    @extend_schema(
        summary="Cite evidence for a demand (team)",
        description="Links a piece of evidence to the demand with the claim it supports; bumps `version`. "
        "Citing the same evidence twice gets 409.",
        request=EvidenceCitationInputSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
        responses={201: TeamDemandSerializer, **error_responses(400, 401, 403, 404, 409, 412, 428, 429)},
    )
    @action(detail=True, methods=["post"], url_path="evidence")
    def cite_evidence(self, request: Request, pk: str | None = None) -> Response:
        demand = self.get_object()
        header_version = _precondition(request, demand)
        serializer = EvidenceCitationInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        evidence_link_create(
            demand_id=demand.pk,
            evidence_id=data["evidence"],
            claim=data["claim"],
            expected_version=_expected_version(header_version, data.get("version")),
            by=request.user,
        )
        return self._demand_response(demand.pk, status=201)

    @extend_schema(
        summary="A demand's status history, newest first",
        responses={200: TeamStatusChangeSerializer(many=True), **error_responses(401, 404, 429)},
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def history(self, request: Request, pk: str | None = None) -> Response:
        demand = self.get_object()
        changes = status_changes_visible_to(request.user).filter(demand=demand).select_related("changed_by")
        serializer_class = TeamStatusChangeSerializer if viewer_is_team(self) else StatusChangeSerializer
        page = self.paginate_queryset(changes)
        return self.get_paginated_response(
            serializer_class(page, many=True, context=self.get_serializer_context()).data
        )

    def _proposal_serializer_class(self) -> type[BaseSerializer]:
        return TeamProposalSerializer if viewer_is_team(self) else ProposalSerializer

    @extend_schema(
        methods=["GET"],
        summary="A demand's proposals, in chain order, each with its redline",
        responses={200: TeamProposalSerializer(many=True), **error_responses(401, 404, 429)},
    )
    @extend_schema(
        methods=["POST"],
        summary="Record a proposal on a demand (team)",
        description="Numbered next on the demand. A union proposal moves the demand to `proposed`, a Board "
        "proposal to `countered` (no move when it is there already; a `team` draft moves nothing). Refused "
        "with 400 on a `ratified` or `withdrawn` demand, or with `exchanged_on` in the future.",
        request=ProposalInputSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER, LOCATION_HEADER],
        responses={201: TeamProposalSerializer, **error_responses(400, 401, 403, 404, 409, 412, 428, 429)},
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def proposals(self, request: Request, pk: str | None = None) -> Response:
        demand = self.get_object()
        serializer_class = self._proposal_serializer_class()
        if request.method == "GET":
            proposals = proposals_visible_to(request.user).filter(demand=demand).select_related("demand")
            if viewer_is_team(self):
                proposals = proposals.select_related("created_by", "published_by")
            page = self.paginate_queryset(proposals)
            assert page is not None
            rows = _proposals_with_redlines(page, request.user)
            return self.get_paginated_response(
                serializer_class(rows, many=True, context=self.get_serializer_context()).data
            )
        header_version = _precondition(request, demand)
        data = valid_input(ProposalInputSerializer, request)
        version = _expected_version(header_version, data.pop("version", None))
        proposal = proposal_create(
            demand_id=demand.pk,
            expected_version=version,
            by=request.user,
            session_id=data.pop("session", None),
            note=data.pop("note"),
            **data,
        )
        created = proposals_visible_to(request.user).select_related("created_by", "demand").get(pk=proposal.pk)
        created.redline_data = as_data(redline(previous_language(created, request.user), created.language))
        version = Demand.objects.values_list("version", flat=True).get(pk=demand.pk)
        headers = {
            "ETag": f'"{version}"',
            "Location": reverse("proposal-detail", kwargs={"pk": proposal.pk}, request=request),
        }
        return Response(
            serializer_class(created, context=self.get_serializer_context()).data, status=201, headers=headers
        )

    def _agreement_response(self, demand: Demand, status: int = 200) -> Response:
        agreement = get_object_or_404(agreements_visible_to(self.request.user), demand=demand)
        version = Demand.objects.values_list("version", flat=True).get(pk=demand.pk)
        return Response(AgreementSerializer(agreement).data, status=status, headers={"ETag": f'"{version}"'})

    @extend_schema(
        methods=["GET"],
        summary="A demand's tentative agreement",
        description="404 for anyone but the team until both sides have signed.",
        parameters=[ETAG_HEADER],
        responses={200: AgreementSerializer, **error_responses(401, 404, 429)},
    )
    @extend_schema(
        methods=["PUT"],
        summary="Create or edit the agreed language (team)",
        description="Allowed while no side has signed; after that 409, saying who signed.",
        request=AgreementInputSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
        responses={200: AgreementSerializer, **error_responses(400, 401, 403, 404, 409, 412, 428, 429)},
    )
    @action(detail=True, methods=["get", "put"], filter_backends=[])
    def agreement(self, request: Request, pk: str | None = None) -> Response:
        demand = self.get_object()
        if request.method == "GET":
            return self._agreement_response(demand)
        header_version = _precondition(request, demand)
        data = valid_input(AgreementInputSerializer, request)
        agreement_set_language(
            demand_id=demand.pk,
            language=data["language"],
            proposal_id=data.get("proposal"),
            expected_version=_expected_version(header_version, data.get("version")),
            by=request.user,
        )
        return self._agreement_response(demand)

    @extend_schema(
        summary="Sign the tentative agreement for one side (team)",
        description="The second side's signature reaches the agreement and moves the demand to "
        "`tentative_agreement`; a side signing twice, or a third signature, gets 409.",
        request=SignInputSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
        responses={200: AgreementSerializer, **error_responses(400, 401, 403, 404, 409, 412, 428, 429)},
    )
    @action(detail=True, methods=["post"], url_path="agreement/sign", filter_backends=[])
    def sign_agreement(self, request: Request, pk: str | None = None) -> Response:
        demand = self.get_object()
        header_version = _precondition(request, demand)
        data = valid_input(SignInputSerializer, request)
        agreement_sign(
            demand_id=demand.pk,
            side=data["side"],
            signed_by=data["signed_by"],
            signed_on=data["signed_on"],
            session_id=data.get("session"),
            expected_version=_expected_version(header_version, data.get("version")),
            by=request.user,
            hold=data.get("hold"),
            embargo_until=data.get("embargo_until"),
        )
        return self._agreement_response(demand)


def valid_input(serializer_class: type[BaseSerializer], request: Request, *, partial: bool = False) -> dict[str, Any]:
    """The request body checked by an input serializer; the services apply the rules."""
    serializer = serializer_class(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def written_response(view: viewsets.GenericViewSet, pk: int, status: int = 200) -> Response:
    """What a write made, as the caller now reads it; a 201 says where it lives."""
    instance = view.get_queryset().get(pk=pk)
    headers = {}
    if status == 201:
        headers["Location"] = reverse(f"{view.basename}-detail", kwargs={"pk": pk}, request=view.request)
    return Response(view.get_serializer(instance).data, status=status, headers=headers)


def write_schemas(noun: str, request: type[BaseSerializer], response: type[BaseSerializer]) -> dict[str, Any]:
    """The documentation of create, update and partial update: the team's writes, never delete."""
    return {
        "create": extend_schema(
            summary=f"Create {noun} (team)",
            request=request,
            parameters=[LOCATION_HEADER],
            responses={201: response, **error_responses(400, 401, 403, 409, 429)},
        ),
        "update": extend_schema(
            summary=f"Replace {noun}'s fields (team)",
            request=request,
            responses={200: response, **error_responses(400, 401, 403, 404, 409, 429)},
        ),
        "partial_update": extend_schema(
            summary=f"Change some of {noun}'s fields (team)",
            request=request,
            responses={200: response, **error_responses(400, 401, 403, 404, 409, 429)},
        ),
    }


class WriteViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
    metaclass=ABCMeta,
):
    """Read within the caller's visibility; create and edit (team, by the permission class) through
    `create_object` and `update_object`, which call a service. No delete: that is the admin's."""

    parser_classes = [SafeJSONParser]
    input_serializer_class: type[BaseSerializer]

    @abstractmethod
    def create_object(self, data: dict[str, Any]) -> int:
        """Create through the service with validated input; return the new object's id."""

    @abstractmethod
    def update_object(self, pk: int, data: dict[str, Any]) -> None:
        """Update object `pk` through the service with validated input."""

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        pk = self.create_object(valid_input(self.input_serializer_class, request))
        return written_response(self, pk, status=201)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        pk = self.get_object().pk
        data = valid_input(self.input_serializer_class, request, partial=kwargs.get("partial", False))
        self.update_object(pk, data)
        return written_response(self, pk)


@extend_schema_view(
    list=extend_schema(
        summary="List categories",
        responses={200: CategorySerializer(many=True), **error_responses(400, 401, 404, 429)},
    ),
    retrieve=extend_schema(
        summary="Get a category", responses={200: CategorySerializer, **error_responses(401, 404, 429)}
    ),
    **write_schemas("a category", CategoryInputSerializer, CategorySerializer),
)
class CategoryViewSet(WriteViewSet):
    """The categories demands are grouped in: public, like the pages that list them."""

    input_serializer_class = CategoryInputSerializer
    serializer_class = CategorySerializer
    search_fields = ["name", "name_es", "description"]
    ordering_fields = ["id", "position", "name"]

    def get_queryset(self) -> QuerySet:
        return Category.objects.all()

    def create_object(self, data: dict[str, Any]) -> int:
        return category_create(**data).pk

    def update_object(self, pk: int, data: dict[str, Any]) -> None:
        category_update(category_id=pk, **data)


@extend_schema_view(
    list=extend_schema(
        summary="List evidence",
        responses={200: TeamEvidenceSerializer(many=True), **error_responses(400, 401, 404, 429)},
    ),
    retrieve=extend_schema(
        summary="Get evidence", responses={200: TeamEvidenceSerializer, **error_responses(401, 404, 429)}
    ),
    **write_schemas("a piece of evidence", EvidenceInputSerializer, TeamEvidenceSerializer),
)
class EvidenceViewSet(WriteViewSet):
    """Evidence within the caller's visibility, with the visible demands it supports."""

    input_serializer_class = EvidenceInputSerializer
    filterset_class = EvidenceFilter
    search_fields = ["title", "publisher", "quote"]
    ordering_fields = ["id", "title", "published_on", "created_at"]

    def get_queryset(self) -> QuerySet:
        user = None if is_schema_request(self) else self.request.user
        return (
            evidence_visible_to(user)
            .select_related("verified_by")
            .prefetch_related("figures", Prefetch("links", queryset=evidence_links_visible_to(user)))
        )

    def get_serializer_class(self) -> type[BaseSerializer]:
        return TeamEvidenceSerializer if viewer_is_team(self) else EvidenceSerializer

    def create_object(self, data: dict[str, Any]) -> int:
        return evidence_create(by=self.request.user, **data).pk

    def update_object(self, pk: int, data: dict[str, Any]) -> None:
        evidence_update(evidence_id=pk, by=self.request.user, **data)


@extend_schema_view(
    list=extend_schema(
        summary="List resolutions",
        responses={200: ResolutionSerializer(many=True), **error_responses(400, 401, 404, 429)},
    ),
    retrieve=extend_schema(
        summary="Get a resolution", responses={200: ResolutionSerializer, **error_responses(401, 404, 429)}
    ),
    **write_schemas("a resolution", ResolutionInputSerializer, ResolutionSerializer),
)
class ResolutionViewSet(WriteViewSet):
    """Resolutions of governing bodies, with their numbered clauses; public records."""

    input_serializer_class = ResolutionInputSerializer
    serializer_class = ResolutionSerializer
    filterset_fields = ["governing_body"]
    search_fields = ["title", "summary", "governing_body"]
    ordering_fields = ["id", "adopted_on", "title"]

    def get_queryset(self) -> QuerySet:
        user = None if is_schema_request(self) else self.request.user
        return resolutions_visible_to(user).prefetch_related("clauses")

    def create_object(self, data: dict[str, Any]) -> int:
        return resolution_create(by=self.request.user, **data).pk

    def update_object(self, pk: int, data: dict[str, Any]) -> None:
        resolution_update(resolution_id=pk, by=self.request.user, **data)


@extend_schema(
    summary="Get an API token",
    auth=[],
    description="Exchange a username and password for a token; send it as `Authorization: Token <key>`.",
    request=AuthTokenSerializer,
    responses={200: TokenSerializer, **error_responses(400, 429)},
)
class TokenView(ObtainAuthToken):
    """POST username and password, get a token. Throttled per client, and locked out after repeated failures
    (django-axes, like the sign-in pages): the password is guessable otherwise."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"
    parser_classes = [FormParser, MultiPartParser, SafeJSONParser]

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            return super().post(request, *args, **kwargs)
        finally:
            # django-axes marks the request `authenticate` was given (DRF's); its middleware, which answers
            # with the lockout response, reads Django's.
            if getattr(request, "axes_locked_out", False):
                request._request.axes_locked_out = True  # type: ignore[attr-defined]


@extend_schema_view(
    retrieve=extend_schema(
        summary="Get a proposal, with its redline",
        parameters=[ETAG_HEADER],
        responses={200: TeamProposalSerializer, **error_responses(401, 404, 429)},
    ),
    partial_update=extend_schema(
        summary="Edit a team draft, or pass it across the table (team)",
        description="A team draft's `language`, `summary`, `rationale` and `exchanged_on` may change; setting "
        "`visibility` to `members` or `public` passes it across the table and moves the demand as a new "
        "proposal would (a union proposal to `proposed`, a Board one to `countered`), one history row citing it. "
        "A passed proposal keeps its language, date and visibility (409); its summary and rationale may change. "
        "The ETag and If-Match are the demand's version, as for every write on a demand.",
        request=ProposalUpdateInputSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
        responses={200: TeamProposalSerializer, **error_responses(400, 401, 403, 404, 409, 412, 428, 429)},
    ),
)
class ProposalViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One proposal within the caller's visibility; proposals are recorded under their demand."""

    parser_classes = [SafeJSONParser]
    http_method_names = ["get", "patch", "post", "head", "options"]

    def get_queryset(self) -> QuerySet:
        user = None if is_schema_request(self) else self.request.user
        proposals = proposals_visible_to(user).select_related("demand")
        return proposals.select_related("created_by", "published_by") if viewer_is_team(self) else proposals

    def get_serializer_class(self) -> type[BaseSerializer]:
        return TeamProposalSerializer if viewer_is_team(self) else ProposalSerializer

    def _proposal_response(self, proposal: Proposal) -> Response:
        proposal.redline_data = as_data(redline(previous_language(proposal, self.request.user), proposal.language))
        return Response(self.get_serializer(proposal).data, headers={"ETag": f'"{proposal.demand.version}"'})

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._proposal_response(self.get_object())

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        proposal = self.get_object()
        header_version = _precondition(request, proposal.demand)
        data = valid_input(ProposalUpdateInputSerializer, request, partial=True)
        version = _expected_version(header_version, data.pop("version", None))
        proposal_update(
            proposal_id=proposal.pk, expected_version=version, by=request.user, note=data.pop("note", ""), **data
        )
        return self._proposal_response(self.get_queryset().get(pk=proposal.pk))

    @extend_schema(
        summary="Publish a held proposal (team, not its recorder)",
        description="Makes the proposal (and the status change it makes, if any) visible to members and the "
        "public, and brings the demand's shown status along. The recorder gets 403; publishing an already "
        "published proposal changes nothing.",
        request=None,
        responses={200: TeamProposalSerializer, **error_responses(401, 403, 404, 429)},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def publish(self, request: Request, pk: str | None = None) -> Response:
        proposal = proposal_publish(proposal_id=self.get_object().pk, by=request.user)
        return self._proposal_response(self.get_queryset().get(pk=proposal.pk))


@extend_schema_view(
    list=extend_schema(
        summary="List ratification votes",
        responses={200: TeamVoteSerializer(many=True), **error_responses(400, 401, 404, 429)},
    ),
    retrieve=extend_schema(
        summary="Get a ratification vote", responses={200: TeamVoteSerializer, **error_responses(401, 404, 429)}
    ),
    create=extend_schema(
        summary="Record a ratification vote (team)",
        description="Passed (yes > no) ratifies every covered demand; failed sends each back to `countered`; "
        "all or nothing. Every covered demand must have a signed tentative agreement. The demands' rows are "
        "locked for the write; a vote covers many demands, so it takes no If-Match.",
        request=VoteInputSerializer,
        parameters=[LOCATION_HEADER],
        responses={201: TeamVoteSerializer, **error_responses(400, 401, 403, 409, 429)},
    ),
)
class VoteViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Ratification votes covering demands the caller may see."""

    parser_classes = [SafeJSONParser]
    ordering_fields = ["held_on", "id"]

    def get_queryset(self) -> QuerySet:
        user = None if is_schema_request(self) else self.request.user
        votes = votes_visible_to(user)
        return votes.select_related("recorded_by") if viewer_is_team(self) else votes

    def get_serializer_class(self) -> type[BaseSerializer]:
        return TeamVoteSerializer if viewer_is_team(self) else VoteSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = valid_input(VoteInputSerializer, request)
        vote = vote_record(by=request.user, demand_ids=data.pop("demands"), **data)
        return written_response(self, vote.pk, status=201)


@extend_schema_view(
    retrieve=extend_schema(
        summary="Get a status change",
        responses={200: TeamStatusChangeSerializer, **error_responses(401, 404, 429)},
    ),
)
class StatusChangeViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One status change within the caller's visibility; a held one only for the team."""

    def get_queryset(self) -> QuerySet:
        user = None if is_schema_request(self) else self.request.user
        changes = status_changes_visible_to(user)
        return changes.select_related("changed_by", "published_by") if viewer_is_team(self) else changes

    def get_serializer_class(self) -> type[BaseSerializer]:
        return TeamStatusChangeSerializer if viewer_is_team(self) else StatusChangeSerializer

    @extend_schema(
        summary="Publish a held status change (team, not its recorder)",
        description="Makes the change (and its proposal, agreement or the vote's other moves) visible to members "
        "and the public, and brings the demand's shown status along. The recorder gets 403; publishing an "
        "already published change changes nothing.",
        request=None,
        responses={200: TeamStatusChangeSerializer, **error_responses(401, 403, 404, 429)},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def publish(self, request: Request, pk: str | None = None) -> Response:
        change = change_publish(change_id=self.get_object().pk, by=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=change.pk)).data)


HELD_ITEM = PolymorphicProxySerializer(
    component_name="HeldItem",
    serializers={"status_change": TeamStatusChangeSerializer, "proposal": TeamProposalSerializer},
    resource_type_field_name="kind",
    many=True,
)


class HeldViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """`GET /api/v1/held/`: everything held, oldest first (team only): status changes, and proposals that
    move nothing, each with its `kind` and its own `url` to publish it at."""

    permission_classes = [IsTeam]
    serializer_class = TeamStatusChangeSerializer
    filter_backends: list[type] = []

    def get_queryset(self) -> QuerySet:
        return held_status_changes()

    def _row(self, item: StatusChange | Proposal) -> dict[str, Any]:
        context = self.get_serializer_context()
        if isinstance(item, StatusChange):
            return {"kind": "status_change", **TeamStatusChangeSerializer(item, context=context).data}
        return {"kind": "proposal", **TeamProposalSerializer(item, context=context).data}

    @extend_schema(
        summary="List everything held (team)",
        responses={200: HELD_ITEM, **error_responses(400, 401, 403, 404, 429)},
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(held_items())  # type: ignore[arg-type]
        assert page is not None, "DEFAULT_PAGINATION_CLASS is set: lists are always paginated"
        _proposals_with_redlines([item for item in page if isinstance(item, Proposal)], self.request.user)
        return self.get_paginated_response([self._row(item) for item in page])
