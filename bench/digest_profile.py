"""Profile the digest send path in-process: where each message's CPU goes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bdt_bench_fan REDIS_URL=redis://127.0.0.1:6379/14 \\
    .venv/bin/python bench/digest_profile.py --members 2000

Run after `digest_bench.py` on the same database (it leaves the weekly run sent): hands the first
`--members` deliveries of that run back to pending, starts the aiosmtpd sink, and sends them with
`deliveries_send` in batches of DIGEST_BATCH_SIZE under cProfile, with production settings and the
SMTP backend, as a worker child would. Prints wall and CPU per message and the top functions.
"""

import argparse
import cProfile
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.digest_bench import free_port, wait_for  # noqa: E402

SINK = ROOT / "tests" / "bargaining" / "smtp_sink.py"


def main() -> None:
    parser = argparse.ArgumentParser(description="Profile the digest send path")
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--no-profile", action="store_true", help="CPU and wall only, without cProfile's overhead")
    args = parser.parse_args()
    port = free_port()
    os.environ.update(
        {
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "bench-only-key-" + "x" * 40,
            "DJANGO_ALLOWED_HOSTS": "localhost",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(port),
            "SITE_URL": "https://tracker.example.org",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache

    from bargaining.digests.sending import deliveries_send, delivery_batches
    from bargaining.models import Delivery, DigestRun

    run = DigestRun.objects.filter(frequency="weekly").latest("id")
    ids = list(Delivery.objects.filter(run=run).order_by("id").values_list("id", flat=True)[: args.members])
    Delivery.objects.filter(id__in=ids).update(state=Delivery.State.PENDING, attempts=0)
    cache.delete_many([key for key in cache.keys("bargaining:digest-render:*")] if hasattr(cache, "keys") else [])
    out = Path(tempfile.mkdtemp(prefix="digest-profile-"))
    sink = subprocess.Popen(
        [sys.executable, str(SINK), "--port", str(port), "--out", str(out), "--store", "meta"], start_new_session=True
    )
    try:
        wait_for(lambda: (out / "ready").exists(), timeout=15, what="the SMTP sink")
        profile = cProfile.Profile()
        # The URL resolver is built once per worker process, before its first batch: not a cost per message.
        from django.urls import reverse

        reverse("bargaining:digest", args=["x"])
        start, cpu = time.perf_counter(), time.process_time()
        sent = 0
        if not args.no_profile:
            profile.enable()
        for batch in delivery_batches(ids):
            sent += deliveries_send(delivery_ids=batch).sent
        profile.disable()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=10)
    print(
        f"{sent} sent in batches of {settings.DIGEST_BATCH_SIZE}: wall {wall:.2f} s ({1000 * wall / sent:.3f} ms/msg),"
        f" CPU {cpu:.2f} s ({1000 * cpu / sent:.3f} ms/msg, profiler overhead included)"
    )
    if not args.no_profile:
        pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
