"""Template context for every page: the same page in each language, for the language switcher."""

from django.conf import settings
from django.http import HttpRequest
from django.urls import translate_url
from django.utils.translation import get_language


def language_links(request: HttpRequest) -> dict[str, list[dict[str, object]]]:
    """(code, name, url, current) for each language: this page's address in it, the query string kept."""
    current = get_language()
    here = request.get_full_path()
    return {
        "language_links": [
            {"code": code, "name": name, "url": translate_url(here, code), "current": code == current}
            for code, name in settings.LANGUAGES
        ]
    }
