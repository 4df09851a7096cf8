"""The Explain panel: one tab per lesson view, under a banner with the running lesson's text.

``ExplainPanel(playground, current_image)`` holds the step-through, X or O, ANN vs
CNN, receptive fields and occlusion views.  Each view is built when its tab is
first shown (the X-or-O view trains its network as it is built).  The banner's
link opens the panel the lesson is about; a link to the window's feature maps
is passed on as ``panel_requested("maps")``.  Its "End lesson" and "Keep this change"
buttons are passed on as ``end_requested`` and ``keep_requested`` (the dock acts on them).
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QPushButton, QTabWidget, QVBoxLayout, QWidget

from cnnstudio.lessons.guided import Lesson
from cnnstudio.qt.widgets import theme

from .ann_vs_cnn_view import AnnVsCnnView
from .field_view import ReceptiveFieldView
from .grid_view import rich_label
from .occlusion_view import OcclusionView
from .step_view import ExplainView
from .xo_view import XOView

TABS = (("step", "Step through a layer"), ("xo", "X or O"), ("ann_vs_cnn", "ANN vs CNN"),
        ("field", "Receptive field"), ("occlusion", "Occlusion"))
PANEL_NAMES = {"maps": "the feature maps", **dict(TABS)}


class ExplainPanel(QWidget):
    """The Explain views in tabs, with the current lesson's text above them.

    Parameters
    ----------
    playground : the live playground the views explain
    current_image : callable returning the (28, 28) drawing (the ANN-vs-CNN view shifts it);
        the playground's input if None

    ``panel_requested(name)`` is emitted when the lesson's link names a panel
    outside this widget (``"maps"``: the window's feature maps).
    """

    panel_requested = Signal(str)
    end_requested = Signal()    # the banner's "End lesson"
    keep_requested = Signal()   # the banner's "Keep this change"

    def __init__(self, playground, current_image: Callable | None = None, parent=None):
        super().__init__(parent)
        self.playground = playground
        self.current_image = current_image or (lambda: playground.input[0])
        self.lesson: Lesson | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        self.banner_box = QFrame()
        self.banner_box.setObjectName("lessonBanner")
        self.banner_box.setStyleSheet(f"#lessonBanner {{ background: {theme.css(theme.banner_background())}; "
                                      f"border: 1px solid {theme.css(theme.banner_border())}; }}")
        banner_layout = QHBoxLayout(self.banner_box)
        banner_layout.setContentsMargins(0, 0, 4, 0)
        self.banner = rich_label(style=f"padding: 5px; color: {theme.css(theme.panel_text())};")
        self.banner.setOpenExternalLinks(False)
        self.banner.linkActivated.connect(self._link)
        banner_layout.addWidget(self.banner, 1)
        self.keep_button = QPushButton("Keep this change")
        self.keep_button.setToolTip("Keep the lesson's kernels and settings in your network (Edit > Undo takes "
                                    "them back)")
        self.keep_button.clicked.connect(self.keep_requested)
        self.end_button = QPushButton("End lesson")
        self.end_button.setToolTip("End the lesson: your network comes back exactly as it was before it")
        self.end_button.clicked.connect(self.end_requested)
        for button in (self.keep_button, self.end_button):
            banner_layout.addWidget(button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.banner_box.hide()
        layout.addWidget(self.banner_box)
        self.tabs = QTabWidget()
        self.views: dict[str, QWidget] = {}
        self._makers = {
            "step": lambda: ExplainView(playground),
            "xo": XOView,
            "ann_vs_cnn": lambda: AnnVsCnnView(playground, self.current_image),
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

    def view(self, name: str) -> QWidget:
        """The view of tab ``name``, built on first use."""
        if name not in self.views:
            view = self._makers[name]()
            self.views[name] = view
            holder = self.tabs.widget([n for n, _ in TABS].index(name))
            holder.layout().addWidget(view)
        return self.views[name]

    def show_panel(self, name: str) -> None:
        """Bring tab ``name`` to the front and give its view the keys; ``"maps"`` asks the window."""
        if name == "maps":
            self.panel_requested.emit(name)
            return
        index = [n for n, _ in TABS].index(name)
        self.tabs.setCurrentIndex(index)
        view = self.view(name)
        view.setFocus()

    def show_lesson(self, lesson: Lesson, sandboxed: bool = False) -> None:
        """Show the lesson's text and open the panel it points at, at the layer or picture the text is about.

        ``sandboxed``: the lesson changed the network (for a while): offer "Keep this change".
        """
        self.lesson = lesson
        until = (" <i>Your network comes back when the lesson ends.</i>" if sandboxed else "")
        self.banner.setText(f"<b>Lesson: {lesson.title}.</b> {lesson.text}{until} "
                            f"<a href='panel:{lesson.panel}'>Show {PANEL_NAMES[lesson.panel]} →</a>")
        self.keep_button.setVisible(sandboxed)
        self.banner_box.show()
        self.banner.show()
        self.show_panel(lesson.panel)
        if lesson.panel == "step":
            step = self.view("step")
            step.rebuild()
            if step.model is not None:  # None: the view says there is no conv layer
                step.model.rebuild(stage=lesson.stage, filter=lesson.filter)   # the layer the text explains
            if lesson.phase and step.model is not None:
                step.model.go_to_phase(lesson.phase)
                # start where the window is on the drawing, not in the empty top-left corner
                span = step.model.span(lesson.phase)
                step.model.go_to(span.start + span.count // 2 + step.model.cols.positions // 3)
        elif lesson.panel == "xo" and lesson.picture:
            self.view("xo").lesson.draw(lesson.picture)   # "the CNN still says X" is about this picture

    def end_lesson(self) -> None:
        """The lesson is over (ended or kept): its banner goes."""
        self.lesson = None
        self.banner_box.hide()

    def _link(self, href: str) -> None:
        if href.startswith("panel:"):
            self.show_panel(href.split(":", 1)[1])

    def stop_training(self) -> None:
        """Stop whatever a view is training (the ANN vs CNN comparison) and wait for its thread."""
        for view in self.views.values():
            stop = getattr(view, "stop_training", None)
            if stop is not None:
                stop()
