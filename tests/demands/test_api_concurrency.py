"""Two team members move the same demand at the same moment, both having read version 1."""

import threading
import time

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from demands import services
from demands.models import Demand, Status, StatusChange
from tests.factories import DemandFactory

pytestmark = pytest.mark.usefixtures("fast_passwords")


def post_in_thread(token: str, url: str, body: dict, headers: dict, barrier: threading.Barrier, codes: list) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    try:
        barrier.wait(timeout=10)
        codes.append(client.post(url, body, format="json", **headers).status_code)
    finally:
        connection.close()  # each thread has its own connection; leave none open


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("via", ["if-match", "body"])
def test_concurrent_transitions_with_the_same_version_one_wins_one_gets_412(admin_user, team_user, via, monkeypatch):
    check_version = services.refuse_stale

    def slow_check(demand: Demand, expected_version: int) -> None:
        check_version(demand, expected_version)
        time.sleep(0.5)  # widen the window: both requests are inside the service at once

    monkeypatch.setattr(services, "refuse_stale", slow_check)
    demand = DemandFactory(status=Status.PROPOSED)
    url = f"/api/v1/demands/{demand.pk}/transition/"
    requests = [({"status": "countered"}, admin_user), ({"status": "tentative_agreement"}, team_user)]
    barrier = threading.Barrier(len(requests))
    codes: list[int] = []
    threads = []
    for body, user in requests:
        token = Token.objects.create(user=user).key
        headers = {"HTTP_IF_MATCH": '"1"'} if via == "if-match" else {}
        if via == "body":
            body = {**body, "version": 1}
        threads.append(threading.Thread(target=post_in_thread, args=(token, url, body, headers, barrier, codes)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(codes) == [200, 412]
    assert StatusChange.objects.filter(demand=demand).count() == 1
    demand = Demand.objects.get(pk=demand.pk)
    assert demand.version == 2
    assert demand.status == StatusChange.objects.get(demand=demand).to_status
