"""Schemathesis over every operation of /api/schema/, as anonymous and as the team.

Each response must not be a 5xx, and its status code, content type, headers and body must be
the ones the schema documents. Examples per operation are bounded to keep the run short.
"""

import datetime

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from demands.models import BargainingSession, Evidence, RatificationVote, Resolution, Status, Visibility
from tests.factories import (
    BargainingSessionFactory,
    DemandFactory,
    EvidenceFactory,
    EvidenceLinkFactory,
    FigureFactory,
    MemberFactory,
    ProposalFactory,
    ResolutionClauseFactory,
    StatusChangeFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
TEAM_WRITES = {
    (method, path)
    for resource in ("evidence", "resolutions", "sessions")
    for method, path in [
        ("POST", f"/api/v1/{resource}/"),
        ("PUT", f"/api/v1/{resource}/{{id}}/"),
        ("PATCH", f"/api/v1/{resource}/{{id}}/"),
    ]
}
EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 15, schemathesis.GenerationMode.NEGATIVE: 8}


@pytest.fixture
def objects(db) -> dict[str, int]:
    """Real objects for path ids, so operations are exercised on found objects as well as missing ones."""
    demand = DemandFactory(status=Status.PROPOSED, visibility=Visibility.PUBLIC, internal_notes="x")
    DemandFactory(visibility=Visibility.TEAM)
    session = BargainingSessionFactory(team_notes="notes")
    session.demands.add(demand)
    change = StatusChangeFactory(demand=demand, session=session)
    evidence = EvidenceFactory()
    FigureFactory(evidence=evidence)
    EvidenceLinkFactory(demand=demand, evidence=evidence)
    clause = ResolutionClauseFactory()
    demand.clauses.add(clause)
    member = MemberFactory()
    member.topics.add(demand.category)
    proposal = ProposalFactory(demand=demand, number=1, session=session)
    vote = RatificationVote.objects.create(held_on=datetime.date(2024, 5, 1), yes=3, no=1, abstain=0, eligible=5)
    vote.demands.add(demand)
    return {
        "proposals": proposal.pk,
        "votes": vote.pk,
        "demands": demand.pk,
        "evidence": evidence.pk,
        "resolutions": clause.resolution_id,
        "sessions": session.pk,
        "members": member.pk,
        "status-changes": change.pk,
    }


@pytest.fixture
def unthrottled(monkeypatch) -> None:
    # Hundreds of requests in a few seconds: throttling would turn most of them into 429s.
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "anon", "100000/minute")
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "token", "100000/minute")


@pytest.fixture
def wsgi_in_test_transaction():
    """Schemathesis calls the WSGI app directly: keep Django from closing the test's connection after each
    request, as Django's own test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def run_every_operation(headers: dict[str, str], objects: dict[str, int]) -> int:
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 26
    assert {(operation.method.upper(), operation.path) for operation in operations} >= TEAM_WRITES
    for operation in operations:
        resource = operation.path.removeprefix("/api/v1/").split("/")[0]
        for mode, examples in EXAMPLES.items():
            strategy = operation.as_strategy(generation_mode=mode)
            if "{id}" in operation.path:
                found = operation.as_strategy(generation_mode=mode, path_parameters={"id": objects[resource]})
                strategy = st.one_of(strategy, found)

            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def check(case: schemathesis.Case) -> None:
                response = case.call(headers=headers)
                case.validate_response(response, checks=CHECKS, headers=headers)

            check()
    return len(operations)


@pytest.mark.usefixtures("unthrottled", "wsgi_in_test_transaction")
def test_every_operation_as_anonymous(objects):
    run_every_operation({}, objects)


@pytest.mark.usefixtures("unthrottled", "wsgi_in_test_transaction")
def test_every_operation_as_team(objects, team_user):
    token = Token.objects.create(user=team_user)
    run_every_operation({"Authorization": f"Token {token.key}"}, objects)
    # The team's writes were exercised with bodies that pass, not only refused ones.
    assert Evidence.objects.count() > 1
    assert Resolution.objects.count() > 1
    assert BargainingSession.objects.count() > 1


def test_docs_page_points_at_the_schema(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    # Swagger UI starts from a script of its own URL (no inline script, for the Content-Security-Policy).
    assert b'<script src="/api/docs/?script="></script>' in response.content
    assert b"/api/schema/" in client.get("/api/docs/?script=").content


@pytest.mark.parametrize("method", ["get", "head", "options"])
@pytest.mark.parametrize("path", ["/api/v1/demands/", "/api/v1/evidence/", "/api/v1/members/", "/api/docs/"])
def test_browsable_api_and_docs_answer_every_safe_method(api_client, team_user, path, method):
    response = getattr(api_client(team_user), method)(path, HTTP_ACCEPT="text/html")
    assert response.status_code in (200, 204)
