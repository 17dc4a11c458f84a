"""One audience rule everywhere: who reads what, across pages, feed, API, admin and digests.

Each object's title carries a canary of its visibility, and every field a model declares team-only
(`TEAM_ONLY_FIELDS`, read from the models, so a new declaration extends these tests) carries one too.
"""

import datetime
import json
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bargaining.digests.periods import digest_period
from bargaining.links import digest_url
from bargaining.models import Delivery
from demands.models import (
    Audience,
    Demand,
    Evidence,
    Proposal,
    RatificationVote,
    Status,
    StatusChange,
    TentativeAgreement,
    Visibility,
    team_only_fields,
)
from demands.roles import audience_of
from tests.factories import (
    BargainingSessionFactory,
    DemandFactory,
    EvidenceFactory,
    EvidenceLinkFactory,
    FigureFactory,
    MemberFactory,
    ProposalFactory,
    ResolutionClauseFactory,
    UserFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

ROLES = ["anonymous", "member", "staff", "staff_member", "team", "superuser"]
FIXTURES = {
    "anonymous": "anonymous",
    "member": "member_user",
    "staff": "staff_user",
    "staff_member": "staff_member_user",
    "team": "team_user",
    "superuser": "admin_user",
}


@pytest.fixture
def users(request) -> dict:
    return {role: request.getfixturevalue(fixture) for role, fixture in FIXTURES.items()}


def test_audience_of_each_kind_of_account(users, staff_team_user):
    assert {role: audience_of(user) for role, user in users.items()} == {
        "anonymous": Audience.PUBLIC,
        "member": Audience.MEMBERS,
        "staff": Audience.PUBLIC,
        "staff_member": Audience.MEMBERS,
        "team": Audience.TEAM,
        "superuser": Audience.TEAM,
    }
    assert audience_of(None) == Audience.PUBLIC
    staff_team_user.is_active = False
    assert audience_of(staff_team_user) == Audience.PUBLIC


def test_each_audience_reads_its_visibilities_and_nothing_more():
    assert Audience.PUBLIC.visibilities == (Visibility.PUBLIC,)
    assert Audience.MEMBERS.visibilities == (Visibility.PUBLIC, Visibility.MEMBERS)
    assert set(Audience.TEAM.visibilities) == set(Visibility.values)


# --- The world: canaries at every visibility and in every team-only field ----------------------------------


def team_only_models() -> list:
    return [model for model in apps.get_models() if team_only_fields(model)]


def plant_team_only_canaries() -> set[str]:
    """Write a canary into every declared team-only field of every row; return the strings to look for."""
    needles: set[str] = set()
    for model in team_only_models():
        assert model.objects.exists(), f"the world has no {model.__name__} to plant a canary in"
        values = {}
        for name in team_only_fields(model):
            field = model._meta.get_field(name)
            label = f"canary-{model._meta.model_name}-{name}".replace("_", "-")
            if field.is_relation:
                values[name] = UserFactory(username=label)
                needles.add(label)
            elif field.choices:
                value, display = list(field.choices)[-1]
                values[name] = value
                needles.update({value, str(display)})
            else:
                values[name] = label.upper()
                needles.add(label.upper())
        model.objects.update(**values)
    return needles


VISIBLE = {
    visibility: {f"DEMAND-{visibility.upper()}-CANARY", f"EVIDENCE-{visibility.upper()}-CANARY"}
    for visibility in Visibility.values
}
# Each demand's Spanish title, shown on the /es/ pages and in Spanish digests to the same audiences.
VISIBLE_ES = {visibility: {f"DEMANDA-{visibility.upper()}-CANARIO"} for visibility in Visibility.values}
# A held move of the public demand is the team's alone until published, whatever the demand's visibility.
HELD = "HELD-CHANGE-CANARY"
VISIBLE[Visibility.TEAM].add(HELD)
# In the API, the Spanish versions of texts only the team reads: a held move's note, a team draft's summary.
TEAM_ONLY_ES = {"CAMBIO-RETENIDO-CANARIO", "BORRADOR-DEL-EQUIPO-CANARIO"}


@pytest.fixture
def world(db) -> dict:
    clause = ResolutionClauseFactory(text="Ends the police contract.")
    session = BargainingSessionFactory()
    demands, evidence = {}, {}
    for visibility in Visibility.values:
        demand = DemandFactory(
            title=f"DEMAND-{visibility.upper()}-CANARY",
            title_es=f"DEMANDA-{visibility.upper()}-CANARIO",
            slug=f"demand-{visibility}",
            visibility=visibility,
        )
        demand.clauses.add(clause)
        session.demands.add(demand)
        StatusChange.objects.create(
            demand=demand, from_status=Status.PROPOSED, to_status=Status.COUNTERED, note="Countered.", session=session
        )
        Demand.objects.filter(pk=demand.pk).update(status=Status.COUNTERED)
        item = EvidenceFactory(title=f"EVIDENCE-{visibility.upper()}-CANARY", visibility=visibility)
        FigureFactory(evidence=item)
        demands[visibility], evidence[visibility] = demand, item
    for demand in demands.values():
        for item in evidence.values():
            EvidenceLinkFactory(demand=demand, evidence=item, claim="supports: it")
    StatusChange.objects.create(
        demand=demands["public"],
        from_status=Status.COUNTERED,
        to_status=Status.PROPOSED,
        note=HELD,
        note_es="CAMBIO-RETENIDO-CANARIO",
        published_at=None,
    )
    Demand.objects.filter(pk=demands["public"].pk).update(status=Status.PROPOSED)
    # At the table: a passed proposal on every demand, a team draft and an unsigned agreement on the public one
    # (whole rows that only the team may read), a reached agreement and a vote on the members' one.
    proposals = {
        visibility: ProposalFactory(demand=demand, number=1, session=session, visibility=Visibility.PUBLIC)
        for visibility, demand in demands.items()
    }
    draft = ProposalFactory(
        demand=demands["public"],
        number=2,
        visibility=Visibility.TEAM,
        language=TEAM_ROWS[0],
        summary=TEAM_ROWS[0],
        summary_es="BORRADOR-DEL-EQUIPO-CANARIO",
    )
    TentativeAgreement.objects.create(demand=demands["public"], language=TEAM_ROWS[1], union_signed_by="")
    TentativeAgreement.objects.create(
        demand=demands["members"],
        language="Agreed.",
        union_signed_by="Union lead",
        union_signed_on=datetime.date(2024, 5, 1),
        board_signed_by="Board lead",
        board_signed_on=datetime.date(2024, 5, 2),
        reached_at=timezone.now(),
    )
    vote = RatificationVote.objects.create(held_on=datetime.date(2024, 6, 1), yes=9, no=1, abstain=0, eligible=12)
    vote.demands.set(demands.values())
    return {
        "demands": demands,
        "evidence": evidence,
        "clause": clause,
        "session": session,
        "proposals": proposals,
        "draft": draft,
        "vote": vote,
    }


# Rows only the team reads, whole: a union draft not passed across the table, an agreement not yet signed.
TEAM_ROWS = ("PROPOSAL-TEAM-DRAFT-CANARY", "AGREEMENT-UNSIGNED-CANARY")


@pytest.fixture
def team_only(world) -> set[str]:
    return plant_team_only_canaries()


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None and not getattr(user, "is_anonymous", False):
        client.force_login(user)
    return client


def body_of(response) -> bytes:
    """A response's bytes, streamed (the exports) or not."""
    return b"".join(response.streaming_content) if response.streaming else response.content


def fingerprint(response, needles: set[str]) -> tuple[int, frozenset[str]]:
    """What a response shows: its status and the canaries in its bytes. A refusal is a refusal, whether it
    sends a visitor to sign in (302, 401) or tells a signed-in account no (403)."""
    body = body_of(response).decode()
    status = 403 if response.status_code in (302, 401) else response.status_code
    return status, frozenset(needle for needle in needles if needle in body)


def page_urls(world: dict) -> list[str]:
    urls = ["/", "/evidence/", "/feed/", world["clause"].resolution.get_absolute_url(), "/sessions/"]
    urls += ["/demands/", "/demands/?q=canary", "/demands.csv", "/demands.json", "/bulletin/", "/feeds/"]
    # Filtered and paged: a search or a page number shows nothing more than the page itself.
    urls += ["/?q=canary", "/?page=2", "/evidence/?q=canary", "/evidence/?page=2"]
    public = world["demands"]["public"].get_absolute_url()
    urls += [f"{public}?history=2", f"{public}?evidence=2", f"{public}?cite=canary", f"{public}?cite_page=2"]
    urls += [f"/feed/{world['demands']['public'].category.slug}/"]
    urls += [demand.get_absolute_url() for demand in world["demands"].values()]
    return urls + ["/es" + url for url in urls]  # every page again, in Spanish


def api_urls(world: dict) -> list[str]:
    urls = ["/api/v1/demands/", "/api/v1/evidence/", "/api/v1/resolutions/", "/api/v1/sessions/"]
    urls += [f"/api/v1/sessions/{world['session'].pk}/", "/api/v1/members/"]
    for demand in world["demands"].values():
        urls += [f"/api/v1/demands/{demand.pk}/", f"/api/v1/demands/{demand.pk}/history/"]
    urls += [f"/api/v1/evidence/{item.pk}/" for item in world["evidence"].values()]
    for demand in world["demands"].values():
        urls += [f"/api/v1/demands/{demand.pk}/proposals/", f"/api/v1/demands/{demand.pk}/agreement/"]
    urls += [f"/api/v1/proposals/{proposal.pk}/" for proposal in world["proposals"].values()]
    urls += [f"/api/v1/proposals/{world['draft'].pk}/", "/api/v1/votes/", f"/api/v1/votes/{world['vote'].pk}/"]
    return urls


def api_client_for(api_client, user):
    return api_client(None if user is None or getattr(user, "is_anonymous", False) else user)


def assert_rows_alike(seen: dict, urls: list[str]) -> None:
    """Staff status adds nothing: staff outside the team sees what the public (or a member) sees."""
    for url in urls:
        assert seen["staff"][url] == seen["anonymous"][url], url
        assert seen["staff_member"][url] == seen["member"][url], url
        assert seen["superuser"][url] == seen["team"][url], url


def shown(seen_by_url: dict) -> set[str]:
    return set().union(*(found for _status, found in seen_by_url.values()))


def test_pages_and_feed_follow_the_audience(users, world, team_only):
    needles = set().union(*VISIBLE.values(), *VISIBLE_ES.values()) | team_only
    urls = page_urls(world)
    seen = {
        role: {url: fingerprint(client_for(user).get(url), needles) for url in urls} for role, user in users.items()
    }
    assert_rows_alike(seen, urls)
    assert shown(seen["anonymous"]) == VISIBLE["public"] | VISIBLE_ES["public"]
    assert (
        shown(seen["member"]) == VISIBLE["public"] | VISIBLE["members"] | VISIBLE_ES["public"] | VISIBLE_ES["members"]
    )
    assert shown(seen["team"]) >= set().union(*VISIBLE.values(), *VISIBLE_ES.values())
    assert shown(seen["team"]) & team_only, "the team's pages show the team-only fields"
    spanish = {url: found for url, found in seen["member"].items() if url.startswith("/es/")}
    assert shown(spanish) >= VISIBLE_ES["members"], "the /es/ pages show the Spanish titles"
    assert seen["staff"][world["demands"]["members"].get_absolute_url()][0] == 404
    assert seen["staff"]["/sessions/"][0] in (302, 403)


def test_api_follows_the_audience(users, world, team_only, api_client):
    needles = set().union(*VISIBLE.values(), *VISIBLE_ES.values()) | team_only | TEAM_ONLY_ES
    urls = api_urls(world)
    seen = {
        role: {url: fingerprint(api_client_for(api_client, user).get(url), needles) for url in urls}
        for role, user in users.items()
    }
    assert_rows_alike(seen, urls)
    # The Spanish versions go to the same audiences as the English ones, and no further.
    assert shown(seen["anonymous"]) == VISIBLE["public"] | VISIBLE_ES["public"]
    assert (
        shown(seen["member"]) == VISIBLE["public"] | VISIBLE["members"] | VISIBLE_ES["public"] | VISIBLE_ES["members"]
    )
    assert shown(seen["team"]) >= set().union(*VISIBLE_ES.values()) | TEAM_ONLY_ES
    # Every declared team-only field reaches the team through the API (the session's, once declared, too).
    # Every declared team-only field reaches the team through the API (a choice as its key, not its label).
    assert shown(seen["team"]) >= set().union(*VISIBLE.values()) | team_only - {"Tradeable"}
    for role in ["anonymous", "member", "staff", "staff_member"]:
        assert seen[role]["/api/v1/members/"][0] == 403, role
        assert seen[role][f"/api/v1/demands/{world['demands']['team'].pk}/"][0] == 404, role
    assert seen["team"]["/api/v1/members/"][0] == 200


def test_api_writes_are_the_teams_not_staffs(world, staff_user, staff_team_user, api_client):
    demand = world["demands"]["public"]
    body = {"target": "staff says so"}
    assert (
        api_client(staff_user)
        .patch(f"/api/v1/demands/{demand.pk}/", body, format="json", HTTP_IF_MATCH='"1"')
        .status_code
        == 403
    )
    response = api_client(staff_team_user).patch(
        f"/api/v1/demands/{demand.pk}/", body, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 200


ADMIN_ROLES = {
    "staff": "staff_user",
    "staff_member": "staff_member_user",
    "team": "staff_team_user",
    "superuser": "admin_user",
}


def admin_urls(world: dict) -> list[str]:
    urls = [reverse("admin:demands_demand_changelist"), reverse("admin:demands_evidence_changelist")]
    urls += [reverse("admin:demands_statuschange_changelist"), reverse("admin:demands_historicaldemand_changelist")]
    urls += [reverse("admin:demands_demand_change", args=[demand.pk]) for demand in world["demands"].values()]
    urls += [reverse("admin:demands_evidence_change", args=[item.pk]) for item in world["evidence"].values()]
    for demand in world["demands"].values():
        urls.append(reverse("admin:demands_demand_history", args=[demand.pk]))
        record = demand.history.latest()
        urls.append(reverse("admin:demands_demand_simple_history", args=[demand.pk, record.history_id]))
    return urls


def test_admin_follows_the_audience(request, world, team_only):
    # History rows that name the team-only fields' canaries, as an edit in the admin would leave them.
    for demand in Demand.objects.all():
        demand.save()
    needles = set().union(*VISIBLE.values()) | team_only
    urls = admin_urls(world)
    seen = {}
    for role, fixture in ADMIN_ROLES.items():
        client = client_for(request.getfixturevalue(fixture))
        seen[role] = {url: fingerprint(client.get(url, follow=True), needles) for url in urls}
    assert shown(seen["staff"]) == VISIBLE["public"]
    assert shown(seen["staff_member"]) == VISIBLE["public"] | VISIBLE["members"]
    assert seen["team"] == seen["superuser"]
    assert shown(seen["team"]) >= set().union(*VISIBLE.values())
    assert shown(seen["team"]) & team_only
    changelist = client_for(request.getfixturevalue("staff_user")).get(reverse("admin:demands_demand_changelist"))
    assert [demand.slug for demand in changelist.context["cl"].result_list] == ["demand-public"]
    team_demand = world["demands"]["team"]
    assert seen["staff"][reverse("admin:demands_demand_history", args=[team_demand.pk])][0] == 404


def test_reverting_to_an_old_version_in_the_admin_is_off(client, admin_user, world):
    demand = world["demands"]["public"]
    record = demand.history.earliest()
    client.force_login(admin_user)
    url = reverse("admin:demands_demand_simple_history", args=[demand.pk, record.history_id])
    assert client.get(url).status_code == 200
    assert client.post(url, {"title": "Reverted"}).status_code == 403
    demand.refresh_from_db()
    assert demand.title == "DEMAND-PUBLIC-CANARY"


def test_admin_transition_page_is_the_teams_whatever_the_permissions(world, staff_user, staff_team_user):
    demand = world["demands"]["public"]
    staff_user.user_permissions.add(*staff_user.user_permissions.model.objects.filter(codename="transition_demand"))
    url = reverse("admin:demands_demand_transition", args=[demand.pk])
    assert client_for(staff_user).get(url).status_code == 403
    page = client_for(staff_user).get(reverse("admin:demands_demand_change", args=[demand.pk]))
    assert url not in page.content.decode()
    assert client_for(staff_team_user).get(url).status_code == 200
    assert (
        url
        in client_for(staff_team_user).get(reverse("admin:demands_demand_change", args=[demand.pk])).content.decode()
    )


def test_staff_outside_the_team_cannot_set_team_only_fields_in_the_admin(world, staff_user):
    demand = world["demands"]["public"]
    form = (
        client_for(staff_user).get(reverse("admin:demands_demand_change", args=[demand.pk])).context["adminform"].form
    )
    assert not set(form.fields) & set(Demand.TEAM_ONLY_FIELDS)


# --- No team-only field in any non-team output -------------------------------------------------------------


def digest_bytes(world: dict, django_capture_on_commit_callbacks) -> list[bytes]:
    """A weekly digest sent to a member through the real send path, and the same digest in the browser.

    A weekly run reports the previous full local week: what the world recorded now is moved into it.
    """
    reported = digest_period(frequency="weekly", now=timezone.now())
    moment = reported.window_end - datetime.timedelta(hours=1)
    StatusChange.objects.update(changed_at=moment, published_at=moment)
    Evidence.objects.update(created_at=moment)
    MemberFactory(email="reader@example.org")
    MemberFactory(email="lector@example.org", language="es")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_digests", "--frequency", "weekly", stdout=StringIO())
    assert len(mail.outbox) == 2
    by_address = {message.to[0]: message.message().as_bytes() for message in mail.outbox}
    pages = []
    for address in ("reader@example.org", "lector@example.org"):
        delivery = Delivery.objects.get(member__email=address)
        browser = Client().get(urlsplit(digest_url(delivery)).path)
        assert browser.status_code == 200
        pages.append(browser.content)
    return [by_address["reader@example.org"], pages[0], by_address["lector@example.org"], pages[1]]


@pytest.mark.parametrize("who", ["anonymous", "member", "staff"])
def test_no_team_only_field_in_any_non_team_output(
    request, world, team_only, who, api_client, django_capture_on_commit_callbacks
):
    user = (
        None if who == "anonymous" else request.getfixturevalue({"member": "member_user", "staff": "staff_user"}[who])
    )
    outputs: dict[str, bytes] = {}
    client = client_for(user)
    for url in page_urls(world):
        outputs[url] = body_of(client.get(url, follow=True))
    api = api_client_for(api_client, user)
    for url in api_urls(world):
        outputs[url] = api.get(url).content
    if who == "anonymous":
        for index, body in enumerate(digest_bytes(world, django_capture_on_commit_callbacks)):
            outputs[f"digest {index}"] = body
        assert b"DEMAND-MEMBERS-CANARY" in outputs["digest 0"], "the digest carries what members may read"
        assert b"DEMANDA-MEMBERS-CANARIO" in outputs["digest 3"], "and the Spanish one in Spanish"
    assert len(outputs) >= 20
    for where, body in outputs.items():
        text = body.decode("utf-8", "replace")
        leaked = {needle for needle in (*team_only, *TEAM_ROWS) if needle in text}
        assert not leaked, f"{where} shows {leaked}"
        assert "DEMAND-TEAM-CANARY" not in text, where
        assert "DEMANDA-TEAM-CANARIO" not in text, where
    # The API's team-only keys are absent, not null, from every non-team representation.
    for url in api_urls(world):
        if api.get(url).status_code != 200:
            continue
        payload = json.loads(outputs[url])
        rows = payload.get("results", [payload]) if isinstance(payload, dict) else payload
        declared = {name for model in team_only_models() for name in team_only_fields(model)}
        for row in rows:
            assert not set(row) & declared, url


def test_team_serializers_add_exactly_the_declared_fields():
    from demands.api import serializers as s

    pairs = [
        (s.DemandSerializer, s.TeamDemandSerializer, Demand, {"allowed_next_statuses"}),
        (s.StatusChangeSerializer, s.TeamStatusChangeSerializer, StatusChange, set()),
        (s.EvidenceSerializer, s.TeamEvidenceSerializer, Evidence, set()),
        (s.ProposalSerializer, s.TeamProposalSerializer, Proposal, set()),
        (s.VoteSerializer, s.TeamVoteSerializer, RatificationVote, set()),
    ]
    for public, team, model, hints in pairs:
        assert not set(public.Meta.fields) & set(model.TEAM_ONLY_FIELDS), public
        assert set(team.Meta.fields) - set(public.Meta.fields) == set(model.TEAM_ONLY_FIELDS) | hints, team


# --- The exports carry what happened at the table, per audience ---------------------------------------------


def export_rows(user) -> tuple[dict, str]:
    client = client_for(user)
    demands = {row["slug"]: row for row in json.loads(body_of(client.get("/demands.json")))["demands"]}
    return demands, body_of(client.get("/demands.csv")).decode()


@pytest.mark.parametrize("who", ["anonymous", "member", "staff"])
def test_exports_carry_passed_proposals_reached_agreements_and_votes_but_nothing_of_the_teams(
    request, world, team_only, who
):
    user = None if who == "anonymous" else request.getfixturevalue(FIXTURES[who])
    rows, csv_text = export_rows(user)
    public = rows["demand-public"]
    assert [p["number"] for p in public["proposals"]] == [1], "the team's draft is not exported"
    assert set(public["proposals"][0]) == {
        "number",
        "side",
        "exchanged_on",
        "session",
        "visibility",
        "summary",
        "language",
    }
    assert public["agreement"] == [], "an unsigned agreement is the team's"
    assert [v["yes"] for v in public["votes"]] == [9]
    assert public["votes"][0]["turnout_percent"] == 83
    if who == "member":
        assert rows["demand-members"]["agreement"][0]["board_signed_by"] == "Board lead"
    for text in (json.dumps(rows), csv_text):
        leaked = {needle for needle in (*team_only, *TEAM_ROWS) if needle in text}
        assert not leaked, leaked
    assert "proposals" in csv_text.splitlines()[0] and "agreement" in csv_text.splitlines()[0]


def test_team_exports_carry_drafts_rationales_and_unsigned_agreements(world, team_only, team_user):
    rows, csv_text = export_rows(team_user)
    public = rows["demand-public"]
    assert [p["number"] for p in public["proposals"]] == [1, 2]
    assert public["proposals"][1]["language"] == TEAM_ROWS[0]
    assert public["proposals"][0]["rationale"] == "CANARY-PROPOSAL-RATIONALE"
    assert public["proposals"][0]["created_by"] == "canary-proposal-created-by"
    assert public["agreement"][0]["language"] == TEAM_ROWS[1]
    assert rows["demand-team"]["votes"][0]["recorded_by"] == "canary-ratificationvote-recorded-by"
    for needle in (*TEAM_ROWS, "CANARY-PROPOSAL-RATIONALE", "canary-ratificationvote-recorded-by"):
        assert needle in csv_text, needle


@pytest.mark.parametrize("who", ["anonymous", "team"])
def test_bulletin_shows_the_latest_proposal_agreement_and_vote_per_audience(request, world, team_only, who):
    user = None if who == "anonymous" else request.getfixturevalue("team_user")
    page = body_of(client_for(user).get("/bulletin/")).decode()
    assert "At the table: proposal" in page
    assert "June 1, 2024</time>: ratified, 9 yes to 1 no, 83% turnout." in page
    assert ("Tentative agreement signed by Union lead" in page) == (who == "team"), "the members' demand's TA"
    assert (TEAM_ROWS[0] in page or "Team only" in page) == (who == "team")
