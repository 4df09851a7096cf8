"""The house's contracts: floors import only downwards, the model floors never load Qt, the engine's
and pyqtgraph's private parts stay private, and the files that comments cite exist.

The checkers live in tests/contracts.py; each is also run on a small fake tree with
violations, to show it reports them.  What Python really loads is checked in fresh
interpreters, so other tests' imports cannot hide a leak.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
from PIL import Image

from contracts import (FLOORS, QT_FREE_FLOORS, QT_MODULES, first_module_loading_qt, fresh_python,
                       layer_violations, missing_cited_modules, missing_cited_paths, private_engine_violations,
                       private_pyqtgraph_violations)

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "cnnstudio"


def assert_none(violations: list[str]) -> None:
    assert not violations, "\n".join(violations)


# -- the package as it is
def test_every_floor_has_a_contract():
    floors = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    floors |= {path.stem for path in PACKAGE.glob("*.py")}
    assert floors <= set(FLOORS), f"floors without a contract: {sorted(floors - set(FLOORS))}"


def test_imports_only_go_down_and_the_model_floors_import_no_qt():
    assert_none(layer_violations(PACKAGE))


def test_nothing_outside_the_engine_imports_its_private_parts():
    assert_none(private_engine_violations(PACKAGE))


def test_the_views_use_no_private_pyqtgraph_names():
    assert_none(private_pyqtgraph_violations(PACKAGE / "qt"))


def test_the_files_that_comments_cite_exist():
    assert_none(missing_cited_paths(PACKAGE, REPO))


def test_the_modules_that_comments_cite_exist():
    assert_none(missing_cited_modules(PACKAGE))


def test_the_model_floors_load_no_qt_in_a_fresh_interpreter():
    culprit = first_module_loading_qt(PACKAGE, QT_FREE_FLOORS)
    assert culprit is None, f"importing {culprit[0]} loads {', '.join(culprit[1])}"


# ``python -m cnnstudio ...`` that reports at exit which Qt modules were loaded
_CLI_WITH_QT_REPORT = textwrap.dedent(f"""
    import atexit, runpy, sys
    atexit.register(lambda: print("qt modules:", sorted(m for m in sys.modules if m.startswith({QT_MODULES!r})),
                                  file=sys.stderr))
    sys.argv = ["cnnstudio", *sys.argv[1:]]
    runpy.run_module("cnnstudio", run_name="__main__", alter_sys=True)
""")


def _qt_loaded(stderr: str) -> str:
    return [line for line in stderr.splitlines() if line.startswith("qt modules:")][-1]


def test_predict_needs_no_qt_and_no_display(tmp_path):
    ink = np.zeros((60, 40), np.uint8)
    ink[8:52, 17:23] = 255  # a "1": a light bar on black
    Image.fromarray(ink).save(tmp_path / "one.png")
    done = fresh_python(_CLI_WITH_QT_REPORT, "predict", "--json", str(tmp_path / "one.png"), cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["class"] == 1
    assert _qt_loaded(done.stderr) == "qt modules: []"


def test_train_needs_no_qt_and_no_display(tmp_path):
    done = fresh_python(_CLI_WITH_QT_REPORT, "train", "--epochs", "1", "--limit", "64", "--shift", "0",
                        "--quiet", "--out", str(tmp_path / "tiny.cnnmodel"), cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "tiny.cnnmodel").is_file()
    assert _qt_loaded(done.stderr) == "qt modules: []"


# -- the checkers catch what they are for
def _fake_package(root: Path, files: dict[str, str]) -> Path:
    package = root / "cnnstudio"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    for folder in {p.parent for p in package.rglob("*.py")} - {package}:
        (folder / "__init__.py").touch()
    return package


def test_the_checkers_report_violations(tmp_path):
    package = _fake_package(tmp_path, {
        "core/x.py": """
            from PySide6.QtGui import QImage
            import cnnstudio.engine.conv  # allowed: down
            def late():
                from cnnstudio.qt import panels  # inside a function: still an import
        """,
        "engine/conv.py": "from cnnstudio.core import x\n",
        "engine/_jit.py": "kernel = None\n",
        "imaging/files.py": "from ..engine import conv\n",  # relative, sideways
        "render/mosaic.py": """
            from cnnstudio.engine._jit import kernel
            from cnnstudio.engine.conv import _padded
            from cnnstudio.engine import _jit
        """,
        "qt/view.py": """
            image = item.qimage
            width = getattr(item, "_xp")
            item.setImage(image)  # public: fine
        """,
        "cli.py": "from cnnstudio.qt.view import image\n",
        "model/state.py": "",
        "lessons/guide.py": '''
            """Built on core/x.py and core/gone.py; see tests/nope.py and engine/base (prose).

            Uses ``cnnstudio.core.x.late``, ``cnnstudio.core.x.early`` and ``cnnstudio.core.gone``.
            """
        ''',
    })
    assert set(layer_violations(package)) == {
        "cnnstudio/core/x.py:2: core imports PySide6.QtGui.QImage (Qt)",
        "cnnstudio/core/x.py:5: core imports cnnstudio.qt.panels (floor qt)",
        "cnnstudio/engine/conv.py:1: engine imports cnnstudio.core.x (floor core)",
        "cnnstudio/imaging/files.py:1: imaging imports cnnstudio.engine.conv (floor engine)",
        "cnnstudio/cli.py:1: cli imports cnnstudio.qt.view.image (floor qt)",
        "cnnstudio/model/__init__.py:1: floor 'model' has no contract (add it to FLOORS)",
        "cnnstudio/model/state.py:1: floor 'model' has no contract (add it to FLOORS)",
    }
    assert private_engine_violations(package) == [
        "cnnstudio/render/mosaic.py:2: imports the engine's private cnnstudio.engine._jit.kernel",
        "cnnstudio/render/mosaic.py:3: imports the engine's private cnnstudio.engine.conv._padded",
        "cnnstudio/render/mosaic.py:4: imports the engine's private cnnstudio.engine._jit",
    ]
    assert private_pyqtgraph_violations(package / "qt") == [
        "qt/view.py:2: uses pyqtgraph's private .qimage",
        "qt/view.py:3: uses pyqtgraph's private ._xp through getattr",
    ]
    assert missing_cited_paths(package, tmp_path) == [
        "cnnstudio/lessons/guide.py:2: cites core/gone.py, which does not exist",
        "cnnstudio/lessons/guide.py:2: cites tests/nope.py, which does not exist",
    ]
    assert missing_cited_modules(package) == [
        "cnnstudio/lessons/guide.py:4: cites cnnstudio.core.x.early, which does not exist",
        "cnnstudio/lessons/guide.py:4: cites cnnstudio.core.gone, which does not exist",
    ]


def test_the_qt_free_check_names_the_module_that_loads_qt(tmp_path):
    package = _fake_package(tmp_path, {"core/clean.py": "import json\n", "core/leaky.py": "import shiboken6\n",
                                       "core/later.py": "from cnnstudio.core import leaky\n",
                                       "io/files.py": "import json\n"})
    module, loaded = first_module_loading_qt(package, ["io", "core"])
    assert module == "cnnstudio.core.later" and loaded  # walked before leaky.py, it loads Qt by importing it
    assert first_module_loading_qt(package, ["io"]) is None
