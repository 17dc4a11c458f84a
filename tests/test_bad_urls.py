"""Addresses a person or a crawler can type never answer with a 500."""

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

HUGE = "9" * 30


@pytest.mark.parametrize(
    "url",
    [
        f"/resolutions/{HUGE}/",
        "/resolutions/0/",
        "/demands/no-such-demand/",
        f"/digests/{HUGE}/",
        "/digests/x:y/",
        f"/subscriptions/unsubscribe/{HUGE}:abc/",
        "/subscriptions/preferences/%00/",
        f"/api/v1/demands/{HUGE}/",
        f"/api/v1/resolutions/{HUGE}/",
        "/api/v1/demands/?page=-1",
        f"/api/v1/demands/?page_size={HUGE}",
        "/feed/?page=x",
        "/evidence/?page=x",
        "/?%00=%00",
    ],
)
def test_bad_addresses_get_a_4xx_not_a_500(client, url):
    call_command("load_campaign")
    response = client.get(url)
    assert response.status_code < 500, (url, response.status_code)
