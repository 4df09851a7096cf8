"""The Training dock: training, evaluation and My digits as three tabs, with the actions the window's menus show.

The dock builds its views and owns their wiring; the main window adds the dock and puts
its actions (``open_idx_action``, ``save_model_action``, ``load_model_action``,
``toggle_action``) in its own menus, and lets the dock's digit keys (0-9 label the drawing)
watch it with ``watch_digit_keys``.

Two worker threads besides training's: the evaluation's (eval_worker.py) and the data loader's
(data_loader.py).  Each ends when its view is deleted or the app quits; ``stop()`` ends both at once.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFrame, QScrollArea, QTabWidget

from cnnstudio.core.document import Document
from cnnstudio.io.my_digits import MyDigits

from .evaluation_view import QtEvaluationView
from .my_digits_view import QtMyDigits
from .panel import QtTrainingPanel
from .worker import TrainingController

DOCK_HEIGHT = 330                # the training dock's height when it first shows


class TrainingDock(QDockWidget):
    """Training, evaluation and My digits as three tabs (objectName ``trainingDock``).

    Parameters
    ----------
    playground, canvas_model : the window's models (the drawing is what My digits labels)
    controller, document : the training controller and the document it shares with the window;
        new ones if None
    my_digits : the ``MyDigits`` store; the user's saved set (``~/.local/share/cnnstudio``) if None
    """

    message = Signal(str, int)  # a line for the status bar, and how long to show it (ms)

    def __init__(self, playground, canvas_model, controller: TrainingController | None = None,
                 document: Document | None = None, my_digits: MyDigits | None = None, parent=None):
        super().__init__("Training", parent)
        self.setObjectName("trainingDock")
        my_digits = my_digits or MyDigits()
        self.my_digits_view = QtMyDigits(my_digits, canvas_model.network_input)
        self.my_digits_view.load()
        self.panel = QtTrainingPanel(playground, my_digits=my_digits, controller=controller, document=document)
        # the evaluation never waits for a set to be read: it says "Loading…" and is asked again (data_ready)
        self.evaluation = QtEvaluationView(playground, self.panel.test_digits_now)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("trainingTabs")
        for page, title in ((self.panel, "Train"), (self.evaluation, "Evaluate"), (self.my_digits_view, "My digits")):
            self.tabs.addTab(_scrolled(page), title)
        self.setWidget(self.tabs)

        self.panel.evaluation_due.connect(self.evaluation.mark_stale)
        self.panel.data_combo.currentIndexChanged.connect(lambda index: self.evaluation.mark_stale())
        self.panel.data_ready.connect(self._data_ready)
        self.panel.controller.state_changed.connect(lambda state: self.evaluation.set_training(state == "running"))
        self.panel.message.connect(lambda text: self.message.emit(text, 10000))
        self.my_digits_view.message.connect(lambda text: self.message.emit(text, 6000))
        self.evaluation.image_activated.connect(canvas_model.load_image)

        self.open_idx_action = self._action("Open &IDX data set...", self.panel.open_idx_dialog)
        self.save_model_action = self._action("Sa&ve model...", self.panel.save_model_dialog, "Ctrl+Shift+S")
        self.load_model_action = self._action("&Load model...", self.panel.load_model_dialog, "Ctrl+L")
        self.toggle_action = self.toggleViewAction()
        self.toggle_action.setText("&Training, evaluation and my digits")
        self.toggle_action.setShortcut(QKeySequence("Ctrl+T"))
        self.visibilityChanged.connect(self._grow_when_shown)

    def stop(self) -> None:
        """End the evaluation's and the data loader's threads (training's is the controller's: ``shutdown``)."""
        self.evaluation.stop()
        self.panel.loader.stop()

    def _data_ready(self) -> None:
        # a Start's data: the run's end or pause evaluates (evaluation_due), not its first moment
        if self.panel.controller.state == "idle":
            self.evaluation.mark_stale()

    def watch_digit_keys(self, widget) -> None:
        """Let 0-9 key presses that reach ``widget`` (nobody typing) label the drawing and add it to My digits."""
        self.my_digits_view.install_key_labels(widget)

    def _action(self, text: str, slot, shortcut: str | None = None) -> QAction:
        """A menu action that shows the dock, then runs ``slot``."""
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))

        def run(checked=False):
            self.show()
            self.raise_()
            slot()
        action.triggered.connect(run)
        return action

    def _grow_when_shown(self, visible: bool) -> None:
        window = self.parent()
        if visible and self.height() < DOCK_HEIGHT // 2 and window is not None and hasattr(window, "resizeDocks"):
            window.resizeDocks([self], [DOCK_HEIGHT], Qt.Orientation.Vertical)


def _scrolled(page):
    """``page`` in a scroll area: a short dock (a laptop screen) scrolls the page instead of growing the window."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(page)
    return area
