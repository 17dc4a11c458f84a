import pytest
from django.contrib.auth.models import Group

from demands.models import Visibility
from demands.roles import TEAM_GROUP
from demands.selectors import demands_visible_to, evidence_visible_to, status_changes_visible_to
from tests.factories import DemandFactory, EvidenceFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demands_by_visibility():
    return {visibility: DemandFactory(visibility=visibility) for visibility in Visibility.values}


def visible(user) -> set[str]:
    return set(demands_visible_to(user).values_list("visibility", flat=True))


def test_anonymous_sees_public_demands_only(anonymous, demands_by_visibility):
    assert visible(anonymous) == {"public"}


def test_member_account_sees_public_and_member_demands(member_user, demands_by_visibility):
    assert visible(member_user) == {"public", "members"}


def test_team_member_sees_every_demand(team_user, demands_by_visibility):
    assert visible(team_user) == {"public", "members", "team"}


def test_staff_see_every_demand(admin_user, demands_by_visibility):
    assert visible(admin_user) == {"public", "members", "team"}


def test_signed_in_user_without_a_role_sees_public_only(demands_by_visibility):
    assert visible(UserFactory()) == {"public"}


def test_inactive_team_member_sees_public_only(demands_by_visibility):
    user = UserFactory(is_active=False)
    user.groups.add(Group.objects.get(name=TEAM_GROUP))
    assert visible(user) == {"public"}


def test_history_and_evidence_follow_visibility(member_user, demands_by_visibility):
    from demands.models import StatusChange

    for demand in demands_by_visibility.values():
        StatusChange.objects.create(demand=demand, from_status="draft", to_status="proposed")
        EvidenceFactory(visibility=demand.visibility)
    assert {c.demand.visibility for c in status_changes_visible_to(member_user)} == {"public", "members"}
    assert set(evidence_visible_to(member_user).values_list("visibility", flat=True)) == {"public", "members"}
