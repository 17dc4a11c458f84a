"""The fan-out's shortcuts give what the long way gives: the same tokens, links, bytes on the wire and SMTP errors."""

import email
import email.utils
import smtplib
import time

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import translation

from bargaining.digests.rendering import DigestTemplate, RenderedDigest
from bargaining.digests.sending import _smtp_send, smtp_address
from bargaining.links import DigestLinks, delivery_links
from bargaining.models import Delivery
from bargaining.tokens import _PURPOSES, _signer, make_token, read_token_value
from tests.bargaining.test_digest_integration import SmtpSink
from tests.factories import MemberFactory

# A rendering with everything SMTP's DATA treats specially: lines starting with "." in both parts, and the
# member's links at the start of a line.
RENDERED = RenderedDigest(
    subject="Bargaining update · 2 demands moved",
    text=".a line starting with a dot\n..and one with two\n@@bdt-unsubscribe-url@@\nSee @@bdt-browser-url@@\n"
    "Preferences: @@bdt-preferences-url@@\n.\n",
    html='<p>.dot</p>\n.<b>dot at the start</b>\n<a href="@@bdt-unsubscribe-url@@">Unsubscribe</a>'
    '<a href="@@bdt-preferences-url@@">Preferences</a><a href="@@bdt-browser-url@@">Browser</a>\n',
)
LINKS = DigestLinks(
    unsubscribe="https://tracker.example.org/subscriptions/unsubscribe/AB.c:1x:sig/",
    preferences="https://tracker.example.org/subscriptions/preferences/EF.g:1x:sig/",
    browser="https://tracker.example.org/es/digests/IJ.k:1x:sig/",
)


@pytest.mark.parametrize(
    "address",
    [
        "member00001@bench.example.org",
        "first.last+tag@example.org",
        "o'brien@example.org",
        "a!#$%&*/=?^_`{|}~-b@example.org",
        "x@sub-domain.example.org",
        '"quoted local"@example.org',
        "Name <name@example.org>",
        "<already@example.org>",
        "two..dots@example.org",
        ".leading@example.org",
        "trailing.@example.org",
        "no-domain",
        "spaces in@example.org",
        "comment(x)@example.org",
    ],
)
def test_smtp_address_is_what_smtplib_quoteaddr_makes_of_it(address):
    assert smtp_address(address) == smtplib.quoteaddr(address)


@pytest.mark.parametrize("purpose", sorted(_PURPOSES))
def test_make_token_is_what_djangos_timestamp_signer_signs(purpose):
    for _ in range(5):  # both within one clock second: the timestamp is part of the token
        second = int(time.time())
        fast = make_token(purpose, 12345, 7)
        slow = _signer(purpose).sign(f"{signing.b62_encode(12345)}.{signing.b62_encode(7)}")
        if int(time.time()) == second:
            break
    assert fast == slow
    assert read_token_value(purpose, fast).value == 12345


def test_make_token_follows_a_changed_secret_key(settings):
    before = make_token("unsubscribe", 1)
    settings.SECRET_KEY = "another-secret-key-" + "y" * 40
    after = make_token("unsubscribe", 1)
    assert read_token_value("unsubscribe", after).value == 1
    assert read_token_value("unsubscribe", before) is None  # signed with the old key, not a fallback


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "es"])
def test_member_links_are_what_reverse_makes_in_the_members_language(settings, language):
    member = MemberFactory(language=language)
    delivery = Delivery(pk=99, member=member)
    links = delivery_links(delivery)
    with translation.override(language):
        for name, url in (
            ("unsubscribe", links.unsubscribe),
            ("preferences", links.preferences),
            ("digest", links.browser),
        ):
            token = url.rstrip("/").rsplit("/", 1)[1]
            assert url == settings.SITE_URL + reverse(f"bargaining:{name}", args=[token])
    home = settings.SITE_URL + ("/es/" if language == "es" else "/")
    assert all(url.startswith(home) for url in (links.unsubscribe, links.preferences, links.browser))
    assert ("/es/" in links.unsubscribe) == (language == "es")


def test_a_worker_builds_each_digests_message_once_and_again_for_other_headers(settings):
    for _ in range(3):  # both within one clock minute: the message is built again each minute (its Date)
        minute = int(time.time() // 60)
        template = DigestTemplate.of(RENDERED)
        # Equal parts read again by a later batch (other string objects): the same prebuilt message.
        copy = RenderedDigest(
            subject=RENDERED.subject, text=RENDERED.text.encode().decode(), html=RENDERED.html.encode().decode()
        )
        assert copy.text is not RENDERED.text
        again = DigestTemplate.of(copy)
        if int(time.time() // 60) == minute:
            break
    assert again is template
    dated = email.utils.mktime_tz(email.utils.parsedate_tz(_header(template, "Date")))  # seconds since the epoch
    assert abs(dated - time.time()) < 61
    settings.DEFAULT_FROM_EMAIL = "Other Sender <other@example.org>"
    other = DigestTemplate.of(RENDERED)
    assert other is not template and other.from_email == "Other Sender <other@example.org>"


def _header(template: DigestTemplate, name: str) -> str:
    message = email.message_from_bytes(template.message_bytes(to="m@example.org", links=LINKS, message_id="<i@x>"))
    return str(message[name])


def test_wire_bytes_are_the_message_as_smtplib_hands_it_to_data():
    template = DigestTemplate(RENDERED)
    assert template.usable
    message = template.message_bytes(to="m@example.org", links=LINKS, message_id="<d.1@tracker.example.org>")
    wire = template.wire_bytes(to="m@example.org", links=LINKS, message_id="<d.1@tracker.example.org>")
    stuffed = smtplib._quote_periods(message)
    assert wire == stuffed + (b"" if stuffed.endswith(b"\r\n") else b"\r\n") + b".\r\n"
    assert b"\r\n..a line starting with a dot" in wire
    assert template.message_size(len(wire)) == len(message)


@pytest.mark.parametrize("to", [".dot@example.org", "line\r\nbreak@example.org"])
def test_wire_bytes_refuse_a_value_that_would_change_the_stuffing(to):
    assert DigestTemplate(RENDERED).wire_bytes(to=to, links=LINKS, message_id="<d.1@x>") is None


@pytest.fixture
def sink(tmp_path):
    sink = SmtpSink(tmp_path / "sink")
    yield sink
    sink.process.terminate()
    sink.process.wait(timeout=10)


def _both_ways(sink, to):
    """Send one message by smtplib's sendmail and by _smtp_send; what each raised (or None)."""
    template = DigestTemplate(RENDERED)
    outcomes = []
    client = smtplib.SMTP("127.0.0.1", sink.port)
    try:
        message = template.message_bytes(to=to, links=LINKS, message_id="<d.1@tracker.example.org>")
        wire = template.wire_bytes(to=to, links=LINKS, message_id="<d.1@tracker.example.org>")
        for send in (
            lambda: client.sendmail(template.from_email, [to], message),
            lambda: _smtp_send(
                client, sender=template.from_email, recipient=to, data=wire, size=template.message_size(len(wire))
            ),
        ):
            try:
                send()
                outcomes.append(None)
            except smtplib.SMTPException as exc:
                outcomes.append((type(exc), exc.args))
    finally:
        client.quit()
    return outcomes


def test_smtp_send_puts_the_same_bytes_on_the_wire_as_sendmail(sink):
    assert _both_ways(sink, "member@example.org") == [None, None]
    first, second = sink.messages()
    assert first["data"] == second["data"]
    assert first["rcpt"] == second["rcpt"] == ["member@example.org"]
    assert "\r\n.a line starting with a dot" in first["data"]  # unstuffed by the server, as sent


@pytest.mark.parametrize(
    ("rules", "code"), [({"permfail": ["gone@example.org"]}, 550), ({"tempfail": {"gone@example.org": 2}}, 451)]
)
def test_smtp_send_raises_what_sendmail_raises_when_the_recipient_is_refused(sink, rules, code):
    sink.script(**rules)
    slow, fast = _both_ways(sink, "gone@example.org")
    assert slow == fast
    assert slow[0] is smtplib.SMTPRecipientsRefused and slow[1][0]["gone@example.org"][0] == code
    assert sink.messages() == []
    assert _both_ways(sink, "member@example.org") == [None, None]  # the session is usable after the RSET
