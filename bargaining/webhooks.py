"""What an email service reports after sending (django-anymail's tracking webhooks, under /anymail/).

Anymail authenticates each call with ANYMAIL_WEBHOOK_SECRET (HTTP basic auth, "user:password") and refuses a
forged one with 400 before this runs. Without a secret configured nothing is acted on: an unauthenticated
report could otherwise unsubscribe anyone. Each update is idempotent, so a replayed report changes nothing.
"""

from typing import Any

from anymail.signals import AnymailTrackingEvent, tracking
from django.conf import settings
from django.dispatch import receiver

from .services import member_bounce_by_email, member_unsubscribe_by_email

BOUNCES = frozenset({"bounced", "rejected"})
UNSUBSCRIBES = frozenset({"complained", "unsubscribed"})


@receiver(tracking, dispatch_uid="bargaining.member_from_tracking")
def member_from_tracking(sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    if not settings.ANYMAIL.get("WEBHOOK_SECRET") or not event.recipient:
        return
    if event.event_type in BOUNCES:
        member_bounce_by_email(email=event.recipient)
    elif event.event_type in UNSUBSCRIBES:
        member_unsubscribe_by_email(email=event.recipient)
