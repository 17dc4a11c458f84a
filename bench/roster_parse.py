"""CPU time of reading and validating a roster, without writing it: the Python half of `import_members`.

    .venv/bin/python -m bench.roster_parse                  # this checkout's code, 100,000 rows, 3 rounds
    cd /path/to/other/checkout && /path/to/this/.venv/bin/python /path/to/this/bench/roster_parse.py

Uses the same CSV as `bench/scale.py` (new members, half with two topics) and the database at
DATABASE_URL only to read the categories. Reports process CPU seconds (`time.process_time`), which a
loaded machine disturbs less than wall time, for the CSV reading (`members_csv_rows`) and for the
per-row validation (`_parse`), separately.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.getcwd())  # the checkout whose code is measured
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")

import django

django.setup()

from bargaining import roster  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))


def write_roster(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("email,name,school,language,frequency,topics\n")
        for i in range(count):
            topics = "category-1;category-2" if i % 2 else ""
            language = "es" if i % 3 == 0 else "en"
            handle.write(f"new{i}@example.net,New member {i},School {i % 200},{language},weekly,{topics}\n")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "roster.csv"
        write_roster(path, ROWS)
        keys = roster._topic_keys()
        for _ in range(3):
            started = time.process_time()
            with path.open(encoding="utf-8-sig", newline="") as handle:
                rows = list(roster.members_csv_rows(lines=handle))
            read = time.process_time()
            seen: dict[str, int] = {}
            parsed = [roster._parse(number, raw, keys, seen) for number, raw in rows]
            done = time.process_time()
            rejected = sum(isinstance(row, roster.RejectedRow) for row in parsed)
            print(
                f"{ROWS} rows: read {read - started:.2f} s CPU, validate {done - read:.2f} s CPU, rejected {rejected}"
            )
            del rows, parsed


if __name__ == "__main__":
    main()
