"""The proposals' publish rule: the column (`Proposal.published_at`) against the anti-join it replaced.

    .venv/bin/python -m bench.held_bench            # builds bdt_bench_held, then measures
    .venv/bin/python -m bench.held_bench --reuse    # measures an already built database again

Builds 5,000 demands, 200,000 proposals (40 each) and 200,000 status changes, half of them citing a proposal,
2,000 of those held with their proposal. Then times, in the same run and on the same rows, the members' reads
of proposals under three rules: the floor (visibility only, no publish rule), the rule before this branch
(`exclude(pk__in=<held changes citing a proposal>)`) and the rule now (`published_at IS NOT NULL`), each
compiled by the ORM and run through one cursor: the count of all member-visible proposals, and one demand's
chain (what the demand page and `GET /api/v1/demands/<id>/proposals/` read). Median of 15 after a warm-up;
each rule's time is printed as a ratio to the floor measured beside it.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.psql import psql

ROOT = Path(__file__).resolve().parents[1]
SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DATABASE = os.environ.get("BENCH_HELD_DATABASE", "bdt_bench_held")
REPEAT = 15

BUILD_SQL = """
INSERT INTO demands_category (name, slug, description, position, name_es, description_es)
SELECT 'Category ' || i, 'category-' || i, '', i, '', '' FROM generate_series(1, 10) i;

INSERT INTO demands_demand (title, slug, summary, body, status, published_status, visibility, target, version,
    internal_notes, fallback_position, priority_tier, created_at, updated_at, category_id, owner_id, article,
    current_language, summary_es, target_es, title_es)
SELECT 'Demand ' || i, 'demand-' || i, 'Summary ' || i, '', 'countered', 'countered',
    (ARRAY['public','members','team'])[1 + i % 3], '', 1, '', '', 'important',
    now() - interval '400 days', now(), (SELECT min(id) FROM demands_category) + i % 10, NULL, '', '', '', '', ''
FROM generate_series(1, 5000) i;

INSERT INTO demands_proposal (demand_id, number, side, exchanged_on, session_id, language, summary, summary_es,
    rationale, visibility, created_by_id, created_at, published_at, embargo_until, published_by_id)
SELECT (SELECT min(id) FROM demands_demand) + (i - 1) / 40, 1 + (i - 1) % 40,
    CASE WHEN i % 2 = 0 THEN 'union' ELSE 'board' END, current_date, NULL,
    'Language of proposal ' || i, 'Summary ' || i, '', '', CASE WHEN i % 10 = 0 THEN 'team' ELSE 'public' END,
    NULL, now() - ((200000 - i) || ' minutes')::interval,
    CASE WHEN i % 100 = 1 THEN NULL ELSE now() - ((200000 - i) || ' minutes')::interval END, NULL, NULL
FROM generate_series(1, 200000) i;

-- Half the changes cite a proposal (every other one); those citing a held proposal are held with it.
INSERT INTO demands_statuschange (from_status, to_status, note, note_es, internal_note, changed_at, occurred_at,
    published_at, changed_by_id, demand_id, session_id, proposal_id)
SELECT 'proposed', 'countered', 'Note ' || p.id, '', '', p.created_at, p.created_at, p.published_at, NULL,
    p.demand_id, NULL, p.id
FROM demands_proposal p WHERE p.number % 2 = 1;
INSERT INTO demands_statuschange (from_status, to_status, note, note_es, internal_note, changed_at, occurred_at,
    published_at, changed_by_id, demand_id, session_id, proposal_id)
SELECT 'countered', 'proposed', 'Plain move ' || i, '', '', now(), now(), now(), NULL,
    (SELECT min(id) FROM demands_demand) + i % 5000, NULL, NULL
FROM generate_series(1, 100000) i;
ANALYZE;
"""


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{SERVER}/{DATABASE}",
        DJANGO_DEBUG="1",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    env.pop("REDIS_URL", None)
    return env


def _psql(sql: str, database: str = DATABASE) -> str:
    return psql(f"{SERVER}/{database}", sql)


def build() -> float:
    started = time.perf_counter()
    _psql(f"DROP DATABASE IF EXISTS {DATABASE}", "postgres")
    _psql(f"CREATE DATABASE {DATABASE}", "postgres")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=_environment(), check=True
    )
    _psql(BUILD_SQL)
    return time.perf_counter() - started


def _median_ms(cursor, sql: str, params: tuple) -> float:
    cursor.execute(sql, params)  # warm-up
    cursor.fetchall()
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        cursor.execute(sql, params)
        cursor.fetchall()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure() -> None:
    os.environ.update(_environment())
    import django

    django.setup()
    from django.db import connection

    from demands.models import Audience, Proposal, StatusChange

    keys = Audience(Audience.MEMBERS).visibilities
    floor = Proposal.objects.filter(visibility__in=keys, demand__visibility__in=keys)
    rules = {
        "floor (no publish rule)": floor,
        "before: exclude held changes' proposals": floor.exclude(
            pk__in=StatusChange.objects.filter(published_at__isnull=True, proposal__isnull=False).values("proposal_id")
        ),
        "now: published_at IS NOT NULL": floor.filter(published_at__isnull=False),
    }
    busy = Proposal.objects.filter(demand__visibility="public").values_list("demand_id", flat=True).first()
    reads = {
        "count of all member-visible proposals": lambda qs: qs.values("pk").order_by(),
        "one demand's chain (40 proposals)": lambda qs: qs.filter(demand_id=busy).order_by("number"),
    }
    with connection.cursor() as cursor:
        for read, shape in reads.items():
            results = {}
            for name, queryset in rules.items():
                query = shape(queryset)
                if read.startswith("count"):
                    sql, params = query.query.sql_with_params()
                    sql = f"SELECT count(*) FROM ({sql}) AS rows"
                else:
                    sql, params = query.query.sql_with_params()
                results[name] = (_median_ms(cursor, sql, params), query.count())
            base = results["floor (no publish rule)"][0]
            print(f"\n{read}")
            for name, (ms, rows) in results.items():
                print(f"  {name:45} {ms:9.2f} ms  x{ms / base:5.2f} of the floor  ({rows:,} rows)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reuse", action="store_true", help="Measure an already built database.")
    args = parser.parse_args()
    if not args.reuse:
        print(f"built {DATABASE} in {build():.1f} s")
    measure()


if __name__ == "__main__":
    main()
