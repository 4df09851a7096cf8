"""Qt tests run without a display unless one is asked for."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from drawings import a_drawn_seven  # noqa: E402

from cnnstudio.core.playground import Playground  # noqa: E402


@pytest.fixture
def playground():
    """The pretrained playground looking at a drawn 7 (a module may define its own ``playground``)."""
    playground = Playground()
    playground.set_input(a_drawn_seven())
    return playground


@pytest.fixture
def editor(qtbot, playground):
    """A kernel editor on ``playground``, shown at 560x620."""
    from cnnstudio.qt.panels.kernel_editor import QtKernelEditor

    editor = QtKernelEditor(playground)
    qtbot.addWidget(editor)
    editor.resize(560, 620)
    editor.show()
    qtbot.waitExposed(editor)
    return editor


@pytest.fixture
def window(qtbot):
    """The main window, shown, with its first update done."""
    from cnnstudio.qt import MainWindow

    main = MainWindow()
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    main.flush_updates()
    return main
