"""Responses under /api/ differ per caller: tell caches so."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers


class VaryOnCallerMiddleware:
    """Every API response varies with the token (`Authorization`) and the session (`Cookie`), whatever the
    view: a shared cache must never serve the team's response to the public."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path_info.startswith("/api/"):
            patch_vary_headers(response, ("Authorization", "Cookie"))
        return response
