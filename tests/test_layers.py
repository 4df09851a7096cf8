"""The house has three floors and arrows only go down (shared/STYLE.md).

engine imports nothing of ours and no Qt; model imports engine but no Qt.
Checked in a fresh interpreter so other tests' imports do not hide a leak.
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cnnstudio"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-node.level]
                names.add(".".join(base + ((node.module,) if node.module else ())))
            else:
                names.add(node.module)
    return names


@pytest.mark.parametrize("floor, forbidden", [
    ("engine", ("cnnstudio.core", "cnnstudio.qt", "cnnstudio.app", "cnnstudio.cli", "PySide6", "pyqtgraph")),
    ("core", ("cnnstudio.qt", "cnnstudio.app", "PySide6", "pyqtgraph")),
])
def test_no_import_reaches_up(floor, forbidden):
    offenders = []
    for path in sorted((PACKAGE / floor).rglob("*.py")):
        for name in _imported_modules(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                offenders.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert not offenders, "\n".join(offenders)


def test_model_runs_without_qt():
    code = ("import sys, pkgutil, importlib, cnnstudio.core as m\n"
            "for info in pkgutil.iter_modules(m.__path__):\n"
            "    importlib.import_module('cnnstudio.core.' + info.name)\n"
            "bad = [n for n in sys.modules if n.startswith(('PySide6', 'pyqtgraph'))]\n"
            "print(bad)\n"
            "sys.exit(1 if bad else 0)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stdout + result.stderr
