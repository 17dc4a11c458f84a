"""Schemathesis over every operation of /api/schema/, as anonymous and as the team, in its fuzzing,
coverage and stateful phases.

Each response must not be a 5xx, and a 4xx is `{detail, code, errors}`; in the fuzzing phase its status
code, content type, headers and body must also be the ones the schema documents. Examples per operation,
coverage cases per operation and stateful scenarios are bounded to keep the run short.
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
from schemathesis.generation.drivers import CoverageGenerator
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.generation.overrides import Override
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
COVERAGE_CASES = 25
STATEFUL_SCENARIOS = 15
EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 15, schemathesis.GenerationMode.NEGATIVE: 8}


@pytest.fixture
def objects(db) -> dict[str, int]:
    """Real objects for path ids, so operations are exercised on found objects as well as missing ones."""
    demand = DemandFactory(status=Status.PROPOSED, visibility=Visibility.PUBLIC, internal_notes="x")
    DemandFactory(visibility=Visibility.TEAM)
    session = BargainingSessionFactory(team_notes="notes")
    session.demands.add(demand)
    StatusChangeFactory(demand=demand, session=session)
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
@pytest.mark.parametrize(
    "path", ["/api/v1/demands/", "/api/v1/evidence/", "/api/v1/members/", "/api/docs/", "/api/redoc/"]
)
def test_browsable_api_and_docs_answer_every_safe_method(api_client, team_user, path, method):
    response = getattr(api_client(team_user), method)(path, HTTP_ACCEPT="text/html")
    assert response.status_code in (200, 204)


def assert_error_shape(response) -> None:
    """A 4xx from the API is `{detail, code, errors}` (the one exception handler), whatever was sent."""
    if 400 <= response.status_code < 500:
        body = response.json()
        assert set(body) == {"detail", "code", "errors"}, (response.status_code, body)


def run_coverage_phase(headers: dict[str, str]) -> int:
    """Schemathesis's coverage phase over every operation: the edges of every parameter and body (missing,
    empty, too long, wrong type, out of range, every enum value), positive and negative. The pytest plugin
    that runs it (`schemathesis.pytest.from_fixture`) does not run under this pytest, so its generator is
    driven here, each case sent with the role's headers."""
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    cases = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        generator = CoverageGenerator(
            operation=operation,
            generation_modes=list(EXAMPLES),
            generation_config=schema.config.generation_for(operation=operation, phase="coverage"),
            auth_storage=None,
            override=Override(),
            feedback=FeedbackSources(),
        )
        every = list(generator)
        # An even spread of at most COVERAGE_CASES per operation keeps the run short, edges of each kind included.
        for case in every[:: max(1, len(every) // COVERAGE_CASES)]:
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error], headers=headers)
            assert_error_shape(response)
            cases += 1
    return cases


@pytest.mark.usefixtures("unthrottled", "wsgi_in_test_transaction", "objects")
def test_coverage_phase_of_every_operation_as_anonymous_and_as_team(team_user):
    assert run_coverage_phase({}) > 400
    token = Token.objects.create(user=team_user)
    assert run_coverage_phase({"Authorization": f"Token {token.key}"}) > 400


def run_stateful_phase(headers: dict[str, str]) -> list[tuple[str, str, int]]:
    """Schemathesis's stateful phase: sequences of calls that feed one response's ids (the links it infers
    from the schema and from `Location` headers) into the next operation, so found objects are read,
    changed and transitioned, not only missing ones."""
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    calls: list[tuple[str, str, int]] = []

    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case: schemathesis.Case) -> dict:
            return {"headers": headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            calls.append((case.method.upper(), case.operation.path, response.status_code))
            case.validate_response(response, checks=[not_a_server_error], headers=headers)
            assert_error_shape(response)

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=6,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )
    return calls


@pytest.mark.usefixtures("unthrottled", "wsgi_in_test_transaction", "objects")
def test_stateful_phase_as_anonymous_and_as_team(team_user):
    anonymous = run_stateful_phase({})
    token = Token.objects.create(user=team_user)
    team = run_stateful_phase({"Authorization": f"Token {token.key}"})
    writes = ("POST", "PUT", "PATCH")
    # Anonymous writes are refused; the team's scenarios created objects and went on to read and change them.
    assert not [call for call in anonymous if call[0] in writes and call[2] < 300]
    assert [call for call in team if call[0] == "POST" and call[2] == 201]
    assert [call for call in team if call[0] in writes and "{id}" in call[1] and call[2] == 200]
