"""Small helpers for the demand pages' templates."""

from decimal import Decimal

from django import template
from django.contrib.auth.models import AnonymousUser, User

from demands import roles

register = template.Library()


@register.filter
def is_team(user: User | AnonymousUser | None) -> bool:
    """`{% if user|is_team %}`: the bargaining team's material is shown only under this test."""
    # Error pages render without a request: there `user` is an empty string.
    return hasattr(user, "is_authenticated") and roles.is_team(user)


@register.filter
def figure_value(value: Decimal) -> str:
    """2354.00 → "2,354"; 12.50 → "12.5"."""
    if value == value.to_integral():
        return f"{int(value):,}"
    return f"{value.normalize():,f}"
