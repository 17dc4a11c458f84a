"""Brute force stopped: sign-in forms and the token endpoint lock out an account and an address after
AXES_FAILURE_LIMIT failures, whatever X-Forwarded-For a client forges; throttles read the same address."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

PASSWORD = "a-long-correct-horse-battery"
SIGN_INS = [
    ("/accounts/login/", "page"),
    ("/admin/login/", "page"),
    ("/api/v1/auth/token/", "api"),
]


@pytest.fixture
def accounts(db):
    victim = factories.UserFactory(username="victim", is_staff=True)
    bystander = factories.UserFactory(username="bystander", is_staff=True)
    for user in (victim, bystander):
        user.set_password(PASSWORD)
        user.save()
    return victim, bystander


def sign_in(path: str, username: str, password: str, address: str, forged: str | None = None):
    client = APIClient(REMOTE_ADDR=address) if path.startswith("/api/") else Client(REMOTE_ADDR=address)
    headers = {"HTTP_X_FORWARDED_FOR": forged} if forged else {}
    return client.post(path, {"username": username, "password": password}, **headers)


def succeeded(path: str, response) -> bool:
    if path.startswith("/api/"):
        return response.status_code == 200 and "token" in response.json()
    return response.status_code == 302


@pytest.fixture(autouse=True)
def unthrottled(monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    cache.clear()
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "token", "100000/minute")


@pytest.mark.parametrize(("path", "kind"), SIGN_INS)
def test_thirty_wrong_passwords_from_rotating_forged_addresses_lock_the_account(accounts, path, kind):
    for attempt in range(30):
        response = sign_in(path, "victim", "wrong", "203.0.113.7", forged=f"198.51.100.{attempt}")
    assert response.status_code == 429
    if kind == "api":
        body = response.json()
        assert body["code"] == "locked_out"
        assert set(body) == {"detail", "code", "errors"}
    else:
        assert "Too many failed sign-ins" in response.content.decode()
    assert response["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    # The forged addresses changed nothing: every failure was counted against the one real address.
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}

    # The right password, even from another address, is refused while the lockout lasts ...
    assert not succeeded(path, sign_in(path, "victim", PASSWORD, "192.0.2.1"))
    # ... another account from another address is unaffected ...
    assert succeeded(path, sign_in(path, "bystander", PASSWORD, "192.0.2.1"))
    # ... and the lockout ends after the cool-off.
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert succeeded(path, sign_in(path, "victim", PASSWORD, "192.0.2.1"))


def test_the_last_allowed_failure_still_lets_the_right_password_in(accounts):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in("/accounts/login/", "victim", "wrong", "203.0.113.7").status_code == 200
    assert succeeded("/accounts/login/", sign_in("/accounts/login/", "victim", PASSWORD, "203.0.113.7"))


def test_the_limit_th_failure_locks(accounts):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = sign_in("/accounts/login/", "victim", "wrong", "203.0.113.7")
    assert response.status_code == 429


def test_an_address_is_locked_out_across_accounts(accounts):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in("/accounts/login/", f"nobody-{attempt}", "wrong", "203.0.113.7")
    assert sign_in("/accounts/login/", "bystander", PASSWORD, "203.0.113.7").status_code == 429
    assert succeeded("/accounts/login/", sign_in("/accounts/login/", "bystander", PASSWORD, "192.0.2.1"))


def test_an_admin_unlocks_by_deleting_the_attempts(accounts, admin_user, client):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("/accounts/login/", "victim", "wrong", "203.0.113.7")
    client.force_login(admin_user)
    attempt = AccessAttempt.objects.get(username="victim")
    assert client.get("/admin/axes/accessattempt/").status_code == 200
    response = client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert succeeded("/accounts/login/", sign_in("/accounts/login/", "victim", PASSWORD, "203.0.113.7"))


@pytest.mark.parametrize(("trusted", "expected"), [(0, "203.0.113.7"), (1, "198.51.100.2"), (2, "198.51.100.1")])
def test_the_client_address_trusts_only_the_configured_proxies(settings, trusted, expected):
    from django.test import RequestFactory

    from config.clients import client_ip

    settings.TRUSTED_PROXIES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="198.51.100.1, 198.51.100.2")
    assert client_ip(request) == expected


def test_forged_forwarding_does_not_escape_the_token_throttle(accounts, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "token", "2/minute")
    codes = [
        sign_in("/api/v1/auth/token/", f"nobody-{n}", "wrong", "203.0.113.7", forged=f"198.51.100.{n}").status_code
        for n in range(3)
    ]
    assert codes == [400, 400, 429]
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == settings.TRUSTED_PROXIES == 0
