"""Previews: a member's (or a kind of member's) next digest exactly as it will be sent, on screen (the team site's
`/digests/preview/` and the admin's) or as a test email."""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from demands.models import StatusChange
from demands.selectors import held_status_changes

from ..links import DigestLinks
from ..models import DigestRun, Member
from .content import DigestContent, DigestSource, TopicKey, member_topic_key
from .periods import FREQUENCIES, DigestError, digest_period
from .planning import previous_digest_ends
from .rendering import RenderedDigest, digest_message, digest_render, site_domain

NO_ADDRESS = "Your account has no email address: add one to receive a test digest."


def _site_links() -> DigestLinks:
    """In a copy for the team, the member's own links (their credentials) lead to the site instead."""
    site = settings.SITE_URL + "/"
    return DigestLinks(unsubscribe=site, preferences=site, browser=site)


def _send_copy(*, rendered: RenderedDigest, to: str, label: str) -> None:
    message = digest_message(
        rendered=rendered,
        to=to,
        links=_site_links(),
        message_id=f"<digest.test.{label}.{timezone.now():%Y%m%d%H%M%S%f}@{site_domain()}>",
        subject_prefix="[Test] ",
    )
    message.send()


@dataclass(frozen=True)
class DigestReader:
    """Whom a preview of the next digest is for: one member, or a kind of member (no `member`)."""

    frequency: str
    topics: TopicKey  # category ids; empty: every category
    language: str
    member: Member | None = None

    @classmethod
    def of(cls, member: Member) -> "DigestReader":
        frequency = member.frequency if member.frequency in FREQUENCIES else Member.Frequency.WEEKLY
        return cls(frequency=frequency, topics=member_topic_key(member), language=member.digest_language, member=member)


@dataclass(frozen=True)
class NextDigest:
    """The next digest of a reader exactly as the run will render it, and what is held out of it."""

    reader: DigestReader
    window_start: datetime.datetime
    window_end: datetime.datetime
    final: bool  # the window is the run's own (its period is over); else it is "so far", until now
    content: DigestContent
    rendered: RenderedDigest | None  # None: nothing new, the delivery would be skipped
    held: QuerySet[StatusChange]

    def shown(self) -> tuple[str, str] | None:
        """(text, html) as the team sees them: the digest with the site's address for the member's links."""
        return None if self.rendered is None else self.rendered.with_links(_site_links())


def preview_texts(preview: NextDigest | None) -> dict[str, str]:
    """The `text` and `html` a preview page shows (both empty when there is nothing to show)."""
    shown = preview.shown() if preview is not None else None
    return {"text": shown[0], "html": shown[1]} if shown else {"text": "", "html": ""}


def _previous_end(reader: DigestReader) -> datetime.datetime | None:
    if reader.member is not None:
        ends = previous_digest_ends().filter(member=reader.member)
        return ends.values_list("run__window_end", flat=True).first()
    # A member of this kind who got every digest so far: theirs ended with the last finished run.
    runs = DigestRun.objects.filter(frequency=reader.frequency, state=DigestRun.State.DONE)
    return runs.order_by("-window_end").values_list("window_end", flat=True).first()


def digest_next(*, reader: DigestReader, now: datetime.datetime | None = None) -> NextDigest:
    """The reader's next digest as `deliveries_send` will render it: the same window (from where their previous
    digest ended to this period's boundary, as planning sets it), topics and language, through the same
    `DigestSource` and `digest_render`. Once this period's digest has reported them, the next one's period is
    not over: its content so far, until now. Held changes in their topics are listed apart, never rendered."""
    now = now or timezone.now()
    period = digest_period(frequency=reader.frequency, now=now)
    window_start = _previous_end(reader) or period.window_start
    final = window_start < period.window_end
    window_end = period.window_end if final else now
    content = DigestSource(since=window_start, until=window_end).content_for(
        window_start=window_start, window_end=window_end, topics=reader.topics, language=reader.language
    )
    held = held_status_changes()
    if reader.topics:
        held = held.filter(demand__category_id__in=reader.topics)
    return NextDigest(
        reader=reader,
        window_start=window_start,
        window_end=window_end,
        final=final,
        content=content,
        rendered=None if content.is_empty else digest_render(content),
        held=held,
    )


def digest_next_send_test(*, reader: DigestReader, to: str) -> bool:
    """Email `to` the reader's next digest as `digest_next` shows it (links to the site, "[Test] " subject).

    Returns False when it would be empty (nothing is sent). Not recorded as a delivery.
    """
    if not to:
        raise DigestError(NO_ADDRESS)
    rendered = digest_next(reader=reader).rendered
    if rendered is None:
        return False
    label = str(reader.member.pk) if reader.member is not None else reader.frequency
    _send_copy(rendered=rendered, to=to, label=label)
    return True
