"""The Atom feeds of public status changes: all of them, and one per category."""

import datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.contrib.syndication.views import Feed
from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext

from .models import Category, Status, StatusChange, localized
from .selectors import status_changes_visible_to

FEED_LENGTH = 50


class PlainTextAtom1Feed(Atom1Feed):
    """Atom whose entry summaries are declared plain text: a reader shows a public note's `<b>` as typed."""

    def add_item_elements(self, handler: Any, item: dict[str, Any]) -> None:
        super().add_item_elements(handler, {**item, "description": None})
        if item["description"] is not None:
            handler.addQuickElement("summary", item["description"], {"type": "text"})


class PublicStatusChangesFeed(Feed):
    """Status changes of public demands, newest first, with the public note only; `/feed/<category>/` for one."""

    feed_type = PlainTextAtom1Feed
    author_name = "Bargaining Demand Tracker"

    def get_object(self, request: HttpRequest, category: str | None = None) -> Category | None:
        return get_object_or_404(Category, slug=category) if category else None

    # In the language of the feed's address (/es/feed/ is Spanish), like the pages.
    def title(self, obj: Category | None) -> str:
        if obj is None:
            return gettext("Where our demands stand: status changes")
        return gettext("Where our demands stand: status changes in %(category)s") % {
            "category": localized(obj, "name").text
        }

    def subtitle(self, obj: Category | None) -> str:
        return gettext("Each move of a public bargaining demand, with the bargaining team's public note.")

    def link(self, obj: Category | None) -> str:
        dashboard = reverse("demands:demand_list")
        return f"{dashboard}?category={obj.slug}" if obj else reverse("demands:dashboard")

    def feed_url(self, obj: Category | None) -> str:
        return reverse("demands:category_feed", args=[obj.slug]) if obj else reverse("demands:feed")

    def items(self, obj: Category | None) -> QuerySet[StatusChange]:
        # Always the public view, whoever asks: feed readers share and cache what they fetch.
        changes = status_changes_visible_to(AnonymousUser())
        if obj is not None:
            changes = changes.filter(demand__category=obj)
        return changes[:FEED_LENGTH]

    def item_title(self, item: StatusChange) -> str:
        # "The Board countered on …", "Tentative agreement reached on …", "Members ratified …": the table's words.
        return item.headline

    def item_description(self, item: StatusChange) -> str:
        moved = gettext("Moved from %(from)s to %(to)s.") % {
            "from": gettext(Status(item.from_status).label),
            "to": gettext(Status(item.to_status).label),
        }
        note = localized(item, "note")
        if not note.text:
            return moved
        return f"{moved} {note.text}" + (f" {gettext('(in English)')}" if note.fallback else "")

    def item_link(self, item: StatusChange) -> str:
        return f"{item.demand.get_absolute_url()}#change-{item.pk}"

    def item_pubdate(self, item: StatusChange) -> datetime.datetime:
        return item.occurred_at

    def item_updateddate(self, item: StatusChange) -> datetime.datetime:
        # When readers could first see it: a change held and published later shows up as new then.
        return item.published_at or item.changed_at

    def item_categories(self, item: StatusChange) -> list[str]:
        return [localized(item.demand.category, "name").text]
