"""Links for a member's emails and pages: signed, so they work without an account."""

from django.conf import settings
from django.urls import reverse

from .models import Member
from .tokens import PREFERENCES, UNSUBSCRIBE, make_token


def member_unsubscribe_path(member: Member) -> str:
    return reverse("bargaining:unsubscribe", args=[make_token(UNSUBSCRIBE, member.pk)])


def member_preferences_path(member: Member) -> str:
    return reverse("bargaining:preferences", args=[make_token(PREFERENCES, member.pk)])


def member_unsubscribe_url(member: Member) -> str:
    """The absolute one-click unsubscribe link, for the `List-Unsubscribe` header and the email's footer."""
    return settings.SITE_URL + member_unsubscribe_path(member)


def member_preferences_url(member: Member) -> str:
    """The absolute link to change frequency and topics, or to resubscribe, for emails."""
    return settings.SITE_URL + member_preferences_path(member)
