"""Digest fan-out benchmark: a real worker over Redis versus plain smtplib, to the same loopback sink.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bdt_bench_digests \\
    REDIS_URL=redis://127.0.0.1:6379/13 .venv/bin/python bench/digest_bench.py --members 30000

Recreates the database named in DATABASE_URL, flushes the Redis database in REDIS_URL, seeds
`--members` weekly members and ten member-visible status changes in the window, starts the
aiosmtpd sink (tests/bargaining/smtp_sink.py) in its own process, then measures in one run:

1. baseline: plain smtplib handing N prebuilt messages (a real digest, same size) to the sink
   on one connection;
2. digests: `digest_plan_and_enqueue` + a `celery -A config worker` (prefork, --concurrency) sending the run
   through Redis to the same sink, timed from planning until the run is done.

It prints wall times, the ratio, messages per second, the load average at the start, CPU per message
(user + system from /proc/<pid>/stat: the floor's client, the worker's main process and children, and
the sink in each phase), the worker's peak memory (VmHWM of the main process and each child) and the
queries a batch takes. Results go to bench/results/.
"""

import argparse
import datetime
import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SINK = ROOT / "tests" / "bargaining" / "smtp_sink.py"
RESULTS = ROOT / "bench" / "results"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def wait_for(condition, *, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise SystemExit(f"Timed out waiting for {what}")


def vm_hwm_kb(pid: int) -> int:
    """Peak resident set size of one process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process so far (utime + stime in /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds of a process and each of its live children, by pid."""
    return {p: cpu_seconds(p) for p in [pid, *child_pids(pid)]}


def child_pids(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(p) for p in (task / "children").read_text().split()]
    return children


def main() -> None:
    parser = argparse.ArgumentParser(description="Digest fan-out benchmark")
    parser.add_argument("--members", type=int, default=30000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--realistic", action="store_true", help="a third of the members Spanish, half with one topic (issue 13)"
    )
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bdt_bench_digests")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
    port = free_port()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    sink_dir = RESULTS / f"sink-{stamp}"
    env = {
        **os.environ,
        # Production settings (DEBUG off): no query log in the worker, as deployed.
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-only-key-" + "x" * 40,
        "DJANGO_ALLOWED_HOSTS": "localhost",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "SITE_URL": "https://tracker.example.org",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    os.environ.update(env)

    # A fresh database for the benchmark only.
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)

    import redis

    redis.Redis.from_url(redis_url).flushdb()

    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from bargaining.digests.periods import digest_period
    from bargaining.digests.planning import digest_plan
    from bargaining.digests.preview import DigestReader, digest_next
    from bargaining.digests.rendering import digest_message
    from bargaining.digests.sending import deliveries_send
    from bargaining.links import DigestLinks
    from bargaining.models import Delivery, DigestRun, Member
    from bargaining.selectors import digest_run_counts
    from bargaining.tasks import digest_plan_and_enqueue
    from demands.models import Category, Demand, Status, StatusChange, Visibility

    # Seed: categories, ten member-visible status changes in the window, the members.
    now = timezone.now()
    last_week = digest_period(frequency="weekly", now=now).window_end  # the weekly run reports the week before
    categories = [
        Category.objects.create(name=label, slug=slug, position=i)
        for i, (label, slug) in enumerate(
            [("Trauma supports", "trauma"), ("Restorative practices", "restorative"), ("Staffing", "staffing")]
        )
    ]
    for i in range(10):
        demand = Demand.objects.create(
            title=f"Demand {i}: one social worker per 250 students",
            slug=f"demand-{i}",
            summary="What the demand asks for.",
            category=categories[i % 3],
            status=Status.COUNTERED,
            visibility=Visibility.PUBLIC if i % 2 else Visibility.MEMBERS,
        )
        row = StatusChange.objects.create(
            demand=demand,
            from_status=Status.PROPOSED,
            to_status=Status.COUNTERED,
            note=f"CPS answered our proposal on demand {i}; the team holds the line.",
        )
        moment = last_week - datetime.timedelta(hours=10 + i)
        StatusChange.objects.filter(pk=row.pk).update(changed_at=moment, published_at=moment)
    members = Member.objects.bulk_create(
        (
            Member(
                email=f"member{i:05d}@bench.example.org",
                name=f"Member {i}",
                language="es" if args.realistic and i % 3 == 0 else "en",
            )
            for i in range(args.members)
        ),
        batch_size=5000,
    )
    if args.realistic:
        Topic = Member.topics.through
        Topic.objects.bulk_create(
            (Topic(member_id=member.pk, category_id=categories[i % 3].pk) for i, member in enumerate(members) if i % 2),
            batch_size=5000,
        )
    del members

    sink = subprocess.Popen(
        [sys.executable, str(SINK), "--port", str(port), "--out", str(sink_dir), "--store", "meta"],
        start_new_session=True,
    )
    worker = None
    try:
        wait_for(lambda: (sink_dir / "ready").exists(), timeout=15, what="the SMTP sink")
        received = sink_dir / "messages.jsonl"

        # Baseline: prebuilt messages of the same size as a real digest, one connection.
        sample = Member.objects.first()
        rendered = digest_next(reader=DigestReader.of(sample)).rendered  # a weekly member, as all of them
        site = "https://tracker.example.org/subscriptions/unsubscribe/Ab:" + "x" * 43 + "/"
        template = (
            digest_message(
                rendered=rendered,
                to="MEMBER",
                links=DigestLinks(unsubscribe=site, preferences=site, browser=site),
                message_id=f"<digest.weekly.20260101.{'9' * 6}@tracker.example.org>",
            )
            .message()
            .as_bytes(linesep="\r\n")
        )
        addresses = [f"member{i:05d}@bench.example.org" for i in range(args.members)]
        prebuilt = [template.replace(b"MEMBER", address.encode()) for address in addresses]
        size = len(prebuilt[0])
        load_at_start = os.getloadavg()
        sink_cpu_start = cpu_seconds(sink.pid)
        start, client_cpu_start = time.perf_counter(), time.process_time()
        client = smtplib.SMTP("127.0.0.1", port)
        for address, data in zip(addresses, prebuilt, strict=True):
            client.sendmail("bargaining@localhost", [address], data)
        client.quit()
        baseline = time.perf_counter() - start
        baseline_client_cpu = time.process_time() - client_cpu_start
        wait_for(lambda: count_lines(received) >= args.members, timeout=60, what="the baseline messages")
        baseline_sink_cpu = cpu_seconds(sink.pid) - sink_cpu_start

        # Digests through a real worker over Redis.
        log = (RESULTS / f"worker-{stamp}.log").open("w")
        worker_options = [
            "--concurrency",
            str(args.concurrency),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ]
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork", *worker_options],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_path = Path(log.name)
        wait_for(lambda: " ready." in log_path.read_text(), timeout=60, what="the worker")
        worker_cpu_start = tree_cpu_seconds(worker.pid)
        sink_cpu_start = cpu_seconds(sink.pid)
        start = time.perf_counter()
        run = digest_plan_and_enqueue(frequency="weekly")
        planned = time.perf_counter() - start
        wait_for(
            lambda: DigestRun.objects.get(pk=run.pk).state == DigestRun.State.DONE,
            timeout=1800,
            what="the digest run",
            interval=0.1,
        )
        digests = time.perf_counter() - start
        worker_cpu_end = tree_cpu_seconds(worker.pid)
        # The PostgreSQL backends serving the worker: every other connection to the benchmark database
        # (the worker's children connect after the run starts; the benchmark's own connection is left out).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            backend_pids = [pid for (pid,) in cursor.fetchall()]
        postgres_cpu = sum(cpu_seconds(pid) for pid in backend_pids if Path(f"/proc/{pid}").exists())
        digest_sink_cpu = cpu_seconds(sink.pid) - sink_cpu_start
        # A child that was replaced during the run is missed (none is: no max-tasks-per-child).
        worker_cpu = sum(cpu - worker_cpu_start.get(pid, 0.0) for pid, cpu in worker_cpu_end.items())
        peaks = {pid: vm_hwm_kb(pid) for pid in [worker.pid, *child_pids(worker.pid)]}
        counts = digest_run_counts(run.pk)
        # Renders per run, from the workers' log, against the distinct (window, topics, language) of the run.
        renders = log_path.read_text().count("Digest content rendered: ")
        topics: dict[int, set[int]] = {}
        for member_id, category_id in Member.topics.through.objects.values_list("member_id", "category_id"):
            topics.setdefault(member_id, set()).add(category_id)
        distinct = {
            (member.digest_language, frozenset(topics.get(member.pk, ())))
            for member in Member.objects.filter(deliveries__run=run).only("id", "language").iterator()
        }
        sizes = [json.loads(line)["size"] for line in received.read_text().splitlines()[args.members :]]
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
        worker = None

        # Queries per batch, measured in-process on a second run of 1 and of 200 members.
        later = timezone.now()
        StatusChange.objects.create(
            demand=Demand.objects.first(), from_status=Status.COUNTERED, to_status=Status.PROPOSED, note="New."
        )
        Member.objects.filter(id__in=list(Member.objects.order_by("id").values_list("id", flat=True)[:201])).update(
            frequency=Member.Frequency.DAILY
        )
        # Tomorrow's run reports today, with the change just made; nothing enqueued: sent right here.
        daily = digest_plan(frequency="daily", now=later + datetime.timedelta(days=1)).run
        ids = list(Delivery.objects.filter(run=daily).order_by("id").values_list("id", flat=True))
        queries = {}
        for batch in (ids[:1], ids[1:201]):
            with CaptureQueriesContext(connection) as captured:
                report = deliveries_send(delivery_ids=batch)
            queries[len(batch)] = (len(captured), report.sent)
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGKILL)
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=10)

    result = {
        "members": args.members,
        "concurrency": args.concurrency,
        "message_bytes_baseline": size,
        "message_bytes_digest_avg": round(sum(sizes) / len(sizes)) if sizes else None,
        "baseline_seconds": round(baseline, 2),
        "baseline_messages_per_second": round(args.members / baseline),
        "digest_plan_seconds": round(planned, 2),
        "digest_seconds": round(digests, 2),
        "digest_messages_per_second": round(counts.sent / digests),
        "ratio": round(digests / baseline, 2),
        "load_average_at_start": [round(load, 2) for load in load_at_start],
        # CPU per message in milliseconds: the floor's smtplib client, our worker (main process and children,
        # from ready to the run done), and the sink in each phase (the same work per message in both).
        "cpu_ms_per_message": {
            "floor_client": round(1000 * baseline_client_cpu / args.members, 3),
            "floor_sink": round(1000 * baseline_sink_cpu / args.members, 3),
            "worker": round(1000 * worker_cpu / max(counts.sent, 1), 3),
            "worker_per_process": {
                str(pid): round(1000 * (cpu - worker_cpu_start.get(pid, 0.0)) / max(counts.sent, 1), 3)
                for pid, cpu in worker_cpu_end.items()
            },
            "digest_sink": round(1000 * digest_sink_cpu / max(counts.sent, 1), 3),
            "worker_postgres_backends": round(1000 * postgres_cpu / max(counts.sent, 1), 3),
        },
        "run": {"eligible": counts.eligible, "sent": counts.sent, "failed": counts.failed, "skipped": counts.skipped},
        "renders_per_run": renders,
        "distinct_contents": len(distinct),
        "worker_peak_rss_kb": peaks,
        "queries_per_batch": {str(n): {"queries": q, "sent": sent} for n, (q, sent) in queries.items()},
    }
    (RESULTS / f"digest-{stamp}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
