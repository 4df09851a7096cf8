"""The Lessons menu and the Explain panel, and how both join a main window.

- ``ExplainPanel(playground, current_image)``: one tab per Explain view (the
  step-through, X or O, ANN vs CNN, receptive fields, occlusion) under a banner
  that shows the running lesson's text with a link to the panel it is about.
  The X-or-O and ANN-vs-CNN tabs are built when first shown (the first trains).
- ``build_lessons_menu(parent, on_lesson)``: a "Lessons" ``QMenu`` knowing
  nothing of any window: each entry calls ``on_lesson(lesson)``.
- ``install_explain_mode(window)``: adds the menu and an "Explain" dock to a
  main window, using only its public ``playground``, ``canvas_model`` and
  ``menuBar()``; a lesson is loaded with
  :func:`~cnnstudio.lessons.guided.apply_lesson`.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMenu, QTabWidget, QVBoxLayout, QWidget

from cnnstudio.lessons.guided import LESSONS, Lesson, apply_lesson

from cnnstudio.qt.lessons.explain_view import ExplainView, OcclusionView, ReceptiveFieldView, _label

TABS = (("step", "Step through a layer"), ("xo", "X or O"), ("ann_vs_cnn", "ANN vs CNN"),
        ("field", "Receptive field"), ("occlusion", "Occlusion"))
PANEL_NAMES = {"maps": "the feature maps", **dict(TABS)}
DOCK_HEIGHT = 480
NO_CONV_LESSON = ("it is about conv layers and this network has none. Load a model with conv layers (File > Load "
                  "model...) or bring the previous network back (Edit > Undo settings change).")


def needs_conv_layers(lesson: Lesson) -> bool:
    """Whether ``lesson`` works on the playground's conv layers (its kernels, settings, maps or step-through).

    The X-or-O and ANN-vs-CNN lessons bring their own networks.
    """
    return bool(lesson.kernels or lesson.settings) or lesson.panel in ("maps", "step", "field")


class ExplainPanel(QWidget):
    """The Explain views in tabs, with the current lesson's text above them.

    ``panel_requested(name)`` is emitted when the lesson's link names a panel
    outside this widget (``"maps"``: the window's feature maps).
    """

    panel_requested = Signal(str)

    def __init__(self, playground, current_image: Callable | None = None, parent=None):
        super().__init__(parent)
        self.playground = playground
        self.current_image = current_image or (lambda: playground.input[0])
        self.lesson: Lesson | None = None
        self._closing_window: QWidget | None = None  # closing it stops any training (stop_training_on_close)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        self.banner = _label(style="background: #eef5ff; border: 1px solid #c9dcf5; padding: 5px; color: #2b2f36;")
        self.banner.setOpenExternalLinks(False)
        self.banner.linkActivated.connect(self._link)
        self.banner.hide()
        layout.addWidget(self.banner)
        self.tabs = QTabWidget()
        self.views: dict[str, QWidget] = {}
        self._makers = {
            "step": lambda: ExplainView(playground),
            "xo": self._make_xo,
            "ann_vs_cnn": self._make_ann_vs_cnn,
            "field": lambda: ReceptiveFieldView(playground),
            "occlusion": lambda: OcclusionView(playground),
        }
        for name, title in TABS:
            holder = QWidget()
            QVBoxLayout(holder).setContentsMargins(0, 0, 0, 0)
            holder.setObjectName(name)
            self.tabs.addTab(holder, title)
        self.tabs.currentChanged.connect(lambda index: self.view(TABS[index][0]))
        layout.addWidget(self.tabs, 1)
        self.view("step")

    def _make_xo(self):
        from cnnstudio.qt.lessons.xo_view import XOView
        return XOView()

    def _make_ann_vs_cnn(self):
        from cnnstudio.qt.lessons.ann_vs_cnn_view import AnnVsCnnView
        return AnnVsCnnView(self.playground, self.current_image)

    def view(self, name: str) -> QWidget:
        """The view of tab ``name``, built on first use."""
        if name not in self.views:
            view = self._makers[name]()
            self.views[name] = view
            holder = self.tabs.widget([n for n, _ in TABS].index(name))
            holder.layout().addWidget(view)
        return self.views[name]

    def show_panel(self, name: str) -> None:
        if name == "maps":
            self.panel_requested.emit(name)
            return
        index = [n for n, _ in TABS].index(name)
        self.tabs.setCurrentIndex(index)
        view = self.view(name)
        view.setFocus()

    def show_lesson(self, lesson: Lesson) -> None:
        """Show the lesson's text and open the panel it points at."""
        self.lesson = lesson
        self.banner.setText(f"<b>Lesson: {lesson.title}.</b> {lesson.text} "
                            f"<a href='panel:{lesson.panel}'>Show {PANEL_NAMES[lesson.panel]} →</a>")
        self.banner.show()
        self.show_panel(lesson.panel)
        if lesson.panel == "step":
            step = self.view("step")
            step.rebuild()
            if lesson.phase and step.model is not None:  # None: the view says there is no conv layer
                step.model.go_to_phase(lesson.phase)
                # start where the window is on the drawing, not in the empty top-left corner
                span = step.model.span(lesson.phase)
                step.model.go_to(span.start + span.count // 2 + step.model.cols.positions // 3)

    def _link(self, href: str) -> None:
        if href.startswith("panel:"):
            self.show_panel(href.split(":", 1)[1])

    def stop_training(self) -> None:
        """Stop whatever a view is training (the ANN vs CNN comparison) and wait for its thread."""
        for view in self.views.values():
            stop = getattr(view, "stop_training", None)
            if stop is not None:
                stop()

    def stop_training_on_close(self, window: QWidget) -> None:
        """Stop any training when ``window`` is closed: the learner is done, the thread must not outlive it."""
        self._closing_window = window
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close and watched is self._closing_window:
            self.stop_training()
        return super().eventFilter(watched, event)


def build_lessons_menu(parent, on_lesson: Callable[[Lesson], None], title: str = "&Lessons") -> QMenu:
    """A menu with one entry per lesson; choosing one calls ``on_lesson(lesson)``."""
    menu = QMenu(title, parent)
    menu.setToolTipsVisible(True)
    for k, lesson in enumerate(LESSONS, start=1):
        action = QAction(f"{k}. {lesson.title}", menu)
        action.setToolTip(lesson.text)
        action.setData(lesson.key)
        action.triggered.connect(lambda checked=False, lesson=lesson: on_lesson(lesson))
        menu.addAction(action)
    return menu


def install_explain_mode(window) -> ExplainPanel:
    """Add the Lessons menu and the Explain dock to a main window; return the panel.

    Needs only ``window.playground``, ``window.canvas_model`` (optional) and the
    ``QMainWindow`` API.  The dock starts hidden, under the maps; a lesson, or
    Lessons > Explain panel (Ctrl+E), shows it.
    """
    playground = window.playground
    canvas_model = getattr(window, "canvas_model", None)
    current_image = (lambda: canvas_model.network_input()) if canvas_model is not None else None
    panel = ExplainPanel(playground, current_image)
    dock = QDockWidget("Explain", window)
    dock.setObjectName("explainDock")
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.hide()
    panel.stop_training_on_close(window)

    def run_lesson(lesson: Lesson) -> None:
        if needs_conv_layers(lesson) and not playground.network.conv_specs:
            window.statusBar().showMessage(f"Lesson '{lesson.title}' cannot start: {NO_CONV_LESSON}", 10000)
            return
        try:
            apply_lesson(lesson, playground, canvas_model)
        except ValueError as error:  # an architecture the lesson cannot be applied to: say why
            window.statusBar().showMessage(f"Lesson '{lesson.title}' cannot start: {error}", 10000)
            return
        if not dock.isVisible():
            dock.show()
            window.resizeDocks([dock], [DOCK_HEIGHT], Qt.Orientation.Vertical)
        dock.raise_()
        panel.show_lesson(lesson)
        window.statusBar().showMessage(f"Lesson: {lesson.title}", 6000)

    def show_maps(name: str) -> None:
        maps = getattr(window, "feature_maps", None)
        if maps is not None:
            maps.setFocus()
        window.statusBar().showMessage("Look at the feature maps in the middle of the window.", 6000)

    panel.panel_requested.connect(show_maps)
    menu = build_lessons_menu(window, run_lesson)
    menu.addSeparator()
    dock.visibilityChanged.connect(
        lambda visible: visible and dock.height() < DOCK_HEIGHT // 2
        and window.resizeDocks([dock], [DOCK_HEIGHT], Qt.Orientation.Vertical))
    toggle = dock.toggleViewAction()
    toggle.setText("&Explain panel")
    toggle.setShortcut(QKeySequence("Ctrl+E"))
    menu.addAction(toggle)
    bar = window.menuBar()
    help_menu = next((a for a in bar.actions() if a.text().replace("&", "") == "Help"), None)
    if help_menu is not None:
        bar.insertMenu(help_menu, menu)
    else:
        bar.addMenu(menu)
    window.explain_panel, window.explain_dock, window.lessons_menu = panel, dock, menu
    window.run_lesson = run_lesson
    return panel
