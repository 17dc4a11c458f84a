"""The team's evidence pages: add and edit a piece of evidence with its figures, through the test client."""

from decimal import Decimal

import pytest

from demands.models import Evidence, Figure, Visibility
from tests.factories import DemandFactory, EvidenceFactory, EvidenceLinkFactory, FigureFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team_client(client, team_user):
    client.force_login(team_user)
    return client


def evidence_post(**overrides: str) -> dict[str, str]:
    """A valid form submission with one figure row and one blank row; overrides replace fields."""
    data = {
        "title": "Police in CPS schools",
        "kind": "report",
        "publisher": "#CopsOutCPS",
        "published_on": "2024-02-01",
        "url": "https://example.org/report",
        "quote": "a combined total of 2,354 misconduct complaint records",
        "visibility": "public",
        "figures-TOTAL_FORMS": "2",
        "figures-INITIAL_FORMS": "0",
        "figures-0-value": "2354",
        "figures-0-unit": "misconduct complaint records",
        "figures-0-period": "on file",
        "figures-0-description": "officers in schools and their supervisors",
        "figures-1-value": "",
        "figures-1-unit": "",
    }
    data.update(overrides)
    return data


def test_team_adds_evidence_with_its_figures(team_client, team_user):
    response = team_client.post("/evidence/new/", evidence_post(verified="on"))
    evidence = Evidence.objects.get(title="Police in CPS schools")
    assert response.status_code == 302
    assert response["Location"] == f"/evidence/#evidence-{evidence.pk}"
    assert [(f.value, f.unit, f.period) for f in evidence.figures.all()] == [
        (Decimal(2354), "misconduct complaint records", "on file")
    ]
    assert evidence.verified_by == team_user
    assert evidence.verified_at is not None
    assert evidence.history.get().history_user == team_user
    page = team_client.get("/evidence/").content.decode()
    assert "2,354" in page
    assert f'href="/evidence/{evidence.pk}/edit/"' in page


def test_team_edits_evidence_and_replaces_its_figures(team_client, team_user):
    evidence = EvidenceFactory(title="Old title", visibility=Visibility.TEAM)
    kept, removed = FigureFactory(evidence=evidence, value=38), FigureFactory(evidence=evidence, value=7)
    form = team_client.get(f"/evidence/{evidence.pk}/edit/").content.decode()
    assert 'value="38"' in form and 'value="7"' in form
    data = evidence_post(
        title="New title",
        **{
            "figures-TOTAL_FORMS": "3",
            "figures-INITIAL_FORMS": "2",
            "figures-0-value": "38",
            "figures-0-unit": "officers with 20 or more complaints",
            "figures-1-value": "7",
            "figures-1-unit": "records",
            "figures-1-DELETE": "on",
            "figures-2-value": "12.5",
            "figures-2-unit": "percent",
        },
    )
    response = team_client.post(f"/evidence/{evidence.pk}/edit/", data)
    assert response.status_code == 302
    evidence.refresh_from_db()
    assert evidence.title == "New title"
    assert [(f.value, f.unit) for f in evidence.figures.all()] == [
        (Decimal(38), "officers with 20 or more complaints"),
        (Decimal("12.5"), "percent"),
    ]
    assert not Figure.objects.filter(pk__in=[kept.pk, removed.pk]).exists()
    assert evidence.history.latest().history_user == team_user
    assert evidence.verified_at is None


def test_a_verified_check_keeps_its_author_until_unticked(team_client, team_user, admin_user):
    evidence = EvidenceFactory(verified_by=admin_user, verified_at="2024-03-01T12:00:00Z")
    team_client.post(f"/evidence/{evidence.pk}/edit/", evidence_post(verified="on"))
    evidence.refresh_from_db()
    assert evidence.verified_by == admin_user
    team_client.post(f"/evidence/{evidence.pk}/edit/", evidence_post())
    evidence.refresh_from_db()
    assert (evidence.verified_by, evidence.verified_at) == (None, None)


def test_a_negative_figure_is_shown_on_its_row_and_nothing_is_saved(team_client):
    data = evidence_post(
        **{"figures-TOTAL_FORMS": "3", "figures-1-value": "", "figures-2-value": "-3", "figures-2-unit": "records"}
    )
    response = team_client.post("/evidence/new/", data)
    page = response.content.decode()
    assert response.status_code == 400
    assert not Evidence.objects.exists()
    assert not Figure.objects.exists()
    # The blank row is left out, so the service's figures.1 is the third row on the page.
    row = page.split('id="figure-row-2"')[1].split("</fieldset>")[0]
    assert "A figure cannot be negative." in row
    assert "A figure cannot be negative." not in page.split('id="figure-row-2"')[0]


def test_a_duplicate_title_and_publisher_is_refused_on_the_title(team_client):
    existing = EvidenceFactory(title="Police in CPS schools", publisher="#CopsOutCPS")
    response = team_client.post("/evidence/new/", evidence_post())
    page = response.content.decode()
    assert response.status_code == 400
    assert Evidence.objects.get() == existing
    assert not Figure.objects.exists()
    title_field = page.split('for="id_title"')[1].split("</div>")[0]
    assert "There is already evidence titled" in title_field


def test_an_edit_that_collides_with_other_evidence_changes_nothing(team_client):
    EvidenceFactory(title="Taken", publisher="#CopsOutCPS")
    evidence = EvidenceFactory(title="Mine", publisher="#CopsOutCPS")
    FigureFactory(evidence=evidence, value=5)
    response = team_client.post(f"/evidence/{evidence.pk}/edit/", evidence_post(title="Taken"))
    assert response.status_code == 400
    evidence.refresh_from_db()
    assert evidence.title == "Mine"
    assert [f.value for f in evidence.figures.all()] == [Decimal(5)]
    assert "<h1>Edit “Mine”</h1>" in response.content.decode()


def test_a_bad_date_is_shown_on_the_date_field(team_client):
    response = team_client.post("/evidence/new/", evidence_post(published_on="2024-02-31"))
    page = response.content.decode()
    assert response.status_code == 400
    assert not Evidence.objects.exists()
    assert "Enter a valid date." in page.split('for="id_published_on"')[1].split("</div>")[0]


def test_add_a_figure_row_keeps_the_input_and_saves_nothing(team_client):
    response = team_client.post("/evidence/new/", evidence_post(add_figure="1"))
    page = response.content.decode()
    assert response.status_code == 200
    assert not Evidence.objects.exists()
    assert 'name="figures-TOTAL_FORMS" value="3"' in page
    assert 'id="figure-row-2"' in page
    assert 'value="Police in CPS schools"' in page
    assert "This field is required" not in page
    assert "aria-invalid" not in page
    assert "field--error" not in page


@pytest.mark.parametrize("who", ["anonymous", "member"])
def test_anonymous_and_members_can_neither_add_nor_edit_evidence(client, member_user, who):
    evidence = EvidenceFactory(title="Unchanged")
    if who == "member":
        client.force_login(member_user)
    expected = 403 if who == "member" else 302
    for url in ("/evidence/new/", f"/evidence/{evidence.pk}/edit/"):
        get = client.get(url)
        post = client.post(url, evidence_post(title="Changed"))
        assert (get.status_code, post.status_code) == (expected, expected), url
        if who == "anonymous":
            assert post["Location"].startswith("/accounts/login/?next=")
    evidence.refresh_from_db()
    assert evidence.title == "Unchanged"
    assert Evidence.objects.count() == 1


@pytest.mark.parametrize("who", ["anonymous", "member"])
def test_no_add_or_edit_links_for_anonymous_or_members(client, member_user, who):
    EvidenceFactory()
    if who == "member":
        client.force_login(member_user)
    page = client.get("/evidence/").content.decode()
    assert "/evidence/new/" not in page
    assert "/edit/" not in page


def test_the_demand_page_links_to_adding_evidence_not_the_admin(team_client):
    demand = DemandFactory()
    EvidenceLinkFactory(demand=demand)
    page = team_client.get(demand.get_absolute_url()).content.decode()
    assert 'href="/evidence/new/"' in page
    assert "/admin/demands/evidence/add/" not in page
    assert f'href="/evidence/{demand.evidence.get().pk}/edit/"' in page


@pytest.mark.parametrize("extra", [{}, {"add_figure": "1"}])
def test_a_tampered_row_count_is_refused_with_a_message_not_an_error_page(team_client, extra):
    response = team_client.post("/evidence/new/", evidence_post(**{"figures-TOTAL_FORMS": "lots"}, **extra))
    assert response.status_code in (200, 400)
    assert not Evidence.objects.exists()
    if not extra:
        assert "ManagementForm data is missing or has been tampered with" in response.content.decode()


def test_adding_a_row_to_a_half_filled_form_judges_nothing_yet(team_client):
    data = evidence_post(add_figure="1", title="", **{"figures-0-value": "", "figures-0-unit": "records"})
    page = team_client.post("/evidence/new/", data).content.decode()
    assert "This field is required" not in page
    assert 'aria-invalid="true"' not in page
    assert 'value="records"' in page
    submitted = team_client.post("/evidence/new/", {key: value for key, value in data.items() if key != "add_figure"})
    assert submitted.status_code == 400
    assert "This field is required" in submitted.content.decode(), "once submitted, the same input is judged"
