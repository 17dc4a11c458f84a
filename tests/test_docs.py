"""README.md and docs/ are self-contained: every file they point at is inside the repository."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)[^)]*\)")
CODE = re.compile(r"`([^`\n]+)`")


def untracked_names() -> set[str]:
    """Top-level names that .gitignore keeps out of the repository (a clone does not have them)."""
    lines = (ROOT / ".gitignore").read_text().splitlines()
    return {line.strip().strip("/") for line in lines if line.strip() and not line.startswith("#")} | {".git"}


TOP_LEVEL = {path.name for path in ROOT.iterdir()} - untracked_names()


def links(document: Path) -> list[str]:
    return [target for target in LINK.findall(document.read_text()) if not re.match(r"[a-z]+:", target)]


def mentioned_paths(document: Path) -> list[str]:
    """Code spans naming a file or folder of the repository: `config/celery.py`, `requirements*.txt`, `Dockerfile`.

    URL paths (`/demands/<slug>/`), API templates (`demands/{id}/`) and URLs are not files; nor is a span
    whose first part names nothing at the top of the repository (`var/mail/`, made at run time).
    """
    spans = [span for span in CODE.findall(document.read_text()) if " " not in span]
    candidates = [span for span in spans if not re.search(r"[<>{}]|://", span)]
    return [span for span in candidates if span.startswith("../") or _top_level_match(span.split("/")[0])]


def _top_level_match(first: str) -> bool:
    return any(Path(name).match(first) for name in TOP_LEVEL) if "*" in first else first in TOP_LEVEL


def resolves_inside(base: Path, relative: str) -> bool:
    relative = relative.split("#")[0]
    if relative.startswith(("../", "/")):
        return False
    target = (base / relative).resolve()
    matches = list(base.glob(relative.rstrip("/"))) if "*" in relative else [target]
    return bool(matches) and all(m.resolve().is_relative_to(ROOT) and m.exists() for m in matches)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_link_resolves_inside_the_repository(document):
    broken = [target for target in links(document) if not resolves_inside(document.parent, target)]
    assert not broken, f"{document.name} links outside the repository or to nothing: {broken}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_path_mentioned_resolves_inside_the_repository(document):
    broken = [path for path in mentioned_paths(document) if not resolves_inside(ROOT, path)]
    assert not broken, f"{document.name} names paths outside the repository or that do not exist: {broken}"


def test_the_checks_see_paths_and_links_that_do_not_resolve(tmp_path):
    document = tmp_path / "page.md"
    document.write_text(
        "Spec: `../shared/PRODUCT.md`, see `config/nothing.py` and `demands/{id}/`; [gone](missing.md), "
        "[spec](docs/specification.md), [site](https://example.org/)."
    )
    assert mentioned_paths(document) == ["../shared/PRODUCT.md", "config/nothing.py"]
    assert [path for path in mentioned_paths(document) if not resolves_inside(ROOT, path)] == mentioned_paths(document)
    assert links(document) == ["missing.md", "docs/specification.md"]
    assert not resolves_inside(tmp_path, "missing.md")
    assert resolves_inside(ROOT, "docs/specification.md")


def test_the_readme_points_at_the_specification_in_the_repository():
    readme = (ROOT / "README.md").read_text()
    assert "docs/specification.md" in readme
    assert "product specification" in (ROOT / "docs" / "specification.md").read_text().splitlines()[0]


def test_ci_runs_the_test_command_of_the_readme():
    readme = (ROOT / "README.md").read_text()
    commands = re.search(r"```sh\n(.*?)```", readme, re.S).group(1).splitlines()
    test_command = next(line.split("#")[0].strip() for line in commands if "the whole suite" in line)
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.strip()]
    assert test_command == "make test"
    assert ci_lines[-1] == test_command


def test_ci_script_parses_and_runs_nothing_before_its_strict_mode():
    """A fragment pasted into its comment once made `.ci/run` run apt-get, then fail on a stray `fi`."""
    subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], check=True)
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.strip()]
    first_command = next(line for line in lines if not line.lstrip().startswith("#"))
    assert first_command == "set -euo pipefail"
