"""psql for the benchmarks' SQL: one call, stop at the first error, the output's text."""

import subprocess


def psql(url: str, sql: str) -> str:
    out = subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()
