"""Links for a member's emails and pages: signed, so they work without an account."""

from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils import translation

from demands.models import Demand

from .models import Delivery, Member
from .tokens import DIGEST, PREFERENCES, UNSUBSCRIBE, make_token


def member_unsubscribe_path(member: Member) -> str:
    return reverse("bargaining:unsubscribe", args=[make_token(UNSUBSCRIBE, member.pk, member.link_generation)])


def member_preferences_path(member: Member) -> str:
    return reverse("bargaining:preferences", args=[make_token(PREFERENCES, member.pk, member.link_generation)])


def member_unsubscribe_url(member: Member) -> str:
    """The absolute one-click unsubscribe link, for the `List-Unsubscribe` header and the email's footer."""
    return settings.SITE_URL + member_unsubscribe_path(member)


def member_preferences_url(member: Member) -> str:
    """The absolute link to change frequency and topics, or to resubscribe, for emails."""
    return settings.SITE_URL + member_preferences_path(member)


def digest_url(delivery: Delivery) -> str:
    """The absolute link to this delivery's digest in a browser."""
    return settings.SITE_URL + reverse(
        "bargaining:digest", args=[make_token(DIGEST, delivery.pk, delivery.member.link_generation)]
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
        return DigestLinks(
            unsubscribe=member_unsubscribe_url(delivery.member),
            preferences=member_preferences_url(delivery.member),
            browser=digest_url(delivery),
        )
