"""List filters for sessions and member records."""

import django_filters
from django.db.models import Q, QuerySet

from demands.api.filters import IdFilter
from demands.models import BargainingSession
from demands.selectors import demands_visible_to

from ..models import Member


class SessionFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=BargainingSession.Kind.choices)
    held_after = django_filters.DateFilter(field_name="held_on", lookup_expr="gte", help_text="On or after this date.")
    held_before = django_filters.DateFilter(
        field_name="held_on", lookup_expr="lte", help_text="On or before this date."
    )
    demand = IdFilter(method="by_demand", help_text="Sessions where this demand id was discussed.")

    class Meta:
        model = BargainingSession
        fields = ["kind", "held_after", "held_before", "demand"]

    def by_demand(self, queryset: QuerySet, name: str, value: int) -> QuerySet:
        # Only through demands the caller may see: a hidden demand's id must reveal nothing.
        visible = demands_visible_to(getattr(self.request, "user", None)).filter(pk=value)
        return queryset.filter(demands__in=visible).distinct()


def by_topic(queryset: QuerySet, name: str, value: str) -> QuerySet:
    """`topic=<category slug>` or `topic=<category id>`."""
    if value.isdigit() and len(value) < 19:
        return queryset.filter(Q(topics__slug=value) | Q(topics__id=int(value))).distinct()
    return queryset.filter(topics__slug=value).distinct()


class MemberFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=Member.State.choices)
    frequency = django_filters.ChoiceFilter(choices=Member.Frequency.choices)
    language = django_filters.ChoiceFilter(choices=Member._meta.get_field("language").choices)
    school = django_filters.CharFilter(lookup_expr="icontains", max_length=200)
    topic = django_filters.CharFilter(method=by_topic, max_length=100, help_text="A category slug or id.")

    class Meta:
        model = Member
        fields = ["state", "frequency", "language", "school", "topic"]
