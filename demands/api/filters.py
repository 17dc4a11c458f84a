"""List filters. Filters that could reveal team-only material refuse non-team callers instead of leaking."""

import datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from rest_framework.exceptions import ValidationError

from ..models import Demand, Evidence, PriorityTier, Status, Visibility
from ..roles import is_team
from ..selectors import demands_at_status, evidence_links_visible_to
from .serializers import MAX_ID


class IdFilter(django_filters.NumberFilter):
    """An object id: a whole number in the range of the database's keys."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date and time, converted to UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts."""

    def to_python(self, value: Any) -> datetime.datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(datetime.UTC)
        except OverflowError:
            raise forms.ValidationError("This date and time is out of range.", code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


def by_category(queryset: QuerySet, name: str, value: str) -> QuerySet:
    """`category=<slug>` or `category=<id>`."""
    if value.isdigit() and len(value) < 19:
        return queryset.filter(Q(category__slug=value) | Q(category_id=int(value)))
    return queryset.filter(category__slug=value)


class DemandFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Status.choices, method="at_status")
    category = django_filters.CharFilter(method=by_category, max_length=100, help_text="A category slug or id.")
    visibility = django_filters.ChoiceFilter(choices=Visibility.choices)
    priority_tier = django_filters.ChoiceFilter(
        choices=PriorityTier.choices,
        method="by_priority_tier",
        help_text="Bargaining team only; anyone else gets 400.",
    )
    updated_since = UtcIsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="ISO 8601 date and time, e.g. 2026-11-02T09:00:00Z."
    )

    class Meta:
        model = Demand
        fields = ["status", "category", "visibility", "priority_tier", "updated_since"]

    def at_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return demands_at_status(queryset, value, getattr(self.request, "user", None))

    def by_priority_tier(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if not is_team(getattr(self.request, "user", None)):
            # Filtering by tier would reveal each demand's tier: refuse rather than ignore silently.
            raise ValidationError({"priority_tier": ["Only the bargaining team can filter by priority tier."]})
        return queryset.filter(priority_tier=value)


class EvidenceFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Evidence.Kind.choices)
    visibility = django_filters.ChoiceFilter(choices=Visibility.choices)
    demand = IdFilter(method="by_demand", help_text="Evidence cited for this demand id.")

    class Meta:
        model = Evidence
        fields = ["kind", "visibility", "demand"]

    def by_demand(self, queryset: QuerySet, name: str, value: int) -> QuerySet:
        # Through visible links only: a hidden demand's evidence must not be discoverable by its id.
        links = evidence_links_visible_to(getattr(self.request, "user", None))
        return queryset.filter(Exists(links.filter(evidence=OuterRef("pk"), demand_id=value)))
