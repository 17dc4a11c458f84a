"""The demand list's search and filters, the CSV and JSON exports and the printable bulletin."""

import csv
import io
import json

import pytest

from demands.filters import MAX_QUERY_LENGTH
from demands.models import Demand, Status, Visibility
from demands.spreadsheets import csv_cell
from tests.factories import (
    CategoryFactory,
    DemandFactory,
    EvidenceFactory,
    EvidenceLinkFactory,
    ResolutionClauseFactory,
    StatusChangeFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def listed(response) -> list[str]:
    assert response.status_code == 200, response.content[:500]
    return [demand.slug for demand in response.context["page_obj"]]


def streamed(response) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def demands(db) -> dict[str, Demand]:
    safety = CategoryFactory(name="Holistic safety", slug="holistic-safety")
    staffing = CategoryFactory(name="Staffing", slug="staffing")
    made = {
        "workers": DemandFactory(
            slug="workers", title="Social workers in every school", summary="One per 250 students.", category=staffing
        ),
        "training": DemandFactory(
            slug="training",
            title="Restorative training",
            summary="Training for every teacher.",
            category=safety,
            status=Status.COUNTERED,
        ),
        "secret": DemandFactory(
            slug="secret", title="Secret social workers plan", visibility=Visibility.TEAM, category=staffing
        ),
        "members": DemandFactory(
            slug="members", title="Members social workers", visibility=Visibility.MEMBERS, category=staffing
        ),
    }
    StatusChangeFactory(
        demand=made["training"], note="The Board offered counselors instead.", internal_note="zebra fallback"
    )
    return made


def test_search_finds_titles_summaries_and_public_notes_stemmed(client, demands):
    assert listed(client.get("/demands/", {"q": "social worker"})) == ["workers"]
    assert listed(client.get("/demands/", {"q": "students"})) == ["workers"]
    assert listed(client.get("/demands/", {"q": "counselor"})) == ["training"]


def test_search_never_reads_the_team_note(client, team_user, demands):
    assert listed(client.get("/demands/", {"q": "zebra"})) == []
    client.force_login(team_user)
    assert listed(client.get("/demands/", {"q": "zebra"})) == []


def test_search_is_scoped_by_the_audience(client, member_user, team_user, demands):
    assert listed(client.get("/demands/", {"q": "workers"})) == ["workers"]
    client.force_login(member_user)
    assert sorted(listed(client.get("/demands/", {"q": "workers"}))) == ["members", "workers"]
    client.force_login(team_user)
    assert sorted(listed(client.get("/demands/", {"q": "workers"}))) == ["members", "secret", "workers"]


def test_status_and_category_filter_and_combine(client, demands):
    assert listed(client.get("/demands/", {"status": "countered"})) == ["training"]
    assert listed(client.get("/demands/", {"category": "staffing"})) == ["workers"]
    assert listed(client.get("/demands/", {"category": "staffing", "status": "countered"})) == []
    assert sorted(listed(client.get("/demands/"))) == ["training", "workers"]


@pytest.mark.parametrize(
    "params", [{"status": "nope"}, {"category": "no-such-category"}, {"q": "x" * (MAX_QUERY_LENGTH + 1)}]
)
def test_bad_filters_are_refused_with_400(client, demands, params):
    response = client.get("/demands/", params)
    assert response.status_code == 400
    assert response.context["filters"].errors


def test_longest_query_allowed_is_searched(client, demands):
    assert listed(client.get("/demands/", {"q": "x" * MAX_QUERY_LENGTH})) == []


def test_search_syntax_never_fails(client, demands):
    for text in ['"unclosed', "a & | !", "-", "(((", "’'"]:
        assert client.get("/demands/", {"q": text}).status_code == 200, text


def test_pages_keep_the_search_in_their_links(client, demands):
    category = demands["workers"].category
    for index in range(30):
        DemandFactory(slug=f"extra-{index}", title=f"Extra social worker {index}", category=category)
    page = client.get("/demands/", {"q": "social worker", "category": "staffing"})
    assert len(listed(page)) == 25
    assert "q=social+worker&amp;category=staffing&amp;page=2" in page.content.decode()
    second = client.get("/demands/", {"q": "social worker", "category": "staffing", "page": 2})
    assert len(listed(second)) == 6


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=1", "a=1"),
        ("", ""),
        (None, ""),
        (12, "12"),
    ],
)
def test_csv_cell_escapes_what_a_spreadsheet_would_run(value, cell):
    assert csv_cell(value) == cell


def test_csv_export_is_the_viewers_and_escapes_formulas(client, team_user, demands):
    DemandFactory(slug="formula", title='=HYPERLINK("http://evil")', category=demands["workers"].category)
    response = client.get("/demands.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(streamed(response))))
    assert {row["slug"] for row in rows} == {"workers", "training", "formula"}
    assert not set(rows[0]) & set(Demand.TEAM_ONLY_FIELDS)
    assert next(row for row in rows if row["slug"] == "formula")["title"].startswith("'=")
    training = next(row for row in rows if row["slug"] == "training")
    assert "The Board offered counselors instead." in training["history"]
    assert "zebra" not in training["history"]
    client.force_login(team_user)
    team_rows = list(csv.DictReader(io.StringIO(streamed(client.get("/demands.csv")))))
    assert set(Demand.TEAM_ONLY_FIELDS) <= set(team_rows[0])
    assert "secret" in {row["slug"] for row in team_rows}
    assert "zebra fallback" in next(row for row in team_rows if row["slug"] == "training")["history"]


def test_json_export_nests_history_evidence_and_clauses(client, member_user, demands):
    training = demands["training"]
    EvidenceLinkFactory(demand=training, evidence=EvidenceFactory(title="Public report"), claim="supports: it")
    EvidenceLinkFactory(
        demand=training, evidence=EvidenceFactory(title="Team memo", visibility=Visibility.TEAM), claim="supports: x"
    )
    training.clauses.add(ResolutionClauseFactory(text="Ends the police contract."))
    client.force_login(member_user)
    payload = json.loads(streamed(client.get("/demands.json")))
    assert payload["audience"] == "members"
    by_slug = {row["slug"]: row for row in payload["demands"]}
    assert set(by_slug) == {"workers", "training", "members"}
    row = by_slug["training"]
    assert [change["note"] for change in row["history"]] == ["The Board offered counselors instead."]
    assert "internal_note" not in row["history"][0]
    assert [item["title"] for item in row["evidence"]] == ["Public report"]
    assert "verified_by" not in row["evidence"][0]
    assert [clause["text"] for clause in row["clauses"]] == ["Ends the police contract."]
    assert not set(row) & set(Demand.TEAM_ONLY_FIELDS)


def test_empty_json_export_is_valid(client, db):
    assert json.loads(streamed(client.get("/demands.json")))["demands"] == []


def test_exports_refuse_writes(client, demands):
    assert client.post("/demands.csv").status_code == 405
    assert client.post("/demands.json").status_code == 405


def test_bulletin_lists_every_visible_demand_by_category_dated(client, demands):
    response = client.get("/bulletin/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Where we stand" in body
    for slug in ("workers", "training"):
        assert demands[slug].title in body
    assert demands["secret"].title not in body and demands["members"].title not in body
    assert body.index("Holistic safety") < body.index("Staffing")
    assert 'class="bulletin__category"' in body
    assert "<time datetime=" in body


def test_a_public_demand_page_carries_its_summary_for_link_previews(client, team_user, demands):
    page = client.get(demands["workers"].get_absolute_url()).content.decode()
    assert '<meta property="og:title" content="Social workers in every school">' in page
    assert '<meta property="og:description" content="One per 250 students.">' in page
    assert '<meta name="twitter:card" content="summary">' in page
    assert '<meta property="og:url" content="http://testserver/demands/workers/">' in page
    client.force_login(team_user)
    assert "og:title" not in client.get(demands["secret"].get_absolute_url()).content.decode()


def queries_for(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        if response.streaming:
            b"".join(response.streaming_content)
    return len(captured)


@pytest.mark.parametrize("url", ["/demands/", "/demands/?q=worker", "/demands.csv", "/demands.json", "/bulletin/"])
def test_queries_do_not_grow_with_the_demands(client, demands, url):
    few = queries_for(client, url)
    category = demands["workers"].category
    for index in range(20):
        demand = DemandFactory(slug=f"more-{index}", title=f"More social worker {index}", category=category)
        StatusChangeFactory(demand=demand, note="Proposed.")
        EvidenceLinkFactory(demand=demand, evidence=EvidenceFactory(title=f"Report {index}"), claim="supports: it")
    assert queries_for(client, url) == few


def test_bulletin_shows_each_demands_latest_visible_change_loading_no_other(client, team_user):
    from demands.selectors import demands_for_export

    demand = DemandFactory(title="Nurses in every school")
    for note in ("Oldest move.", "Latest public move."):  # recorded in this order (changed_at)
        StatusChangeFactory(demand=demand, note=note)
    StatusChangeFactory(demand=demand, note="Held move.", published_at=None)  # the team's, not the public's
    body = client.get("/bulletin/").content.decode()
    assert "Latest public move." in body and "Oldest move." not in body and "Held move." not in body
    client.force_login(team_user)
    assert "Held move." in client.get("/bulletin/").content.decode()
    [listed] = demands_for_export(team_user, latest_change_only=True)
    assert [change.note for change in listed.visible_history] == ["Held move."]


def more_demands(count: int, category, prefix: str = "More") -> None:
    for index in range(count):
        demand = DemandFactory(title=f"{prefix} demand {index:03d}", category=category)
        StatusChangeFactory(demand=demand, note="Proposed.")
        EvidenceLinkFactory(demand=demand, evidence=EvidenceFactory(title=f"{prefix} report {index}"), claim="it")


def printed(response) -> list[str]:
    assert response.status_code == 200, response.content[:500]
    return [demand.slug for demand in response.context["page_obj"]]


def test_the_bulletin_prints_a_full_page_of_demands_on_one_page(client, demands):
    from demands.views import BULLETIN_PAGE_SIZE

    more_demands(BULLETIN_PAGE_SIZE - 2, demands["workers"].category)  # the fixture's two public ones, and these
    response = client.get("/bulletin/")
    assert len(printed(response)) == BULLETIN_PAGE_SIZE
    body = response.content.decode()
    assert 'class="pagination"' not in body and "Page 1 of" not in body
    assert f"{BULLETIN_PAGE_SIZE} demands" in body


def test_the_bulletin_prints_a_page_at_a_time_under_the_counts_of_every_demand(client, demands):
    from demands.views import BULLETIN_PAGE_SIZE

    more_demands(BULLETIN_PAGE_SIZE - 1, demands["workers"].category)  # one more than a page
    first = client.get("/bulletin/")
    body = first.content.decode()
    assert len(printed(first)) == BULLETIN_PAGE_SIZE
    assert f"{BULLETIN_PAGE_SIZE + 1} demands" in body  # the counts are of all of them, not of the page
    assert '<p class="meta bulletin__page">Page 1 of 2</p>' in body
    assert 'rel="next" href="?page=2"' in body
    last = client.get("/bulletin/?page=2")
    assert printed(last) == ["workers"]  # "Social workers…" sorts after "More demand…" in Staffing
    assert f"{BULLETIN_PAGE_SIZE + 1} demands" in last.content.decode()
    assert "Page 2 of 2" in last.content.decode() and 'rel="next"' not in last.content.decode()
    assert printed(client.get("/bulletin/?page=3")) == ["workers"], "one past the last page prints the last"
    for bad in ("0", "-1", "abc", "9" * 30):
        assert len(printed(client.get(f"/bulletin/?page={bad}"))) in (1, BULLETIN_PAGE_SIZE), bad
    assert printed(client.get("/bulletin/?page=abc")) == printed(first)


def test_the_bulletin_prints_one_category_on_its_own_with_its_counts(client, demands):
    response = client.get("/bulletin/?category=holistic-safety")
    assert printed(response) == ["training"]
    body = response.content.decode()
    assert "1 demand:" in body and "Social workers" not in body
    assert '<span aria-current="page">Holistic safety</span>' in body
    assert '<a href="?category=staffing">Staffing</a>' in body
    everything = client.get("/bulletin/").content.decode()
    assert "2 demands:" in everything and '<a href="?category=holistic-safety">Holistic safety</a>' in everything


def test_the_bulletin_refuses_an_unknown_category_by_name(client, demands):
    response = client.get("/bulletin/?category=no-such-thing")
    assert response.status_code == 400
    body = response.content.decode()
    assert "Category: Select a valid choice." in body
    assert "Social workers" not in body and 'href="/bulletin/"' in body


def test_the_bulletin_hides_a_category_only_the_team_sees(client, team_user):
    hidden = CategoryFactory(name="Strategy", slug="strategy")
    DemandFactory(title="Strike fund", category=hidden, visibility=Visibility.TEAM)
    DemandFactory(title="Nurses", category=CategoryFactory(name="Health", slug="health"))
    DemandFactory(title="Clinics", category=CategoryFactory(name="Care", slug="care"))
    assert "Strategy" not in client.get("/bulletin/").content.decode()
    assert printed(client.get("/bulletin/?category=strategy")) == []
    client.force_login(team_user)
    assert '<a href="?category=strategy">Strategy</a>' in client.get("/bulletin/").content.decode()


def test_the_spanish_bulletin_pages_in_spanish(client, demands):
    from demands.views import BULLETIN_PAGE_SIZE

    more_demands(BULLETIN_PAGE_SIZE - 1, demands["workers"].category)
    body = client.get("/es/bulletin/?page=2").content.decode()
    assert "Página 2 de 2" in body and "Imprimir una categoría:" in body


@pytest.mark.parametrize("url", ["/bulletin/", "/bulletin/?page=2", "/bulletin/?category=staffing"])
def test_the_bulletins_queries_are_the_same_at_ten_and_at_sixty_demands(client, team_user, url):
    staffing, safety = CategoryFactory(slug="staffing"), CategoryFactory(slug="safety")
    more_demands(5, staffing, "Staff")
    more_demands(5, safety, "Safe")

    def counted() -> tuple[int, int]:
        public = queries_for(client, url)
        client.force_login(team_user)
        team = queries_for(client, url)
        client.logout()
        return public, team

    few = counted()
    more_demands(25, staffing, "Later staff")
    more_demands(25, safety, "Later safe")
    assert counted() == few
