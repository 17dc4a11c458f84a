"""Digest emails: rendered once per distinct content, then only the member's links are filled in."""

import functools
import hashlib
import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import css_inline
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import sanitize_address
from django.template.loader import render_to_string
from django.utils import timezone, translation

from ..links import DigestLinks
from ..models import DigestBody
from .content import DigestContent
from .periods import digest_time_zone

# Placeholders survive HTML escaping and CSS inlining untouched; real links replace them per member.
_PLACEHOLDERS = {
    "unsubscribe": "@@bdt-unsubscribe-url@@",
    "preferences": "@@bdt-preferences-url@@",
    "browser": "@@bdt-browser-url@@",
}
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False)


@dataclass(frozen=True)
class RenderedDigest:
    """Subject, text and inlined HTML of one content, with placeholders for the member's links."""

    subject: str
    text: str
    html: str

    def with_links(self, links: DigestLinks) -> tuple[str, str]:
        """(text, html) with the member's links filled in."""
        text, html = self.text, self.html
        for name, placeholder in _PLACEHOLDERS.items():
            url = getattr(links, name)
            text = text.replace(placeholder, url)
            # Signed tokens and SITE_URL hold no HTML-special characters, but escape anyway.
            html = html.replace(placeholder, url.replace("&", "&amp;").replace('"', "&quot;"))
        return text, html

    @property
    def key(self) -> str:
        """A digest of the three parts: equal renderings share one stored `DigestBody`."""
        parts = "\0".join((self.subject, self.text, self.html))
        return hashlib.sha256(parts.encode()).hexdigest()

    @classmethod
    def from_body(cls, body: DigestBody) -> "RenderedDigest":
        """A stored body as sent, placeholders and all."""
        return cls(subject=body.subject, text=body.text, html=body.html)


def digest_render(content: DigestContent) -> RenderedDigest:
    """Render the three templates of one digest content (CSS inlined once here, not per member).

    In the content's language: subject, text, HTML and the site's links (/es/... for Spanish).
    """
    context = {"content": content, "links": _PLACEHOLDERS}
    # Dates read in digest time, the calendar the windows are cut on, whatever zone is active.
    with timezone.override(digest_time_zone()), translation.override(content.language):
        subject = " ".join(render_to_string("bargaining/emails/digest.subject.txt", context).split())
        text = render_to_string("bargaining/emails/digest.txt", context)
        html = render_to_string("bargaining/emails/digest.html", {**context, "subject": subject})
    return RenderedDigest(subject=subject, text=text, html=_INLINER.inline(html))


def site_domain() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def list_id() -> str:
    return f"Member digests <digests.{site_domain()}>"


def digest_message(
    *,
    rendered: RenderedDigest,
    to: str,
    links: DigestLinks,
    message_id: str,
    connection: BaseEmailBackend | None = None,
    subject_prefix: str = "",
) -> EmailMultiAlternatives:
    """A multipart/alternative digest email with one-click unsubscribe headers (RFC 8058)."""
    text, html = rendered.with_links(links)
    message = EmailMultiAlternatives(
        subject=subject_prefix + rendered.subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        connection=connection,
        headers={
            "Message-ID": message_id,
            "List-Unsubscribe": f"<{links.unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": list_id(),
            "Auto-Submitted": "auto-generated",
            "Precedence": "bulk",
        },
    )
    message.attach_alternative(html, "text/html")
    return message


# Placeholders for the per-member parts of a prebuilt message; none needs encoding anywhere.
_TO = "bdt-member-address@placeholder.invalid"
_MESSAGE_ID = "<bdt-message-id@placeholder.invalid>"
_LINKS = DigestLinks(**_PLACEHOLDERS)


# A line starting with "." is sent as ".." (RFC 5321 4.5.2, what smtplib's data() does to every message).
_LEADING_DOT = re.compile(rb"(?m)^\.")


class DigestTemplate:
    """The complete MIME bytes of one rendered digest, built once; per member only bytes are swapped.

    Building a MIME message with the email package costs more CPU than handing it to a local SMTP
    server, so for 30,000 members the message is built once per content, and kept by the worker
    process for the next batches (`DigestTemplate.of`). `usable` is False when encoding mangled a
    placeholder (e.g. a line long enough to force quoted-printable); callers then build each message
    with `digest_message` instead.
    """

    def __init__(self, rendered: RenderedDigest) -> None:
        message = digest_message(rendered=rendered, to=_TO, links=_LINKS, message_id=_MESSAGE_ID)
        self.from_email = sanitize_address(message.from_email, message.encoding or settings.DEFAULT_CHARSET)
        raw = message.message().as_bytes(linesep="\r\n")  # type: ignore[call-arg]  # Django's MIME classes take it
        text, html = rendered.text, rendered.html
        expected = {
            _TO: 1,
            _MESSAGE_ID: 1,
            _PLACEHOLDERS["unsubscribe"]: 1
            + text.count(_PLACEHOLDERS["unsubscribe"])
            + html.count(_PLACEHOLDERS["unsubscribe"]),
            _PLACEHOLDERS["preferences"]: text.count(_PLACEHOLDERS["preferences"])
            + html.count(_PLACEHOLDERS["preferences"]),
            _PLACEHOLDERS["browser"]: text.count(_PLACEHOLDERS["browser"]) + html.count(_PLACEHOLDERS["browser"]),
        }
        self.usable = all(raw.count(placeholder.encode()) == count for placeholder, count in expected.items())
        self._raw = raw
        # The same bytes as SMTP DATA sends them: dot-stuffed once here, ended by CRLF "." CRLF. No placeholder
        # starts with "." and none is replaced by a value starting with one or holding a line break (see
        # `wire_bytes`), so stuffing before or after the swap gives the same bytes.
        stuffed = _LEADING_DOT.sub(b"..", raw)
        self._wire = stuffed + (b"" if stuffed.endswith(b"\r\n") else b"\r\n") + b".\r\n"

    @classmethod
    def of(cls, rendered: RenderedDigest) -> "DigestTemplate":
        """The template of this digest, built once per worker process and minute for the settings it is built with.

        The message's Date header is the time it was built: built again each minute, no member's copy is
        dated more than a minute before it is sent, a retry hours later included.
        """
        minute = int(time.time() // 60)
        return _template(rendered, settings.DEFAULT_FROM_EMAIL, settings.DEFAULT_CHARSET, list_id(), minute)

    def message_bytes(self, *, to: str, links: DigestLinks, message_id: str) -> bytes:
        """This digest for one member: their address, links and Message-ID (all ASCII) swapped in."""
        return self._swapped(self._raw, to=to, links=links, message_id=message_id)

    def wire_bytes(self, *, to: str, links: DigestLinks, message_id: str) -> bytes | None:
        """`message_bytes` as SMTP's DATA sends them (dot-stuffed, with the ending "."), or None when a
        member's value could change the stuffing (a leading "." or a line break: never for a valid address)."""
        values = (to, message_id, links.unsubscribe, links.preferences, links.browser)
        if any(value.startswith(".") or "\r" in value or "\n" in value for value in values):
            return None
        return self._swapped(self._wire, to=to, links=links, message_id=message_id)

    def message_size(self, wire_length: int) -> int:
        """The length of `message_bytes` for a member whose `wire_bytes` are this long (what SMTP's SIZE declares)."""
        return wire_length - (len(self._wire) - len(self._raw))

    @staticmethod
    def _swapped(raw: bytes, *, to: str, links: DigestLinks, message_id: str) -> bytes:
        raw = raw.replace(_TO.encode(), to.encode("ascii")).replace(_MESSAGE_ID.encode(), message_id.encode())
        for name, placeholder in _PLACEHOLDERS.items():
            raw = raw.replace(placeholder.encode(), getattr(links, name).encode("ascii"))
        return raw


# Keyed by the digest's three parts, the settings its headers read (a test may override them) and the minute.
# A run has a handful of distinct contents; 64 covers several runs in flight. About 3 × 20 KB each.
@functools.lru_cache(maxsize=64)
def _template(rendered: RenderedDigest, from_email: str, charset: str, list_id: str, minute: int) -> DigestTemplate:
    return DigestTemplate(rendered)
