"""Reads for the bargaining context."""

from .models import Member
from .tokens import read_token


def member_for_token(purpose: str, token: str) -> Member | None:
    """The member a signed link points to; None when the token is forged, for another purpose, or stale."""
    member_id = read_token(purpose, token)
    if member_id is None:
        return None
    return Member.objects.filter(pk=member_id).first()
