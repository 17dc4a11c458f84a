"""Small helpers for the demand pages' templates."""

from decimal import Decimal
from typing import Any

from django import template
from django.contrib.auth.models import AnonymousUser, User
from django.db import models
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from demands import roles
from demands.models import Localized, localized, team_only_fields
from demands.redlines import Op, as_html

register = template.Library()


@register.filter
def is_team(user: User | AnonymousUser | None) -> bool:
    """`{% if user|is_team %}`: the bargaining team's material is shown only under this test."""
    # Error pages render without a request: there `user` is an empty string.
    return hasattr(user, "is_authenticated") and roles.is_team(user)


def _shown(instance: models.Model, name: str) -> Any:
    field = instance._meta.get_field(name)
    if field.choices:
        return getattr(instance, f"get_{name}_display")()
    value = getattr(instance, name)
    if isinstance(value, models.Model):
        return value.get_username() if isinstance(value, User) else str(value)
    return value


def _localized(value: models.Model | Localized | str, name: str) -> Localized:
    if isinstance(value, models.Model):
        return localized(value, name)
    return value if isinstance(value, Localized) else Localized(text=str(value or ""), language="")


@register.filter
def tr(instance: models.Model | Localized, name: str = "") -> SafeString:
    """`{{ demand|tr:"title" }}`: the text in the page's language; English, marked as English, when missing."""
    text = _localized(instance, name)
    if not text.fallback:
        return format_html("{}", text.text)
    return format_html(
        '<span lang="{}">{}</span> <span class="in-english">{}</span>',
        text.language,
        text.text,
        gettext("(in English)"),
    )


@register.filter
def tr_text(instance: models.Model | Localized, name: str = "") -> str:
    """`{{ demand|tr_text:"title" }}`: the same as plain text (titles, attributes, text emails)."""
    text = _localized(instance, name)
    return f"{text.text} {gettext('(in English)')}" if text.fallback else text.text


@register.inclusion_tag("demands/_team_only.html", takes_context=True)
def team_only_facts(context: template.Context, instance: models.Model) -> dict[str, Any]:
    """The fields `instance`'s model declares team-only, labelled, for the team's eyes alone.

    Pages show team-only material through this tag only, so a field added to the declaration appears here
    for the team and, by the same test, nowhere for anyone else.
    """
    if not is_team(context.get("user")):
        return {"facts": []}
    facts = [
        (instance._meta.get_field(name).verbose_name, _shown(instance, name)) for name in team_only_fields(instance)
    ]
    return {"facts": facts}


@register.filter
def figure_value(value: Decimal) -> str:
    """2354.00 → "2,354"; 12.50 → "12.5"."""
    if value == value.to_integral():
        return f"{int(value):,}"
    return f"{value.normalize():,f}"


@register.filter
def redline_html(ops: list[Op]) -> SafeString:
    """A proposal's redline: `<ins>` and `<del>` around the changed words (see `demands.redlines`)."""
    return as_html(ops)


@register.filter
def intcomma_plain(value: int) -> str:
    """18204 → "18,204" in English, "18.204" in Spanish: grouped in the active language's format."""
    return number_format(int(value), force_grouping=True)


@register.filter
def stacked(segments: list[Any]) -> list[dict[str, Any]]:
    """Each segment of a stacked bar with where it starts (the percents before it), for SVG `x` attributes."""
    parts, offset = [], 0
    for segment in segments:
        parts.append({"segment": segment, "offset": offset})
        offset += segment.percent
    return parts
