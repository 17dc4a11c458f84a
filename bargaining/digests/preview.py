"""The admin's preview: a member's next digest as it stands now, on screen or as a test email."""

from django.conf import settings
from django.utils import timezone

from ..links import DigestLinks
from ..models import Member
from .content import DigestContent, DigestSource, member_topic_key
from .periods import FREQUENCIES, DigestError, digest_period
from .planning import previous_digest_ends
from .rendering import RenderedDigest, digest_message, digest_render, site_domain


def digest_preview(*, member: Member, frequency: str | None = None) -> tuple[DigestContent, RenderedDigest | None]:
    """What `member`'s next digest holds so far: from where their previous one ended (or where a first
    digest starts) until now. The digest itself will stop at its period's boundary."""
    frequency = frequency or (member.frequency if member.frequency in FREQUENCIES else Member.Frequency.WEEKLY)
    now = timezone.now()
    previous_end = previous_digest_ends().filter(member=member).values_list("run__window_end", flat=True).first()
    window_start = previous_end or digest_period(frequency=frequency, now=now).window_start
    source = DigestSource(since=window_start, until=now)
    content = source.content_for(
        window_start=window_start, window_end=now, topics=member_topic_key(member), language=member.digest_language
    )
    return content, None if content.is_empty else digest_render(content)


def digest_send_test(*, member: Member, to: str, frequency: str | None = None) -> bool:
    """Email `to` the digest `member` would get now; links lead to the site, not to the member's tokens.

    Returns False when that digest would be empty (nothing is sent). Not recorded as a delivery.
    """
    if not to:
        raise DigestError("Your account has no email address: add one to receive a test digest.")
    _content, rendered = digest_preview(member=member, frequency=frequency)
    if rendered is None:
        return False
    site = settings.SITE_URL + "/"
    message = digest_message(
        rendered=rendered,
        to=to,
        links=DigestLinks(unsubscribe=site, preferences=site, browser=site),
        message_id=f"<digest.test.{member.pk}.{timezone.now():%Y%m%d%H%M%S%f}@{site_domain()}>",
        subject_prefix="[Test] ",
    )
    message.send()
    return True
