"""Dependencies point inward: the domain never imports the web, the tasks or their frameworks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_IN_WORKFLOW = ("web", "tasks", "flask", "celery", "kombu", "werkzeug")
PURE_DOMAIN = (
    "definition",
    "machine",
    "guards",
    "eventdata",
    "calendar",
    "periods",
    "privacy",
    "clock",
)
IO_MODULES = ("sqlalchemy", "psycopg", "redis", "smtplib", "urllib", "socket", "requests")


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize(
    "path", sorted((ROOT / "workflow").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_workflow_package_never_imports_an_entry_point_or_its_framework(path: Path) -> None:
    assert not imported_roots(path) & set(FORBIDDEN_IN_WORKFLOW)


@pytest.mark.parametrize("module", PURE_DOMAIN)
def test_the_pure_domain_does_no_io(module: str) -> None:
    assert not imported_roots(ROOT / "workflow" / f"{module}.py") & set(IO_MODULES)


def test_config_imports_nothing_from_the_adapters() -> None:
    for path in (ROOT / "config").rglob("*.py"):
        assert not imported_roots(path) & {"web", "tasks", "workflow"}, path
