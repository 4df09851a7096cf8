"""The house rules as functions: each reads a package tree (with ``ast``, or by importing it in a fresh
interpreter) and returns its violations.

Used by tests/test_layers.py on cnnstudio/, and on small fake trees to show that a
violation is caught.  An ``ast`` violation is one line, ``"<file>:<line>: <what is wrong>"``.
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tokenize
from collections.abc import Iterator
from pathlib import Path

OURS = "cnnstudio"
QT_MODULES = ("PySide6", "pyqtgraph", "shiboken6")

# floor -> the floors of ours it may import (its own always); arrows only go down
_MODEL_FLOORS = {"engine", "base", "io", "imaging", "training", "core", "render", "lessons", "inspection"}
FLOORS: dict[str, set[str]] = {
    "engine": set(),
    "base": set(),
    "imaging": {"base"},
    "render": {"engine", "base"},
    "io": {"engine", "base"},
    "training": {"engine", "base", "io"},
    "core": {"engine", "base", "io", "imaging", "training", "render"},
    "lessons": {"engine", "base", "io", "imaging", "training", "core", "render"},
    "inspection": {"engine", "base", "io", "imaging", "training", "core", "render", "lessons"},
    "qt": _MODEL_FLOORS,
    "cli": _MODEL_FLOORS,
    "app": _MODEL_FLOORS | {"qt", "cli", "__main__"},  # the entry points may import anything
    "__main__": _MODEL_FLOORS | {"qt", "cli", "app"},
    "__init__": set(),  # cnnstudio/__init__.py, which every floor may import (it imports nothing)
}
QT_FREE_FLOORS = sorted(_MODEL_FLOORS)

# pyqtgraph internals the views once reached into: they change without notice between releases
PRIVATE_PYQTGRAPH_NAMES = frozenset({"qimage", "_renderRequired", "_unrenderable", "_imageHash", "_xp",
                                     "_effectiveLut"})

# A cited path starts with a folder of the repository, or of cnnstudio/ (a floor).  A floor's path
# must name a file ("engine/threads.py"), so prose such as "engine/base" is not taken for one.
_REPO_FOLDERS = ("cnnstudio", "tests", "shared", "docs", "resources", "benchmarks", "scripts")
_FLOOR_FOLDERS = tuple(floor for floor in FLOORS if floor not in ("cli", "app", "__main__", "__init__"))
_CITED_PATH = re.compile(r"(?<![\w./*-])((%s)/[\w./-]*\w)" % "|".join(_REPO_FOLDERS + _FLOOR_FOLDERS))


def python_files(package: Path) -> Iterator[Path]:
    yield from sorted(path for path in package.rglob("*.py") if "__pycache__" not in path.parts)


def floor_of(path: Path, package: Path) -> str:
    """``cnnstudio/core/canvas.py`` -> ``core``; ``cnnstudio/cli.py`` -> ``cli``."""
    parts = path.relative_to(package).parts
    return parts[0] if len(parts) > 1 else Path(parts[0]).stem


def imports(path: Path, package: Path) -> Iterator[tuple[int, str, str | None]]:
    """``(line, module, name)`` for each import in a file, relative ones resolved.

    ``import a.b`` gives ``(line, "a.b", None)``; ``from a.b import c`` gives ``(line, "a.b", "c")``.
    Imports inside functions and ``if`` blocks count: they run too.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module_parts = (package.name, *path.relative_to(package).with_suffix("").parts)
    if module_parts[-1] == "__init__":
        module_parts = module_parts[:-1] + ("",)  # a package's relative imports start at the package
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = module_parts[:-node.level]
                module = ".".join(part for part in (*base, module) if part)
            for alias in node.names:
                yield node.lineno, module, alias.name


def _our_floor(module: str, name: str | None) -> str | None:
    """The floor an import reaches: ``cnnstudio.core.canvas`` -> ``core``; ``from cnnstudio import cli`` -> ``cli``."""
    parts = module.split(".")
    if parts[0] != OURS:
        return None
    if len(parts) > 1:
        return parts[1]
    return name if name in FLOORS else "__init__"


def _where(path: Path, package: Path, line: int) -> str:
    return f"{Path(package.name) / path.relative_to(package)}:{line}"


def layer_violations(package: Path) -> list[str]:
    """Imports that reach up or sideways across floors, and Qt imported by a Qt-free floor."""
    found = []
    for path in python_files(package):
        floor = floor_of(path, package)
        if floor not in FLOORS:
            found.append(f"{_where(path, package, 1)}: floor {floor!r} has no contract (add it to FLOORS)")
            continue
        for line, module, name in imports(path, package):
            target = _our_floor(module, name)
            imported = module if name is None else f"{module}.{name}"
            if target not in (None, floor, "__init__") and target not in FLOORS[floor]:
                found.append(f"{_where(path, package, line)}: {floor} imports {imported} (floor {target})")
            if floor in QT_FREE_FLOORS and module.split(".")[0] in QT_MODULES:
                found.append(f"{_where(path, package, line)}: {floor} imports {imported} (Qt)")
    return found


def private_engine_violations(package: Path) -> list[str]:
    """Imports of the engine's private modules or names from outside it: ``engine._jit``,
    ``from cnnstudio.engine.conv import _x``."""
    found = []
    for path in python_files(package):
        if floor_of(path, package) == "engine":
            continue
        for line, module, name in imports(path, package):
            parts = module.split(".")
            if parts[:2] != [OURS, "engine"]:
                continue
            if any(part.startswith("_") for part in parts[2:]) or (name or "").startswith("_"):
                imported = module if name is None else f"{module}.{name}"
                found.append(f"{_where(path, package, line)}: imports the engine's private {imported}")
    return found


def private_pyqtgraph_violations(package: Path, names=PRIVATE_PYQTGRAPH_NAMES) -> list[str]:
    """Uses of pyqtgraph internals in a floor: ``item.qimage``, ``getattr(item, "_xp")``, ..."""
    found = []
    for path in python_files(package):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in names:
                found.append(f"{_where(path, package, node.lineno)}: uses pyqtgraph's private .{node.attr}")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) >= 2
                  and isinstance(node.args[1], ast.Constant) and node.args[1].value in names):
                found.append(f"{_where(path, package, node.lineno)}: uses pyqtgraph's private "
                             f".{node.args[1].value} through {node.func.id}")
    return found


def prose(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each line of the file's comments and strings (docstrings, messages)."""
    with tokenize.open(path) as source:
        for token in tokenize.generate_tokens(source.readline):
            if token.type in (tokenize.COMMENT, tokenize.STRING):
                for offset, line in enumerate(token.string.splitlines()):
                    yield token.start[0] + offset, line


def cited_paths(text: str) -> Iterator[tuple[int, str]]:
    """``(line, path)`` for each thing in ``text`` that looks like a repository path."""
    for number, line in enumerate(text.splitlines(), 1):
        for match in _CITED_PATH.finditer(line):
            cited, root = match.group(1).split("::")[0], match.group(2)
            if root in _REPO_FOLDERS or "." in cited.rsplit("/", 1)[-1]:
                yield number, cited


def missing_cited_paths(package: Path, repo: Path) -> list[str]:
    """Paths cited in the package's comments and strings (docstrings, messages) that exist neither in
    ``repo`` nor in ``package``."""
    found = []
    for path in python_files(package):
        for number, text in prose(path):
            for _, cited in cited_paths(text):
                if not ((repo / cited).exists() or (package / cited).exists()):
                    found.append(f"{_where(path, package, number)}: cites {cited}, which does not exist")
    return found


_CITED_MODULE = re.compile(r"(?<![\w.])%s(?:\.[A-Za-z_]\w*)+" % OURS)
_FILE_SUFFIXES = {"png", "jpg", "bmp", "py", "md", "json", "npz", "gz", "txt", "toml", "cnnmodel"}  # "cnnstudio.png"


def _top_level_names(path: Path) -> set[str]:
    """What ``module.name`` can reach in a file: its functions, classes, assignments, imports, ``__all__``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
                if isinstance(target, ast.Name) and target.id == "__all__" and isinstance(node.value, ast.List):
                    names.update(e.value for e in node.value.elts if isinstance(e, ast.Constant))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def _module_resolves(dotted: str, package: Path) -> bool:
    """``cnnstudio.core.canvas.CanvasModel``: the modules exist and the first name after them is defined."""
    here, rest = package, []
    parts = dotted.split(".")[1:]
    for index, part in enumerate(parts):
        if (here / part / "__init__.py").exists():
            here = here / part
        elif (here / f"{part}.py").exists():
            here, rest = here / f"{part}.py", parts[index + 1:]
            break
        else:
            here, rest = here / "__init__.py", parts[index:]
            break
    if not rest:
        return True
    return here.is_file() and rest[0] in _top_level_names(here)


def missing_cited_modules(package: Path) -> list[str]:
    """Dotted names of ours cited in the package's comments and strings (``cnnstudio.imaging.files.read_rgba``)
    that do not resolve."""
    found = []
    for path in python_files(package):
        for number, line in prose(path):
            for match in _CITED_MODULE.finditer(line):
                if match.group(0).rsplit(".", 1)[-1] in _FILE_SUFFIXES:
                    continue
                if not _module_resolves(match.group(0), package):
                    found.append(f"{_where(path, package, number)}: cites {match.group(0)}, which does not exist")
    return found


def fresh_python(code: str, *args: str, cwd: Path, timeout: float = 300):
    """Run ``code`` in a new interpreter started in ``cwd`` (so its ``cnnstudio`` comes first), with no
    display: DISPLAY, WAYLAND_DISPLAY and QT_QPA_PLATFORM unset."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


_FIRST_QT_LOADER = """
import importlib, json, pkgutil, sys
culprit = None
for floor in sys.argv[1:]:
    package = importlib.import_module("cnnstudio." + floor)
    modules = [package.__name__] + [info.name for info in
                                    pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
    for module in modules:
        importlib.import_module(module)
        loaded = sorted(m for m in sys.modules if m.startswith(%r))
        if loaded and culprit is None:
            culprit = [module, loaded[:5]]
print(json.dumps(culprit))
""" % (QT_MODULES,)


def first_module_loading_qt(package: Path, floors) -> tuple[str, list[str]] | None:
    """Import every module of ``floors`` in a fresh interpreter, in order; the first one after which
    PySide6, pyqtgraph or shiboken6 is in ``sys.modules``, with what it loaded (None if none)."""
    done = fresh_python(_FIRST_QT_LOADER, *floors, cwd=package.parent)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    culprit = json.loads(done.stdout.strip().splitlines()[-1])
    return None if culprit is None else (culprit[0], culprit[1])
