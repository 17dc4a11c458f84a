"""Visitors following digest links (bench/load.py runs this): the dashboard, then a demand or two.

BENCH_SLUGS (comma-separated) names the public demands the links point at.
"""

import os
import random

from locust import HttpUser, between, task

SLUGS = [slug for slug in os.environ.get("BENCH_SLUGS", "").split(",") if slug]


class DigestReader(HttpUser):
    """A member who clicked a link in the Monday digest: no account, no cookie."""

    wait_time = between(1, 3)

    @task(2)
    def demand(self) -> None:
        slug = random.choice(SLUGS)
        self.client.get(f"/demands/{slug}/", name="/demands/<slug>/")

    @task(1)
    def dashboard(self) -> None:
        self.client.get("/", name="/")
