"""Absolute links in members' emails, built from SITE_URL; paths under /subscriptions/ are the spec's contract."""

from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from demands.models import Demand

from .models import Delivery, Member
from .tokens import DIGEST, PREFERENCES, UNSUBSCRIBE, make_token


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def member_unsubscribe_url(member: Member) -> str:
    """The signed one-click unsubscribe link (also the List-Unsubscribe target, RFC 8058)."""
    return absolute_url(f"/subscriptions/unsubscribe/{make_token(UNSUBSCRIBE, member.pk)}/")


def member_preferences_url(member: Member) -> str:
    return absolute_url(f"/subscriptions/preferences/{make_token(PREFERENCES, member.pk)}/")


def digest_url(delivery: Delivery) -> str:
    """The delivery's digest in a browser."""
    return absolute_url(reverse("bargaining:digest", kwargs={"token": make_token(DIGEST, delivery.pk)}))


def demand_url(demand: Demand) -> str:
    return absolute_url(demand.get_absolute_url())


@dataclass(frozen=True)
class DigestLinks:
    """A member's personal links in one digest."""

    unsubscribe: str
    preferences: str
    browser: str


def delivery_links(delivery: Delivery) -> DigestLinks:
    return DigestLinks(
        unsubscribe=member_unsubscribe_url(delivery.member),
        preferences=member_preferences_url(delivery.member),
        browser=digest_url(delivery),
    )
