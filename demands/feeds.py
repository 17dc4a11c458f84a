"""The Atom feed of public status changes."""

import datetime

from django.contrib.auth.models import AnonymousUser
from django.contrib.syndication.views import Feed
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from .models import Status, StatusChange
from .selectors import status_changes_visible_to

FEED_LENGTH = 50


class PublicStatusChangesFeed(Feed):
    """Status changes of public demands, newest first, with the public note only."""

    feed_type = Atom1Feed
    title = "Where our demands stand: status changes"
    subtitle = "Each move of a public bargaining demand, with the bargaining team's public note."
    author_name = "Bargaining Demand Tracker"

    def link(self) -> str:
        return reverse("demands:dashboard")

    def feed_url(self) -> str:
        return reverse("demands:feed")

    def items(self) -> QuerySet[StatusChange]:
        # Always the public view, whoever asks: feed readers share and cache what they fetch.
        return status_changes_visible_to(AnonymousUser())[:FEED_LENGTH]

    def item_title(self, item: StatusChange) -> str:
        # "The Board countered on …", "Tentative agreement reached on …", "Members ratified …": the table's words.
        return item.headline

    def item_description(self, item: StatusChange) -> str:
        moved = f"Moved from {Status(item.from_status).label} to {Status(item.to_status).label}."
        return f"{moved} {item.note}" if item.note else moved

    def item_link(self, item: StatusChange) -> str:
        return f"{item.demand.get_absolute_url()}#change-{item.pk}"

    def item_pubdate(self, item: StatusChange) -> datetime.datetime:
        return item.occurred_at

    def item_updateddate(self, item: StatusChange) -> datetime.datetime:
        return item.changed_at

    def item_categories(self, item: StatusChange) -> list[str]:
        return [item.demand.category.name]
