"""English and Spanish: /es/ pages, the language switcher, Spanish versions of texts, and the catalogue."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from bargaining.models import Member
from bargaining.services import member_set_preferences
from bargaining.tokens import PREFERENCES, UNSUBSCRIBE, make_token
from demands.errors import ValidationFailed
from demands.models import SUMMARY_MAX_LENGTH, Demand, Status, StatusChange, Visibility, localized
from demands.services import demand_update
from tests.factories import (
    CategoryFactory,
    DemandFactory,
    MemberFactory,
    ResolutionClauseFactory,
)

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "locale" / "es" / "LC_MESSAGES" / "django.po"


def page(client: Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


@pytest.fixture
def spanish_world(db):
    category = CategoryFactory(name="Staffing", name_es="Personal", description="Staff.", description_es="Personal.")
    translated = DemandFactory(
        title="Counselors in every school",
        title_es="Consejeros en cada escuela",
        summary="Counselors for every student.",
        summary_es="Consejeros para cada estudiante.",
        slug="counselors",
        category=category,
        visibility=Visibility.PUBLIC,
    )
    english_only = DemandFactory(
        title="Nurses in every school",
        summary="A nurse in every building.",
        slug="nurses",
        category=category,
        visibility=Visibility.PUBLIC,
    )
    StatusChange.objects.create(
        demand=translated, from_status=Status.PROPOSED, to_status=Status.COUNTERED, note="CPS countered.", note_es=""
    )
    clause = ResolutionClauseFactory(text="Ends the police contract.", text_es="Termina el contrato con la policía.")
    translated.clauses.add(clause)
    return {"translated": translated, "english_only": english_only, "clause": clause}


@pytest.mark.django_db
def test_spanish_pages_show_spanish_and_mark_english_where_no_spanish_was_written(client, spanish_world):
    dashboard = page(client, "/es/")
    assert '<html lang="es">' in dashboard and "<h1>Dónde están nuestras demandas</h1>" in dashboard
    assert "Consejeros en cada escuela" in dashboard and "Counselors in every school" not in dashboard
    assert '<span lang="en">Nurses in every school</span> <span class="in-english">(en inglés)</span>' in dashboard
    assert "Personal" in dashboard

    demand = page(client, "/es/demands/counselors/")
    assert "<h1>Consejeros en cada escuela</h1>" in demand and "Historial de estados" in demand
    assert "Consejeros para cada estudiante." in demand
    assert '<span lang="en">CPS countered.</span> <span class="in-english">(en inglés)</span>' in demand
    assert "Termina el contrato con la policía." in demand
    assert "<title>Consejeros en cada escuela · Seguimiento de las demandas de negociación</title>" in demand

    english = page(client, "/demands/counselors/")
    assert '<html lang="en">' in english and "<h1>Counselors in every school</h1>" in english
    assert "(in English)" not in english and "Consejeros" not in english

    resolution = page(client, "/es" + spanish_world["clause"].resolution.get_absolute_url())
    assert "Cláusulas" in resolution and "Termina el contrato con la policía." in resolution
    assert "Demandas que se basan en esta cláusula" in resolution

    listing = page(client, "/es/demands/?status=proposed")
    assert "Todas las demandas" in listing and "2 demandas" in listing


@pytest.mark.django_db
def test_every_public_page_links_to_itself_in_the_other_language(client, spanish_world):
    english = page(client, "/demands/?q=nurses")
    assert 'href="/es/demands/?q=nurses" hreflang="es" lang="es">Español</a>' in english
    assert '<span aria-current="true" lang="en">English</span>' in english
    spanish = page(client, "/es/demands/nurses/")
    assert 'href="/demands/nurses/" hreflang="en" lang="en">English</a>' in spanish


@pytest.mark.django_db
def test_the_feed_under_es_is_in_spanish(client, spanish_world):
    feed = client.get("/es/feed/").content.decode()
    assert "Dónde están nuestras demandas: cambios de estado" in feed and 'xml:lang="es"' in feed
    assert "Pasó de Propuesta a Contrapropuesta. CPS countered. (en inglés)" in feed
    english = client.get("/feed/").content.decode()
    assert "Moved from Proposed to Countered. CPS countered." in english and "(in English)" not in english


@pytest.mark.django_db
def test_the_404_page_is_in_spanish_under_es(client, settings):
    settings.DEBUG = False
    response = client.get("/es/demands/no-such-demand/")
    assert response.status_code == 404
    body = response.content.decode()
    assert '<html lang="es">' in body and "No encontramos esa página" in body
    english = client.get("/demands/no-such-demand/").content.decode()
    assert "We could not find that page" in english


@pytest.mark.django_db
def test_subscription_pages_are_in_spanish_under_es(client):
    member = MemberFactory(email="ana@example.org", language="es")
    unsubscribe_path = reverse("bargaining:unsubscribe", args=[make_token(UNSUBSCRIBE, member.pk)])
    preferences_path = reverse("bargaining:preferences", args=[make_token(PREFERENCES, member.pk)])
    unsubscribe = page(client, "/es" + unsubscribe_path)
    assert "Darse de baja de los resúmenes de la negociación" in unsubscribe
    preferences = page(client, "/es" + preferences_path)
    assert "Sus preferencias del resumen" in preferences and "¿En qué idioma?" in preferences
    assert "Semanal" in preferences
    invalid = client.get("/es/digests/not-a-token/")
    assert invalid.status_code == 404 and "Este enlace no es válido" in invalid.content.decode()
    with translation.override("es"):
        assert reverse("bargaining:digest", args=["x"]) == "/es/digests/x/"


@pytest.mark.django_db
def test_a_member_changes_their_language_on_the_preferences_page(client):
    member = MemberFactory(language="en")
    path = reverse("bargaining:preferences", args=[make_token(PREFERENCES, member.pk)])
    response = client.post(path, {"frequency": "weekly", "language": "es"}, follow=True)
    assert response.redirect_chain == [("/es" + path, 302)]
    assert "Sus preferencias están guardadas." in response.content.decode()
    member.refresh_from_db()
    assert member.language == "es" and member.digest_language == "es"
    translation.activate("en")  # the request above left Spanish active in this thread
    refused = client.post(path, {"frequency": "weekly", "language": "fr"})
    assert refused.status_code == 200 and "language" in refused.context["form"].errors
    member.refresh_from_db()
    assert member.language == "es"


@pytest.mark.django_db
def test_the_preferences_service_refuses_a_language_the_site_does_not_have():
    member = MemberFactory(language="en")
    with pytest.raises(ValidationFailed) as refused:
        member_set_preferences(member_id=member.pk, frequency="weekly", topics=[], language="fr")
    assert "“fr” is not one of the site's languages (en, es)" in refused.value.errors["language"][0]
    assert Member.objects.get(pk=member.pk).language == "en"


@pytest.mark.django_db
def test_spanish_versions_are_written_through_the_services_with_the_english_limits():
    demand = DemandFactory(summary="English.")
    saved = demand_update(demand_id=demand.pk, expected_version=demand.version, by=None, summary_es="Español.")
    assert saved.summary_es == "Español." and saved.version == demand.version + 1
    assert saved.history.first().summary_es == "Español."
    with pytest.raises((ValidationError, ValidationFailed)):
        demand_update(
            demand_id=demand.pk, expected_version=saved.version, by=None, summary_es="x" * (SUMMARY_MAX_LENGTH + 1)
        )
    last_allowed = demand_update(
        demand_id=demand.pk, expected_version=saved.version, by=None, summary_es="x" * SUMMARY_MAX_LENGTH
    )
    assert len(Demand.objects.get(pk=demand.pk).summary_es) == SUMMARY_MAX_LENGTH == len(last_allowed.summary_es)


@pytest.mark.django_db
def test_localized_falls_back_to_english_only_when_the_spanish_is_empty():
    demand = DemandFactory(title="Nurses", title_es="  ")
    assert localized(demand, "title", language="es").fallback
    demand.title_es = "Enfermeras"
    assert localized(demand, "title", language="es").text == "Enfermeras"
    assert not localized(demand, "title", language="en").fallback
    # Team-only fields have no Spanish version.
    assert localized(demand, "internal_notes", language="es").language == "en"


def msgids(path: Path) -> set[str]:
    entries = subprocess.run(
        ["msgattrib", "--no-obsolete", "--no-wrap", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return set(re.findall(r'^msgid "(.+)"$', entries, re.M))


def untranslated_or_fuzzy(path: Path) -> str:
    found = ""
    for flag in ("--untranslated", "--only-fuzzy"):
        found += subprocess.run(
            ["msgattrib", flag, "--no-obsolete", str(path)], capture_output=True, text=True, check=True
        ).stdout
    return found


@pytest.mark.skipif(shutil.which("msgattrib") is None, reason="needs GNU gettext (apt-get install gettext)")
def test_the_spanish_catalogue_translates_every_string_the_code_marks(tmp_path):
    """An empty or fuzzy msgstr, or a marked string makemessages would add, fails here."""
    assert not untranslated_or_fuzzy(CATALOGUE), "the shipped catalogue has untranslated or fuzzy entries"
    # makemessages on a copy of the code: the strings marked today, merged with the shipped translations.
    copy = tmp_path / "src"
    for name in ("bargaining", "config", "demands", "templates", "locale"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    shutil.copy(ROOT / "manage.py", copy / "manage.py")
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "es", "--no-location"],
        cwd=copy,
        env={"PATH": "/usr/bin:/bin", "DJANGO_DEBUG": "1", "DATABASE_URL": "sqlite:///unused.sqlite3"},
        capture_output=True,
        check=True,
    )
    regenerated = copy / "locale" / "es" / "LC_MESSAGES" / "django.po"
    new = msgids(regenerated) - msgids(CATALOGUE)
    assert not new, f"strings marked for translation but not in the catalogue: {sorted(new)}"
    assert not untranslated_or_fuzzy(regenerated)
