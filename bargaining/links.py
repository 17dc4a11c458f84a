"""Absolute links for a member's emails: signed, so they work without an account."""

from django.conf import settings
from django.urls import reverse

from .models import Member
from .tokens import PREFERENCES, UNSUBSCRIBE, make_token


def member_unsubscribe_url(member: Member) -> str:
    """The member's one-click unsubscribe link (for the `List-Unsubscribe` header and the footer)."""
    return settings.SITE_URL + reverse("bargaining:unsubscribe", args=[make_token(UNSUBSCRIBE, member.pk)])


def member_preferences_url(member: Member) -> str:
    """The member's link to change frequency and topics, or to resubscribe."""
    return settings.SITE_URL + reverse("bargaining:preferences", args=[make_token(PREFERENCES, member.pk)])
