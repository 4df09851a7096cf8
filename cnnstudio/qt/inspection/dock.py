"""The Inspect dock: views of what the network learned, in tabs, beside Explain.

Every view is built from one :class:`InspectContext` (the window's models and a way to reach
the current data set) and works on the current drawing and network.  A view computes only
while it is shown (``isVisible()``); when it is shown again it catches up.  Work longer than a
frame runs off the GUI thread, or is marked "press to compute" with the reason.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDockWidget, QFrame, QScrollArea, QTabWidget, QWidget

from cnnstudio.qt.window_layout import DOCK_SHARE

DOCK_HEIGHT = 480

# (tab title, module in qt/inspection, view class, objectName of the view)
TABS = (
    ("Attribution", "attribution_view", "AttributionView", "inspectAttribution"),
    ("What filters want", "filters_view", "FiltersView", "inspectFilters"),
    ("Replay", "replay_view", "ReplayView", "inspectReplay"),
    ("Adversarial", "adversarial_view", "AdversarialView", "inspectAdversarial"),
    ("Digit space", "space_view", "DigitSpaceView", "inspectSpace"),
)


@dataclass
class InspectContext:
    """What the Inspect views work on.

    playground         : the live network, input and maps (``core.playground.Playground``)
    canvas_model       : the drawing (``core.canvas.CanvasModel``); a view that changes the drawing
                         (adversarial "apply", a digit clicked in the digit space) goes through it (undoable)
    training_controller: ``qt.training.worker.TrainingController``: its ``session`` (state, history) and
                         signals (``progress``, ``state_changed``, ``finished``) say when training moves
    data_source        : ``() -> (train Digits, test Digits)`` of the data chosen in the Training dock;
                         raises ``ValueError`` (with the reason) when there is none
    message            : ``(text, milliseconds) -> None``: a line for the status bar
    """

    playground: object
    canvas_model: object
    training_controller: object
    data_source: Callable
    message: Callable


class ViewPage(QScrollArea):
    """A view as tall as the dock gives it, never less than its least size: then it scrolls.

    So on a laptop the dock keeps to its share of the window.  (A plain resizable scroll area would
    make a view whose maps are sized by their width as tall as that width asks, and scroll it.)
    """

    def __init__(self, view: QWidget):
        super().__init__()
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidgetResizable(False)
        self.setWidget(view)
        view.installEventFilter(self)  # its least size may change (a new network): fit it again

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            self.fit()
        return super().eventFilter(watched, event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit()

    def fit(self) -> None:
        view, least = self.widget(), self.widget().minimumSizeHint()
        view.resize(max(self.viewport().width(), least.width()), max(self.viewport().height(), least.height()))


class InspectDock(QDockWidget):
    """The Inspect views as tabs in a dock (objectName ``inspectDock``); ``toggle_action`` (Ctrl+I) shows it."""

    message = Signal(str, int)

    def __init__(self, context: InspectContext, parent=None):
        super().__init__("Inspect", parent)
        self.setObjectName("inspectDock")
        self.context = context
        self.tabs = QTabWidget()
        self.tabs.setObjectName("inspectTabs")
        self.views: dict[str, object] = {}
        self.pages: dict[str, ViewPage] = {}  # the tabs' widgets: each view in a page that scrolls
        for title, module, name, object_name in TABS:
            view = self._make_view(module, name, context)
            view.setObjectName(object_name)
            self.views[module], self.pages[module] = view, ViewPage(view)
            self.tabs.addTab(self.pages[module], title)
        self.setWidget(self.tabs)
        self.toggle_action = self.toggleViewAction()
        self.toggle_action.setText("&Inspect panel")
        self.toggle_action.setShortcut(QKeySequence("Ctrl+I"))
        self.visibilityChanged.connect(self._grow_when_shown)

    @staticmethod
    def _make_view(module: str, name: str, context: InspectContext):
        return getattr(importlib.import_module(f"{__package__}.{module}"), name)(context)

    def show_tab(self, module: str) -> None:
        """Show the dock with the view of ``module`` (e.g. ``"attribution_view"``) in front."""
        self.show()
        self.raise_()
        self.tabs.setCurrentWidget(self.pages[module])

    def stop(self) -> None:
        """Stop every view's background work (the window calls this as it closes)."""
        for view in self.views.values():
            stop = getattr(view, "stop", None)
            if stop is not None:
                stop()

    def _grow_when_shown(self, visible: bool) -> None:
        window = self.parent()
        if visible and self.height() < DOCK_HEIGHT // 2 and window is not None and hasattr(window, "resizeDocks"):
            # never more than a bottom dock's share of the window: the drawing must stay usable beside it
            window.resizeDocks([self], [min(DOCK_HEIGHT, int(window.height() * DOCK_SHARE))], Qt.Orientation.Vertical)
