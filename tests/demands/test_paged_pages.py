"""Pages whose cost does not grow with history: the demand page, `/` and `/evidence/` show a page at a time,
and the team's forms offer a page of choices while accepting any valid one."""

import datetime
import re

import pytest
from django.utils import timezone

from demands.forms import SESSION_CHOICES
from demands.models import EvidenceLink, Status, StatusChange, Visibility
from demands.views import CITE_CHOICES, EVIDENCE_PAGE_SIZE, HISTORY_PAGE_SIZE, LIST_PAGE_SIZE
from tests.factories import BargainingSessionFactory, DemandFactory, EvidenceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team_client(client, team_user):
    client.force_login(team_user)
    return client


def html(response) -> str:
    return response.content.decode()


def history_of(demand, count: int) -> None:
    """`count` history rows, the newest with the highest number in its note."""
    start = timezone.now() - datetime.timedelta(days=count + 1)
    StatusChange.objects.bulk_create(
        StatusChange(
            demand=demand,
            from_status=Status.PROPOSED if i % 2 else Status.COUNTERED,
            to_status=Status.COUNTERED if i % 2 else Status.PROPOSED,
            note=f"note-{i}",
            occurred_at=start + datetime.timedelta(days=i),
        )
        for i in range(count)
    )


def cited(demand, count: int) -> None:
    items = EvidenceFactory.create_batch(count)
    EvidenceLink.objects.bulk_create(EvidenceLink(demand=demand, evidence=item, claim="c") for item in items)


@pytest.mark.parametrize("extra", [0, 1])
def test_history_pages_at_the_edge(client, extra):
    """A full page has no link to older changes; one more entry moves to a second page of one."""
    demand = DemandFactory(status=Status.PROPOSED)
    history_of(demand, HISTORY_PAGE_SIZE + extra)
    page = html(client.get(demand.get_absolute_url()))
    assert page.count('class="timeline__item"') == HISTORY_PAGE_SIZE
    assert f"note-{HISTORY_PAGE_SIZE + extra - 1}" in page, "newest first"
    assert ("Older changes" in page) == bool(extra)
    if extra:
        older = html(client.get(f"{demand.get_absolute_url()}?history=2"))
        assert older.count('class="timeline__item"') == 1
        assert "note-0<" in older and "Newer changes" in older


@pytest.mark.parametrize("number", ["0", "-1", "abc", "99999", "1" * 40])
def test_a_bad_page_number_gets_a_page_not_an_error(client, number):
    demand = DemandFactory(status=Status.PROPOSED)
    history_of(demand, HISTORY_PAGE_SIZE + 1)
    cited(demand, 2)
    for url in (f"{demand.get_absolute_url()}?history={number}&evidence={number}", f"/?page={number}"):
        assert client.get(url).status_code == 200
    assert client.get(f"/evidence/?page={number}").status_code == 200


@pytest.mark.parametrize("extra", [0, 1])
def test_evidence_pages_of_the_demand_page_at_the_edge(client, extra):
    demand = DemandFactory(status=Status.PROPOSED)
    cited(demand, EVIDENCE_PAGE_SIZE + extra)
    page = html(client.get(demand.get_absolute_url()))
    assert page.count('class="card evidence-card"') == EVIDENCE_PAGE_SIZE
    assert ('aria-label="Evidence pages"' in page) == bool(extra)


@pytest.mark.parametrize("extra", [0, 1])
def test_the_evidence_list_pages_at_the_edge(client, extra):
    EvidenceFactory.create_batch(LIST_PAGE_SIZE + extra)
    page = html(client.get("/evidence/"))
    assert page.count('class="card evidence-card"') == LIST_PAGE_SIZE
    assert f"{LIST_PAGE_SIZE + extra} items" in page
    assert ('rel="next"' in page) == bool(extra)


def test_the_evidence_list_searches_and_filters_by_kind(client):
    EvidenceFactory(title="Counselors per student", kind="statistic")
    EvidenceFactory(title="Counselors report", kind="report")
    EvidenceFactory(title="Other", publisher="Counselors Guild", kind="report")
    page = html(client.get("/evidence/?q=counselors&kind=report"))
    assert "Counselors report" in page and "Counselors Guild" in page
    assert "Counselors per student" not in page
    assert "2 items" in page


def test_an_unknown_evidence_kind_is_refused_with_a_400(client):
    response = client.get("/evidence/?kind=rumour")
    assert response.status_code == 400
    assert "rumour is not one of the available choices" in html(response)


def test_the_dashboard_filters_its_demands_and_counts_all_of_them(client):
    DemandFactory(title="Still proposed", status=Status.PROPOSED)
    DemandFactory(title="At a TA", status=Status.TENTATIVE_AGREEMENT)
    page = html(client.get("/?status=tentative_agreement"))
    assert "At a TA" in page and "Still proposed" not in page
    assert "2 demands by status" in page, "progress is of every visible demand, not of the filtered page"


def test_an_unknown_dashboard_status_is_refused_with_a_400(client):
    response = client.get("/?status=won")
    assert response.status_code == 400
    assert "won is not one of the available choices" in html(response)


def options(page: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no <select name={name}>"
    return [value for value in re.findall(r'<option value="([^"]*)"', select.group(1)) if value]


def test_the_cite_form_offers_a_page_and_accepts_any_uncited_evidence(team_client):
    demand = DemandFactory(status=Status.PROPOSED)
    items = EvidenceFactory.create_batch(CITE_CHOICES + 1)
    page = html(team_client.get(demand.get_absolute_url()))
    offered = options(page, "evidence")
    assert len(offered) == CITE_CHOICES
    last = html(team_client.get(f"{demand.get_absolute_url()}?cite_page=2"))
    assert len(options(last, "evidence")) == 1
    beyond = next(item for item in items if str(item.pk) not in offered)
    response = team_client.post(
        f"{demand.get_absolute_url()}evidence/", {"evidence": beyond.pk, "claim": "c", "version": demand.version}
    )
    assert response.status_code == 302
    assert EvidenceLink.objects.filter(demand=demand, evidence=beyond).exists()


def test_the_cite_form_searches_and_never_offers_evidence_already_cited(team_client):
    demand = DemandFactory(status=Status.PROPOSED)
    wanted = EvidenceFactory(title="Nurses per school")
    EvidenceFactory(title="Unrelated")
    done = EvidenceFactory(title="Nurses already cited")
    EvidenceLink.objects.create(demand=demand, evidence=done, claim="c")
    page = html(team_client.get(f"{demand.get_absolute_url()}?cite=nurses"))
    assert options(page, "evidence") == [str(wanted.pk)]
    none = html(team_client.get(f"{demand.get_absolute_url()}?cite=zzz"))
    assert "No evidence not yet cited here matches" in none


def test_a_cited_choice_off_the_page_is_refused_with_the_field_named(team_client):
    demand = DemandFactory(status=Status.PROPOSED)
    done = EvidenceFactory()
    EvidenceLink.objects.create(demand=demand, evidence=done, claim="c")
    response = team_client.post(
        f"{demand.get_absolute_url()}evidence/", {"evidence": done.pk, "claim": "again", "version": demand.version}
    )
    assert response.status_code == 400
    assert "Select a valid choice" in html(response)
    assert EvidenceLink.objects.filter(demand=demand).count() == 1


def test_the_session_menu_is_bounded_and_an_older_session_is_still_accepted(team_client):
    demand = DemandFactory(status=Status.PROPOSED, visibility=Visibility.PUBLIC)
    oldest = BargainingSessionFactory(held_on=datetime.date(2020, 1, 1))
    for day in range(SESSION_CHOICES):
        BargainingSessionFactory(held_on=datetime.date(2025, 1, 1) + datetime.timedelta(days=day))
    page = html(team_client.get(demand.get_absolute_url()))
    offered = options(page, "session")
    assert len(offered) == SESSION_CHOICES
    assert str(oldest.pk) not in offered
    response = team_client.post(
        f"{demand.get_absolute_url()}status/",
        {"to_status": Status.COUNTERED, "version": demand.version, "session": oldest.pk},
    )
    assert response.status_code == 302
    assert StatusChange.objects.get(demand=demand).session == oldest
