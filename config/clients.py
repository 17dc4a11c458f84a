"""Who is on the other end: the client's address and the response to a locked-out sign-in."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from demands.api.exceptions import error_body

LOCKED_OUT = (
    "Too many failed sign-ins for this account or from this address. Try again in {minutes} minutes, "
    "or ask an administrator to unlock it."
)


def client_ip(request: HttpRequest) -> str:
    """The address the request came from, read as DRF's throttles read it (NUM_PROXIES).

    With DJANGO_TRUSTED_PROXIES=0 (no proxy in front) X-Forwarded-For is the client's own claim and is ignored;
    with N proxies, each appends the address it saw, so the Nth from the right is the last one not forged.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    trusted = settings.TRUSTED_PROXIES
    if not trusted or not forwarded:
        return remote
    addresses = [address.strip() for address in forwarded.split(",")]
    return addresses[-min(trusted, len(addresses))] or remote


def lockout_response(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429 with a message a person can act on, in the API's shape under /api/."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    detail = LOCKED_OUT.format(minutes=minutes)
    headers = {"Retry-After": str(int(settings.AXES_COOLOFF_TIME.total_seconds()))}
    if request.path_info.startswith("/api/"):
        return JsonResponse(error_body(detail, "locked_out"), status=429, headers=headers)
    page = render_to_string("registration/locked_out.html", {"detail": detail}, request=request)
    return HttpResponse(page, status=429, headers=headers)
