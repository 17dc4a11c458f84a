"""Held status changes: team-only everywhere until a second team member (or the embargo) publishes them."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone
from simple_history.utils import get_history_model_for_model

from bargaining.digests.content import digest_changes_for
from demands.errors import Forbidden, ValidationFailed
from demands.models import Audience, Demand, Status, StatusChange, TentativeAgreement
from demands.selectors import agreements_visible_to, votes_visible_to
from demands.services import (
    agreement_set_language,
    agreement_sign,
    change_publish,
    demand_transition,
    embargoes_publish,
    vote_record,
)
from tests.factories import BargainingSessionFactory, DemandFactory, MemberFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

NOTE = "HELD-CANARY countered at the table"


@pytest.fixture
def demand(db):
    return DemandFactory(title="Counselors in every school", slug="counselors", status=Status.PROPOSED)


def hold(demand, by, **kwargs):
    return demand_transition(
        demand_id=demand.pk, to_status=Status.COUNTERED, expected_version=demand.version, by=by, note=NOTE, **kwargs
    )


def body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def outputs(client: Client) -> dict[str, str]:
    return {
        path: body(client.get(path))
        for path in ("/", "/demands/", "/demands/counselors/", "/feed/", "/demands.csv", "/demands.json")
    }


def test_held_change_keeps_the_shown_status_until_a_second_member_publishes(
    demand, team_user, approver, member_user, api_client
):
    change = hold(demand, team_user, hold=True)
    demand.refresh_from_db()
    assert (demand.status, demand.published_status, change.published_at) == (Status.COUNTERED, Status.PROPOSED, None)
    anonymous, member = Client(), Client()
    member.force_login(member_user)
    for client in (anonymous, member):
        for path, body in outputs(client).items():
            assert "HELD-CANARY" not in body, path
    api = api_client(member_user).get(f"/api/v1/demands/{demand.pk}/").json()
    assert api["status"] == Status.PROPOSED
    assert api_client(member_user).get(f"/api/v1/demands/?status={Status.COUNTERED}").json()["count"] == 0
    assert api_client(member_user).get(f"/api/v1/demands/?status={Status.PROPOSED}").json()["count"] == 1
    assert api_client(team_user).get(f"/api/v1/demands/{demand.pk}/").json()["status"] == Status.COUNTERED
    # The dashboard's counts: one proposed for members, none countered.
    dashboard = member.get("/").content.decode()
    assert "Proposed 1, Countered 0" in dashboard

    published = change_publish(change_id=change.pk, by=approver)
    assert published.published_by == approver and published.published_at is not None
    demand.refresh_from_db()
    assert demand.published_status == Status.COUNTERED
    for path, body in outputs(anonymous).items():
        if path not in ("/", "/demands/"):
            assert "HELD-CANARY" in body, path
    assert api_client(member_user).get(f"/api/v1/demands/{demand.pk}/").json()["status"] == Status.COUNTERED
    assert "Proposed 0, Countered 1" in member.get("/").content.decode()
    # The audit says who published it, and when.
    audit = get_history_model_for_model(StatusChange).objects.filter(id=change.pk).order_by("history_date").last()
    assert (audit.history_user, audit.published_at) == (approver, published.published_at)


def test_the_recorder_cannot_publish_their_own_and_twice_is_harmless(demand, team_user, approver):
    change = hold(demand, team_user, hold=True)
    with pytest.raises(Forbidden, match="another member of the team"):
        change_publish(change_id=change.pk, by=team_user)
    assert StatusChange.objects.get(pk=change.pk).published_at is None
    first = change_publish(change_id=change.pk, by=approver).published_at
    assert change_publish(change_id=change.pk, by=team_user).published_at == first  # already published: no-op


def test_publish_api_permissions(demand, team_user, approver, member_user, api_client):
    change = hold(demand, team_user, hold=True)
    url = f"/api/v1/status-changes/{change.pk}/publish/"
    assert api_client().post(url).status_code == 401
    assert api_client(member_user).post(url).status_code == 403
    held = api_client(team_user).get("/api/v1/held/").json()
    assert [row["id"] for row in held["results"]] == [change.pk]
    assert held["results"][0]["url"].endswith(f"/api/v1/status-changes/{change.pk}/")
    assert api_client(member_user).get("/api/v1/held/").status_code == 403
    assert api_client(member_user).get(f"/api/v1/status-changes/{change.pk}/").status_code == 404
    refused = api_client(team_user).post(url)
    assert refused.status_code == 403
    assert "another member of the team" in refused.json()["detail"]
    assert refused.json()["code"] == "forbidden"
    for _ in range(2):
        response = api_client(approver).post(url)
        assert response.status_code == 200
        assert response.json()["published_by"] == approver.username
    assert api_client(team_user).get("/api/v1/held/").json()["results"] == []
    assert api_client(member_user).get(f"/api/v1/status-changes/{change.pk}/").json()["note"] == NOTE


def test_transition_api_holds_with_an_embargo(demand, team_user, api_client):
    later = timezone.now() + datetime.timedelta(hours=1)
    response = api_client(team_user).post(
        f"/api/v1/demands/{demand.pk}/transition/",
        {"status": Status.COUNTERED, "embargo_until": later.isoformat(), "version": demand.version},
        format="json",
    )
    assert response.status_code == 200, response.json()
    change = StatusChange.objects.get(demand=demand)
    assert change.published_at is None and change.embargo_until == later
    past = api_client(team_user).post(
        f"/api/v1/demands/{demand.pk}/transition/",
        {"status": Status.PROPOSED, "embargo_until": "2020-01-01T00:00:00Z", "version": demand.version + 1},
        format="json",
    )
    assert past.status_code == 400 and "embargo_until" in past.json()["errors"]


def test_embargo_publishes_at_its_time_and_not_before(demand, team_user):
    at = timezone.now() + datetime.timedelta(minutes=5)
    change = hold(demand, team_user, embargo_until=at)
    held_version = Demand.objects.get(pk=demand.pk).version
    assert not embargoes_publish(now=at - datetime.timedelta(seconds=1))
    assert Demand.objects.get(pk=demand.pk).version == held_version  # nothing published, nothing bumped
    assert embargoes_publish(now=at).change_ids == [change.pk]
    published = Demand.objects.get(pk=demand.pk)
    assert (published.published_status, published.version) == (Status.COUNTERED, held_version + 1)
    again = Demand.objects.get(pk=demand.pk)
    with pytest.raises(ValidationFailed, match="future"):
        demand_transition(
            demand_id=again.pk,
            to_status=Status.PROPOSED,
            expected_version=again.version,
            by=team_user,
            embargo_until=timezone.now(),
        )


def test_publish_review_holds_every_new_change_and_later_moves_wait_for_earlier(demand, team_user, settings):
    settings.PUBLISH_REVIEW = True
    assert hold(demand, team_user).published_at is None
    settings.PUBLISH_REVIEW = False
    demand.refresh_from_db()
    later = demand_transition(
        demand_id=demand.pk, to_status=Status.PROPOSED, expected_version=demand.version, by=team_user, hold=False
    )
    assert later.published_at is None  # behind a held move of the same demand


def test_a_change_published_after_the_window_goes_into_the_next_digest_once(demand, team_user, approver):
    member = MemberFactory()
    change = hold(demand, team_user, hold=True)
    closed = timezone.now()
    first = digest_changes_for(member, window_start=closed - datetime.timedelta(days=1), window_end=closed)
    assert first.change_count == 0
    change_publish(change_id=change.pk, by=approver)
    now = timezone.now()
    second = digest_changes_for(member, window_start=closed, window_end=now)
    assert [c.note for group in second.groups for c in group.changes] == [NOTE]
    third = digest_changes_for(member, window_start=now, window_end=now + datetime.timedelta(days=1))
    assert third.change_count == 0


def test_held_page_lists_oldest_first_and_publishes_with_a_post(demand, team_user, approver, member_user):
    first = hold(demand, team_user, hold=True)
    other = DemandFactory(slug="other", status=Status.PROPOSED)
    second = hold(other, approver, hold=True)
    team = Client()
    team.force_login(approver)
    page = team.get("/held/").content.decode()
    assert page.index(f'id="held-{first.pk}"') < page.index(f'id="held-{second.pk}"')
    assert f"/held/{first.pk}/publish/" in page and f"/held/{second.pk}/publish/" not in page  # not their own
    assert team.get(f"/held/{first.pk}/publish/").status_code == 405
    assert team.post(f"/held/{second.pk}/publish/").status_code == 403
    assert team.post(f"/held/{first.pk}/publish/").status_code == 302
    assert StatusChange.objects.get(pk=first.pk).published_by == approver
    assert f'id="held-{first.pk}"' not in team.get("/held/").content.decode()
    member = Client()
    member.force_login(member_user)
    assert member.get("/held/").status_code == 403
    assert member.post(f"/held/{second.pk}/publish/").status_code == 403
    assert Client().get("/held/").status_code == 302
    assert StatusChange.objects.get(pk=second.pk).published_at is None


def test_a_held_signature_holds_the_agreement_and_a_held_vote_all_its_moves(demand, team_user, approver, member_user):
    today = timezone.localdate()
    agreement_set_language(demand_id=demand.pk, language="One counselor per 250.", expected_version=1, by=team_user)
    for side, version in (("union", 2), ("board", 3)):
        agreement_sign(
            demand_id=demand.pk,
            side=side,
            signed_by=f"{side} lead",
            signed_on=today,
            expected_version=version,
            by=team_user,
            hold=side == "board",
        )
    assert not agreements_visible_to(member_user).exists()
    assert agreements_visible_to(team_user).get().is_reached
    reached = StatusChange.objects.get(demand=demand, agreement__isnull=False)
    change_publish(change_id=reached.pk, by=approver)
    assert agreements_visible_to(member_user).exists()
    other = DemandFactory(slug="second", status=Status.TENTATIVE_AGREEMENT)
    TentativeAgreement.objects.create(demand=other, language="x", reached_at=timezone.now())
    vote = vote_record(
        held_on=today, demand_ids=[demand.pk, other.pk], by=team_user, hold=True, yes=9, no=1, eligible=12
    )
    assert not votes_visible_to(member_user).exists()
    assert Demand.objects.visible_to(Audience.MEMBERS).get(pk=other.pk).status == Status.TENTATIVE_AGREEMENT
    one = StatusChange.objects.filter(vote=vote).first()
    change_publish(change_id=one.pk, by=approver)
    assert votes_visible_to(member_user).get() == vote
    assert not StatusChange.objects.filter(vote=vote, published_at__isnull=True).exists()
    shown = Demand.objects.visible_to(Audience.MEMBERS).filter(pk__in=[demand.pk, other.pk])
    assert {d.status for d in shown} == {Status.RATIFIED}


def _team_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_status_form_holds_with_its_checkbox_and_an_embargo(demand, team_user):
    team = _team_client(team_user)
    base = {"to_status": Status.COUNTERED, "note": NOTE, "version": demand.version}
    assert team.post(f"/demands/{demand.slug}/status/", {**base, "hold": "on"}).status_code == 302
    change = StatusChange.objects.get(demand=demand)
    assert change.published_at is None and change.embargo_until is None
    assert Demand.objects.get(pk=demand.pk).published_status == Status.PROPOSED
    assert NOTE not in Client().get("/demands/counselors/").content.decode()
    assert "Hold for a second team member to publish" in team.get("/demands/counselors/").content.decode()

    other = DemandFactory(slug="other", status=Status.PROPOSED)
    soon = timezone.localtime() + datetime.timedelta(hours=1)
    data = {**base, "version": other.version, "embargo_until": soon.strftime("%Y-%m-%dT%H:%M")}
    assert team.post("/demands/other/status/", data).status_code == 302
    embargoed = StatusChange.objects.get(demand=other)
    assert embargoed.published_at is None and embargoed.embargo_until is not None


def test_an_embargo_in_the_past_is_refused_on_the_form_and_writes_nothing(demand, team_user):
    team = _team_client(team_user)
    past = timezone.localtime() - datetime.timedelta(minutes=5)
    data = {"to_status": Status.COUNTERED, "version": demand.version, "embargo_until": past.strftime("%Y-%m-%dT%H:%M")}
    response = team.post(f"/demands/{demand.slug}/status/", data)
    assert response.status_code == 302
    assert "embargo" in team.get(f"/demands/{demand.slug}/").content.decode().lower()
    assert not StatusChange.objects.filter(demand=demand).exists()


def test_an_unticked_box_publishes_at_once_and_the_sign_and_vote_forms_hold(demand, team_user):
    team = _team_client(team_user)
    assert (
        team.post(
            f"/demands/{demand.slug}/status/", {"to_status": Status.COUNTERED, "version": demand.version}
        ).status_code
        == 302
    )
    assert StatusChange.objects.get(demand=demand).published_at is not None
    demand.refresh_from_db()
    agreement_set_language(demand_id=demand.pk, language="Agreed.", expected_version=demand.version, by=team_user)
    today = timezone.localdate().isoformat()
    for side, held in (("union", ""), ("board", "on")):
        demand.refresh_from_db()
        data = {"side": side, "signed_by": f"{side} lead", "signed_on": today, "version": demand.version, "hold": held}
        assert team.post(f"/demands/{demand.slug}/agreement/sign/", data).status_code == 302
    reached = StatusChange.objects.filter(demand=demand, to_status=Status.TENTATIVE_AGREEMENT).get()
    assert reached.published_at is None
    vote = {"held_on": today, "yes": 9, "no": 1, "abstain": 0, "eligible": 12, "demands": [demand.pk], "hold": "on"}
    assert team.post("/votes/new/", vote).status_code == 302
    assert StatusChange.objects.get(demand=demand, to_status=Status.RATIFIED).published_at is None


def test_held_page_shows_fifty_a_page_oldest_first_with_the_same_queries(team_user, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from demands.views import HELD_PAGE_SIZE
    from tests.factories import StatusChangeFactory

    team = Client()
    team.force_login(team_user)
    first = StatusChangeFactory(demand=DemandFactory(), published_at=None)
    with CaptureQueriesContext(connection) as one:
        assert f'id="held-{first.pk}"' in team.get("/held/").content.decode()
    rest = [StatusChangeFactory(demand=DemandFactory(), published_at=None) for _ in range(HELD_PAGE_SIZE)]
    with CaptureQueriesContext(connection) as many:
        page = team.get("/held/").content.decode()
    assert len(many) == len(one)
    assert f'id="held-{rest[-2].pk}"' in page and f'id="held-{rest[-1].pk}"' not in page  # 50th in, 51st next
    assert "?page=2" in page
    second = team.get("/held/", {"page": 2}).content.decode()
    assert f'id="held-{rest[-1].pk}"' in second and f'id="held-{first.pk}"' not in second
    assert team.get("/held/", {"page": "nonsense"}).status_code == 200


def _reach_agreement(demand, team_user, api, *, embargo_until=None):
    """Set the language and sign for both sides through the API, the board's signature with `embargo_until`."""
    agreement_set_language(demand_id=demand.pk, language="One counselor per 250.", expected_version=1, by=team_user)
    today = timezone.localdate().isoformat()
    responses = []
    for side in ("union", "board"):
        version = Demand.objects.get(pk=demand.pk).version
        data = {"side": side, "signed_by": f"{side} lead", "signed_on": today, "version": version}
        if side == "board" and embargo_until is not None:
            data["embargo_until"] = embargo_until
        responses.append(api.post(f"/api/v1/demands/{demand.pk}/agreement/sign/", data, format="json"))
    return responses


def test_an_embargoed_signature_holds_the_agreement_until_its_time(demand, team_user, member_user, api_client):
    at = timezone.now() + datetime.timedelta(hours=2)
    union, board = _reach_agreement(demand, team_user, api_client(team_user), embargo_until=at.isoformat())
    assert (union.status_code, board.status_code) == (200, 200), board.json()
    reached = StatusChange.objects.get(demand=demand, to_status=Status.TENTATIVE_AGREEMENT)
    assert reached.published_at is None and reached.embargo_until == at
    assert not agreements_visible_to(member_user).exists()
    member_view = api_client(member_user).get(f"/api/v1/demands/{demand.pk}/").json()
    assert member_view["status"] == Status.PROPOSED
    assert not embargoes_publish(now=at - datetime.timedelta(seconds=1))
    assert embargoes_publish(now=at).change_ids == [reached.pk]
    assert agreements_visible_to(member_user).get().is_reached
    assert api_client(member_user).get(f"/api/v1/demands/{demand.pk}/").json()["status"] == Status.TENTATIVE_AGREEMENT


def test_a_signature_embargoed_into_the_past_is_refused_and_signs_nothing(demand, team_user, api_client):
    past = timezone.now() - datetime.timedelta(seconds=1)
    union, board = _reach_agreement(demand, team_user, api_client(team_user), embargo_until=past.isoformat())
    assert union.status_code == 200
    assert board.status_code == 400 and "embargo_until" in board.json()["errors"]
    assert not TentativeAgreement.objects.get(demand=demand).is_reached
    assert not StatusChange.objects.filter(demand=demand).exists()


def _signed(slug: str) -> Demand:
    signed = DemandFactory(slug=slug, status=Status.TENTATIVE_AGREEMENT)
    TentativeAgreement.objects.create(demand=signed, language="x", reached_at=timezone.now())
    return signed


def test_a_vote_result_embargoed_until_the_press_conference_moves_nothing_members_see_before_it(
    team_user, member_user, api_client
):
    first, second = _signed("first"), _signed("second")
    at = timezone.now() + datetime.timedelta(minutes=30)
    vote = {"held_on": timezone.localdate().isoformat(), "yes": 9, "no": 1, "eligible": 12}
    response = api_client(team_user).post(
        "/api/v1/votes/", {**vote, "demands": [first.pk, second.pk], "embargo_until": at.isoformat()}, format="json"
    )
    assert response.status_code == 201, response.json()
    moves = StatusChange.objects.filter(vote__isnull=False)
    assert moves.count() == 2 and not moves.filter(published_at__isnull=False).exists()
    assert set(moves.values_list("embargo_until", flat=True)) == {at}
    assert not votes_visible_to(member_user).exists()
    shown = Demand.objects.visible_to(Audience.MEMBERS).filter(pk__in=[first.pk, second.pk])
    assert {d.status for d in shown} == {Status.TENTATIVE_AGREEMENT}
    assert not embargoes_publish(now=at - datetime.timedelta(seconds=1))
    assert sorted(embargoes_publish(now=at).change_ids) == sorted(moves.values_list("pk", flat=True))
    assert votes_visible_to(member_user).count() == 1
    shown = Demand.objects.visible_to(Audience.MEMBERS).filter(pk__in=[first.pk, second.pk])
    assert {d.status for d in shown} == {Status.RATIFIED}


def test_a_vote_embargoed_into_the_past_is_refused_and_records_nothing(team_user, api_client):
    covered = _signed("covered")
    vote = {"held_on": timezone.localdate().isoformat(), "yes": 9, "no": 1, "eligible": 12, "demands": [covered.pk]}
    response = api_client(team_user).post(
        "/api/v1/votes/", {**vote, "embargo_until": timezone.now().isoformat()}, format="json"
    )
    assert response.status_code == 400 and "embargo_until" in response.json()["errors"]
    assert not votes_visible_to(team_user).exists()
    assert Demand.objects.get(pk=covered.pk).status == Status.TENTATIVE_AGREEMENT


def test_the_sign_vote_and_session_outcome_forms_take_an_embargo(demand, team_user):
    team = _team_client(team_user)
    soon = (timezone.localtime() + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    agreement_set_language(demand_id=demand.pk, language="Agreed.", expected_version=1, by=team_user)
    today = timezone.localdate().isoformat()
    for side in ("union", "board"):
        demand.refresh_from_db()
        data = {"side": side, "signed_by": f"{side} lead", "signed_on": today, "version": demand.version}
        assert team.post(f"/demands/{demand.slug}/agreement/sign/", {**data, "embargo_until": soon}).status_code == 302
    reached = StatusChange.objects.get(demand=demand, to_status=Status.TENTATIVE_AGREEMENT)
    assert reached.published_at is None and reached.embargo_until is not None

    covered = _signed("covered")
    vote = {"held_on": today, "yes": 9, "no": 1, "abstain": 0, "eligible": 12, "demands": [covered.pk]}
    assert team.post("/votes/new/", {**vote, "embargo_until": soon}).status_code == 302
    ratified = StatusChange.objects.get(demand=covered, to_status=Status.RATIFIED)
    assert ratified.published_at is None and ratified.embargo_until is not None

    discussed = DemandFactory(slug="discussed", status=Status.PROPOSED)
    session = BargainingSessionFactory(held_on=timezone.localdate())
    session.demands.add(discussed)
    prefix = f"demand-{discussed.pk}"
    fields = {
        "demand": discussed.pk,
        "version": discussed.version,
        "visibility": "public",
        "to_status": Status.COUNTERED,
    }
    outcome = {f"{prefix}-{name}": value for name, value in fields.items()}
    outcomes_url = f"/sessions/{session.pk}/outcomes/"
    assert team.post(outcomes_url, {**outcome, f"{prefix}-embargo_until": soon}).status_code == 302
    countered = StatusChange.objects.get(demand=discussed)
    assert countered.published_at is None and countered.embargo_until is not None
