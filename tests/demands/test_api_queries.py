"""Queries per API request do not grow with the number of rows: pinned for 1 and for 50."""

import pytest

from demands.models import Visibility
from tests.factories import (
    BargainingSessionFactory,
    CategoryFactory,
    DemandFactory,
    EvidenceFactory,
    EvidenceLinkFactory,
    FigureFactory,
    MemberFactory,
    ResolutionClauseFactory,
    StatusChangeFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def make_demands(count: int) -> None:
    category = CategoryFactory()
    clause = ResolutionClauseFactory()
    evidence = EvidenceFactory()
    session = BargainingSessionFactory()
    for _ in range(count):
        demand = DemandFactory(category=category, visibility=Visibility.PUBLIC)
        demand.clauses.add(clause)
        EvidenceLinkFactory(demand=demand, evidence=evidence)
        session.demands.add(demand)


def make_evidence(count: int) -> None:
    demand = DemandFactory()
    for _ in range(count):
        evidence = EvidenceFactory()
        FigureFactory(evidence=evidence)
        EvidenceLinkFactory(demand=demand, evidence=evidence)


def make_history(count: int) -> int:
    demand = DemandFactory()
    session = BargainingSessionFactory()
    for _ in range(count):
        StatusChangeFactory(demand=demand, session=session)
    return demand.pk


def make_members(count: int) -> None:
    topic = CategoryFactory()
    for member in MemberFactory.create_batch(count):
        member.topics.add(topic)


def make_sessions(count: int) -> None:
    demand = DemandFactory()
    for session in BargainingSessionFactory.create_batch(count):
        session.demands.add(demand)


def make_categories(count: int) -> None:
    CategoryFactory.create_batch(count, name_es="Categoría", description_es="Descripción.")


def make_resolutions(count: int) -> None:
    for _ in range(count):
        ResolutionClauseFactory()


# role: the user fixture or None; queries: token + groups for a signed-in user, then count, rows, prefetches.
CASES = [
    ("demands", make_demands, "/api/v1/demands/", None, 4),
    ("demands", make_demands, "/api/v1/demands/", "team_user", 6),
    ("history", make_history, "/api/v1/demands/{pk}/history/", "team_user", 5),
    ("evidence", make_evidence, "/api/v1/evidence/", None, 4),
    ("evidence", make_evidence, "/api/v1/evidence/", "team_user", 6),
    ("resolutions", make_resolutions, "/api/v1/resolutions/", None, 3),
    ("categories", make_categories, "/api/v1/categories/", None, 2),
    ("sessions", make_sessions, "/api/v1/sessions/", None, 3),
    ("sessions", make_sessions, "/api/v1/sessions/", "team_user", 5),
    ("members", make_members, "/api/v1/members/", "team_user", 5),
]


@pytest.mark.parametrize("rows", [1, 50])
@pytest.mark.parametrize(
    "name, make, url, role, queries", CASES, ids=[f"{case[0]}-{case[3] or 'anonymous'}" for case in CASES]
)
def test_list_queries_do_not_grow_with_rows(
    api_client, request, django_assert_num_queries, rows, name, make, url, role, queries
):
    pk = make(rows)
    client = api_client(request.getfixturevalue(role) if role else None)
    with django_assert_num_queries(queries):
        response = client.get(url.format(pk=pk), {"page_size": 100})
    assert response.status_code == 200
    assert len(response.json()["results"]) == rows


@pytest.mark.parametrize("links", [1, 50])
def test_demand_detail_queries_do_not_grow_with_links(api_client, team_user, django_assert_num_queries, links):
    demand = DemandFactory()
    for _ in range(links):
        EvidenceLinkFactory(demand=demand)
        demand.clauses.add(ResolutionClauseFactory())
    client = api_client(team_user)
    with django_assert_num_queries(5):
        response = client.get(f"/api/v1/demands/{demand.pk}/")
    assert len(response.json()["evidence"]) == links
