"""The load test's entry point (bench/load.py) runs: gunicorn over the test database, locust for 5 s (2 s
was too short once, with the other test worker loading the machine: no request had finished)."""

import os

import pytest
from django.conf import settings

from bench import load
from demands.models import Visibility
from tests.factories import DemandFactory


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_the_load_test_serves_visitors_without_errors(production_static):
    DemandFactory.create_batch(3, visibility=Visibility.PUBLIC)
    database = settings.DATABASES["default"]
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    (run,) = load.main(
        [
            "--users",
            "3",
            "--seconds",
            "5",
            "--cache",
            "on",
            "--database-url",
            url,
            "--redis-url",
            os.environ["TEST_REDIS_URL"],
            "--static-root",
            str(production_static),
        ]
    )
    total = run["results"]["Aggregated"]
    assert total["requests"] > 0
    assert total["failures"] == 0
