"""The filters of the demand list page (`/demands/?q=...&status=...&category=...`): shareable, bookmarkable URLs."""

from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from .models import Category, Evidence, Status
from .selectors import demands_at_status, demands_matching

MAX_QUERY_LENGTH = 200


def category_filter() -> django_filters.ModelChoiceFilter:
    """`?category=<slug>`: the demands of one category; an unknown slug is refused."""
    return django_filters.ModelChoiceFilter(
        label="Category", queryset=Category.objects.all(), to_field_name="slug", empty_label="Any category"
    )


class DemandListFilter(django_filters.FilterSet):
    """Search and filters over demands already scoped to the viewer; an unknown choice is refused, not ignored."""

    q = django_filters.CharFilter(
        label="Search", method="search", max_length=MAX_QUERY_LENGTH, help_text="Titles, summaries and public notes."
    )
    status = django_filters.ChoiceFilter(
        label="Status", choices=Status.choices, empty_label="Any status", method="at_status"
    )
    category = category_filter()

    def at_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return demands_at_status(queryset, value, getattr(self.request, "user", None))

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        text = value.strip()
        return demands_matching(queryset, text) if text else queryset

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.form.fields["q"].widget.input_type = "search"
        self.form.fields["q"].widget.attrs.update(autocomplete="off")


class BulletinFilter(django_filters.FilterSet):
    """The printable bulletin's one filter: a category printed on its own (`/bulletin/?category=<slug>`)."""

    category = category_filter()


class EvidenceListFilter(django_filters.FilterSet):
    """Search (`q`: title or publisher) and kind over evidence already scoped to the viewer."""

    q = django_filters.CharFilter(
        label="Search", method="search", max_length=MAX_QUERY_LENGTH, help_text="Titles and publishers."
    )
    kind = django_filters.ChoiceFilter(label="Kind", choices=Evidence.Kind.choices, empty_label="Any kind")

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        text = value.strip()
        return queryset.filter(Q(title__icontains=text) | Q(publisher__icontains=text)) if text else queryset

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.form.fields["q"].widget.input_type = "search"
