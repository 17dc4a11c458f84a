"""The import contracts and the type check of pyproject.toml hold, and they fail when the layout is broken."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PACKAGES = ("config", "bargaining", "demands")


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_DEBUG": "1"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the code and pyproject.toml that a test may break."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def append(tree: Path, module: str, line: str) -> None:
    path = tree / module
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / "__init__.py").touch()
    with path.open("a") as file:
        file.write(f"\n{line}\n")


def test_the_import_contracts_hold():
    result = run([str(BIN / "lint-imports"), "--no-cache"], ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("demands/models.py", "import bargaining.models", "bargaining uses demands, never the other way round"),
        ("bargaining/services.py", "import config.urls", "bargaining uses demands, never the other way round"),
        ("bargaining/models.py", "from bargaining import selectors", "which sit above the models"),
        ("demands/selectors.py", "from demands import views", "import no tasks, views, API, admin or forms"),
        ("bargaining/selectors.py", "from demands.api import serializers", "import no tasks, views, API, admin"),
        # A package that does not exist yet is covered the day it does.
        ("bargaining/digests/planning.py", "from bargaining import tasks", "tasks sit above services and selectors"),
        ("bargaining/links.py", "from bargaining import views", "No import cycles between sibling modules"),
        ("bargaining/digests/content.py", "import celery", "Only the task layer knows Celery"),
        ("bargaining/views.py", "from bargaining import tasks", "Only the task layer knows Celery"),
        ("demands/services.py", "from celery import shared_task", "Only the task layer knows Celery"),
    ],
)
def test_a_broken_layout_breaks_its_contract(tree, module, line, contract):
    append(tree, module, line)
    result = run([str(BIN / "lint-imports"), "--no-cache"], tree)
    assert result.returncode == 1, result.stdout + result.stderr
    # The report wraps long contract names: compare with the whitespace collapsed.
    broken = " ".join(result.stdout.split("Broken contracts")[1].split())
    assert contract in broken, result.stdout


def test_the_type_check_covers_services_selectors_tasks_and_the_digests_package(tree):
    append(tree, "bargaining/digests/planning.py", "def period_of(run):\n    return run.period_start")
    append(tree, "demands/selectors.py", "def count_of(items: list[int]) -> str:\n    return len(items)")
    append(tree, "bargaining/views.py", "def untyped_view_helper(request):\n    return request")
    result = run([str(BIN / "mypy"), "--cache-dir", str(tree / ".mypy_cache")], tree)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert re.search(r"bargaining/digests/planning\.py:\d+: error: Function is missing a type annotation", output)
    assert "demands/selectors.py:" in output and 'Incompatible return value type (got "int", expected "str")' in output
    # Views are callers, not part of the typed layer.
    assert "bargaining/views.py" not in output


def test_make_test_runs_lint_contracts_types_then_the_suite():
    result = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    steps = [".venv/bin/ruff check .", ".venv/bin/lint-imports", "DJANGO_DEBUG=1 .venv/bin/mypy", ".venv/bin/pytest"]
    lines = result.stdout.splitlines()
    positions = [next(i for i, line in enumerate(lines) if line.startswith(step)) for step in steps]
    assert positions == sorted(positions), result.stdout


def test_the_suite_runs_in_a_random_order_by_default():
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "tests/test_docs.py"]
    result = run(command, ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Using --randomly-seed=" in result.stdout
