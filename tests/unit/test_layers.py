"""Layering contracts, checked on every test run (import-linter cannot forbid submodules of an
external package such as PySide6.QtWidgets, so this reads the imports itself with ast).

- Qt widgets and Qt GUI stay in reelforge.ui.
- The domain, the job function and the media adapters are pure: no Qt, no database.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "app" / "reelforge"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _modules(*parts: str) -> list[Path]:
    found = []
    for part in parts:
        target = PACKAGE / part
        found.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target])
    return found


def _violations(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for f in files:
        for name in _imports(f):
            if any(name == fb or name.startswith(fb + ".") for fb in forbidden):
                bad.append(f"{f.relative_to(PACKAGE)} imports {name}")
    return bad


def test_package_found() -> None:
    assert (PACKAGE / "__init__.py").is_file()
    assert len(_modules("domain")) >= 5


def test_widgets_only_in_ui() -> None:
    outside_ui = [p for p in PACKAGE.rglob("*.py") if "ui" not in p.relative_to(PACKAGE).parts]
    assert outside_ui
    assert _violations(outside_ui, ("PySide6.QtWidgets", "PySide6.QtGui")) == []


@pytest.mark.parametrize("part", ["domain", "media", "runner.py"])
def test_pure_layers(part: str) -> None:
    files = _modules(part)
    forbidden = ("PySide6", "sqlmodel", "sqlalchemy", "reelforge.storage", "reelforge.ui")
    assert _violations(files, forbidden) == []


def test_cluster_package_runs_without_qt_or_history() -> None:
    """A worker machine imports reelforge.cluster and the job function: no Qt, no database."""
    files = _modules("cluster")
    assert files
    forbidden = ("PySide6", "sqlmodel", "sqlalchemy", "reelforge.storage", "reelforge.ui",
                 "reelforge.services", "reelforge.bus", "reelforge.executors")  # fmt: skip
    assert _violations(files, forbidden) == []


def test_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from PySide6.QtWidgets import QWidget\nimport sqlalchemy.orm\n")
    found = [name for name in _imports(bad)]
    assert "PySide6.QtWidgets" in found
    assert "sqlalchemy.orm" in found
