"""The Explain dock: the lesson views in tabs, the Lessons menu, and what choosing a lesson does.

The dock builds its panel and menu and owns their wiring; the main window adds the
dock, puts ``lessons_menu`` in its menu bar, shows ``message`` in its status bar,
answers ``maps_requested`` by focusing its feature maps, and calls
``stop_training()`` when it closes.

A lesson that changes the network runs in a sandbox (``lessons.guided.LessonSandbox``): it
ends, and the learner's network comes back exactly, when another lesson is chosen, the dock
is closed or the banner's "End lesson" is pressed; "Keep this change" keeps the lesson's
network as one undo step.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDockWidget

from cnnstudio.lessons.guided import Lesson, LessonSandbox, apply_lesson

from .lessons_menu import build_lessons_menu
from .panel import ExplainPanel

DOCK_HEIGHT = 480                # the Explain dock's height when it first shows
NO_CONV_LESSON = ("it is about conv layers and this network has none. Load a model with conv layers (File > Load "
                  "model...) or bring the previous network back (Edit > Undo settings change).")


class ExplainDock(QDockWidget):
    """The Explain panel as a dock (objectName ``explainDock``), with the Lessons menu that drives it.

    Parameters
    ----------
    playground : the window's playground (a lesson loads its kernels, settings and digit there)
    canvas_model : the window's canvas; a lesson draws its digit on it, and the ANN-vs-CNN view
        shifts its drawing.  Without one, the digit goes straight to the playground.

    ``lessons_menu`` ("&Lessons") holds one entry per lesson, a separator, then ``toggle_action``
    ("&Explain panel", Ctrl+E), which shows and hides the dock.
    """

    message = Signal(str, int)   # a line for the status bar, and how long to show it (ms)
    maps_requested = Signal()    # a lesson's link points at the window's feature maps

    def __init__(self, playground, canvas_model=None, parent=None):
        super().__init__("Explain", parent)
        self.setObjectName("explainDock")
        self.playground, self.canvas_model = playground, canvas_model
        current_image = canvas_model.network_input if canvas_model is not None else None
        self.panel = ExplainPanel(playground, current_image)
        self.setWidget(self.panel)
        self.panel.panel_requested.connect(self._panel_requested)
        self.panel.end_requested.connect(self.end_lesson)
        self.panel.keep_requested.connect(self.keep_lesson)
        self.sandbox: LessonSandbox | None = None   # the running lesson's, while it changed the network

        self.toggle_action = self.toggleViewAction()
        self.toggle_action.setText("&Explain panel")
        self.toggle_action.setShortcut(QKeySequence("Ctrl+E"))
        self.lessons_menu = build_lessons_menu(self, self.run_lesson)
        self.lessons_menu.addSeparator()
        self.lessons_menu.addAction(self.toggle_action)
        self.toggle_action.triggered.connect(lambda shown: shown or self.end_lesson())
        self.visibilityChanged.connect(self._grow_when_shown)

    def run_lesson(self, lesson: Lesson) -> None:
        """Load ``lesson`` into the playground and the canvas, show the dock and the lesson's panel.

        A lesson that cannot start (a network without conv layers, settings the network
        refuses) changes nothing and says why through ``message``.
        """
        self.end_lesson(quiet=True)   # the previous lesson gives the network back first
        if lesson.needs_conv_layers and not self.playground.network.conv_specs:
            self.message.emit(f"Lesson '{lesson.title}' cannot start: {NO_CONV_LESSON}", 10000)
            return
        try:
            self.sandbox = apply_lesson(lesson, self.playground, self.canvas_model)
        except ValueError as error:  # an architecture the lesson cannot be applied to: say why
            self.message.emit(f"Lesson '{lesson.title}' cannot start: {error}", 10000)
            return
        if not self.isVisible():
            self.show()
            self._resize_to_dock_height()
        self.raise_()
        self.panel.show_lesson(lesson, sandboxed=self.sandbox is not None)
        self.message.emit(f"Lesson: {lesson.title}", 6000)

    def end_lesson(self, quiet: bool = False) -> None:
        """End the running lesson: the network is put back as it was before it (unless it was kept)."""
        sandbox, self.sandbox = self.sandbox, None
        restored = sandbox is not None and sandbox.end()
        if self.panel.lesson is not None:
            self.panel.end_lesson()
        if restored and not quiet:
            self.message.emit("Lesson ended: your network is back as it was before the lesson.", 6000)

    def keep_lesson(self) -> None:
        """Keep what the running lesson changed in the network, as one undo step."""
        sandbox, self.sandbox = self.sandbox, None
        if sandbox is not None and sandbox.running:
            sandbox.keep()
            self.message.emit(f"Kept the lesson's network: Edit > Undo {self.playground.undo_stack.undo_text} "
                              f"brings yours back.", 8000)
        self.panel.end_lesson()

    def closeEvent(self, event) -> None:
        self.end_lesson()   # the learner left the lesson: the network goes back
        super().closeEvent(event)

    def stop_training(self) -> None:
        """Stop any lesson view's training and wait for its thread (the window calls this as it closes)."""
        self.panel.stop_training()

    def _panel_requested(self, name: str) -> None:
        if name == "maps":
            self.maps_requested.emit()

    def _grow_when_shown(self, visible: bool) -> None:
        if visible and self.height() < DOCK_HEIGHT // 2:
            self._resize_to_dock_height()

    def _resize_to_dock_height(self) -> None:
        window = self.parent()
        if window is not None and hasattr(window, "resizeDocks"):
            window.resizeDocks([self], [DOCK_HEIGHT], Qt.Orientation.Vertical)
