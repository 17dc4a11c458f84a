"""Settings for bench/api_bench.py only: the site as deployed, plus the plain comparison view."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.api_urls"
