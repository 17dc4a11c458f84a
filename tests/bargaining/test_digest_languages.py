"""Digests in each member's language, each evidence item once, and what the subject and first line say.

The last test sends to an English and a Spanish member in one run through a real worker and SMTP sink
(the fixtures of test_digest_integration)."""

import datetime
import email
import email.policy
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from bargaining.digests.content import DigestSource
from bargaining.digests.periods import digest_period
from bargaining.digests.rendering import digest_render
from bargaining.models import Delivery
from bargaining.tasks import digest_plan_and_enqueue
from demands.models import Evidence, Status, StatusChange, Visibility
from tests.bargaining.test_digest_integration import (  # noqa: F401  (fixtures)
    broker,
    sink,
    wait_until_run_done,
    worker,
)
from tests.factories import (
    CategoryFactory,
    DemandFactory,
    EvidenceFactory,
    EvidenceLinkFactory,
    MemberFactory,
    ProposalFactory,
)

SITE = "https://tracker.example.org"


def change(demand, to_status, *, at, note="", note_es="", proposal=None):
    row = StatusChange.objects.create(
        demand=demand, from_status=demand.status, to_status=to_status, note=note, note_es=note_es, proposal=proposal
    )
    StatusChange.objects.filter(pk=row.pk).update(changed_at=at, published_at=at)
    demand.status = to_status
    demand.save(update_fields=["status"])
    return row


def window(at: datetime.datetime) -> dict:
    return {"window_start": at - datetime.timedelta(days=7), "window_end": at + datetime.timedelta(days=1)}


@pytest.mark.django_db
def test_one_evidence_item_for_five_demands_in_three_categories_is_listed_once_under_the_first():
    at = timezone.now() - datetime.timedelta(days=1)
    first, second, third = (CategoryFactory(name=name, position=n) for n, name in enumerate(["A", "B", "C"]))
    demands = [
        DemandFactory(title=f"Demand {n}", category=category)
        for n, category in enumerate([third, second, first, second, third])
    ]
    evidence = EvidenceFactory(title="One report for five demands", visibility=Visibility.PUBLIC)
    for demand in demands:
        EvidenceLinkFactory(demand=demand, evidence=evidence)
    Evidence.objects.update(created_at=at)
    change(demands[0], Status.COUNTERED, at=at, note="CPS countered.")
    source = DigestSource(since=at - datetime.timedelta(days=7), until=at + datetime.timedelta(days=1))

    content = source.content_for(**window(at), topics=frozenset())
    listed = [(group.category, item.title) for group in content.groups for item in group.evidence]
    assert listed == [("A", "One report for five demands")]
    (item,) = content.groups[0].evidence
    assert sorted(title for title, _url in item.supports) == [f"Demand {n}" for n in range(5)]
    assert content.evidence_count == 1 and content.change_count == 1

    rendered = digest_render(content)
    assert rendered.text.count("One report for five demands") == 1
    assert rendered.html.count("One report for five demands") == 1
    # The subject's counts are what the body shows: one change (one demand moved), one evidence item.
    assert rendered.subject == "Demand 0: Proposed → Countered · 1 demand moved, 1 new piece of evidence"
    assert "1 demand moved, 1 new piece of evidence." in rendered.text.splitlines()[1]
    assert rendered.text.count("\n* Demand 0:") == 1

    # A member following only the last category sees it there, still once.
    only_third = source.content_for(**window(at), topics=frozenset({third.pk}))
    assert [(group.category, len(group.evidence)) for group in only_third.groups] == [("C", 1)]


@pytest.mark.django_db
def test_the_subject_names_the_most_important_change_and_the_first_line_counts_each_kind():
    at = timezone.now() - datetime.timedelta(days=1)
    category = CategoryFactory()
    moved = [DemandFactory(title=f"Moved {n}", category=category) for n in range(2)]
    agreed = DemandFactory(title="Counselors", category=category, status=Status.COUNTERED)
    change(moved[0], Status.COUNTERED, at=at)
    change(agreed, Status.TENTATIVE_AGREEMENT, at=at - datetime.timedelta(hours=2))
    change(moved[1], Status.COUNTERED, at=at + datetime.timedelta(hours=1))
    source = DigestSource(since=at - datetime.timedelta(days=7), until=at + datetime.timedelta(days=1))
    rendered = digest_render(source.content_for(**window(at), topics=frozenset()))
    # The agreement outranks the later moves; the counts add up to the three changes shown.
    assert (
        rendered.subject
        == "Counselors: Countered → Tentative agreement · 2 demands moved, 1 tentative agreement reached"
    )
    assert rendered.text.count("\n* ") == 3


@pytest.mark.django_db
def test_a_spanish_digest_is_in_spanish_and_marks_what_has_no_spanish_version(settings):
    settings.SITE_URL = SITE
    at = timezone.now() - datetime.timedelta(days=1)
    category = CategoryFactory(name="Staffing", name_es="Personal")
    translated = DemandFactory(title="Counselors", title_es="Consejeros", category=category)
    english_only = DemandFactory(title="Nurses in every school", category=category)
    change(translated, Status.COUNTERED, at=at, note="CPS countered with half.", note_es="CPS ofreció la mitad.")
    proposal = ProposalFactory(
        demand=english_only, summary="Two nurses per school.", summary_es="", visibility=Visibility.PUBLIC
    )
    change(english_only, Status.COUNTERED, at=at, proposal=proposal)
    source = DigestSource(since=at - datetime.timedelta(days=7), until=at + datetime.timedelta(days=1))

    spanish = digest_render(source.content_for(**window(at), topics=frozenset(), language="es"))
    assert '<html lang="es">' in spanish.html
    assert "Dónde están nuestras demandas" in spanish.text and "== Personal ==" in spanish.text
    assert "Consejeros" in spanish.subject or "Nurses in every school" in spanish.subject
    # The subject names the latest of equals; an English-only title there is marked as English, as in the body.
    assert ("Nurses in every school" in spanish.subject) is ("(en inglés)" in spanish.subject)
    assert "2 demandas avanzaron" in spanish.subject
    assert "CPS ofreció la mitad." in spanish.text and "CPS countered with half." not in spanish.text
    assert "Two nurses per school. (en inglés)" in spanish.text
    assert re.search(
        r'<span lang="en">Two nurses per school\.</span> <span class="muted"[^>]*>\(en inglés\)</span>', spanish.html
    )
    assert "Nurses in every school (en inglés)" in spanish.text
    assert f"{SITE}/es/demands/{translated.slug}/" in spanish.text
    links = re.findall(r'href="([^"]+)"', spanish.html)
    assert links and all(link.startswith((f"{SITE}/es/", "@@bdt-")) for link in links)

    english = digest_render(source.content_for(**window(at), topics=frozenset(), language="en"))
    assert '<html lang="en">' in english.html and "(in English)" not in english.text
    assert "(in English)" not in english.subject
    assert "CPS countered with half." in english.text and "Consejeros" not in english.text
    assert f"{SITE}/demands/{translated.slug}/" in english.text and "/es/" not in english.text


@pytest.mark.django_db
def test_a_subject_naming_a_title_with_no_spanish_version_marks_it_as_english(settings):
    settings.SITE_URL = SITE
    at = timezone.now() - datetime.timedelta(days=1)
    english_only = DemandFactory(title="Nurses in every school", category=CategoryFactory(name="Staffing"))
    change(english_only, Status.COUNTERED, at=at)
    source = DigestSource(since=at - datetime.timedelta(days=7), until=at + datetime.timedelta(days=1))
    spanish = digest_render(source.content_for(**window(at), topics=frozenset(), language="es"))
    assert spanish.subject.startswith("Nurses in every school: Propuesta → Contrapropuesta (en inglés) · ")
    english_only.title_es = "Enfermeras en cada escuela"
    english_only.save()
    source = DigestSource(since=at - datetime.timedelta(days=7), until=at + datetime.timedelta(days=1))
    spanish = digest_render(source.content_for(**window(at), topics=frozenset(), language="es"))
    assert "Enfermeras en cada escuela" in spanish.subject and "(en inglés)" not in spanish.subject


@pytest.mark.django_db
def test_send_digests_again_for_a_planned_period_says_what_is_already_planned(django_capture_on_commit_callbacks):
    MemberFactory.create_batch(2)
    first = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_digests", frequency="weekly", stdout=first)
    assert "2 deliveries planned." in first.getvalue()
    MemberFactory()
    again = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_digests", frequency="weekly", stdout=again)
    output = again.getvalue()
    assert ": already planned: 2 deliveries, 0 sent, 0 pending; 1 more planned now" in output
    assert "planned, sent" not in output and "Task " not in output


@pytest.mark.integration
@pytest.mark.timeout(120)
@pytest.mark.django_db(transaction=True)
def test_an_english_and_a_spanish_member_each_get_their_language_through_the_worker(worker, sink):  # noqa: F811
    last_week = digest_period(frequency="weekly", now=timezone.now()).window_end
    at = last_week - datetime.timedelta(days=1)
    category = CategoryFactory(name="Staffing", name_es="Personal")
    translated = DemandFactory(title="Counselors", title_es="Consejeros", category=category)
    english_only = DemandFactory(title="Nurses in every school", category=category)
    change(translated, Status.COUNTERED, at=at, note="CPS countered with half.", note_es="CPS ofreció la mitad.")
    proposal = ProposalFactory(demand=english_only, summary="Two nurses per school.", visibility=Visibility.PUBLIC)
    change(english_only, Status.COUNTERED, at=at, proposal=proposal)
    english = MemberFactory(email="english@example.org", language="en")
    spanish = MemberFactory(email="spanish@example.org", language="es")

    run = digest_plan_and_enqueue(frequency="weekly")
    worker.start()
    wait_until_run_done(run.pk, timeout=60)
    assert set(Delivery.objects.filter(run=run).values_list("state", flat=True)) == {"sent"}

    received = {
        message["rcpt"][0]: email.message_from_bytes(message["data"].encode("latin-1"), policy=email.policy.default)
        for message in sink.messages()
    }
    assert set(received) == {english.email, spanish.email}
    parts = {}
    for address, message in received.items():
        text = message.get_body(preferencelist=("plain",)).get_content()
        html = message.get_body(preferencelist=("html",)).get_content()
        parts[address] = (str(message["Subject"]), text, html, str(message["List-Unsubscribe"]))

    subject, text, html, unsubscribe = parts[spanish.email]
    assert "demandas avanzaron" in subject
    assert "Dónde están nuestras demandas" in text and "CPS ofreció la mitad." in text
    assert '<html lang="es">' in html and "Cambiar la frecuencia, los temas y el idioma" in html
    assert "Two nurses per school. (en inglés)" in text
    assert '<span lang="en">Two nurses per school.</span>' in html and "(en inglés)" in html
    site_links = [link for link in re.findall(r"https?://\S+", text) if link.startswith(SITE)]
    site_links += [link for link in re.findall(r'href="([^"]+)"', html) if link.startswith(SITE)]
    assert len(site_links) >= 8 and all(link.startswith(f"{SITE}/es/") for link in site_links)
    assert unsubscribe.startswith(f"<{SITE}/es/subscriptions/unsubscribe/")

    subject, text, html, unsubscribe = parts[english.email]
    assert "2 demands moved" in subject
    assert "Where our demands stand" in text and "CPS countered with half." in text
    assert '<html lang="en">' in html and "(in English)" not in text and "/es/" not in text + html
    assert unsubscribe.startswith(f"<{SITE}/subscriptions/unsubscribe/")
