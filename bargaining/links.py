"""Links for a member's emails and pages: signed, so they work without an account."""

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import translation

from demands.models import Demand

from .models import Delivery, Member
from .tokens import DIGEST, PREFERENCES, UNSUBSCRIBE, make_token

_TOKEN_SLOT = "bdt-token-slot"  # noqa: S105  (a placeholder in a path, no secret)


def _token_path(name: str, token: str) -> str:
    """`reverse(name, args=[token])`, in the active language: reversed once per language, then the token spliced in.

    A digest run makes three links per member; resolving each through the URL resolver costs more than
    signing its token. Tokens hold only characters a path keeps as they are (base 62, base 64 URL-safe, ".", ":").
    """
    urlconf = get_urlconf(settings.ROOT_URLCONF)
    head, tail = _around_token(name, translation.get_language(), get_script_prefix(), urlconf)
    return f"{head}{token}{tail}"


@functools.lru_cache(maxsize=64)
def _around_token(name: str, language: str | None, script_prefix: str, urlconf: object) -> tuple[str, str]:
    # The arguments are what reverse() reads besides the name: the cached halves stay right when any changes.
    path = reverse(name, args=[_TOKEN_SLOT], urlconf=urlconf)  # type: ignore[arg-type]  # a name or a module, as reverse takes
    head, _, tail = path.partition(_TOKEN_SLOT)
    return head, tail


def member_unsubscribe_path(member: Member) -> str:
    return _token_path("bargaining:unsubscribe", make_token(UNSUBSCRIBE, member.pk, member.link_generation))


def member_preferences_path(member: Member) -> str:
    return _token_path("bargaining:preferences", make_token(PREFERENCES, member.pk, member.link_generation))


def member_unsubscribe_url(member: Member) -> str:
    """The absolute one-click unsubscribe link, for the `List-Unsubscribe` header and the email's footer."""
    return settings.SITE_URL + member_unsubscribe_path(member)


def member_preferences_url(member: Member) -> str:
    """The absolute link to change frequency and topics, or to resubscribe, for emails."""
    return settings.SITE_URL + member_preferences_path(member)


def digest_url(delivery: Delivery) -> str:
    """The absolute link to this delivery's digest in a browser."""
    return settings.SITE_URL + _token_path(
        "bargaining:digest", make_token(DIGEST, delivery.pk, delivery.member.link_generation)
    )


def demand_url(demand: Demand) -> str:
    return settings.SITE_URL + demand.get_absolute_url()


@dataclass(frozen=True)
class DigestLinks:
    """A member's personal links in one digest."""

    unsubscribe: str
    preferences: str
    browser: str


def delivery_links(delivery: Delivery) -> DigestLinks:
    """The member's links, in their language (/es/... for Spanish), like the digest they are in."""
    with translation.override(delivery.member.digest_language):
        return _links(delivery)


def deliveries_links(deliveries: Iterable[Delivery]) -> dict[int, DigestLinks]:
    """`delivery_links` of many deliveries by delivery id, switching the language once per language, not per member."""
    by_language: dict[str, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        by_language[delivery.member.digest_language].append(delivery)
    links = {}
    for language, group in by_language.items():
        with translation.override(language):
            for delivery in group:
                links[delivery.pk] = _links(delivery)
    return links


def _links(delivery: Delivery) -> DigestLinks:
    return DigestLinks(
        unsubscribe=member_unsubscribe_url(delivery.member),
        preferences=member_preferences_url(delivery.member),
        browser=digest_url(delivery),
    )
