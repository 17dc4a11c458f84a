"""Server-rendered pages: what anyone may read, and the bargaining team's workflow."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .errors import DomainError, StaleVersion, ValidationFailed
from .forms import DemandForm, EvidenceForm, EvidenceLinkForm, FigureFormSet, TransitionForm
from .models import Demand, Evidence, Status
from .roles import is_team
from .selectors import (
    demands_by_category,
    demands_visible_to,
    evidence_links_for,
    evidence_visible_to,
    evidence_with_links_for,
    figures_visible_to,
    progress_of,
    resolution_with_clauses_for,
    resolutions_visible_to,
    status_changes_visible_to,
    table_counts,
    table_of,
)
from .services import demand_create, demand_update, evidence_create, evidence_link_create, evidence_update

RECENT_CHANGES = 6
KEY_FIGURES = 4


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


def dashboard(request: HttpRequest) -> HttpResponse:
    """`/`: where the demands the viewer may see stand, with progress, evidence and recent changes."""
    demands = list(demands_by_category(request.user))
    context = {
        "demands": demands,
        "progress": progress_of(demands),
        "table_counts": table_counts(demands),
        "recent_changes": status_changes_visible_to(request.user)[:RECENT_CHANGES],
        "resolution": resolutions_visible_to(request.user).first(),
        "figures": figures_visible_to(request.user)[:KEY_FIGURES],
    }
    return render(request, "demands/dashboard.html", context)


def _demand_page(
    request: HttpRequest,
    demand: Demand,
    *,
    transition_form: TransitionForm | None = None,
    link_form: EvidenceLinkForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "demand": demand,
        "history": status_changes_visible_to(request.user).filter(demand=demand).select_related("changed_by"),
        "evidence_links": evidence_links_for(demand, request.user),
        "clauses": demand.clauses.select_related("resolution"),
        "table": table_of(demand, request.user),
    }
    if is_team(request.user):
        context["transition_form"] = transition_form or TransitionForm(demand=demand)
        context["link_form"] = link_form or EvidenceLinkForm(demand=demand, evidence=evidence_visible_to(request.user))
    return render(request, "demands/demand_detail.html", context, status=status)


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
    if form.is_valid():
        try:
            change = form.save(by=request.user)
        except StaleVersion as error:
            return _refuse(request, demand, error)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(
                request, f"Moved to {Status(change.to_status).label} (from {Status(change.from_status).label})."
            )
            return redirect(f"{demand.get_absolute_url()}#change-{change.pk}")
    return _demand_page(request, demand, transition_form=form, status=400)


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


def resolution_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """`/resolutions/<id>/`: the clauses and the visible demands resting on each."""
    resolution = get_object_or_404(resolution_with_clauses_for(request.user), pk=pk)
    return render(request, "demands/resolution_detail.html", {"resolution": resolution})


def evidence_list(request: HttpRequest) -> HttpResponse:
    """`/evidence/`: every piece of evidence the viewer may see, with what it is cited for."""
    evidence = evidence_with_links_for(request.user)
    return render(request, "demands/evidence_list.html", {"evidence_list": evidence})


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
