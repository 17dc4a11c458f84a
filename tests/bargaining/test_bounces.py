"""A dead address is learnt once: 550–553 at RCPT marks the member bounced; a relay that is down or refuses
the session spends no member's attempt; fixing a bounced address makes the member active again."""

import pytest
from django.urls import reverse
from django.utils import timezone

from bargaining.digests.planning import digest_plan
from bargaining.digests.sending import RelayUnavailable, deliveries_send
from bargaining.models import Delivery, Member
from bargaining.services import member_update
from bargaining.tasks import send_digest_batch
from demands.models import Status, StatusChange
from tests.bargaining.backends import ScriptedBackend
from tests.factories import DemandFactory, MemberFactory

pytestmark = pytest.mark.django_db

SCRIPTED = "tests.bargaining.backends.ScriptedBackend"


@pytest.fixture
def news(db):
    """One public change this week, so every weekly member has a digest to get."""
    demand = DemandFactory()
    StatusChange.objects.create(demand=demand, from_status=demand.status, to_status=Status.COUNTERED)


@pytest.fixture
def backend(settings):
    settings.EMAIL_BACKEND = SCRIPTED
    ScriptedBackend.reset()
    return ScriptedBackend


def plan_ids(now=None) -> list[int]:
    run = digest_plan(frequency="weekly", now=now or timezone.now() + timezone.timedelta(days=7)).run
    return list(run.deliveries.order_by("id").values_list("id", flat=True))


@pytest.mark.parametrize("code", [550, 551, 552, 553])
def test_a_refused_recipient_is_marked_bounced_with_its_failed_delivery(backend, news, code):
    gone, fine = MemberFactory.create_batch(2)
    backend.reset({gone.email: [code]})
    report = deliveries_send(delivery_ids=plan_ids())
    assert (report.sent, report.failed) == (1, 1)
    row = Delivery.objects.get(member=gone)
    assert (row.state, row.attempts) == (Delivery.State.FAILED, 1)
    assert row.last_error.startswith(str(code))
    assert Member.objects.get(pk=gone.pk).state == Member.State.BOUNCED
    assert Member.objects.get(pk=fine.pk).state == Member.State.ACTIVE


@pytest.mark.parametrize("code", [549, 554])
def test_other_permanent_refusals_fail_the_message_but_keep_the_member(backend, news, code):
    member = MemberFactory()
    backend.reset({member.email: [code]})
    deliveries_send(delivery_ids=plan_ids())
    assert Delivery.objects.get(member=member).state == Delivery.State.FAILED
    assert Member.objects.get(pk=member.pk).state == Member.State.ACTIVE


def test_a_bounced_member_is_not_mailed_next_period(backend, news):
    gone = MemberFactory()
    backend.reset({gone.email: [550]})
    deliveries_send(delivery_ids=plan_ids())
    later = timezone.now() + timezone.timedelta(days=14)
    StatusChange.objects.create(demand=DemandFactory(), from_status=Status.PROPOSED, to_status=Status.COUNTERED)
    assert not Delivery.objects.filter(pk__in=plan_ids(later), member=gone, state=Delivery.State.PENDING).exists()
    assert [m.to[0] for m in backend.sent] == []


@pytest.mark.parametrize("answer", ["auth", "refused", "disconnect", 421])
def test_a_relay_that_is_down_leaves_every_delivery_pending_with_no_attempt_spent(backend, news, answer):
    first, _second = MemberFactory.create_batch(2)
    backend.reset({first.email: [answer]})
    ids = plan_ids()
    with pytest.raises(RelayUnavailable):
        deliveries_send(delivery_ids=ids)
    rows = Delivery.objects.filter(pk__in=ids)
    assert {(row.state, row.attempts) for row in rows} == {(Delivery.State.PENDING, 0)}
    assert all(row.last_error for row in rows)
    assert Member.objects.filter(state=Member.State.ACTIVE).count() == 2

    report = deliveries_send(delivery_ids=ids)  # the relay recovered
    assert report.sent == 2
    assert set(Delivery.objects.filter(pk__in=ids).values_list("state", "attempts")) == {(Delivery.State.SENT, 1)}


def test_the_send_task_in_process_leaves_a_relay_failure_pending(backend, news):
    member = MemberFactory()
    backend.reset({member.email: ["auth"]})
    ids = plan_ids()
    result = send_digest_batch.apply(kwargs={"delivery_ids": ids}).result
    assert result["relay_unavailable"] == len(ids)
    assert Delivery.objects.get(member=member).state == Delivery.State.PENDING


def test_fixing_a_bounced_address_makes_the_member_active(db):
    member = MemberFactory(state=Member.State.BOUNCED)
    assert member_update(member_id=member.pk, name="Same address").state == Member.State.BOUNCED
    assert member_update(member_id=member.pk, email=member.email.upper()).state == Member.State.BOUNCED
    assert member_update(member_id=member.pk, email="fixed@example.org").state == Member.State.ACTIVE


def test_admin_lists_bounced_members_with_the_last_error(backend, news, client, admin_user):
    gone = MemberFactory()
    backend.reset({gone.email: [550]})
    deliveries_send(delivery_ids=plan_ids())
    client.force_login(admin_user)
    response = client.get(reverse("admin:bargaining_member_changelist"), {"state__exact": "bounced"})
    assert response.status_code == 200
    html = response.content.decode()
    assert gone.email in html
    assert "550 scripted answer" in html

    response = client.post(
        reverse("admin:bargaining_member_change", args=[gone.pk]),
        {
            "email": "fixed@example.org",
            "name": gone.name,
            "school": "",
            "language": "en",
            "frequency": "weekly",
            "state": "bounced",
        },
    )
    assert response.status_code == 302
    assert Member.objects.get(pk=gone.pk).state == Member.State.ACTIVE
