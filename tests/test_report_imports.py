"""``report/`` never reads captures: no module under analyzer/report imports the API, the
loader or the batch runner, not even lazily inside a function (the packets of the
connections it draws come from ``analyzer.reread``, passed in by the caller)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPORT = Path(__file__).resolve().parents[1] / "analyzer" / "report"
FORBIDDEN = ("analyzer.api", "analyzer.loader", "analyzer.batch")
MODULES = sorted(REPORT.rglob("*.py"))


def imported(tree: ast.AST, package: str) -> list[str]:
    """Every module an import statement anywhere in ``tree`` names (relative imports
    resolved against ``package``), including ``from analyzer import api``."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.append(base)
            names += [f"{base}.{a.name}" for a in node.names]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
              and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                  "import_module", "__import__")
              and node.args and isinstance(node.args[0], ast.Constant)):
            names.append(str(node.args[0].value))
    return names


def test_the_walk_finds_every_module() -> None:
    assert len(MODULES) > 10
    assert REPORT / "explain.py" in MODULES and REPORT / "folder.py" in MODULES


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(REPORT)))
def test_report_module_imports_no_reader(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(("analyzer", *path.relative_to(REPORT.parent).parent.parts))
    bad = [n for n in imported(tree, package)
           if any(n == f or n.startswith(f + ".") for f in FORBIDDEN)]
    assert bad == [], f"{path.name} imports {bad}"


def test_the_check_would_catch_a_lazy_import() -> None:
    tree = ast.parse("def f():\n    from analyzer.loader import load\n"
                     "    import analyzer.api\n    from .. import batch\n")
    names = imported(tree, "analyzer.report")
    assert {"analyzer.loader", "analyzer.api", "analyzer.batch"} <= set(names)
