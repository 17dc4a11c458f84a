"""Held proposals: a proposal is held on its own column (`Proposal.published_at`), with the move it makes when it
makes one, and published by the one publish path (a second team member, or its embargo)."""

import datetime
import importlib

import pytest
from django.apps import apps
from django.test import Client
from django.utils import timezone
from simple_history.utils import get_history_model_for_model

from bargaining.digests.content import digest_changes_for
from bargaining.digests.rendering import digest_render
from demands.errors import Forbidden, ValidationFailed
from demands.models import Demand, Proposal, Side, Status, StatusChange, Visibility
from demands.selectors import held_items
from demands.services import change_publish, embargoes_publish, proposal_create, proposal_publish
from tests.factories import BargainingSessionFactory, DemandFactory, MemberFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

CANARY = "PROPOSAL-CANARY"
TODAY = datetime.date.today


@pytest.fixture
def demand(db):
    return DemandFactory(title="Counselors in every school", slug="counselors", status=Status.PROPOSED)


def _version(demand: Demand) -> int:
    return Demand.objects.get(pk=demand.pk).version


def _propose(demand: Demand, by, side: str = Side.UNION, **kwargs) -> Proposal:
    """A proposal passed across the table; a union one on a `proposed` demand moves nothing."""
    return proposal_create(
        demand_id=demand.pk,
        expected_version=_version(demand),
        by=by,
        side=side,
        exchanged_on=TODAY(),
        language=f"{CANARY} one counselor per 250 students.",
        summary=f"{CANARY} summary for members.",
        visibility=Visibility.PUBLIC,
        **kwargs,
    )


def _body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


PAGES = ("/", "/demands/", "/demands/counselors/", "/feed/", "/demands.csv", "/demands.json", "/bulletin/")


def _member_outputs(member_user, api_client, demand: Demand, proposal: Proposal) -> dict[str, str]:
    """Everything members and the public read that could show the proposal."""
    anonymous, member = Client(), Client()
    member.force_login(member_user)
    api = api_client(member_user)
    outputs = {f"anonymous {path}": _body(anonymous.get(path)) for path in PAGES}
    outputs |= {f"member {path}": _body(member.get(path)) for path in PAGES}
    outputs["member /es/demands/counselors/"] = _body(member.get("/es/demands/counselors/"))
    for path in (
        f"/api/v1/demands/{demand.pk}/",
        f"/api/v1/demands/{demand.pk}/proposals/",
        f"/api/v1/proposals/{proposal.pk}/",
        "/api/v1/demands/",
    ):
        outputs[f"member API {path}"] = api.get(path).content.decode()
    return outputs


def _digest_text(since: datetime.datetime, until: datetime.datetime) -> str:
    rendered = digest_render(digest_changes_for(MemberFactory(), window_start=since, window_end=until))
    return f"{rendered.subject}\n{rendered.text}\n{rendered.html}"


def test_a_held_proposal_that_moves_nothing_is_seen_by_nobody_but_the_team_until_published(
    demand, team_user, approver, member_user, api_client
):
    before = timezone.now() - datetime.timedelta(seconds=1)
    proposal = _propose(demand, team_user, hold=True)
    assert (proposal.published_at, Demand.objects.get(pk=demand.pk).status) == (None, Status.PROPOSED)
    assert not StatusChange.objects.filter(demand=demand).exists()  # it moves nothing: only its column holds it
    for where, body in _member_outputs(member_user, api_client, demand, proposal).items():
        assert CANARY not in body, where
    assert api_client(member_user).get(f"/api/v1/proposals/{proposal.pk}/").status_code == 404
    assert CANARY in api_client(team_user).get(f"/api/v1/proposals/{proposal.pk}/").content.decode()
    team = Client()
    team.force_login(team_user)
    assert "Held: members and the public do not see it" in team.get("/demands/counselors/").content.decode()
    assert CANARY not in _digest_text(before, timezone.now())

    published = proposal_publish(proposal_id=proposal.pk, by=approver)
    assert published.published_by == approver and published.published_at is not None
    shown = _member_outputs(member_user, api_client, demand, proposal)
    for where in (
        "anonymous /demands/counselors/",
        "anonymous /demands.csv",
        "anonymous /demands.json",
        "anonymous /bulletin/",
        "member /demands/counselors/",
        f"member API /api/v1/demands/{demand.pk}/proposals/",
        f"member API /api/v1/proposals/{proposal.pk}/",
    ):
        assert CANARY in shown[where], where
    # The audit says who published it, and when.
    audit = get_history_model_for_model(Proposal).objects.filter(id=proposal.pk).order_by("history_date").last()
    assert (audit.history_user, audit.published_at) == (approver, published.published_at)


def test_a_proposal_that_makes_a_held_move_is_held_with_it_and_published_with_it(demand, team_user, approver):
    proposal = _propose(demand, team_user, side=Side.BOARD, hold=True)
    move = StatusChange.objects.get(demand=demand, proposal=proposal)
    assert (proposal.published_at, move.published_at) == (None, None)
    assert [type(item) for item in held_items()] == [StatusChange]  # listed once: as the move it makes
    proposal_publish(proposal_id=proposal.pk, by=approver)
    move.refresh_from_db()
    assert move.published_by == approver and move.published_at is not None
    assert Demand.objects.get(pk=demand.pk).published_status == Status.COUNTERED

    other = DemandFactory(slug="other", status=Status.PROPOSED)
    second = _propose(other, team_user, side=Side.BOARD, hold=True)
    change_publish(change_id=StatusChange.objects.get(proposal=second).pk, by=approver)
    second.refresh_from_db()
    assert second.published_by == approver and second.published_at is not None
    assert list(held_items()) == []


def test_the_recorder_cannot_publish_their_own_proposal_and_twice_is_harmless(demand, team_user, approver):
    proposal = _propose(demand, team_user, hold=True)
    with pytest.raises(Forbidden, match="another member of the team"):
        proposal_publish(proposal_id=proposal.pk, by=team_user)
    assert Proposal.objects.get(pk=proposal.pk).published_at is None
    first = proposal_publish(proposal_id=proposal.pk, by=approver).published_at
    version = _version(demand)
    assert proposal_publish(proposal_id=proposal.pk, by=team_user).published_at == first  # already published
    assert _version(demand) == version  # and nothing written


def test_proposal_publish_api_permissions_and_the_held_list(demand, team_user, approver, member_user, api_client):
    team = api_client(team_user)
    response = team.post(
        f"/api/v1/demands/{demand.pk}/proposals/",
        {"side": "union", "exchanged_on": TODAY().isoformat(), "language": CANARY, "visibility": "public", "hold": 1},
        format="json",
        HTTP_IF_MATCH=f'"{demand.version}"',
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["published_at"] is None and created["url"].endswith(f"/api/v1/proposals/{created['id']}/")
    url = f"/api/v1/proposals/{created['id']}/publish/"
    assert created["url"] + "publish/" == "http://testserver" + url
    held = team.get("/api/v1/held/").json()
    assert [(row["kind"], row["id"], row["url"]) for row in held["results"]] == [
        ("proposal", created["id"], created["url"])
    ]
    assert api_client().post(url).status_code == 401
    assert api_client(member_user).post(url).status_code == 403
    refused = team.post(url)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert "another member of the team" in refused.json()["detail"]
    for _ in range(2):
        published = api_client(approver).post(url)
        assert published.status_code == 200
        assert published.json()["published_by"] == approver.username and published.json()["published_at"]
    assert team.get("/api/v1/held/").json()["results"] == []
    assert api_client(member_user).get(f"/api/v1/proposals/{created['id']}/").json()["language"] == CANARY


def test_the_held_list_mixes_changes_and_proposals_oldest_first(demand, team_user, approver, api_client):
    first = _propose(demand, team_user, hold=True)
    other = DemandFactory(slug="other", status=Status.PROPOSED)
    second = _propose(other, team_user, side=Side.BOARD, hold=True)
    third = _propose(DemandFactory(slug="third", status=Status.PROPOSED), approver, hold=True)
    change = StatusChange.objects.get(proposal=second)
    rows = api_client(team_user).get("/api/v1/held/").json()["results"]
    assert [(row["kind"], row["id"]) for row in rows] == [
        ("proposal", first.pk),
        ("status_change", change.pk),
        ("proposal", third.pk),
    ]


def test_the_held_page_publishes_a_proposal_with_a_post(demand, team_user, approver, member_user):
    mine = _propose(demand, team_user, hold=True)
    theirs = _propose(DemandFactory(slug="other", status=Status.PROPOSED), approver, hold=True)
    team = Client()
    team.force_login(approver)
    page = team.get("/held/").content.decode()
    assert page.index(f'id="held-proposal-{mine.pk}"') < page.index(f'id="held-proposal-{theirs.pk}"')
    assert f"/held/proposals/{mine.pk}/publish/" in page and f"/held/proposals/{theirs.pk}/publish/" not in page
    assert team.get(f"/held/proposals/{mine.pk}/publish/").status_code == 405
    assert team.post(f"/held/proposals/{theirs.pk}/publish/").status_code == 403
    member = Client()
    member.force_login(member_user)
    assert member.post(f"/held/proposals/{mine.pk}/publish/").status_code == 403
    assert team.post(f"/held/proposals/{mine.pk}/publish/").status_code == 302
    assert Proposal.objects.get(pk=mine.pk).published_by == approver
    assert f'id="held-proposal-{mine.pk}"' not in team.get("/held/").content.decode()
    assert Proposal.objects.get(pk=theirs.pk).published_at is None


def test_an_embargoed_proposal_is_published_at_its_time_and_not_a_second_before(demand, team_user):
    at = timezone.now() + datetime.timedelta(minutes=5)
    proposal = _propose(demand, team_user, embargo_until=at)
    moving = _propose(DemandFactory(slug="other", status=Status.PROPOSED), team_user, side=Side.BOARD, embargo_until=at)
    move = StatusChange.objects.get(proposal=moving)
    assert (proposal.published_at, move.published_at, move.embargo_until) == (None, None, at)
    assert not embargoes_publish(now=at - datetime.timedelta(seconds=1))
    publication = embargoes_publish(now=at)
    assert (publication.change_ids, sorted(publication.proposal_ids)) == ([move.pk], sorted([proposal.pk, moving.pk]))
    assert Proposal.objects.get(pk=proposal.pk).published_at == at
    assert Demand.objects.get(pk=moving.demand_id).published_status == Status.COUNTERED
    assert not embargoes_publish(now=at + datetime.timedelta(minutes=1))  # published once


def test_an_embargo_not_in_the_future_is_refused_and_writes_nothing(demand, team_user, api_client):
    with pytest.raises(ValidationFailed, match="future"):
        _propose(demand, team_user, embargo_until=timezone.now())
    response = api_client(team_user).post(
        f"/api/v1/demands/{demand.pk}/proposals/",
        {"side": "union", "exchanged_on": TODAY().isoformat(), "language": "x", "embargo_until": "2020-01-01T00:00Z"},
        format="json",
        HTTP_IF_MATCH=f'"{demand.version}"',
    )
    # A team draft reaches nobody: an embargo is still refused when it is not in the future.
    assert response.status_code == 201
    response = api_client(team_user).post(
        f"/api/v1/demands/{demand.pk}/proposals/",
        {
            "side": "union",
            "exchanged_on": TODAY().isoformat(),
            "language": "x",
            "visibility": "public",
            "embargo_until": "2020-01-01T00:00:00Z",
        },
        format="json",
        HTTP_IF_MATCH=f'"{_version(demand)}"',
    )
    assert response.status_code == 400 and "embargo_until" in response.json()["errors"]
    assert Proposal.objects.filter(demand=demand).count() == 1


def test_publish_review_holds_new_proposals_but_not_team_drafts(demand, team_user, settings):
    settings.PUBLISH_REVIEW = True
    assert _propose(demand, team_user).published_at is None
    draft = proposal_create(
        demand_id=demand.pk,
        expected_version=_version(demand),
        by=team_user,
        side=Side.UNION,
        exchanged_on=TODAY(),
        language="Draft",
    )
    assert draft.published_at is not None and draft not in held_items()
    settings.PUBLISH_REVIEW = False
    # Behind a held proposal of the same demand, what is recorded next waits too.
    assert _propose(demand, team_user, hold=False).published_at is None


def test_passing_a_draft_is_when_it_is_held_or_published(demand, team_user, api_client):
    draft = proposal_create(
        demand_id=demand.pk,
        expected_version=_version(demand),
        by=team_user,
        side=Side.UNION,
        exchanged_on=TODAY(),
        language="Draft",
    )
    response = api_client(team_user).patch(
        f"/api/v1/proposals/{draft.pk}/",
        {"visibility": "public", "hold": True},
        format="json",
        HTTP_IF_MATCH=f'"{_version(demand)}"',
    )
    assert response.status_code == 200, response.json()
    assert response.json()["published_at"] is None
    assert [item.pk for item in held_items()] == [draft.pk]


def test_publishing_bumps_the_demand_version_so_a_conditional_get_gets_the_new_representation(
    demand, team_user, approver, member_user, api_client
):
    member = api_client(member_user)
    url = f"/api/v1/demands/{demand.pk}/"
    proposal = _propose(demand, team_user, side=Side.BOARD, hold=True)
    held = member.get(url)
    assert held.json()["status"] == Status.PROPOSED
    assert member.get(url, HTTP_IF_NONE_MATCH=held["ETag"]).status_code == 304
    proposal_publish(proposal_id=proposal.pk, by=approver)
    after = member.get(url, HTTP_IF_NONE_MATCH=held["ETag"])
    assert after.status_code == 200 and after["ETag"] != held["ETag"]
    assert after.json()["status"] == Status.COUNTERED

    # The same for a plain held move published by hand, and for an embargoed one.
    other = DemandFactory(slug="other", status=Status.PROPOSED)
    at = timezone.now() + datetime.timedelta(minutes=5)
    embargoed = _propose(other, team_user, embargo_until=at)
    before = member.get(f"/api/v1/demands/{other.pk}/proposals/")
    etag = member.get(f"/api/v1/demands/{other.pk}/")["ETag"]
    assert before.json()["count"] == 0
    embargoes_publish(now=at)
    assert member.get(f"/api/v1/demands/{other.pk}/", HTTP_IF_NONE_MATCH=etag).status_code == 200
    assert member.get(f"/api/v1/demands/{other.pk}/proposals/").json()["results"][0]["id"] == embargoed.pk


def test_a_proposal_published_after_the_window_goes_into_the_next_digest_once(demand, team_user, approver):
    proposal = _propose(demand, team_user, side=Side.BOARD, hold=True)
    closed = timezone.now()
    assert CANARY not in _digest_text(closed - datetime.timedelta(days=1), closed)
    proposal_publish(proposal_id=proposal.pk, by=approver)
    now = timezone.now()
    assert _digest_text(closed, now).count(f"{CANARY} summary for members.") == 2  # the text and the HTML part
    assert CANARY not in _digest_text(now, now + datetime.timedelta(days=1))


def test_the_session_outcomes_form_holds_the_proposal_and_its_move(demand, team_user):
    session = BargainingSessionFactory(held_on=TODAY())
    session.demands.add(demand)
    team = Client()
    team.force_login(team_user)
    prefix = f"demand-{demand.pk}"
    data = {
        f"{prefix}-demand": demand.pk,
        f"{prefix}-version": _version(demand),
        f"{prefix}-side": "board",
        f"{prefix}-language": CANARY,
        f"{prefix}-visibility": "public",
        f"{prefix}-hold": "on",
    }
    assert team.post(f"/sessions/{session.pk}/outcomes/", data).status_code == 302
    proposal = Proposal.objects.get(demand=demand)
    assert proposal.published_at is None
    assert StatusChange.objects.get(proposal=proposal).published_at is None
    assert CANARY not in Client().get("/demands/counselors/").content.decode()


def test_the_backfill_publishes_what_was_public_and_keeps_held_moves_held(demand, team_user):
    plain = _propose(demand, team_user)
    held_move = _propose(DemandFactory(slug="other", status=Status.PROPOSED), team_user, side=Side.BOARD, hold=True)
    moved = _propose(DemandFactory(slug="third", status=Status.PROPOSED), team_user, side=Side.BOARD)
    Proposal.objects.update(published_at=timezone.now() + datetime.timedelta(days=1))  # as AddField leaves them
    migration = importlib.import_module("demands.migrations.0012_proposal_publishing")
    migration.published_as_before(apps, None)
    rows = {row.pk: row for row in Proposal.objects.all()}
    assert rows[plain.pk].published_at == rows[plain.pk].created_at
    assert rows[held_move.pk].published_at is None
    assert rows[moved.pk].published_at == StatusChange.objects.get(proposal=moved).published_at


@pytest.mark.parametrize(
    "path", ["/api/v1/demands/{demand}/proposals/", "/demands.json", "/demands/counselors/", "/api/v1/held/"]
)
def test_who_published_is_read_with_the_rows_not_once_per_proposal(demand, team_user, api_client, path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    team, api = Client(), api_client(team_user)
    team.force_login(team_user)
    url = path.format(demand=demand.pk)

    def queries_with(count: int) -> int:
        while Proposal.objects.count() < count:
            _propose(demand, team_user, hold=True)
        publisher = UserFactory()
        # Each by a different team member: one query per proposal would show.
        Proposal.objects.update(published_by=publisher, published_at=None if "held" in url else timezone.now())
        with CaptureQueriesContext(connection) as captured:
            assert (api.get(url) if url.startswith("/api/") else team.get(url)).status_code == 200
            if url.endswith(".json"):
                _body(team.get(url))
        return len(captured)

    queries_with(1)  # a first request fills the caches a process keeps
    assert queries_with(1) == queries_with(4)


def test_the_draft_passing_form_holds_with_its_box_or_an_embargo(demand, team_user):
    team = Client()
    team.force_login(team_user)

    def draft() -> Proposal:
        return proposal_create(
            demand_id=demand.pk,
            expected_version=_version(demand),
            by=team_user,
            side=Side.UNION,
            exchanged_on=TODAY(),
            language=CANARY,
        )

    first = draft()
    assert "Publish at" in team.get(f"/proposals/{first.pk}/edit/").content.decode()
    base = {"exchanged_on": TODAY().isoformat(), "language": CANARY, "visibility": "public"}
    soon = timezone.localtime() + datetime.timedelta(hours=1)
    embargo = {"embargo_until": soon.strftime("%Y-%m-%dT%H:%M"), "version": _version(demand)}
    assert team.post(f"/proposals/{first.pk}/edit/", {**base, **embargo}).status_code == 302
    first.refresh_from_db()
    assert first.published_at is None and first.embargo_until is not None
    second = draft()
    past = timezone.localtime() - datetime.timedelta(minutes=1)
    refused = team.post(
        f"/proposals/{second.pk}/edit/",
        {**base, "embargo_until": past.strftime("%Y-%m-%dT%H:%M"), "version": _version(demand)},
    )
    assert refused.status_code == 400 and "An embargo must end in the future." in refused.content.decode()
    assert Proposal.objects.get(pk=second.pk).visibility == Visibility.TEAM  # nothing written
    assert CANARY not in Client().get("/demands/counselors/").content.decode()
