import pytest
from django.db import connection

from demands.errors import Conflict, InvalidTransition, StaleVersion, ValidationFailed
from demands.models import TRANSITIONS, Demand, Evidence, Resolution, Status, StatusChange, Visibility
from demands.services import (
    demand_create,
    demand_transition,
    demand_update,
    evidence_create,
    evidence_update,
    resolution_create,
    resolution_update,
)
from tests.concurrency import at_once
from tests.factories import BargainingSessionFactory, CategoryFactory, DemandFactory, EvidenceFactory

pytestmark = pytest.mark.django_db

ALL_PAIRS = [(source, target) for source in Status.values for target in Status.values]


def expected_allowed(source: str, target: str) -> bool:
    """The rules of PRODUCT.md, written out independently of the TRANSITIONS table."""
    chain = {
        ("draft", "proposed"),
        ("proposed", "countered"),
        ("countered", "proposed"),
        ("proposed", "tentative_agreement"),
        ("countered", "tentative_agreement"),  # accepting the Board's counter
        ("tentative_agreement", "ratified"),
        ("tentative_agreement", "countered"),
    }
    open_statuses = {"draft", "proposed", "countered", "tentative_agreement"}
    return (source, target) in chain or (target == "withdrawn" and source in open_statuses)


def test_transitions_table_matches_the_specification():
    table = {(source, target) for source, targets in TRANSITIONS.items() for target in targets}
    assert table == {pair for pair in ALL_PAIRS if expected_allowed(*pair)}


@pytest.mark.parametrize(("source", "target"), ALL_PAIRS)
def test_every_status_pair(source, target, team_user):
    demand = DemandFactory(status=source)
    if expected_allowed(source, target):
        change = demand_transition(
            demand_id=demand.pk, to_status=target, expected_version=1, by=team_user, note="Because."
        )
        demand.refresh_from_db()
        assert demand.status == target
        assert demand.version == 2
        assert list(StatusChange.objects.filter(demand=demand)) == [change]
        assert (change.from_status, change.to_status, change.changed_by) == (source, target, team_user)
    else:
        with pytest.raises(InvalidTransition) as excinfo:
            demand_transition(demand_id=demand.pk, to_status=target, expected_version=1, by=team_user, note="x")
        message = excinfo.value.message
        assert f"Current status: {Status(source).label}." in message
        for allowed in TRANSITIONS[source]:
            assert Status(allowed).label in message
        assert "_" not in message.split("Allowed next statuses:")[1], "labels, never keys"
        if not TRANSITIONS[source]:
            assert "final" in message
        demand.refresh_from_db()
        assert (demand.status, demand.version) == (source, 1)
        assert not StatusChange.objects.filter(demand=demand).exists()


def test_unknown_status_is_refused_by_name(team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    with pytest.raises(InvalidTransition, match="“agreed” is not a status"):
        demand_transition(demand_id=demand.pk, to_status="agreed", expected_version=1, by=team_user)


def test_withdraw_requires_note(team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    with pytest.raises(InvalidTransition, match="requires a public note"):
        demand_transition(demand_id=demand.pk, to_status=Status.WITHDRAWN, expected_version=1, by=team_user, note=" ")
    demand.refresh_from_db()
    assert demand.status == Status.PROPOSED
    assert not StatusChange.objects.exists()


def test_transition_with_stale_version_changes_nothing(team_user):
    demand = DemandFactory(status=Status.PROPOSED, version=3)
    with pytest.raises(StaleVersion, match="you saw version 2, it is now version 3"):
        demand_transition(demand_id=demand.pk, to_status=Status.COUNTERED, expected_version=2, by=team_user)
    demand.refresh_from_db()
    assert (demand.status, demand.version) == (Status.PROPOSED, 3)
    assert not StatusChange.objects.exists()


def test_transition_records_notes_and_session(team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    session = BargainingSessionFactory()
    change = demand_transition(
        demand_id=demand.pk,
        to_status=Status.COUNTERED,
        expected_version=1,
        by=team_user,
        note="  CPS countered with one social worker per 400 students. ",
        internal_note="Hold at 250.",
        session_id=session.pk,
    )
    assert change.note == "CPS countered with one social worker per 400 students."
    assert change.internal_note == "Hold at 250."
    assert change.session == session


def test_transition_to_unknown_session_is_refused(team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    with pytest.raises(ValidationFailed, match="no bargaining session with id 999999"):
        demand_transition(
            demand_id=demand.pk, to_status=Status.COUNTERED, expected_version=1, by=team_user, session_id=999999
        )
    assert not StatusChange.objects.exists()


def test_create_makes_a_unique_slug_and_starts_in_draft(team_user):
    category = CategoryFactory()
    first = demand_create(by=team_user, title="Trauma supports", summary="s", category=category)
    second = demand_create(by=team_user, title="Trauma supports", summary="s", category=category)
    assert (first.slug, second.slug) == ("trauma-supports", "trauma-supports-2")
    assert first.status == Status.DRAFT
    assert first.history.get().history_user == team_user


def test_create_reports_invalid_fields(team_user):
    with pytest.raises(ValidationFailed) as excinfo:
        demand_create(by=team_user, title="", summary="s", category=CategoryFactory(), visibility="secret")
    assert set(excinfo.value.errors) >= {"title", "visibility"}
    assert not Demand.objects.exists()


def test_update_bumps_version_and_audits_the_change(team_user):
    demand = DemandFactory(target="one social worker per 400 students")
    updated = demand_update(
        demand_id=demand.pk, expected_version=1, by=team_user, target="one social worker per 250 students"
    )
    assert updated.version == 2
    latest = updated.history.latest()
    delta = latest.diff_against(latest.prev_record)
    assert [(c.field, c.old, c.new) for c in delta.changes] == [
        ("target", "one social worker per 400 students", "one social worker per 250 students"),
    ]
    assert (latest.version, latest.prev_record.version) == (2, 1)
    assert latest.history_user == team_user


def test_update_with_stale_version_changes_nothing(team_user):
    demand = DemandFactory(title="Before", version=2)
    with pytest.raises(StaleVersion):
        demand_update(demand_id=demand.pk, expected_version=1, by=team_user, title="After")
    demand.refresh_from_db()
    assert (demand.title, demand.version) == ("Before", 2)


def test_update_refuses_status_edits(team_user):
    demand = DemandFactory(status=Status.PROPOSED)
    with pytest.raises(ValidationFailed, match="status: Change the status with a transition"):
        demand_update(demand_id=demand.pk, expected_version=1, by=team_user, status=Status.RATIFIED)
    demand.refresh_from_db()
    assert demand.status == Status.PROPOSED


@pytest.mark.django_db(transaction=True)
def test_concurrent_transitions_on_one_version_let_exactly_one_win(team_user):
    assert connection.vendor == "postgresql"
    demand = DemandFactory(status=Status.PROPOSED)

    def attempt(target: str) -> str:
        demand_transition(demand_id=demand.pk, to_status=target, expected_version=1, by=None)
        return "won"

    outcomes = at_once(lambda: attempt(Status.COUNTERED), lambda: attempt(Status.TENTATIVE_AGREEMENT))
    outcomes = ["stale" if isinstance(outcome, StaleVersion) else outcome for outcome in outcomes]
    assert sorted(outcomes) == ["stale", "won"]
    demand.refresh_from_db()
    assert demand.version == 2
    assert StatusChange.objects.filter(demand=demand).count() == 1
    assert StatusChange.objects.get(demand=demand).to_status == demand.status


# --- Evidence and resolutions ---

FIGURE = {"value": "2354", "unit": "misconduct complaint records", "period": "2024", "description": "CPS officers"}


def test_evidence_create_saves_figures_and_audits_the_user(team_user):
    evidence = evidence_create(by=team_user, title="#CopsOutCPS", kind="report", publisher="CTU", figures=[FIGURE])
    assert [(str(f.value), f.unit) for f in evidence.figures.all()] == [("2354.00", "misconduct complaint records")]
    assert evidence.visibility == Visibility.TEAM
    assert evidence.history.get().history_user == team_user


def test_evidence_update_replaces_figures_only_when_given(team_user, admin_user):
    evidence = evidence_create(by=team_user, title="Report", kind="report", figures=[FIGURE, FIGURE])
    evidence_update(evidence_id=evidence.pk, by=admin_user, quote="A quote.")
    assert evidence.figures.count() == 2
    evidence_update(evidence_id=evidence.pk, by=admin_user, figures=[{"value": 38, "unit": "officers"}])
    assert [f.unit for f in evidence.figures.all()] == ["officers"]
    latest = evidence.history.latest()
    assert (latest.history_user, latest.quote) == (admin_user, "A quote.")


@pytest.mark.parametrize(
    "figure, key",
    [
        ({"value": "-1", "unit": "x"}, "figures.1.value"),
        ({"value": "1" * 20, "unit": "x"}, "figures.1.value"),
        ({"value": "abc", "unit": "x"}, "figures.1.value"),
        ({"value": 1, "unit": ""}, "figures.1.unit"),
        ({"value": 1, "unit": "x", "colour": "red"}, "figures.1.colour"),
    ],
)
def test_evidence_figure_errors_name_the_figure_and_field(team_user, figure, key):
    with pytest.raises(ValidationFailed) as excinfo:
        evidence_create(by=team_user, title="T", kind="report", figures=[FIGURE, figure])
    assert list(excinfo.value.errors) == [key]
    assert not Evidence.objects.exists()


def test_evidence_with_a_taken_title_and_publisher_is_a_conflict(team_user):
    taken = EvidenceFactory(title="Report", publisher="CTU")
    with pytest.raises(Conflict) as excinfo:
        evidence_create(by=team_user, title="Report", kind="report", publisher="CTU")
    assert excinfo.value.field == "title"
    assert f"id {taken.pk}" in excinfo.value.message
    other = evidence_create(by=team_user, title="Report", kind="report", publisher="CPS")
    with pytest.raises(Conflict):
        evidence_update(evidence_id=other.pk, by=team_user, publisher="CTU")


def test_evidence_refuses_fields_it_does_not_have(team_user):
    with pytest.raises(ValidationFailed) as excinfo:
        evidence_create(by=team_user, title="T", kind="report", created_at=None)
    assert list(excinfo.value.errors) == ["created_at"]


CLAUSES = [{"number": 1, "text": "End the contract."}, {"number": 2, "text": "Remove SROs."}]


def new_resolution(by, **fields) -> Resolution:
    values = {
        "governing_body": "Board of Education",
        "title": "Police in schools",
        "adopted_on": "2024-02-22",
        "vote": "7–0",
        "clauses": CLAUSES,
    }
    return resolution_create(by=by, **{**values, **fields})


def test_resolution_create_numbers_clauses_and_audits_the_user(team_user):
    resolution = new_resolution(team_user)
    assert [(c.number, c.text) for c in resolution.clauses.all()] == [(1, "End the contract."), (2, "Remove SROs.")]
    assert resolution.history.get().history_user == team_user
    assert {c.history.get().history_user for c in resolution.clauses.all()} == {team_user}


def test_resolution_update_matches_clauses_by_number_and_keeps_their_ids(team_user, admin_user):
    resolution = new_resolution(team_user)
    first = resolution.clauses.get(number=1)
    demand = DemandFactory()
    demand.clauses.add(first)
    resolution_update(
        resolution_id=resolution.pk,
        by=admin_user,
        clauses=[{"number": 1, "text": "End the contract now."}, {"number": 3, "text": "Fund counselors."}],
    )
    assert [(c.number, c.text) for c in resolution.clauses.all()] == [
        (1, "End the contract now."),
        (3, "Fund counselors."),
    ]
    assert list(demand.clauses.all()) == [first]
    assert first.history.latest().history_user == admin_user


def test_resolution_update_refuses_to_drop_a_clause_demands_rest_on(team_user):
    resolution = new_resolution(team_user)
    second = resolution.clauses.get(number=2)
    for demand in DemandFactory.create_batch(2):
        demand.clauses.add(second)
    with pytest.raises(Conflict) as excinfo:
        resolution_update(resolution_id=resolution.pk, by=team_user, clauses=CLAUSES[:1], title="Renamed")
    assert "clause 2 by 2 demands" in excinfo.value.message
    resolution.refresh_from_db()
    assert resolution.title == "Police in schools"
    assert resolution.clauses.count() == 2


@pytest.mark.parametrize(
    "clauses, key",
    [
        ([{"number": 1, "text": "a"}, {"number": 1, "text": "b"}], "clauses.1.number"),
        ([{"number": 0, "text": "a"}], "clauses.0.number"),
        ([{"number": 1, "text": ""}], "clauses.0.text"),
        ([{"number": 99999, "text": "a"}], "clauses.0.number"),
    ],
)
def test_resolution_clause_errors_name_the_clause(team_user, clauses, key):
    with pytest.raises(ValidationFailed) as excinfo:
        new_resolution(team_user, clauses=clauses)
    assert key in excinfo.value.errors
    assert not Resolution.objects.exists()


def test_resolution_with_a_taken_number_is_a_conflict(team_user):
    new_resolution(team_user, number="24-0222-RS2")
    with pytest.raises(Conflict) as excinfo:
        new_resolution(team_user, number="24-0222-RS2", title="Another")
    assert excinfo.value.field == "number"
    with pytest.raises(Conflict) as excinfo:
        new_resolution(team_user)
    assert excinfo.value.field == "title"


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Школьные психологи", "shkolnye-psikhologi"),
        ("Consejeros en cada escuela, ¡ya!", "consejeros-en-cada-escuela-ya"),
        ("社会工作者", "she-hui-gong-zuo-zhe"),
    ],
)
def test_a_title_in_any_script_gets_a_readable_slug(title, slug):
    demand = demand_create(by=None, title=title, summary="s", category=CategoryFactory())
    assert demand.slug == slug


def test_a_title_with_nothing_to_transliterate_gets_a_dated_unique_slug():
    from django.utils import timezone

    category = CategoryFactory()
    first = demand_create(by=None, title="✊✊", summary="s", category=category)
    second = demand_create(by=None, title="🍎", summary="s", category=category)
    today = f"demand-{timezone.localdate():%Y-%m-%d}"
    assert (first.slug, second.slug) == (today, f"{today}-2")
    assert first.slug != "demand"
