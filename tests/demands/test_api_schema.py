"""Schemathesis over every operation of /api/schema/, as anonymous and as the team, in its three phases.

- coverage: every boundary and every kind of wrong value the schema implies, for each parameter and field
  (missing, wrong type, out of range, unexpected methods, wrong content types);
- fuzzing: random bodies and parameters, valid and invalid, on found and missing objects;
- stateful: sequences of calls following the links schemathesis infers (create, then read and change what
  was created).

Each response must not be a 5xx; a 4xx has the `{detail, code, errors}` shape; status code, content type,
headers and body must be the ones the schema documents. Fuzzing examples and stateful runs are bounded
to keep the run short; the coverage phase is finite by construction.
"""

import datetime
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle
from schemathesis import GenerationMode
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.transport import Response
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput
from schemathesis.schemas import APIOperation, BaseSchema
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


def error_shape(ctx: CheckContext, response: Response, case: schemathesis.Case) -> None:
    """Every 4xx of the API is `{detail, code, errors}`: a sentence, a code and field -> messages."""
    if not 400 <= response.status_code < 500 or case.method.upper() == "HEAD":
        return
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), (
        f"{response.status_code} is not JSON: {response.headers.get('content-type')}"
    )
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"detail", "code", "errors"}, body
    assert isinstance(body["detail"], str) and body["detail"], body
    assert isinstance(body["code"], str) and body["code"], body
    assert isinstance(body["errors"], dict), body
    for field, messages in body["errors"].items():
        assert isinstance(field, str) and isinstance(messages, list), body
        assert all(isinstance(message, str) for message in messages), body


CHECKS = [
    not_a_server_error,
    error_shape,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
TEAM_WRITES = {
    (method, path)
    for resource in ("categories", "evidence", "resolutions", "sessions")
    for method, path in [
        ("POST", f"/api/v1/{resource}/"),
        ("PUT", f"/api/v1/{resource}/{{id}}/"),
        ("PATCH", f"/api/v1/{resource}/{{id}}/"),
    ]
}
STATEFUL_RUNS, STATEFUL_STEPS = 25, 8
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
        "categories": demand.category_id,
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


def load_schema() -> tuple[BaseSchema, list[APIOperation]]:
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 26
    assert {(operation.method.upper(), operation.path) for operation in operations} >= TEAM_WRITES
    return schema, operations


def resource_of(operation: APIOperation) -> str:
    return operation.path.removeprefix("/api/v1/").split("/")[0]


def run_coverage_phase(headers: dict[str, str], objects: dict[str, int]) -> tuple[int, int]:
    """Every case of schemathesis's coverage phase, once each. A case whose path id is a valid one is sent to a
    found object, so that its body and query are judged by the view rather than refused by a 404."""
    schema, operations = load_schema()
    sent = found = 0
    for operation in operations:
        cases = schema.iter_coverage_cases(
            operation,
            generation_modes=list(GenerationMode),
            generation_config=schema.config.generation_for(operation=operation, phase="coverage"),
        )
        for case in cases:
            path = case.meta.components.get(ParameterLocation.PATH) if case.meta else None
            if path is not None and path.mode.is_positive and "id" in case.path_parameters:
                case.path_parameters["id"] = objects[resource_of(operation)]
                found += 1
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS, headers=headers)
            sent += 1
    return sent, found


def run_fuzzing_phase(headers: dict[str, str], objects: dict[str, int]) -> int:
    _, operations = load_schema()
    for operation in operations:
        for mode, examples in EXAMPLES.items():
            strategy = operation.as_strategy(generation_mode=mode)
            if "{id}" in operation.path:
                found = operation.as_strategy(
                    generation_mode=mode, path_parameters={"id": objects[resource_of(operation)]}
                )
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


def run_stateful_phase(headers: dict[str, str]) -> list[StepInput]:
    """Sequences of calls along the links schemathesis infers from the schema (a created item's id feeds the
    operations on `{id}`), with the same checks on every step."""
    schema, _ = load_schema()
    steps: list[StepInput] = []

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Each run starts from the same rows, so that Hypothesis can replay a failing run.
            self.savepoint = transaction.savepoint()

        def teardown(self) -> None:
            transaction.savepoint_rollback(self.savepoint)

        def step(self, input: StepInput) -> StepOutput:
            steps.append(input)
            return super().step(input)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(self, response: Response, case: schemathesis.Case, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, headers=headers)

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_RUNS,
            stateful_step_count=STATEFUL_STEPS,
            phases=[Phase.generate],
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )
    return steps


@pytest.fixture(params=["anonymous", "team"])
def audience(request, db) -> dict[str, str]:
    """The request headers of an anonymous client, or of the bargaining team with its token."""
    if request.param == "anonymous":
        return {}
    token = Token.objects.create(user=request.getfixturevalue("team_user"))
    return {"Authorization": f"Token {token.key}"}


@pytest.mark.usefixtures("unthrottled", "wsgi_in_test_transaction")
def test_coverage_phase_over_every_operation(objects, audience):
    sent, found = run_coverage_phase(audience, objects)
    assert sent > 2000  # every operation's cases, not a few
    assert found > 500  # and many of those on `{id}` were judged against a real object


@pytest.mark.usefixtures("unthrottled", "wsgi_in_test_transaction")
def test_fuzzing_phase_over_every_operation(objects, audience):
    run_fuzzing_phase(audience, objects)
    if audience:
        # The team's writes were exercised with bodies that pass, not only refused ones.
        assert Evidence.objects.count() > 1
        assert Resolution.objects.count() > 1
        assert BargainingSession.objects.count() > 1


@pytest.mark.usefixtures("unthrottled", "wsgi_in_test_transaction")
def test_stateful_phase_follows_links(objects, audience):
    steps = run_stateful_phase(audience)
    linked = {(step.case.method.upper(), step.case.path) for step in steps if step.transition is not None}
    # Ids taken from earlier responses fed later calls (which ones depends on the ids the rows got), for
    # several operations; for the team, writes too.
    assert len(linked) >= 3, linked
    if audience:
        assert {method for method, _ in linked} - {"GET"}, linked


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
