"""The team's digest preview (`/digests/preview/`): the next digest exactly as it will be sent, held
changes listed apart, "send this preview to me"; the last test compares it with what a real worker sends."""

import datetime
import email
import email.policy
import re

import pytest
from django.core import mail
from django.utils import timezone
from django.utils.html import escape

from bargaining.digests.periods import digest_period
from bargaining.digests.planning import digest_plan
from bargaining.digests.preview import DigestReader, digest_next
from bargaining.digests.rendering import DigestTemplate
from bargaining.digests.sending import deliveries_send
from bargaining.links import DigestLinks
from bargaining.models import Delivery, DigestBody, Member
from bargaining.tasks import digest_plan_and_enqueue
from demands.models import Status, StatusChange
from tests.bargaining.test_digest_integration import (  # noqa: F401  (fixtures)
    broker,
    sink,
    wait_until_run_done,
    worker,
)
from tests.factories import CategoryFactory, DemandFactory, MemberFactory

HELD = "ZZHELDZZ"
SITE = "https://tracker.example.org"


def change(demand, to_status, *, at, note="", note_es="", held=False):
    row = StatusChange.objects.create(
        demand=demand, from_status=demand.status, to_status=to_status, note=note, note_es=note_es
    )
    StatusChange.objects.filter(pk=row.pk).update(changed_at=at, published_at=None if held else at)
    if not held:
        demand.status = to_status
        demand.save(update_fields=["status"])
    return row


@pytest.fixture
def news():
    """Three topics with a published change each in the last full week, and a held change in the first."""
    at = digest_period(frequency="weekly", now=timezone.now()).window_end - datetime.timedelta(days=1)
    staffing = CategoryFactory(name="Staffing", name_es="Personal", position=1)
    safety = CategoryFactory(name="Safety", name_es="Seguridad", position=2)
    quiet = CategoryFactory(name="Community schools", name_es="Escuelas comunitarias", position=3)
    counselors = DemandFactory(title="Counselors", title_es="Consejeros", category=staffing)
    change(counselors, Status.COUNTERED, at=at, note="CPS countered with half.", note_es="CPS ofreció la mitad.")
    change(DemandFactory(title="Restorative practices", category=safety), Status.TENTATIVE_AGREEMENT, at=at)
    change(DemandFactory(title="Sustainable schools", category=quiet), Status.COUNTERED, at=at, note="Quiet news.")
    nurses = DemandFactory(title=f"Nurses {HELD}", category=staffing)
    change(nurses, Status.COUNTERED, at=at, note=f"{HELD} note", held=True)
    return {"staffing": staffing, "safety": safety, "quiet": quiet}


@pytest.fixture
def spanish(news):
    member = MemberFactory(email="spanish@example.org", language="es")
    member.topics.add(news["staffing"], news["safety"])
    return member


@pytest.fixture
def team_client(client, team_user):
    team_user.email = "team@example.org"
    team_user.save()
    client.force_login(team_user)
    return client


def page(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_preview_of_a_spanish_member_with_two_topics_is_the_body_deliveries_send_stores(team_client, spanish):
    preview = digest_next(reader=DigestReader.of(Member.objects.get(pk=spanish.pk)))
    assert preview.final and preview.rendered is not None
    shown = page(team_client.get("/digests/preview/", {"member": spanish.email.upper()}))
    text, html = preview.shown()
    assert escape(preview.rendered.subject) in shown
    assert f'srcdoc="{escape(html)}"' in shown
    assert f'<pre id="preview-text">{escape(text)}</pre>' in shown
    assert "@@bdt-" not in shown  # the member's links (credentials) are the site's address in the team's copy

    run = digest_plan(frequency="weekly").run
    report = deliveries_send(delivery_ids=list(run.deliveries.values_list("id", flat=True)))
    assert report.sent == 1
    body = DigestBody.objects.get(deliveries__member=spanish)
    assert (body.subject, body.text, body.html) == (
        preview.rendered.subject,
        preview.rendered.text,
        preview.rendered.html,
    )
    assert "Consejeros" in body.text and "Restorative practices" in body.text
    assert "Sustainable schools" not in body.text  # not one of the member's topics
    # Sent: the next digest is next week's, so far (nothing new yet).
    after = digest_next(reader=DigestReader.of(Member.objects.get(pk=spanish.pk)))
    assert not after.final and after.window_start == run.window_end and after.rendered is None


@pytest.mark.django_db
def test_held_changes_are_listed_apart_and_never_rendered(team_client, spanish):
    shown = page(team_client.get("/digests/preview/", {"member": str(spanish.pk)}))
    held = shown.split('id="preview-held"', 1)[1]
    assert f"Nurses {HELD}" in held
    rendered = digest_next(reader=DigestReader.of(spanish)).rendered
    assert HELD not in rendered.subject + rendered.text + rendered.html
    quiet = page(team_client.get("/digests/preview/", {"topics": [str(CategoryFactory().pk)]}))
    assert HELD not in quiet and "Nothing held in these topics." in quiet


@pytest.mark.django_db
def test_a_kind_of_member_is_previewed_in_its_language_and_topics(team_client, news):
    shown = page(
        team_client.get("/digests/preview/", {"frequency": "weekly", "language": "es", "topics": [news["quiet"].pk]})
    )
    assert "Sustainable schools" in shown and "Consejeros" not in shown
    assert "&lt;html lang=&quot;es&quot;&gt;" in shown
    everything = digest_next(reader=DigestReader(frequency="weekly", topics=frozenset(), language="en")).rendered
    assert "Counselors" in everything.text and "Sustainable schools" in everything.text


@pytest.mark.django_db
def test_send_this_preview_to_me_mails_the_signed_in_team_member(team_client, spanish):
    url = f"/digests/preview/?member={spanish.pk}"
    response = team_client.post(url, follow=True)
    assert "This preview went to team@example.org." in page(response)
    (message,) = mail.outbox
    assert message.to == ["team@example.org"]
    preview = digest_next(reader=DigestReader.of(spanish)).rendered
    assert message.subject == "[Test] " + preview.subject
    assert "spanish@example.org" not in str(message.message())  # none of the member's links or address
    assert not Delivery.objects.exists()


@pytest.mark.django_db
def test_send_to_me_without_an_address_or_without_news_sends_nothing(client, team_user, spanish):
    team_user.email = ""
    team_user.save()
    client.force_login(team_user)
    refused = page(client.post(f"/digests/preview/?member={spanish.pk}", follow=True))
    assert "Your account has no email address" in refused
    team_user.email = "team@example.org"
    team_user.save()
    empty = page(client.post(f"/digests/preview/?topics={CategoryFactory().pk}", follow=True))
    assert "Nothing new for this reader: no preview sent." in empty
    assert mail.outbox == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"member": "nobody@example.org"}, "No member matches “nobody@example.org”."),
        ({"member": "9" * 30}, "No member matches"),
        ({"topics": ["999999"]}, "Select a valid choice. 999999 is not one of the available choices."),
        ({"topics": ["x"]}, "“x” is not a valid value."),
        ({"frequency": "hourly"}, "Select a valid choice. hourly is not one of the available choices."),
        ({"language": "fr"}, "Select a valid choice. fr is not one of the available choices."),
        ({"member": "a" * 255}, "Ensure this value has at most 254 characters"),
    ],
)
def test_bad_choices_are_refused_by_name_and_send_nothing(team_client, news, query, error):
    shown = page(team_client.get("/digests/preview/", query))
    assert escape(error) in shown
    assert 'id="preview-title"' not in shown
    posted = team_client.post("/digests/preview/?" + "&".join(f"{k}={v}" for k, v in query.items()), follow=True)
    assert "Choose whose digest to send first." in page(posted)
    assert mail.outbox == []


@pytest.mark.django_db
def test_preview_is_for_the_team_only(client, member_user, spanish):
    url = f"/digests/preview/?member={spanish.pk}"
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert client.post(url).status_code == 302
    client.force_login(member_user)
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    assert HELD not in client.get(url).content.decode()
    assert mail.outbox == []


@pytest.mark.django_db
def test_preview_page_relaxes_styles_only_and_sandboxes_the_email(team_client, spanish):
    response = team_client.get("/digests/preview/", {"member": spanish.pk})
    directives = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert directives["style-src"] == "'self' 'unsafe-inline'"
    assert directives["script-src"] == "'self'"
    assert '<iframe title="Digest HTML" sandbox srcdoc=' in page(response)


def _normalized(raw: bytes) -> bytes:
    """The per-message parts a preview cannot know: Date, the MIME boundary, the Message-ID and the member's tokens."""
    raw = re.sub(rb"^Date: [^\r\n]*\r?\n", b"", raw, flags=re.MULTILINE)
    raw = re.sub(rb"={15}\d+==", b"BOUNDARY", raw)
    raw = re.sub(rb"^Message-ID: [^\r\n]*", b"Message-ID: ID", raw, flags=re.MULTILINE)
    return raw.replace(b"\r\n", b"\n")


@pytest.mark.integration
@pytest.mark.timeout(120)
@pytest.mark.django_db(transaction=True)
def test_preview_equals_byte_for_byte_the_message_the_worker_sends(worker, sink, news, spanish, settings):  # noqa: F811
    settings.SITE_URL = SITE  # as the worker's: links and Message-ID domain
    preview = digest_next(reader=DigestReader.of(Member.objects.get(pk=spanish.pk)))
    assert preview.rendered is not None
    run = digest_plan_and_enqueue(frequency="weekly")
    worker.start()
    wait_until_run_done(run.pk, timeout=60)

    (received,) = [message for message in sink.messages() if message["rcpt"] == [spanish.email]]
    sent = received["data"].encode("latin-1")
    parsed = email.message_from_bytes(sent, policy=email.policy.default)
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    # The member's own links (signed tokens) as the worker made them, to build the preview's message with.
    links = DigestLinks(
        unsubscribe=str(parsed["List-Unsubscribe"]).strip("<>"),
        preferences=re.search(rf"{SITE}/es/subscriptions/preferences/\S+/", text).group(0),
        browser=re.search(rf"{SITE}/es/digests/\S+/", text).group(0),
    )
    expected = DigestTemplate(preview.rendered).message_bytes(
        to=spanish.email, links=links, message_id=str(parsed["Message-ID"])
    )
    assert _normalized(sent) == _normalized(expected)
    assert "CPS ofreció la mitad." in text and HELD not in sent.decode("latin-1")
