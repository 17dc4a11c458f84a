"""Scale benchmark: the "large" size of issue 13 on PostgreSQL, and what each page, import and plan costs there.

    .venv/bin/python -m bench.scale            # builds bdt_bench_scale, then measures
    .venv/bin/python -m bench.scale --reuse    # measures an already built database again
    .venv/bin/python -m bench.scale --reuse --skip import planning --pages /bulletin/ /sessions/   # some pages

Builds (with INSERT ... SELECT generate_series, i.e. in the database, in seconds) 5,000 demands,
200,000 status changes (10,000 on one "busy" demand that also has 1,000 evidence links), 10,000
evidence items, 100,000 members and 300,000 deliveries over three runs. Then, in-process with the
Django test client and production-like settings (DJANGO_DEBUG off, so no query log and cached
templates; queries counted with an execute wrapper), it prints per page, API endpoint and admin
page the queries, the median latency and the response size. Then:

- import: `import_members` of 30,000 and of 100,000 new rows, each in its own process (peak RSS
  from /proc VmHWM), beside the floor: an indexed COPY of the same rows into a table shaped like
  bargaining_member with the four indexes it has, measured in the same run, and a second floor that also
  copies the topic rows into a table like bargaining_member_topics (its indexes and deferred foreign keys);
- planning: `digest_plan` for 100,000 weekly members beside the floor: one INSERT ... SELECT of
  the same deliveries, and the planning process's peak memory for 30,000 and 100,000 members.

Results are printed and written to bench/results/scale-<time>.json.
"""

import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.psql import psql

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
# The checkout whose code the import and planning processes run (--code: e.g. main, for "before" figures).
CODE = ROOT
SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
# BENCH_SCALE_DATABASE: another name, so that two checkouts can measure at the same time.
DATABASE = os.environ.get("BENCH_SCALE_DATABASE", "bdt_bench_scale")
BUSY_SLUG = "busy-demand"


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{SERVER}/{DATABASE}",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-only-secret-key-not-for-production-use-0123456789",
        DJANGO_ALLOWED_HOSTS="testserver,localhost",
        DJANGO_SETTINGS_MODULE="config.settings",
        # Production-like, but over plain HTTP in-process.
        DJANGO_SECURE_SSL_REDIRECT="0",
        # What a page costs to render, not to fetch from the cache of anonymous pages.
        PUBLIC_PAGE_CACHE_SECONDS="0",
    )
    env.pop("REDIS_URL", None)
    return env


def _setup_django() -> None:
    # Production settings serve hashed static names from the manifest that collectstatic writes.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=_environment(), check=True
    )
    os.environ.update(_environment())
    import django

    django.setup()


def _psql(sql: str, database: str = DATABASE) -> str:
    return psql(f"{SERVER}/{database}", sql)


BUILD_SQL = """
INSERT INTO demands_category (name, name_es, slug, description, description_es, position)
SELECT 'Category ' || i, '', 'category-' || i, '', '', i FROM generate_series(1, 10) i;

INSERT INTO demands_demand (title, slug, summary, body, status, visibility, target, version, internal_notes,
    fallback_position, priority_tier, created_at, updated_at, category_id, owner_id, article, current_language,
    published_status, title_es, summary_es, target_es)
SELECT 'Demand ' || i, CASE WHEN i = 1 THEN '{busy}' ELSE 'demand-' || i END,
    'Summary of demand ' || i, 'Body of demand ' || i, 'proposed',
    CASE WHEN i = 1 THEN 'public' ELSE (ARRAY['public','members','team'])[1 + i % 3] END, '', 1,
    'internal ' || i, '', 'important',
    now() - interval '400 days', now() - (i || ' minutes')::interval,
    (SELECT min(id) FROM demands_category) + i % 10, NULL, '', '', 'proposed', '', '', ''
FROM generate_series(1, 5000) i;

-- 10,000 changes on the busy demand, 190,000 spread over the others (38 each).
-- Published as they were recorded (the model's default, which SQL does not apply), but for the latest 50: held.
INSERT INTO demands_statuschange (from_status, to_status, note, note_es, internal_note, changed_at, occurred_at,
    published_at, changed_by_id, demand_id, session_id)
SELECT 'proposed', 'countered', 'Public note ' || i, '', 'Internal note ' || i,
    now() - ((200000 - i) || ' minutes')::interval, now() - ((200000 - i) || ' minutes')::interval,
    CASE WHEN i > 199950 THEN NULL ELSE now() - ((200000 - i) || ' minutes')::interval END, NULL,
    CASE WHEN i <= 10000 THEN (SELECT id FROM demands_demand WHERE slug = '{busy}')
         ELSE (SELECT min(id) FROM demands_demand) + 1 + (i % 4999) END,
    NULL
FROM generate_series(1, 200000) i;

INSERT INTO demands_evidence (title, kind, publisher, published_on, url, quote, verified_at, visibility,
    created_at, updated_at, verified_by_id)
SELECT 'Evidence ' || i, 'report', 'Publisher', NULL, 'https://example.org/e/' || i, '', NULL,
    (ARRAY['public','members','team'])[1 + i % 3], now() - (i || ' minutes')::interval, now(), NULL
FROM generate_series(1, 10000) i;

INSERT INTO demands_evidencelink (claim, demand_id, evidence_id)
SELECT 'supports: point ' || i, (SELECT id FROM demands_demand WHERE slug = '{busy}'),
    (SELECT min(id) FROM demands_evidence) + i - 1
FROM generate_series(1, 1000) i;
INSERT INTO demands_evidencelink (claim, demand_id, evidence_id)
SELECT 'supports: point ' || i, (SELECT min(id) FROM demands_demand) + 1 + (i % 4999),
    (SELECT min(id) FROM demands_evidence) + 1000 + (i % 9000)
FROM generate_series(1, 9000) i;

-- 100,000 members: a third Spanish, half with topic subsets.
INSERT INTO bargaining_member (email, name, school, language, frequency, state, created_at, updated_at,
    unsubscribed_at)
SELECT 'member' || i || '@example.org', 'Member ' || i, 'School ' || (i % 200),
    CASE WHEN i % 3 = 0 THEN 'es' ELSE 'en' END, 'weekly', 'active', now(), now(), NULL
FROM generate_series(1, 100000) i;
INSERT INTO bargaining_member_topics (member_id, category_id)
SELECT m.id, (SELECT min(id) FROM demands_category) + (m.id % 10)
FROM bargaining_member m WHERE m.id % 2 = 0;

-- Three past weekly runs, 100,000 sent deliveries each.
INSERT INTO bargaining_digestrun (frequency, period_start, window_start, window_end, state, created_at, finished_at)
SELECT 'weekly', date_trunc('week', now())::date - 7 * w,
    date_trunc('week', now()) - ((w + 1) * 7 || ' days')::interval,
    date_trunc('week', now()) - (w * 7 || ' days')::interval, 'done', now(), now()
FROM generate_series(1, 3) w;
INSERT INTO bargaining_delivery (state, window_start, attempts, last_error, skip_reason, message_id, sent_at,
    claimed_at, created_at, updated_at, member_id, run_id, body_id)
SELECT 'sent', r.window_start, 1, '', '', '<m' || m.id || '.' || r.id || '@bench>', r.window_end, r.window_end,
    r.window_end, r.window_end, m.id, r.id, NULL
FROM bargaining_digestrun r CROSS JOIN bargaining_member m;
ANALYZE;
"""


def build() -> float:
    started = time.perf_counter()
    _psql(f"DROP DATABASE IF EXISTS {DATABASE}", "postgres")
    _psql(f"CREATE DATABASE {DATABASE}", "postgres")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=_environment(), check=True
    )
    _psql(BUILD_SQL.replace("{busy}", BUSY_SLUG))
    return time.perf_counter() - started


def _measure(client, url: str, repeat: int) -> dict:
    from django.db import connection

    times, size, status = [], 0, 0
    for attempt in range(repeat):
        executed = []

        def count(execute, sql, params, many, context, executed=executed):
            executed.append(1)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            started = time.perf_counter()
            response = client.get(url)
            content = b"".join(response.streaming_content) if response.streaming else response.content
            times.append(time.perf_counter() - started)
        status, size, queries = response.status_code, len(content), len(executed)
        if attempt == 0 and times[0] > 5:
            break  # one sample of a page that slow says enough
    return {
        "url": url,
        "status": status,
        "queries": queries,
        "median_ms": round(statistics.median(times) * 1000, 1),
        "kb": round(size / 1024, 1),
        "samples": len(times),
    }


def measure_pages(repeat: int, only: list[str]) -> list[dict]:
    from django.contrib.auth.models import Group, User
    from django.test import Client

    from bargaining.models import DigestRun, Member
    from demands.models import BargainingSession, Demand, Evidence, StatusChange
    from demands.roles import TEAM_GROUP
    from demands.services import session_create

    busy = Demand.objects.get(slug=BUSY_SLUG)
    run = DigestRun.objects.order_by("-period_start").first()
    member = Member.objects.order_by("id").first()
    change = StatusChange.objects.filter(demand=busy).order_by("-id").first()
    cited = Evidence.objects.filter(links__demand=busy).order_by("id").first()
    team, _ = User.objects.get_or_create(username="bench-team")
    team.groups.add(Group.objects.get_or_create(name=TEAM_GROUP)[0])
    admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    session = BargainingSession.objects.filter(location="bench session").first() or session_create(
        by=None,
        held_on=datetime.date(2026, 11, 2),
        kind="table",
        location="bench session",
        demand_ids=Demand.objects.order_by("-id").values_list("id", flat=True)[:20],
    )

    anonymous, team_client, admin_client = Client(), Client(), Client()
    team_client.force_login(team)
    admin_client.force_login(admin)
    plan = [
        ("anonymous", anonymous, "/"),
        ("anonymous", anonymous, f"/demands/{BUSY_SLUG}/"),
        ("anonymous", anonymous, f"/demands/{BUSY_SLUG}/?history=250&evidence=50"),
        ("anonymous", anonymous, "/evidence/"),
        ("anonymous", anonymous, "/evidence/?page=200"),
        ("anonymous", anonymous, "/?page=100"),
        ("anonymous", anonymous, "/feed/"),
        ("anonymous", anonymous, "/demands/"),
        ("anonymous", anonymous, "/bulletin/"),
        ("anonymous", anonymous, "/bulletin/?page=100"),
        ("anonymous", anonymous, "/bulletin/?category=category-1"),
        ("anonymous", anonymous, "/es/bulletin/?page=2"),
        ("team", team_client, "/"),
        ("team", team_client, f"/demands/{BUSY_SLUG}/"),
        ("team", team_client, f"/demands/{BUSY_SLUG}/?cite=evidence&cite_page=20"),
        ("team", team_client, "/evidence/"),
        ("team", team_client, "/held/"),
        ("team", team_client, "/bulletin/"),
        ("team", team_client, "/sessions/new/"),
        ("team", team_client, "/sessions/new/?q=demand"),
        ("team", team_client, f"/sessions/{session.pk}/edit/"),
        ("anonymous", anonymous, "/api/v1/demands/"),
        ("team", team_client, "/api/v1/demands/"),
        ("team", team_client, "/api/v1/evidence/"),
        ("team", team_client, "/api/v1/members/"),
        ("admin", admin_client, "/admin/demands/demand/"),
        ("admin", admin_client, f"/admin/demands/demand/{busy.pk}/change/"),
        ("admin", admin_client, "/admin/demands/statuschange/"),
        ("admin", admin_client, f"/admin/demands/statuschange/{change.pk}/change/"),
        ("admin", admin_client, "/admin/demands/evidence/"),
        ("admin", admin_client, f"/admin/demands/evidence/{cited.pk}/change/"),
        ("admin", admin_client, "/admin/demands/evidencelink/"),
        ("admin", admin_client, "/admin/bargaining/member/"),
        ("admin", admin_client, f"/admin/bargaining/member/{member.pk}/change/"),
        ("admin", admin_client, "/admin/bargaining/digestrun/"),
        ("admin", admin_client, f"/admin/bargaining/digestrun/{run.pk}/change/"),
        ("admin", admin_client, "/admin/bargaining/delivery/"),
    ]
    if only:
        plan = [(who, client, url) for who, client, url in plan if any(part in url for part in only)]
    results = [_floor(anonymous, repeat)]
    for who, client, url in plan:
        client.get(url)  # warm up (templates, connection)
        row = {"who": who, **_measure(client, url, repeat)}
        row["x_floor"] = round(row["median_ms"] / results[0]["median_ms"], 1)
        print(
            f"  {who:9} {url:48} {row['status']} {row['queries']:6} queries "
            f"{row['median_ms']:9.1f} ms {row['kb']:9.1f} KB {row['x_floor']:7.1f}x floor",
            flush=True,
        )
        results.append(row)
    results.append(_floor(anonymous, repeat))
    return results


def _floor(client, repeat: int) -> dict:
    """The floor of the same run: `/healthz` (the whole middleware stack and one `SELECT 1`), with the load."""
    client.get("/healthz")
    row = {"who": "floor", **_measure(client, "/healthz", max(repeat, 5)), "load": os.getloadavg()[0]}
    print(f"  floor     /healthz {row['median_ms']:.1f} ms, load average {row['load']:.2f}", flush=True)
    return row


def _roster(path: Path, count: int, offset: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("email,name,school,language,frequency,topics\n")
        for i in range(offset, offset + count):
            topics = "category-1;category-2" if i % 2 else ""
            handle.write(
                f"new{i}@example.net,New member {i},School {i % 200},{'es' if i % 3 == 0 else 'en'},weekly,{topics}\n"
            )


def _child_peak(code: str) -> tuple[float, int]:
    """Run Python code in a fresh process with the bench settings; returns (seconds, peak RSS kB).

    The peak is VmHWM, which starts afresh at exec (getrusage's ru_maxrss would carry the forking
    parent's size over).
    """
    wrapper = (
        "import time, django; django.setup(); t = time.perf_counter()\n"
        f"{code}\n"
        "peak = next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
        "print(time.perf_counter() - t, peak)"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper], cwd=CODE, env=_environment(), check=True, capture_output=True, text=True
    )
    seconds, peak = out.stdout.strip().splitlines()[-1].split()
    return float(seconds), int(peak)


def _copy_floor(path: Path) -> float:
    """An indexed COPY of the same rows: the file's rows (topics as their text cell) into a table shaped like
    bargaining_member with every index it has (primary key, unique Lower(email), frequency, state)."""
    _psql(
        "DROP TABLE IF EXISTS bench_copy_floor; CREATE TABLE bench_copy_floor (id bigserial PRIMARY KEY,"
        " email varchar(254) NOT NULL, name varchar(200) NOT NULL, school varchar(200) NOT NULL,"
        " language varchar(16) NOT NULL, frequency varchar(8) NOT NULL, state varchar(16) NOT NULL DEFAULT 'active',"
        " topics text);"
        " CREATE UNIQUE INDEX bench_copy_floor_email ON bench_copy_floor (lower(email));"
        " CREATE INDEX bench_copy_floor_frequency ON bench_copy_floor (frequency);"
        " CREATE INDEX bench_copy_floor_state ON bench_copy_floor (state);"
    )
    started = time.perf_counter()
    subprocess.run(
        [
            "psql",
            f"{SERVER}/{DATABASE}",
            "-qc",
            r"\copy bench_copy_floor (email, name, school, language, frequency, topics) FROM "
            f"'{path}' WITH (FORMAT csv, HEADER true)",
        ],
        check=True,
    )
    seconds = time.perf_counter() - started
    _psql("DROP TABLE bench_copy_floor")
    return seconds


def _copy_floor_with_topics(path: Path, count: int) -> float:
    """The same, and the topic rows too, as the import stores them: one COPY of the members and one of their
    (member, category) rows into a table like bargaining_member_topics (its four indexes, its two deferred
    foreign keys), in one transaction, so the foreign keys are checked at its COMMIT as the import's are."""
    _psql(
        "DROP TABLE IF EXISTS bench_copy_floor_topics, bench_copy_floor;"
        " CREATE TABLE bench_copy_floor (id bigint PRIMARY KEY,"
        " email varchar(254) NOT NULL, name varchar(200) NOT NULL, school varchar(200) NOT NULL,"
        " language varchar(16) NOT NULL, frequency varchar(8) NOT NULL, state varchar(16) NOT NULL DEFAULT 'active');"
        " CREATE UNIQUE INDEX bench_copy_floor_email ON bench_copy_floor (lower(email));"
        " CREATE INDEX bench_copy_floor_frequency ON bench_copy_floor (frequency);"
        " CREATE INDEX bench_copy_floor_state ON bench_copy_floor (state);"
        " CREATE TABLE bench_copy_floor_topics (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        " member_id bigint NOT NULL REFERENCES bench_copy_floor DEFERRABLE INITIALLY DEFERRED,"
        " category_id bigint NOT NULL REFERENCES demands_category DEFERRABLE INITIALLY DEFERRED,"
        " UNIQUE (member_id, category_id));"
        " CREATE INDEX ON bench_copy_floor_topics (member_id); CREATE INDEX ON bench_copy_floor_topics (category_id);"
    )
    categories = dict(
        line.split("|") for line in _psql("SELECT slug, id FROM demands_category WHERE slug LIKE 'category-%'").split()
    )
    members, topics = path.with_suffix(".members"), path.with_suffix(".topics")
    with path.open(encoding="utf-8") as rows, members.open("w") as out, topics.open("w") as out_topics:
        next(rows)
        for number, line in enumerate(rows, start=1):
            email, name, school, language, frequency, slugs = line.rstrip("\n").split(",")
            out.write(f"{number},{email},{name},{school},{language},{frequency}\n")
            for slug in filter(None, slugs.split(";")):
                out_topics.write(f"{number},{categories[slug]}\n")
    started = time.perf_counter()
    subprocess.run(
        [
            "psql",
            f"{SERVER}/{DATABASE}",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            "BEGIN",
            "-c",
            rf"\copy bench_copy_floor (id, email, name, school, language, frequency) FROM '{members}' CSV",
            "-c",
            rf"\copy bench_copy_floor_topics (member_id, category_id) FROM '{topics}' CSV",
            "-c",
            "COMMIT",
        ],
        check=True,
    )
    seconds = time.perf_counter() - started
    copied = int(_psql("SELECT count(*) FROM bench_copy_floor"))
    assert copied == count, f"the floor copied {copied} of {count} members"
    _psql("DROP TABLE bench_copy_floor_topics, bench_copy_floor")
    members.unlink()
    topics.unlink()
    return seconds


def measure_import() -> list[dict]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    for count, offset in ((30000, 0), (100000, 1_000_000)):
        path = RESULTS / f"roster-{count}.csv"
        _roster(path, count, offset)
        floor = _copy_floor(path)
        floor_with_topics = _copy_floor_with_topics(path, count)
        seconds, peak = _child_peak(
            "from django.core.management import call_command; import io\n"
            f"call_command('import_members', '{path}', stdout=io.StringIO(), stderr=io.StringIO())"
        )
        created = int(_psql("SELECT count(*) FROM bargaining_member WHERE email LIKE 'new%@example.net'"))
        _psql(
            "DELETE FROM bargaining_member_topics WHERE member_id IN (SELECT id FROM bargaining_member"
            " WHERE email LIKE 'new%@example.net'); DELETE FROM bargaining_member WHERE email LIKE 'new%@example.net'"
        )
        row = {
            "rows": count,
            "import_s": round(seconds, 2),
            "copy_floor_s": round(floor, 2),
            "ratio": round(seconds / floor, 2),
            "copy_floor_with_topics_s": round(floor_with_topics, 2),
            "ratio_with_topics": round(seconds / floor_with_topics, 2),
            "load": round(os.getloadavg()[0], 2),
            "peak_rss_mb": round(peak / 1024, 1),
            "created": created,
        }
        print(
            f"  import {count:7} rows: {row['import_s']} s (COPY floor {row['copy_floor_s']} s, "
            f"{row['ratio']}x; with the topic rows {row['copy_floor_with_topics_s']} s, {row['ratio_with_topics']}x),"
            f" load {row['load']}, peak RSS {row['peak_rss_mb']} MB, created {created}",
            flush=True,
        )
        path.unlink()
        rows.append(row)
    return rows


def _delivery_table_floor() -> float:
    """The same INSERT ... SELECT into bargaining_delivery itself, committed: its indexes, and its two foreign
    keys checked at COMMIT, as planning's are (for a run of its own, deleted afterwards)."""
    run = _psql(
        "INSERT INTO bargaining_digestrun (frequency, period_start, window_start, window_end, state, created_at)"
        " VALUES ('weekly', '2999-01-04', now(), now(), 'sending', now()) RETURNING id"
    ).split()[0]
    started = time.perf_counter()
    _psql(
        "BEGIN; INSERT INTO bargaining_delivery (state, window_start, attempts, last_error, skip_reason, message_id,"
        f" created_at, updated_at, member_id, run_id) SELECT 'pending', now(), 0, '', '', '', now(), now(), id, {run}"
        " FROM bargaining_member WHERE state = 'active' AND frequency = 'weekly'; COMMIT"
    )
    seconds = time.perf_counter() - started
    _psql(f"DELETE FROM bargaining_delivery WHERE run_id = {run}; DELETE FROM bargaining_digestrun WHERE id = {run}")
    return seconds


def measure_planning() -> list[dict]:
    rows = []
    for count in (30000, 100000):
        # Only `count` members are weekly and active for this measurement; the rest are daily.
        _psql(
            "UPDATE bargaining_member SET frequency = CASE WHEN id < (SELECT min(id) FROM bargaining_member) + "
            f"{count} THEN 'weekly' ELSE 'daily' END; DELETE FROM bargaining_delivery WHERE run_id IN "
            "(SELECT id FROM bargaining_digestrun WHERE period_start = date_trunc('week', now())::date);"
            " DELETE FROM bargaining_digestrun WHERE period_start = date_trunc('week', now())::date; ANALYZE;"
        )
        seconds, peak = _child_peak(
            "from bargaining.digests.planning import digest_plan\nplan = digest_plan(frequency='weekly')"
        )
        planned = int(
            _psql(
                "SELECT count(*) FROM bargaining_delivery d JOIN bargaining_digestrun r ON r.id = d.run_id"
                " WHERE r.period_start = date_trunc('week', now())::date"
            )
        )
        started = time.perf_counter()
        _psql(
            "CREATE TEMP TABLE floor (LIKE bargaining_delivery INCLUDING ALL);"
            " INSERT INTO floor (state, window_start, attempts, last_error, skip_reason, message_id, created_at,"
            " updated_at, member_id, run_id) SELECT 'pending', now(), 0, '', '', '', now(), now(), id, 1"
            " FROM bargaining_member WHERE state = 'active' AND frequency = 'weekly'"
        )
        floor = time.perf_counter() - started
        table_floor = _delivery_table_floor()
        row = {
            "members": count,
            "plan_s": round(seconds, 2),
            "insert_floor_s": round(floor, 2),
            "table_floor_s": round(table_floor, 2),
            "peak_rss_mb": round(peak / 1024, 1),
            "planned": planned,
        }
        print(
            f"  plan {count:7} members: {row['plan_s']} s (INSERT ... SELECT floor {row['insert_floor_s']} s;"
            f" into bargaining_delivery itself {row['table_floor_s']} s), peak RSS {row['peak_rss_mb']} MB,"
            f" planned {planned}",
            flush=True,
        )
        rows.append(row)
    _psql("UPDATE bargaining_member SET frequency = 'weekly'")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", action="store_true", help="measure the existing bdt_bench_scale again")
    parser.add_argument("--repeat", type=int, default=5, help="requests per page (median)")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose code imports and plans")
    parser.add_argument("--skip", nargs="*", default=[], choices=["pages", "import", "planning"])
    parser.add_argument(
        "--pages", nargs="*", default=[], metavar="PART", help="measure only the pages whose URL contains a PART"
    )
    args = parser.parse_args()
    global CODE
    CODE = args.code.resolve()
    results: dict = {"code": str(CODE), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if not args.reuse:
        results["build_s"] = round(build(), 1)
        print(f"built {DATABASE} in {results['build_s']} s", flush=True)
    _setup_django()
    if "pages" not in args.skip:
        print(
            "pages, API and admin (in-process test client, DJANGO_DEBUG off, queries counted by an execute wrapper):",
            flush=True,
        )
        results["pages"] = measure_pages(args.repeat, args.pages)
    if "import" not in args.skip:
        results["import"] = measure_import()
    if "planning" not in args.skip:
        results["planning"] = measure_planning()
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(f"benchmark process peak RSS {results['peak_rss_mb']} MB")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"scale-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
