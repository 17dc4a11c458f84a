"""The bargaining app's import layers, read from the source: only `bargaining.tasks` knows Celery and
enqueues; nothing below it imports it; no bargaining module imports one that imports it back."""

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "bargaining"
# Modules allowed to import bargaining.tasks (callers of the task layer) and Celery itself: the entry points
# a person uses, the command and the admin (whose "Resume sending" sweeps at once, as `send_digests --resume`).
ABOVE_TASKS = {"bargaining.tasks", "bargaining.management.commands.send_digests", "bargaining.admin"}


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, relative imports resolved, `from x import y` counted as x and x.y."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


MODULES = {module_name(path): imports_of(path) for path in APP.rglob("*.py") if "migrations" not in path.parts}


def test_the_digest_package_and_services_exist():
    assert {"bargaining.digests.planning", "bargaining.digests.sending", "bargaining.services"} <= MODULES.keys()


@pytest.mark.parametrize("name", sorted(set(MODULES) - ABOVE_TASKS))
def test_nothing_below_the_task_layer_imports_it_or_celery(name):
    assert not {module for module in MODULES[name] if module.startswith(("bargaining.tasks", "celery"))}


def test_no_bargaining_module_imports_one_that_imports_it_back():
    graph = {name: {m for m in imports if m in MODULES and m != name} for name, imports in MODULES.items()}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            current = todo.pop()
            if current == goal:
                return True
            if current not in seen:
                seen.add(current)
                todo.extend(graph[current])
        return False

    cycles = sorted((a, b) for a, targets in graph.items() for b in targets if reaches(b, a))
    assert cycles == []
