import pytest

pytestmark = pytest.mark.django_db


def test_dashboard_lists_public_demands(client):
    from tests.factories import DemandFactory

    DemandFactory(title="Trauma supports")
    response = client.get("/")
    assert response.status_code == 200
    assert b"Trauma supports" in response.content
