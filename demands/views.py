"""Server-rendered pages: what anyone may read, and the bargaining team's workflow."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.forms.utils import ErrorDict
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from .errors import DomainError, Forbidden, StaleVersion, ValidationFailed
from .exports import csv_lines, json_chunks
from .filters import BulletinFilter, DemandListFilter, EvidenceListFilter
from .forms import (
    AgreementLanguageForm,
    AgreementSignForm,
    DemandForm,
    EvidenceForm,
    EvidenceLinkForm,
    FigureFormSet,
    ProposalForm,
    TransitionForm,
    VoteForm,
)
from .models import Category, Demand, Evidence, Proposal, Side, Status, StatusChange, TentativeAgreement, Visibility
from .pagecache import cached_public_page
from .roles import is_team
from .selectors import (
    AtTheTable,
    demands_by_category,
    demands_for_export,
    demands_visible_to,
    evidence_links_for,
    evidence_visible_to,
    evidence_with_links_for,
    figures_visible_to,
    held_items,
    held_proposals_on_their_own,
    held_status_changes,
    progress_of,
    proposals_visible_to,
    resolution_with_clauses_for,
    resolutions_visible_to,
    status_changes_visible_to,
    status_counts_visible_to,
    table_counts,
    table_of,
)
from .services import (
    change_publish,
    demand_create,
    demand_update,
    evidence_create,
    evidence_link_create,
    evidence_update,
    proposal_publish,
)

RECENT_CHANGES = 6
LIST_PAGE_SIZE = 25
KEY_FIGURES = 4
# The demand page shows this many of a demand's history entries and cited evidence, newest first, with links to
# older pages (`?history=2`, `?evidence=2`): its cost does not grow with the demand's history.
HISTORY_PAGE_SIZE = 20
EVIDENCE_PAGE_SIZE = 20
# The cite-evidence form offers a page of the evidence not yet cited (searchable: `?cite=words`), not all of it.
CITE_CHOICES = 50
CITE_SEARCH_LENGTH = 200
HELD_PAGE_SIZE = 50
# The bulletin prints this many demands a page: the campaign's dozen on one, a large table on several.
BULLETIN_PAGE_SIZE = 50


def _page(request: HttpRequest, items: Any, param: str, size: int) -> Page:
    """Page `request.GET[param]` of `items`; a missing, bad or out-of-range number gets the first or last page."""
    return Paginator(items, size).get_page(request.GET.get(param))


def _kept_query(request: HttpRequest, *params: str) -> str:
    """The request's query string without `params`: links to other pages keep the rest, so a URL can be shared."""
    kept = request.GET.copy()
    for param in params:
        kept.pop(param, None)
    return kept.urlencode()


def team_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Send visitors to sign in; refuse signed-in accounts outside the bargaining team."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_team(request.user):
            raise PermissionDenied("Only the bargaining team can do this.")
        return view(request, *args, **kwargs)

    return wrapped


@cached_public_page
def dashboard(request: HttpRequest) -> HttpResponse:
    """`/`: where the demands the viewer may see stand, with progress, evidence and recent changes; the demands
    filtered (`status`, `category`, `q` as on `/demands/`) and paginated; progress counted in the database."""
    counts = status_counts_visible_to(request.user)
    filters = DemandListFilter(request.GET, queryset=demands_by_category(request.user))
    valid = filters.is_valid()
    context = {
        "filters": filters,
        "page_obj": _page(request, filters.qs, "page", LIST_PAGE_SIZE) if valid else None,
        "query_string": _kept_query(request, "page"),
        "progress": progress_of(counts),
        "table_counts": table_counts(counts),
        "recent_changes": status_changes_visible_to(request.user)[:RECENT_CHANGES],
        "resolution": resolutions_visible_to(request.user).first(),
        "figures": figures_visible_to(request.user)[:KEY_FIGURES],
    }
    return render(request, "demands/dashboard.html", context, status=200 if valid else 400)


@cached_public_page
def demand_list(request: HttpRequest) -> HttpResponse:
    """`/demands/`: the demands the viewer may see, searched (`q`) and filtered (`status`, `category`); paginated."""
    filters = DemandListFilter(request.GET, queryset=demands_by_category(request.user), request=request)
    if not filters.is_valid():
        context = {"filters": filters, "page_obj": None, "query_string": ""}
        return render(request, "demands/demand_list.html", context, status=400)
    page = _page(request, filters.qs, "page", LIST_PAGE_SIZE)
    context = {"filters": filters, "page_obj": page, "query_string": _kept_query(request, "page")}
    return render(request, "demands/demand_list.html", context)


def _export_name(extension: str) -> str:
    return f"demands-{timezone.localdate():%Y-%m-%d}.{extension}"


@require_GET
def demands_csv(request: HttpRequest) -> StreamingHttpResponse:
    """`/demands.csv`: what the viewer may see, one row per demand, streamed."""
    response = StreamingHttpResponse(csv_lines(request.user), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_export_name("csv")}"'
    response["Vary"] = "Cookie"
    return response


@require_GET
def demands_json(request: HttpRequest) -> StreamingHttpResponse:
    """`/demands.json`: what the viewer may see, each demand with its history, evidence and clauses, streamed."""
    response = StreamingHttpResponse(json_chunks(request.user), content_type="application/json")
    response["Content-Disposition"] = f'inline; filename="{_export_name("json")}"'
    response["Vary"] = "Cookie"
    return response


@cached_public_page
def bulletin(request: HttpRequest) -> HttpResponse:
    """`/bulletin/`: "Where we stand", printable, dated: the status counts of every demand the viewer may see (or
    of one category, `?category=<slug>`), then the demands by category, a page at a time (`?page=2`)."""
    counts = status_counts_visible_to(request.user)
    filters = BulletinFilter(request.GET, queryset=demands_for_export(request.user, latest_change_only=True))
    valid = filters.is_valid()
    chosen = filters.form.cleaned_data.get("category") if valid else None
    context = {
        "filters": filters,
        "categories": list({row.category.pk: row.category for row in counts}.values()),
        "chosen": chosen,
        "progress": progress_of([row for row in counts if chosen is None or row.category == chosen]),
        "page_obj": _page(request, filters.qs, "page", BULLETIN_PAGE_SIZE) if valid else None,
        "query_string": _kept_query(request, "page"),
        "today": timezone.localdate(),
    }
    return render(request, "demands/bulletin.html", context, status=200 if valid else 400)


@cached_public_page
def feeds(request: HttpRequest) -> HttpResponse:
    """`/feeds/`: how to follow the changes, with the Atom feed of all of them and one per category."""
    return render(request, "demands/feeds.html", {"categories": Category.objects.all()})


# A refused form of the demand page is kept in the session across the redirect (post/redirect/get): reloading
# the page re-posts nothing, and the page's URL stays the demand's own. Keyed by the form's name and the demand.
REFUSED_FORM = "refused-{}-{}"
DemandPageForm = TransitionForm | AgreementLanguageForm | AgreementSignForm


def _refused_form(
    request: HttpRequest, demand: Demand, name: str, make: Callable[[dict[str, str]], DemandPageForm]
) -> DemandPageForm | None:
    """The form `name` refused just before the redirect to this page, with its input and its errors."""
    saved = request.session.pop(REFUSED_FORM.format(name, demand.pk), None)
    if saved is None:
        return None
    form = make(saved["data"])
    form.is_valid()
    for field, message in saved["refusals"]:
        form.add_error(field, message)
    return form


def _post_demand_form(
    request: HttpRequest,
    demand: Demand,
    name: str,
    form: DemandPageForm,
    *,
    done: Callable[[Any], tuple[str, str]],
    refused: str,
) -> HttpResponse:
    """Save a form of the demand page through its service and redirect back to the page: to `done(result)`'s
    fragment with its message, or, refused, with the form, its input and the service's reasons kept for the page."""
    refusals: list[tuple[str | None, str]] = []
    if form.is_valid():
        try:
            result = form.save(by=request.user)
        except StaleVersion as error:
            return _refuse(request, demand, error)
        except DomainError as error:
            add_domain_error(form, error)
            refusals = [(field, str(message)) for field, errors in form.errors.items() for message in errors]
        else:
            message, fragment = done(result)
            messages.success(request, message)
            return redirect(f"{demand.get_absolute_url()}#{fragment}")
    data = {field: request.POST.get(field, "") for field in form.fields}
    request.session[REFUSED_FORM.format(name, demand.pk)] = {
        "data": data,
        "refusals": [(None if field == "__all__" else field, message) for field, message in refusals],
    }
    messages.error(request, refused)
    # No fragment: a browser skips `autofocus` when the URL targets an element, and focus is what brings the
    # form's error summary into view (and to a screen reader) on a phone.
    return redirect(demand)


def _agreement_forms(request: HttpRequest, demand: Demand, table: AtTheTable) -> dict[str, DemandPageForm | None]:
    """The team's agreement forms: the language while nobody has signed, a signature until both have; a form
    refused just now is shown whatever the agreement's state, so that its reason is read."""
    agreement = table.agreement
    passed = [link.proposal for link in table.chain if link.proposal.visibility != Visibility.TEAM]
    latest = passed[-1] if passed else None
    if table.proposals is not None and table.proposals.has_previous():  # an earlier page: the latest is on page 1
        latest = proposals_visible_to(request.user).filter(demand=demand).exclude(visibility=Visibility.TEAM).last()
    language = _refused_form(
        request,
        demand,
        "agreement",
        lambda data: AgreementLanguageForm(data, demand=demand, agreement=agreement, latest=latest),
    )
    if language is None and demand.is_open and (agreement is None or not agreement.is_signed):
        language = AgreementLanguageForm(demand=demand, agreement=agreement, latest=latest)
    sign = _refused_form(
        request, demand, "sign", lambda data: AgreementSignForm(data, demand=demand, agreement=agreement)
    )
    if sign is None and demand.is_open and agreement is not None and not agreement.is_reached:
        sign = AgreementSignForm(demand=demand, agreement=agreement)
    return {"agreement_form": language, "sign_form": sign}


def _demand_page(
    request: HttpRequest,
    demand: Demand,
    *,
    link_form: EvidenceLinkForm | None = None,
    status: int = 200,
) -> HttpResponse:
    history = status_changes_visible_to(request.user).filter(demand=demand).select_related("changed_by")
    context: dict[str, Any] = {
        "demand": demand,
        "history": _page(request, history, "history", HISTORY_PAGE_SIZE),
        "history_query": _kept_query(request, "history"),
        "evidence_links": _page(request, evidence_links_for(demand, request.user), "evidence", EVIDENCE_PAGE_SIZE),
        "evidence_query": _kept_query(request, "evidence"),
        "clauses": demand.clauses.select_related("resolution"),
        "table": table_of(demand, request.user, page=request.GET.get("proposals")),
        "proposals_query": _kept_query(request, "proposals"),
    }
    if is_team(request.user):
        refused = _refused_form(request, demand, "transition", lambda data: TransitionForm(data, demand=demand))
        context["transition_form"] = refused or TransitionForm(demand=demand)
        context.update(_agreement_forms(request, demand, context["table"]))
        form = link_form or EvidenceLinkForm(demand=demand, evidence=evidence_visible_to(request.user))
        search = request.GET.get("cite", "")[:CITE_SEARCH_LENGTH].strip()
        context["cite_page"] = _page(request, form.citable(search), "cite_page", CITE_CHOICES)
        context["cite_search"] = search
        context["cite_query"] = _kept_query(request, "cite_page")
        form.offer(context["cite_page"].object_list)
        context["link_form"] = form
    return render(request, "demands/demand_detail.html", context, status=status)


@cached_public_page
def demand_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """`/demands/<slug>/`: one demand; 404 for demands the viewer may not see."""
    demand = get_object_or_404(demands_visible_to(request.user).select_related("owner"), slug=slug)
    return _demand_page(request, demand)


def add_domain_error(form: Any, error: DomainError) -> None:
    """Put a service's refusal on the form field it names, or on the form as a whole."""
    if isinstance(error, ValidationFailed):
        for field, problems in error.errors.items():
            for problem in problems:
                form.add_error(field if field in form.fields else None, problem)
    else:
        form.add_error(error.field if error.field in form.fields else None, error.message)


def _refuse(request: HttpRequest, demand: Demand, error: DomainError) -> HttpResponse:
    messages.error(request, error.message)
    return redirect(demand)


@require_POST
@team_required
def demand_transition_view(request: HttpRequest, slug: str) -> HttpResponse:
    """POST from the status form on the demand page."""
    demand = get_object_or_404(demands_visible_to(request.user).select_related("owner"), slug=slug)
    form = TransitionForm(request.POST, demand=demand)

    def done(change: StatusChange) -> tuple[str, str]:
        moved = f"Moved to {Status(change.to_status).label} (from {Status(change.from_status).label})."
        return moved, f"change-{change.pk}"

    return _post_demand_form(
        request, demand, "transition", form, done=done, refused="The status was not changed: see the status form."
    )


@require_POST
@team_required
def agreement_language_view(request: HttpRequest, slug: str) -> HttpResponse:
    """POST from the agreed-language form on the demand page."""
    demand = get_object_or_404(demands_visible_to(request.user), slug=slug)
    form = AgreementLanguageForm(request.POST, demand=demand)
    return _post_demand_form(
        request,
        demand,
        "agreement",
        form,
        done=lambda agreement: ("Saved the agreed language.", "agreement"),
        refused="The agreed language was not saved: see the tentative agreement.",
    )


@require_POST
@team_required
def agreement_sign_view(request: HttpRequest, slug: str) -> HttpResponse:
    """POST from the signature form on the demand page; the second side's signature reaches the agreement."""
    demand = get_object_or_404(demands_visible_to(request.user), slug=slug)
    form = AgreementSignForm(request.POST, demand=demand)

    def done(agreement: TentativeAgreement) -> tuple[str, str]:
        side = Side(form.cleaned_data["side"]).label
        if agreement.is_reached:
            return f"{side} signed: tentative agreement reached.", "agreement"
        return f"{side} signed; the other side has still to sign.", "agreement"

    return _post_demand_form(
        request, demand, "sign", form, done=done, refused="The signature was not recorded: see the tentative agreement."
    )


@team_required
def proposal_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    """`/proposals/<id>/edit/`: edit a team draft, or pass it across the table; a passed one keeps its words."""
    proposal = get_object_or_404(proposals_visible_to(request.user).select_related("demand"), pk=pk)
    form = ProposalForm(request.POST or None, proposal=proposal)
    if request.method == "POST" and form.is_valid():
        try:
            saved = form.save(by=request.user)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            demand = Demand.objects.get(pk=proposal.demand_id)
            if form.passed or saved.visibility == Visibility.TEAM:
                message = f"Saved proposal {saved.number}."
            else:
                message = (
                    f"Passed proposal {saved.number} across the table; “{demand}” is {demand.get_status_display()}."
                )
            messages.success(request, message)
            return redirect(saved)
    status = 400 if request.method == "POST" else 200
    return render(request, "demands/proposal_form.html", {"form": form, "proposal": proposal}, status=status)


@team_required
def vote_create_view(request: HttpRequest) -> HttpResponse:
    """`/votes/new/`: record the members' ratification vote on signed tentative agreements."""
    form = VoteForm(request.POST or None, demands=demands_visible_to(request.user))
    if request.method == "POST" and form.is_valid():
        try:
            vote = form.save(by=request.user)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            covered = list(vote.demands.order_by("title"))
            outcome = "ratified" if vote.passed else "voted down; back to Countered"
            names = ", ".join(f"“{demand}”" for demand in covered)
            messages.success(request, f"Recorded the vote of {vote.held_on:%Y-%m-%d}: {names} {outcome}.")
            return redirect(f"{covered[0].get_absolute_url()}#vote-{vote.pk}")
    status = 400 if request.method == "POST" else 200
    return render(request, "demands/vote_form.html", {"form": form}, status=status)


@require_POST
@team_required
def evidence_link_view(request: HttpRequest, slug: str) -> HttpResponse:
    """POST from the cite-evidence form on the demand page."""
    demand = get_object_or_404(demands_visible_to(request.user).select_related("owner"), slug=slug)
    form = EvidenceLinkForm(request.POST, demand=demand, evidence=evidence_visible_to(request.user))
    if form.is_valid():
        try:
            link = evidence_link_create(
                demand_id=demand.pk,
                evidence_id=form.cleaned_data["evidence"].pk,
                claim=form.cleaned_data["claim"],
                expected_version=form.cleaned_data["version"],
                by=request.user,
            )
        except StaleVersion as error:
            return _refuse(request, demand, error)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"Cited “{link.evidence}”.")
            return redirect(f"{demand.get_absolute_url()}#evidence")
    return _demand_page(request, demand, link_form=form, status=400)


@team_required
def demand_create_view(request: HttpRequest) -> HttpResponse:
    """A new demand, created as a draft."""
    form = DemandForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            demand = demand_create(by=request.user, **form.service_data())
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"Created “{demand}” as a draft.")
            return redirect(demand)
    return render(request, "demands/demand_form.html", {"form": form}, status=400 if form.errors else 200)


@team_required
def demand_edit_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Edit a demand's fields; a form made from an older version is refused."""
    demand = get_object_or_404(demands_visible_to(request.user), slug=slug)
    form = DemandForm(request.POST or None, instance=demand)
    if request.method == "POST" and form.is_valid():
        try:
            demand = demand_update(
                demand_id=demand.pk,
                expected_version=form.cleaned_data["version"],
                by=request.user,
                **form.service_data(),
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"Saved “{demand}”.")
            return redirect(demand)
    # A bound form writes its input onto `demand`; the page heading shows the stored one.
    context = {"form": form, "demand": Demand.objects.get(pk=demand.pk) if form.is_bound else demand}
    return render(request, "demands/demand_form.html", context, status=400 if form.errors else 200)


@cached_public_page
def resolution_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """`/resolutions/<id>/`: the clauses and the visible demands resting on each."""
    resolution = get_object_or_404(resolution_with_clauses_for(request.user), pk=pk)
    return render(request, "demands/resolution_detail.html", {"resolution": resolution})


@cached_public_page
def evidence_list(request: HttpRequest) -> HttpResponse:
    """`/evidence/`: the evidence the viewer may see, with what it is cited for; searched (`q`), filtered by
    `kind` and paginated."""
    filters = EvidenceListFilter(request.GET, queryset=evidence_with_links_for(request.user))
    valid = filters.is_valid()
    context = {
        "filters": filters,
        "page_obj": _page(request, filters.qs, "page", LIST_PAGE_SIZE) if valid else None,
        "query_string": _kept_query(request, "page"),
    }
    return render(request, "demands/evidence_list.html", context, status=200 if valid else 400)


ADD_FIGURE = "add_figure"


def _figure_formset(request: HttpRequest, evidence: Evidence | None) -> FigureFormSet:
    """The figure rows: bound on POST, one more blank row when the "Add a figure row" button sent it."""
    initial = FigureFormSet.initial_for(evidence) if evidence else None
    if request.method != "POST":
        return FigureFormSet(initial=initial, prefix="figures")
    data = request.POST
    total = data.get("figures-TOTAL_FORMS", "")
    # A tampered count is left for the formset to refuse ("ManagementForm data is missing or has been tampered").
    if ADD_FIGURE in data and total.isdigit():
        data = data.copy()
        data["figures-TOTAL_FORMS"] = str(int(total) + 1)
    return FigureFormSet(data, initial=initial, prefix="figures")


def _add_evidence_error(form: EvidenceForm, figures: FigureFormSet, error: DomainError) -> None:
    """A service refusal onto the form, and `figures.N.field` onto the N-th figure row kept."""
    if not isinstance(error, ValidationFailed):
        add_domain_error(form, error)
        return
    rows = figures.kept_forms()
    for key, problems in error.errors.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "figures" and parts[1].isdigit() and int(parts[1]) < len(rows):
            row = rows[int(parts[1])]
            for problem in problems:
                row.add_error(parts[2] if parts[2] in row.fields else None, problem)
        else:
            for problem in problems:
                form.add_error(key if key in form.fields else None, problem)


def _not_judged_yet(form: EvidenceForm, figures: FigureFormSet) -> None:
    """Keep the input of a form that grew a row without judging it: nobody submitted it yet.

    Django validates a bound form when its errors are first read; empty error lists set beforehand mean that
    the page shows the input as typed, with no "This field is required" on fields nobody has filled in yet.
    A tampered row count is still reported, by the management form.
    """
    form._errors = ErrorDict()
    if figures.management_form.is_valid():
        figures._errors, figures._non_form_errors = [], figures.error_class()
        for row in figures.forms:
            row._errors = ErrorDict()


def _evidence_form_page(request: HttpRequest, evidence: Evidence | None) -> HttpResponse:
    form = EvidenceForm(request.POST or None, instance=evidence)
    figures = _figure_formset(request, evidence)
    submitted = request.method == "POST" and ADD_FIGURE not in request.POST
    # Both validated, so that the page shows every problem at once.
    if submitted and all([form.is_valid(), figures.is_valid()]):
        fields = form.service_data(by=request.user)
        try:
            if evidence is None:
                saved = evidence_create(by=request.user, figures=figures.figures(), **fields)
            else:
                saved = evidence_update(evidence_id=evidence.pk, by=request.user, figures=figures.figures(), **fields)
        except DomainError as error:
            _add_evidence_error(form, figures, error)
        else:
            messages.success(request, f"Saved “{saved}”." if evidence else f"Added “{saved}”.")
            return redirect(saved)
    if request.method == "POST" and not submitted:
        _not_judged_yet(form, figures)
    context = {
        "form": form,
        "figures": figures,
        "evidence": evidence,
    }
    return render(request, "demands/evidence_form.html", context, status=400 if submitted else 200)


@team_required
def evidence_create_view(request: HttpRequest) -> HttpResponse:
    """`/evidence/new/`: a new piece of evidence with its figures."""
    return _evidence_form_page(request, None)


@team_required
def evidence_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    """`/evidence/<id>/edit/`: edit a piece of evidence; the figure rows replace its figures."""
    evidence = get_object_or_404(evidence_visible_to(request.user), pk=pk)
    return _evidence_form_page(request, evidence)


@require_GET
@team_required
def held_list(request: HttpRequest) -> HttpResponse:
    """`/held/`: everything held (status changes, and proposals that move nothing), oldest first, a page at a time
    (`?page=2`), with a publish button for what others recorded."""
    page = _page(request, held_items(), "page", HELD_PAGE_SIZE)
    page.object_list = [(isinstance(item, Proposal), item) for item in page.object_list]
    return render(request, "demands/held.html", {"held": page})


def _publish_from_held_list(request: HttpRequest, publish: Callable[[], Any], what: str) -> HttpResponse:
    """Publish one held item from `/held/` (never the recorder's own: the service refuses, as 403)."""
    try:
        publish()
    except Forbidden as error:
        raise PermissionDenied(error.message) from error
    messages.success(request, f"Published: {what}.")
    return redirect("demands:held_list")


@require_POST
@team_required
def held_publish(request: HttpRequest, pk: int) -> HttpResponse:
    """POST from the held page: publish one held change."""
    change = get_object_or_404(held_status_changes(), pk=pk)
    return _publish_from_held_list(
        request, lambda: change_publish(change_id=change.pk, by=request.user), change.headline
    )


@require_POST
@team_required
def held_proposal_publish(request: HttpRequest, pk: int) -> HttpResponse:
    """POST from the held page: publish one held proposal that moves nothing."""
    proposal = get_object_or_404(held_proposals_on_their_own(), pk=pk)
    return _publish_from_held_list(
        request, lambda: proposal_publish(proposal_id=proposal.pk, by=request.user), str(proposal)
    )
