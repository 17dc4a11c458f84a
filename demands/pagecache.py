"""The anonymous public pages, cached in the cache framework (Redis in production) per URL and language.

Every write of the services passes through `public_pages_changed` on commit (`demands.services._writing`),
which moves the generation that every key carries: after a write, no visitor is served a page from before it.
Signed-in viewers (members, the team) are never served from this cache, nor is a visitor whose request carries
a session (a message, a refused form), and a response that sets a cookie is never stored.
"""

import hashlib
import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import http_date
from django.utils.translation import get_language
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

GENERATION_KEY = "public-pages:generation"
# Headers a page carries that are the page's own; the middleware sets the rest on every response, cached or not.
KEPT_HEADERS = ("Content-Type", "Content-Language", "Content-Disposition")


def public_pages_changed() -> None:
    """Something public pages may show has changed: every page cached before now is stale."""
    cache.set(GENERATION_KEY, time.time_ns(), timeout=None)


def _generation() -> int:
    """The current generation: the time (ns) of the last change, or of the first page since the cache was empty."""
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        cache.add(GENERATION_KEY, time.time_ns(), timeout=None)
        generation = cache.get(GENERATION_KEY)
    return int(generation)


def _cacheable_request(request: HttpRequest) -> bool:
    if request.method not in ("GET", "HEAD") or request.user.is_authenticated:
        return False
    return settings.SESSION_COOKIE_NAME not in request.COOKIES and "messages" not in request.COOKIES


def _key(request: HttpRequest, generation: int) -> str:
    where = hashlib.sha256(request.build_absolute_uri().encode()).hexdigest()
    return f"public-page:{generation}:{get_language()}:{where}"


def cached_public_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Serve `view` to anonymous visitors from the cache, keyed by the full URL, the language and the
    generation; `Last-Modified` is the generation's time, so a reload can cost a 304."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        seconds = settings.PUBLIC_PAGE_CACHE_SECONDS
        if not seconds or not _cacheable_request(request):
            response = view(request, *args, **kwargs)
            if request.user.is_authenticated:
                patch_cache_control(response, private=True)
            return response
        try:
            generation = _generation()
            key = _key(request, generation)
            stored = cache.get(key)
        except (RedisError, OSError) as error:  # the cache is down: the page is rendered, never a 500
            logger.warning("Public page cache unavailable, rendering %s: %s", request.path, error)
            return view(request, *args, **kwargs)
        if stored is not None:
            response = HttpResponse(stored["content"], status=stored["status"])
            for header, value in stored["headers"].items():
                response[header] = value
        else:
            response = view(request, *args, **kwargs)
        patch_vary_headers(response, ("Cookie", "Accept-Language"))
        response["Last-Modified"] = http_date(generation / 1e9)
        if stored is None and request.method == "GET" and _storable(response):
            headers = {header: response[header] for header in KEPT_HEADERS if response.has_header(header)}
            entry = {"content": response.content, "status": response.status_code, "headers": headers}
            try:
                cache.set(key, entry, seconds)
            except (RedisError, OSError) as error:
                logger.warning("Public page cache unavailable, not storing %s: %s", request.path, error)
        return response

    return wrapped


def _storable(response: HttpResponse) -> bool:
    return response.status_code == 200 and not response.streaming and not response.cookies
