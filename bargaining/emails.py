"""Digest emails: rendered once per distinct content, then only the member's links are filled in."""

from dataclasses import dataclass
from urllib.parse import urlsplit

import css_inline
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.template.loader import render_to_string

from .links import DigestLinks
from .selectors import DigestContent

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


def digest_render(content: DigestContent) -> RenderedDigest:
    """Render the three templates of one digest content (CSS inlined once here, not per member)."""
    context = {"content": content, "links": _PLACEHOLDERS}
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
