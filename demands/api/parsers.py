"""The API's one JSON parser: any body a client can send is data or a 400, never a 500."""

import json
import math
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils.json import strict_constant


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"Number out of range: {text[:40]}")
    return value


def _surrogate_paths(data: Any) -> list[str]:
    """Where the body holds a lone surrogate (`"\\ud800"`): valid JSON, but not text that can be stored or sent."""
    found, stack = [], [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if not value.isascii() and any("\ud800" <= char <= "\udfff" for char in value):
                found.append(path)
        elif isinstance(value, dict):
            for key, item in value.items():
                name = f"{path}.{key}" if path else str(key)
                if any("\ud800" <= char <= "\udfff" for char in str(key)):
                    found.append(path or "non_field_errors")
                    continue
                stack.append((name, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{index}" if path else str(index), item) for index, item in enumerate(value))
    return sorted(set(found))


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than this server accepts."
    default_code = "request_too_large"


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, also refusing what the standard library lets through or crashes on: nesting deep
    enough to exhaust the stack, numbers that overflow to infinity, lone surrogates, an unknown charset, and (should
    a server ever pass one on) a body over DATA_UPLOAD_MAX_MEMORY_SIZE without Content-Length: the middleware
    refuses declared ones."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(body) > limit:
            raise RequestTooLarge()
        try:
            text = body.decode(get_encoding(parser_context or {}))
            data = json.loads(text, parse_constant=strict_constant, parse_float=_finite)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except (ValueError, LookupError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        paths = _surrogate_paths(data)
        if paths:
            message = "Lone surrogate code points (such as \\ud800) are not text; send valid Unicode."
            raise ParseError({path: [message] for path in paths})
        return data
