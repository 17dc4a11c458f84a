from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from .selectors import demands_visible_to, resolutions_visible_to


def dashboard(request: HttpRequest) -> HttpResponse:
    demands = demands_visible_to(request.user)
    return render(request, "demands/dashboard.html", {"demands": demands})


def demand_detail(request: HttpRequest, slug: str) -> HttpResponse:
    demand = get_object_or_404(demands_visible_to(request.user), slug=slug)
    return render(request, "demands/demand_detail.html", {"demand": demand})


def resolution_detail(request: HttpRequest, pk: int) -> HttpResponse:
    resolution = get_object_or_404(resolutions_visible_to(request.user), pk=pk)
    return render(request, "demands/resolution_detail.html", {"resolution": resolution})
