"""Requests per second of the demand list, a demand's proposals (API) and its page, each against a plain Django
view doing the same reads, side by side.

    python -m bench.api_bench [--demands 1000] [--proposals 50] [--requests 300] [--threads 4] [--rounds 3]

Creates the PostgreSQL database `bdt_bench_api` (dropped and recreated: it holds nothing else),
loads public demands with clauses and evidence links, and one more public demand with a chain of
`--proposals` proposals, serves the site with gunicorn (2 sync workers, DEBUG off, as deployed) on
127.0.0.1:8765 with bench/api_settings.py, and sends the same number of GETs to each endpoint and its
floor: `/api/v1/demands/?page_size=100` against `/bench/plain-demands/` (the same 100 demands and
fields from `values()` and `JsonResponse`), `/api/v1/demands/<id>/proposals/` against
`/bench/plain-proposals/<id>/` (the same proposals and redlines), and `/demands/<slug>/` against
`/bench/plain-page/<id>/` (the same redlines as bare HTML), alternating so that each pair sees the
same machine. Prints the tables for bench/README.md and writes JSON to bench/results/.
"""

import argparse
import http.client
import json
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
# Overridable so that two checkouts can run it at once without dropping each other's database or port.
DATABASE = os.environ.get("BENCH_API_DATABASE", "bdt_bench_api")
HOST, PORT = "127.0.0.1", int(os.environ.get("BENCH_API_PORT", "8765"))
CHAIN_SLUG = "demand-chain"
# Each measured endpoint and the plain floor it is compared with, measured in the same rounds.
PAIRS = [("api", "plain"), ("proposals_api", "proposals_plain"), ("page", "page_plain")]


def targets_for(chain_id: int, proposals: int) -> dict[str, str]:
    return {
        "api": "/api/v1/demands/?page_size=100",
        "plain": "/bench/plain-demands/",
        "proposals_api": f"/api/v1/demands/{chain_id}/proposals/?page_size={proposals}",
        "proposals_plain": f"/bench/plain-proposals/{chain_id}/",
        "page": f"/demands/{CHAIN_SLUG}/",
        "page_plain": f"/bench/plain-page/{chain_id}/",
    }


def bench_environment(server: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"{server}/{DATABASE}",
        "DJANGO_SETTINGS_MODULE": "bench.api_settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": HOST,
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        # The throttle still counts every request; a limit this high only keeps it from refusing them.
        "API_ANON_RATE": "1000000000/second",
        "LOG_LEVEL": "WARNING",
    }
    for name in ("DJANGO_DEBUG", "REDIS_URL"):
        env.pop(name, None)
    return env


def recreate_database(server: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{DATABASE}"')


def drop_database(server: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def load_demands(count: int, proposals: int) -> int:
    """Migrate and load `count` public demands, each citing two clauses and two pieces of evidence, and one
    more with a chain of `proposals` public proposals of some 120 words, each changing a few words; returns
    the chain's demand id."""
    import datetime

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from demands.models import (
        Category,
        Demand,
        Evidence,
        EvidenceLink,
        Proposal,
        Resolution,
        ResolutionClause,
        Status,
        Visibility,
    )

    call_command("migrate", verbosity=0)
    categories = Category.objects.bulk_create(
        Category(name=f"Category {n}", slug=f"category-{n}", position=n, name_es=f"Categoría {n}") for n in range(5)
    )
    resolution = Resolution.objects.create(
        governing_body="Board of Education", title="Bench resolution", adopted_on=datetime.date(2024, 2, 22), vote="7-0"
    )
    clauses = ResolutionClause.objects.bulk_create(
        ResolutionClause(resolution=resolution, number=n + 1, text=f"Clause {n + 1}.") for n in range(10)
    )
    evidence = Evidence.objects.bulk_create(
        Evidence(title=f"Evidence {n}", kind="report", publisher="Bench", visibility=Visibility.PUBLIC)
        for n in range(20)
    )
    statuses = list(Status.values)
    demands = Demand.objects.bulk_create(
        Demand(
            title=f"Demand {n:04d}",
            slug=f"demand-{n:04d}",
            summary=f"What demand {n} asks for, in a sentence or two for members. " * 2,
            body="The full text of the demand. " * 20,
            category=categories[n % len(categories)],
            status=statuses[n % len(statuses)],
            visibility=Visibility.PUBLIC,
            target="one social worker per 250 students",
            internal_notes="Team-only notes.",
            # Every member-facing text in Spanish too, as the API now carries both.
            title_es=f"Demanda {n:04d}",
            summary_es=f"Lo que pide la demanda {n}, en una o dos frases para los miembros. " * 2,
            target_es="un trabajador social por cada 250 estudiantes",
        )
        for n in range(count)
    )
    through = Demand.clauses.through
    through.objects.bulk_create(
        through(demand_id=demand.pk, resolutionclause_id=clauses[(n + k) % len(clauses)].pk)
        for n, demand in enumerate(demands)
        for k in range(2)
    )
    EvidenceLink.objects.bulk_create(
        EvidenceLink(demand=demand, evidence=evidence[(n + k) % len(evidence)], claim="supports: the demand")
        for n, demand in enumerate(demands)
        for k in range(2)
    )
    words = [f"word{n % 37}" for n in range(120)]
    chain = Demand.objects.create(
        title="Demand with a chain of proposals",
        slug=CHAIN_SLUG,
        summary="A demand bargained over many sessions.",
        category=categories[0],
        status=Status.COUNTERED,
        visibility=Visibility.PUBLIC,
        current_language=" ".join(words),
    )
    rows = []
    for number in range(1, proposals + 1):
        for k in range(3):  # three words changed a pass
            words[(number * 7 + k * 11) % len(words)] = f"pass{number}-{k}"
        rows.append(
            Proposal(
                demand=chain,
                number=number,
                side="union" if number % 2 else "board",
                exchanged_on=datetime.date(2024, 3, 1) + datetime.timedelta(days=number),
                language=" ".join(words),
                summary=f"Pass {number} for members.",
                summary_es=f"Paso {number} para los miembros.",
                rationale="Team-only reasoning.",
                visibility=Visibility.PUBLIC,
            )
        )
    Proposal.objects.bulk_create(rows)
    connection.close()
    return chain.pk


def get(path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, PORT, timeout=60)
    try:
        connection.request("GET", path, headers={"Accept": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_until_serving(server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {server.returncode}")
        try:
            if get("/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /healthz in time")


def check_same_content(targets: dict[str, str], proposals: int) -> int:
    """Each endpoint returns what its floor returns; returns how many demands the list gives per response."""
    bodies = {}
    for name, path in targets.items():
        status, bodies[name] = get(path)
        assert status == 200, (name, status)
    api, plain = json.loads(bodies["api"]), json.loads(bodies["plain"])
    assert api["count"] == plain["count"], (api["count"], plain["count"])
    assert [row["id"] for row in api["results"]] == [row["id"] for row in plain["results"]]
    assert set(api["results"][0]) == set(plain["results"][0]), set(api["results"][0]) ^ set(plain["results"][0])
    chain_api, chain_plain = json.loads(bodies["proposals_api"]), json.loads(bodies["proposals_plain"])
    assert [row["id"] for row in chain_api["results"]] == [row["id"] for row in chain_plain["results"]]
    assert len(chain_api["results"]) == proposals, len(chain_api["results"])
    assert [row["redline"] for row in chain_api["results"]] == [row["redline"] for row in chain_plain["results"]]
    for name in ("page", "page_plain"):
        assert bodies[name].count(b'class="card proposal"') == proposals, name
    return len(api["results"])


def workers_cpu_seconds(master: int) -> float:
    """User + system CPU time used so far by gunicorn's workers (the children of `master`)."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    ticks = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(path: str, requests: int, threads: int, master: int) -> dict[str, Any]:
    """`requests` GETs of `path` from `threads` clients, one connection per request (gunicorn sync workers).

    Besides requests per second, which the machine's other load sways, records the workers' CPU
    time per request, which it sways much less.
    """
    remaining = [requests]
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        while True:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            start = time.perf_counter()
            status, _ = get(path)
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if status != 200:
                    failures.append(status)

    cpu_before = workers_cpu_seconds(master)
    start = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - start
    cpu = workers_cpu_seconds(master) - cpu_before
    latencies.sort()
    return {
        "requests": requests,
        "seconds": round(seconds, 3),
        "rps": round(requests / seconds, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 1),
        "non_200": len(failures),
        "server_cpu_ms_per_request": round(cpu * 1000 / requests, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demands", type=int, default=1000)
    parser.add_argument("--proposals", type=int, default=50, help="proposals on the chain's demand")
    parser.add_argument("--requests", type=int, default=300, help="per endpoint per round")
    parser.add_argument("--threads", type=int, default=4, help="concurrent client connections")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--keep-db", action="store_true", help=f"leave {DATABASE} in place afterwards")
    args = parser.parse_args()

    server_url = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
    env = bench_environment(server_url)
    recreate_database(server_url)
    os.environ.update(env)
    targets = targets_for(load_demands(args.demands, args.proposals), args.proposals)
    # Production settings serve the pages' hashed static names from the manifest that collectstatic writes.
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)

    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--workers",
        str(args.workers),
        "--bind",
        f"{HOST}:{PORT}",
        "--chdir",
        str(ROOT),
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        wait_until_serving(server)
        rows = check_same_content(targets, args.proposals)
        for path in targets.values():  # warm both workers' connections and caches
            measure(path, 20, args.threads, server.pid)
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, path in targets.items():
                rounds[name].append(measure(path, args.requests, args.threads, server.pid))
    finally:
        server.terminate()
        server.wait(timeout=30)
        if not args.keep_db:
            drop_database(server_url)

    median = {name: statistics.median(result["rps"] for result in results) for name, results in rounds.items()}
    cpu = {
        name: statistics.median(result["server_cpu_ms_per_request"] for result in results)
        for name, results in rounds.items()
    }
    by_pair = {
        measured: {
            "floor": floor,
            "floor_over_measured_rps": round(median[floor] / median[measured], 2),
            "measured_over_floor_cpu": round(cpu[measured] / cpu[floor], 2),
            # Rounds alternate the endpoints, so each pair shares the machine's load at that moment.
            "floor_over_measured_by_round": [
                round(low["rps"] / high["rps"], 2) for high, low in zip(rounds[measured], rounds[floor], strict=True)
            ],
        }
        for measured, floor in PAIRS
    }
    summary = {
        "demands": args.demands,
        "proposals": args.proposals,
        "rows_per_response": rows,
        "workers": args.workers,
        "threads": args.threads,
        "targets": targets,
        "rounds": rounds,
        "median_rps": median,
        "median_server_cpu_ms_per_request": cpu,
        "pairs": by_pair,
        "plain_over_api": by_pair["api"]["floor_over_measured_rps"],
        "api_over_plain_server_cpu": by_pair["api"]["measured_over_floor_cpu"],
        "plain_over_api_by_round": by_pair["api"]["floor_over_measured_by_round"],
    }
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (results_dir / f"api_bench-{stamp}.json").write_text(json.dumps(summary, indent=2))

    print(
        f"{args.demands} demands, {rows} per response; {args.proposals} proposals on the chain; "
        f"gunicorn {args.workers} workers, {args.threads} client threads"
    )
    print("| endpoint | round | requests | seconds | req/s | p50 ms | p95 ms | non-200 | worker CPU ms/request |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, results in rounds.items():
        for number, result in enumerate(results, 1):
            print(
                f"| {targets[name]} | {number} | {result['requests']} | {result['seconds']} | {result['rps']} "
                f"| {result['p50_ms']} | {result['p95_ms']} | {result['non_200']} "
                f"| {result['server_cpu_ms_per_request']} |"
            )
    for measured, pair in by_pair.items():
        floor = pair["floor"]
        print(
            f"{targets[measured]} vs {targets[floor]}: median req/s {median[measured]} vs {median[floor]}, "
            f"floor/measured = {pair['floor_over_measured_rps']}x (by round {pair['floor_over_measured_by_round']}); "
            f"worker CPU ms/request {cpu[measured]} vs {cpu[floor]}, "
            f"measured/floor = {pair['measured_over_floor_cpu']}x"
        )


if __name__ == "__main__":
    main()
