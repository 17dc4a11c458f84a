"""Requests refused before any view sees them, in the API's error shape under /api/ and as HTML elsewhere."""

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse

from demands.api.exceptions import error_body

TOO_LARGE = "The request body is larger than this server accepts ({limit} bytes)."
TOO_MANY_FIELDS = "The request has more fields than this server accepts ({limit})."


def refusal(request: HttpRequest, status: int, detail: str, code: str) -> HttpResponse:
    if request.path_info.startswith("/api/"):
        return JsonResponse(error_body(detail, code), status=status)
    page = f"<!DOCTYPE html><html lang=en><title>Error {status}</title><h1>Error {status}</h1><p>{detail}</p></html>"
    return HttpResponse(page, status=status, content_type="text/html; charset=utf-8")


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class RefuseHostileRequestsMiddleware:
    """Oversized bodies get 413 before anything reads them: DRF reads the raw stream, so Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE would not stop a JSON body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and _declared_length(request) > limit:
            return refusal(request, 413, TOO_LARGE.format(limit=limit), "request_too_large")
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # Raised where a view reads request.POST or request.body beyond the limits (a body without Content-Length).
        if isinstance(exception, RequestDataTooBig):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return refusal(request, 413, TOO_LARGE.format(limit=limit), "request_too_large")
        if isinstance(exception, TooManyFieldsSent):
            limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
            return refusal(request, 400, TOO_MANY_FIELDS.format(limit=limit), "too_many_fields")
        return None
