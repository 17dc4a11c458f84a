"""One error shape for every 4xx of the API: `{"detail": str, "code": str, "errors": {field: [str]}}`.

`DomainError`s from the services map to HTTP here and nowhere else: a stale version is 412,
a conflict 409, every other refusal 400.
"""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from ..errors import Conflict, DomainError, Forbidden, StaleVersion, ValidationFailed
from .serializers import ErrorSerializer

NON_FIELD = "non_field_errors"
DOMAIN_STATUS: dict[type[DomainError], int] = {
    StaleVersion: status.HTTP_412_PRECONDITION_FAILED,
    Conflict: status.HTTP_409_CONFLICT,
    Forbidden: status.HTTP_403_FORBIDDEN,
}


class PreconditionRequired(exceptions.APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = "Say which version you are changing: send the ETag from GET as If-Match, or `version` in the body."
    default_code = "precondition_required"


class InvalidIfMatch(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = 'If-Match must be one ETag from GET, such as "3" (with the quotes).'
    default_code = "invalid_if_match"


def error_body(detail: str, code: str, errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"detail": detail, "code": code, "errors": errors or {}}


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested validation detail as `{"field": [...], "clauses.0": [...]}`."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            # A nested serializer's own errors (e.g. "expected a list") belong to the field holding it.
            name = (prefix or str(key)) if key == NON_FIELD else f"{prefix}.{key}" if prefix else str(key)
            for field, messages in _flatten(value, name).items():
                flat.setdefault(field, []).extend(messages)
        return flat
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or NON_FIELD: [str(item) for item in detail]} if detail else {}
        flat = {}
        for index, item in enumerate(detail):
            for field, messages in _flatten(item, f"{prefix}.{index}" if prefix else str(index)).items():
                flat.setdefault(field, []).extend(messages)
        return flat
    return {prefix or NON_FIELD: [str(detail)]}


def _summary(errors: dict[str, list[str]]) -> str:
    parts = [
        " ".join(messages) if field == NON_FIELD else f"{field}: {' '.join(messages)}"
        for field, messages in errors.items()
    ]
    return "Invalid input. " + "; ".join(parts) if parts else "Invalid input."


def _domain_response(exc: DomainError) -> Response:
    errors: dict[str, list[str]] = {exc.field: [exc.message]} if exc.field else {}
    if isinstance(exc, ValidationFailed):
        errors = exc.errors
    return Response(error_body(exc.message, exc.code, errors), status=DOMAIN_STATUS.get(type(exc), 400))


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every handled error in the one shape."""
    if isinstance(exc, DomainError):
        set_rollback()
        return _domain_response(exc)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, IntegrityError):
        # A unique value taken by a concurrent request between validation and the write.
        set_rollback()
        return Response(
            error_body("This clashes with a record saved at the same moment. Reload and try again.", "conflict"),
            status=status.HTTP_409_CONFLICT,
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        response.data = error_body(_summary(errors), "validation_failed", errors)
    else:
        detail = exc.detail
        if isinstance(detail, dict | list):
            errors = _flatten(detail)
            response.data = error_body(_summary(errors), exc.default_code, errors)
        else:
            response.data = error_body(str(detail), getattr(detail, "code", None) or exc.default_code)
    return response


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The documented error responses of an operation, all in the one shape."""
    descriptions = {
        400: "Invalid input: `errors` says which field and why.",
        401: "Not signed in, or the token is not valid.",
        403: "Signed in, but this role may not do this.",
        404: "No such object, or not visible to you.",
        409: "Clashes with the current state.",
        412: "If-Match or `version` is stale: someone changed it since you read it. Nothing was changed.",
        428: "Send If-Match (the ETag from GET) or `version`.",
        429: "Too many requests; retry after the `Retry-After` seconds.",
    }
    return {code: OpenApiResponse(ErrorSerializer, description=descriptions[code]) for code in codes}
