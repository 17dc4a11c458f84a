"""Bounded load test on loopback: visitors following digest links to the dashboard and demand pages.

    .venv/bin/python -m bench.load                      # 200 visitors, 60 s, cache on then off
    .venv/bin/python -m bench.load --users 5 --seconds 2 --cache on

Serves the app with gunicorn as the Dockerfile does (3 sync workers, production settings, Redis as the
cache) over the database `bench/scale.py` builds (or --database-url), runs locust headless against it
(bench/locustfile.py), and prints per run the requests, failures, median and 95th percentile.
"""

import argparse
import csv
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/" + os.environ.get("BENCH_SCALE_DATABASE", "bdt_bench_scale")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _slugs(database_url: str, count: int = 200) -> list[str]:
    out = subprocess.run(
        ["psql", database_url, "-Atc", f"SELECT slug FROM demands_demand WHERE visibility = 'public' LIMIT {count}"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.split()


def _environment(database_url: str, redis_url: str, cache_seconds: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-only-secret-key-not-for-production-use-0123456789",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="0",
        PUBLIC_PAGE_CACHE_SECONDS=str(cache_seconds),
    )
    return env


def _wait_for(port: int, server: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited before it answered")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer on port {port} within {seconds} s")


def _warm_up(port: int, slug: str) -> None:
    """Every worker imports the app on its first request: that is start-up, not load."""
    for path in ["/", f"/demands/{slug}/"] * 6:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as response:
            response.read()


def run(
    *, users: int, seconds: int, cache: bool, database_url: str, redis_url: str, static_root: Path | None = None
) -> dict:
    """One headless locust run against a fresh gunicorn; returns its aggregated figures. Static files are
    collected first, unless `static_root` names a folder where production's collectstatic already put them."""
    port = _free_port()
    env = _environment(database_url, redis_url, 600 if cache else 0)
    if static_root is None:
        collect = [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"]
        subprocess.run(collect, cwd=ROOT, env=env, check=True)
    else:
        env["DJANGO_STATIC_ROOT"] = str(static_root)
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "3"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, server)
        slugs = _slugs(database_url)
        _warm_up(port, slugs[0])
        with tempfile.TemporaryDirectory() as work:
            prefix = str(Path(work) / "run")
            locust_env = dict(os.environ, BENCH_SLUGS=",".join(slugs))
            subprocess.run(
                [
                    str(BIN / "locust"),
                    "-f",
                    str(ROOT / "bench" / "locustfile.py"),
                    "--headless",
                    "--users",
                    str(users),
                    "--spawn-rate",
                    str(max(users // 5, 1)),
                    "--run-time",
                    f"{seconds}s",
                    "--host",
                    f"http://127.0.0.1:{port}",
                    "--csv",
                    prefix,
                    "--only-summary",
                    "--loglevel",
                    "WARNING",
                ],
                env=locust_env,
                check=False,  # locust exits 1 when a request failed: the figures say so
                stdout=subprocess.DEVNULL,
            )
            with open(f"{prefix}_stats.csv", newline="") as handle:
                rows = {row["Name"]: row for row in csv.DictReader(handle)}
    finally:
        server.terminate()
        server.wait(timeout=30)

    def number(text: str) -> float:
        return float(text) if text not in ("", "N/A") else 0.0

    figures = {}
    for name, row in rows.items():
        figures[name] = {
            "requests": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "median_ms": number(row["50%"]),
            "p95_ms": number(row["95%"]),
            "rps": round(number(row["Requests/s"]), 1),
        }
    return {"users": users, "seconds": seconds, "cache": cache, "results": figures}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--cache", choices=["on", "off", "both"], default="both")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument(
        "--static-root", type=Path, help="serve the static files collected there already (skips collectstatic)"
    )
    args = parser.parse_args(argv)
    modes = {"on": [True], "off": [False], "both": [True, False]}[args.cache]
    runs = []
    for cache in modes:
        result = run(
            users=args.users,
            seconds=args.seconds,
            cache=cache,
            database_url=args.database_url,
            redis_url=args.redis_url,
            static_root=args.static_root,
        )
        runs.append(result)
        print(f"cache {'on' if cache else 'off'}: {args.users} visitors, {args.seconds} s", flush=True)
        for name, row in result["results"].items():
            print(
                f"  {name:20} {row['requests']:7} requests {row['failures']:5} failures "
                f"median {row['median_ms']:7.0f} ms  p95 {row['p95_ms']:7.0f} ms  {row['rps']:7.1f} req/s",
                flush=True,
            )
    return runs


if __name__ == "__main__":
    main()
