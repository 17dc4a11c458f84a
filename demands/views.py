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
from .forms import DemandForm, EvidenceLinkForm, TransitionForm
from .models import Demand, Status
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
)
from .services import demand_create, demand_update, evidence_link_create

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
    }
    if is_team(request.user):
        context["transition_form"] = transition_form or TransitionForm(demand=demand)
        context["link_form"] = link_form or EvidenceLinkForm(demand=demand, evidence=evidence_visible_to(request.user))
    return render(request, "demands/demand_detail.html", context, status=status)


def demand_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """`/demands/<slug>/`: one demand; 404 for demands the viewer may not see."""
    demand = get_object_or_404(demands_visible_to(request.user).select_related("owner"), slug=slug)
    return _demand_page(request, demand)


def _add_domain_error(form: Any, error: DomainError) -> None:
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
            _add_domain_error(form, error)
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
            _add_domain_error(form, error)
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
            _add_domain_error(form, error)
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
            _add_domain_error(form, error)
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
