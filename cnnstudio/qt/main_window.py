"""The main window: the data flows left to right, top to bottom.

    left column             centre                 right column
    drawing canvas          every feature map      prediction
    kernels                                        layer settings

The window owns the models (a :class:`Playground`, a :class:`CanvasModel`, the training
controller's session and the :class:`Document` that loads, saves and resets them), creates
one view per panel and the two docks (Training, Explain), builds every menu itself, and
wires them:

- canvas ``image_changed`` -> ``playground.set_input(canvas.network_input())``,
  coalesced: a burst of mouse moves marks the input dirty and one posted
  event computes and paints once per event-loop turn, so the maps never lag
  behind the mouse;
- linked hover: a feature-map pixel highlights its receptive field on the
  canvas and the kernel cells it used; a canvas pixel highlights every map
  pixel that sees it.

The status bar shows what the last update cost: engine time (the playground's
``last_update_seconds``) and paint time (from the command until every changed
panel has been painted).
"""
from __future__ import annotations

import shutil
import time

from PySide6.QtCore import QCoreApplication, QEvent, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QSplitter

from cnnstudio.core.canvas import CanvasModel
from cnnstudio.core.document import Document
from cnnstudio.core.playground import Playground
from cnnstudio.engine import set_engine_threads
from cnnstudio.qt.inspection import InspectContext, InspectDock
from cnnstudio.qt.lessons.dock import ExplainDock
from cnnstudio.qt.panels.canvas_view import QtCanvas
from cnnstudio.qt.panels.feature_maps import FIELD_COLOR, QtFeatureMaps
from cnnstudio.qt.panels.kernel_editor import QtKernelEditor
from cnnstudio.qt.panels.layer_settings import QtLayerSettings, layer_name
from cnnstudio.qt.panels.prediction_bars import QtPredictionBars
from cnnstudio.qt.training.dock import TrainingDock
from cnnstudio.qt.training.worker import TrainingController
from cnnstudio.qt.window_files import WindowFiles, screenshot_error  # noqa: F401 (screenshot_error: public)
from cnnstudio.qt.window_help import PANEL_HELP, WindowHelp, panel_help_html
from cnnstudio.qt.window_onnx import WindowOnnx  # File > Export / Import ONNX
from cnnstudio.qt.window_layout import (DEFAULT_SIZE, SECTION_MINIMUM, Section, first_window_size,  # noqa: F401
                                        leave_room_for_panels, share_dock_place)
from cnnstudio.qt.window_state import RecentFiles, open_settings, restore_window_state, save_window_state
from cnnstudio.qt.widgets.signals import listen
from cnnstudio.qt.widgets import theme
RECEPTIVE_FIELD_COLOUR = QColor(FIELD_COLOR)  # the same green as the outlines on the maps
FLUSH_EVENT = QEvent.Type(QEvent.registerEventType())  # "feed the drawing to the network and paint", posted
SAMPLE_DIGIT = 3


_Section = Section  # the old private name


class MainWindow(WindowFiles, WindowHelp, QMainWindow):
    """CNN Studio's window: draw, edit kernels, watch every map, change the layers.

    Parameters
    ----------
    playground, canvas_model : the models to show; new default ones if None.
    settings : where the layout, brush, colour scale, last folder and recent files are kept
        (``window_state.open_settings()`` if None).
    """

    def __init__(self, playground: Playground | None = None, canvas_model: CanvasModel | None = None, parent=None,
                 settings: QSettings | None = None):
        super().__init__(parent)
        self.settings = settings if settings is not None else open_settings()
        self.recent_files = RecentFiles(self.settings)
        self.setWindowTitle("CNN Studio")
        set_engine_threads(1)  # the GUI thread's batches are small; cores go to training (engine/threads.py)
        self.playground = playground or Playground()
        self.canvas_model = canvas_model or CanvasModel()

        self._input_dirty = False
        self._highlighted_kernel: tuple[int, int] | None = None  # (layer, filter) outlined in the kernel editor
        self._update_started: float | None = None  # when the command that triggered the pending paint began
        self.last_engine_seconds = 0.0
        self.last_paint_seconds = 0.0
        self._flush_posted = False
        self._flushing = False

        self.training_controller = TrainingController(self.playground, parent=self)
        # The training thread ends before the widgets go: when the app quits or the window is deleted
        # (QWidget emits ``destroyed`` before deleting its children, so the controller is still there).
        QApplication.instance().aboutToQuit.connect(self.training_controller.shutdown)
        self.destroyed.connect(self.training_controller.shutdown)
        self.document = Document(self.playground, self.training_controller.session)

        self._build_panels()
        self._build_layout()
        self._build_docks()
        self._build_menus()
        self._build_status_bar()
        self._wire()
        self.resize(*first_window_size(self))
        self.reset_layout()  # the column widths of a fresh window of this size
        restore_window_state(self, self.settings)
        self.playground.set_input(self.canvas_model.network_input())
        self.flush_updates()

    # ------------------------------------------------------------------ construction
    def _build_panels(self) -> None:
        self.canvas = QtCanvas(self.canvas_model)
        self.kernel_editor = QtKernelEditor(self.playground)
        self.feature_maps = QtFeatureMaps(self.playground)
        self.prediction_bars = QtPredictionBars(self.playground)
        self.layer_settings = QtLayerSettings(self.playground)

    def _build_layout(self) -> None:
        self.sections = {  # every panel that can be taller than its share scrolls (the maps zoom instead)
            "canvas": Section("Draw", self.canvas, "left button draws, right button erases", scroll=True),
            "kernels": Section("Kernels", self.kernel_editor, "click a cell to change a weight"),  # it scrolls its cards
            "maps": Section("", self.feature_maps),  # the maps panel has its own title bar
            "prediction": Section("Prediction", self.prediction_bars, scroll=True),
            "settings": Section("Layer settings", self.layer_settings),  # it scrolls its groups itself
        }
        for key, section in self.sections.items():
            section.setMinimumSize(*SECTION_MINIMUM[key])
            section.setWhatsThis(panel_help_html(key))
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.sections["canvas"])
        left.addWidget(self.sections["kernels"])
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.sections["prediction"])
        right.addWidget(self.sections["settings"])
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.sections["maps"])
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)  # the maps get every extra pixel
        for splitter in (left, right, self.splitter):
            splitter.setChildrenCollapsible(False)
        left.setStretchFactor(0, 3)  # when a dock takes height, the canvas keeps the larger part
        left.setStretchFactor(1, 2)
        self._left, self._right = left, right
        self.setCentralWidget(self.splitter)
        self.reset_layout()

    def reset_layout(self) -> None:
        """Every panel shown, with the column widths and row heights of a fresh window."""
        for key, section in self.sections.items():
            section.show()
            if key in getattr(self, "view_actions", {}):
                self.view_actions[key].setChecked(True)
        # the side columns take their share of a small window; the maps get the rest
        width = max(self.width(), 900)
        # the canvas's toolbar sets the left column's least width; it never gets a horizontal scroll bar
        left = max(min(330, int(width * 0.27)), self.canvas.minimumSizeHint().width() + 36)
        side = left, max(min(372, int(width * 0.27)), 250)  # 372: two layer-settings fields per row
        self.splitter.setSizes([side[0], width - sum(side), side[1]])
        height = max(self.height(), 600)
        self._left.setSizes([int(height * 0.55), int(height * 0.45)])
        self._right.setSizes([int(height * 0.38), int(height * 0.62)])
        for dock in getattr(self, "docks", ()):
            dock.setFloating(False)
            self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        if getattr(self, "docks", None):
            share_dock_place(self, self.docks)
            for dock in self.docks:
                leave_room_for_panels(self, dock)

    def _build_docks(self) -> None:
        """Training (train, evaluate, my digits) and Explain (step-through, lessons' views), hidden under the maps."""
        self.training = TrainingDock(self.playground, self.canvas_model, self.training_controller, self.document,
                                     parent=self)
        self.training.watch_digit_keys(self)  # 0-9 that reach the window (nobody typing) label the drawing
        self.explain_dock = ExplainDock(self.playground, self.canvas_model, self)
        self.explain_panel = self.explain_dock.panel
        self.run_lesson = self.explain_dock.run_lesson
        self.inspect_dock = InspectDock(InspectContext(
            self.playground, self.canvas_model, self.training_controller, self.training.panel.datasets_now,
            lambda text, ms=8000: self.statusBar().showMessage(text, ms)), self)
        # the digit space shows the chosen data's test digits: follow the choice, and a large set's loading;
        # top patches asked for while the data was loading are found when it arrives
        space_view = self.inspect_dock.views["space_view"]
        self.training.panel.data_ready.connect(space_view.data_changed)
        self.training.panel.data_ready.connect(self.inspect_dock.views["filters_view"].data_changed)
        self.training.panel.form.data_combo.currentIndexChanged.connect(lambda *_: space_view.data_changed())
        self.docks = (self.training, self.explain_dock, self.inspect_dock)
        for dock, key in zip(self.docks, ("training", "explain", "inspect")):
            self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
            dock.hide()
            dock.message.connect(self.statusBar().showMessage)
            dock.setWhatsThis(panel_help_html(key))
            # after the dock's own sizing (connected first): never more than a share of the window
            # (deferred: the dock's own sizing is applied by the layout after this signal)
            dock.visibilityChanged.connect(lambda visible, d=dock: visible and QTimer.singleShot(
                0, lambda: self._dock_shown(d)))
        share_dock_place(self, self.docks)
        self.explain_dock.maps_requested.connect(self._show_maps)

    def _dock_shown(self, dock) -> None:
        """A bottom dock opened: it takes at most its share, and the drawing keeps room to draw in."""
        leave_room_for_panels(self, dock)
        if dock.isFloating():
            return
        # on a short screen the left column's larger part goes to the drawing: the learner draws and
        # watches the dock (the kernels scroll)
        sizes = self._left.sizes()
        total = sum(sizes)
        wanted = min(self.sections["canvas"].sizeHint().height(), int(total * 0.75))
        if sizes[0] < wanted:
            self._left.setSizes([wanted, total - wanted])

    def _build_menus(self) -> None:
        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        self.open_action = self._action(file_menu, "&Open image...", self.open_image, QKeySequence.StandardKey.Open)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.setObjectName("recentMenu")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        self._action(file_menu, "Save &screenshot...", self._ask_screenshot_path)
        file_menu.addSeparator()
        # the dock's Load model, through the window's dialog: it starts in the last folder and feeds Recent
        self.load_model_action = QAction(self.training.load_model_action.text(), self)
        self.load_model_action.setShortcut(self.training.load_model_action.shortcut())
        self.load_model_action.triggered.connect(lambda checked=False: self.open_model())
        for action in (self.training.open_idx_action, self.training.save_model_action, self.load_model_action):
            file_menu.addAction(action)
        self.onnx_files = WindowOnnx(self)
        file_menu.addAction(self.onnx_files.export_action)
        file_menu.addAction(self.onnx_files.import_action)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        edit_menu = menus.addMenu("&Edit")
        # NOTE: the canvas owns the Ctrl+Z / Ctrl+Shift+Z shortcuts (window-wide); registering them here too
        # would make them ambiguous and neither would fire, so the menu only shows them.
        self.undo_stroke_action = self._action(edit_menu, "&Undo stroke\tCtrl+Z", self.canvas_model.undo)
        self.redo_stroke_action = self._action(edit_menu, "&Redo stroke\tCtrl+Shift+Z", self.canvas_model.redo)
        # one undo stack for kernel edits, settings changes, model loads and resets (core/undo.py)
        self.undo_network_action = self._action(edit_menu, "Undo &network change", self.layer_settings.undo,
                                                "Ctrl+Alt+Z")
        edit_menu.addSeparator()
        self._action(edit_menu, "&Clear canvas", self.canvas_model.clear, "Ctrl+Backspace")
        samples = edit_menu.addMenu("Draw sample &digit")
        for digit in range(10):
            self._action(samples, str(digit), lambda checked=False, d=digit: self.draw_sample_digit(d))
        self._action(edit_menu, "Reset &kernels", self._reset_kernels)

        view_menu = menus.addMenu("&View")
        view_menu.addAction(self.training.toggle_action)
        view_menu.addAction(self.inspect_dock.toggle_action)
        titles = {"canvas": "Canvas", "kernels": "Kernel editor", "maps": "Feature maps",
                  "prediction": "Prediction", "settings": "Layer settings"}
        self.view_actions = {}
        for key, title in titles.items():
            action = QAction(title, self, checkable=True, checked=True)
            action.toggled.connect(self.sections[key].setVisible)
            view_menu.addAction(action)
            self.view_actions[key] = action
        view_menu.addSeparator()
        self.mnist_framing_action = QAction("&MNIST framing", self, checkable=True)
        self.mnist_framing_action.setToolTip("Show the network the drawing scaled to 20x20 and centred, as in MNIST")
        self.mnist_framing_action.setChecked(self.canvas_model.mnist_framing)
        self.mnist_framing_action.toggled.connect(self.canvas_model.set_mnist_framing)
        listen(self, self.canvas_model.events.mnist_framing_changed, self._framing_changed)
        view_menu.addAction(self.mnist_framing_action)
        view_menu.addSeparator()
        self._action(view_menu, "&Reset layout", self.reset_layout)

        menus.addMenu(self.explain_dock.lessons_menu)
        self.lessons_menu = self.explain_dock.lessons_menu
        help_menu = menus.addMenu("&Help")
        self.shortcuts_action = self._action(help_menu, "&Keyboard shortcuts...", self.show_shortcuts)
        panels_menu = help_menu.addMenu("&What is this panel?")
        for key, (title, _) in PANEL_HELP.items():
            self._action(panels_menu, f"{title}...", lambda key=key: self.show_panel_help(key))
        help_menu.addSeparator()
        self._action(help_menu, "&About CNN Studio", self.show_about)

    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda checked=False: slot())
        menu.addAction(action)
        return action

    def _build_status_bar(self) -> None:
        self.speed_label = QLabel()
        self.speed_label.setObjectName("speedLabel")
        self.speed_label.setToolTip("Time of the last update: the network's forward pass (engine) and drawing "
                                    "every changed panel (paint)")
        self.speed_label.setStyleSheet(f"color: {theme.css(theme.muted())}; padding: 0 6px;")
        self.speed_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        # NOTE: a fixed size, so the text changing on every stroke does not re-lay out the status bar
        widest = self.speed_label.fontMetrics().horizontalAdvance("update 99.99 ms engine + 999.9 ms paint")
        self.speed_label.setFixedSize(widest + 16, self.speed_label.sizeHint().height())
        self.statusBar().addPermanentWidget(self.speed_label)

    # ------------------------------------------------------------------ wiring
    def _wire(self) -> None:
        listen(self, self.canvas_model.events.image_changed, self._canvas_changed)
        listen(self, self.canvas_model.events.history_changed, self._history_changed)
        events = self.playground.events
        for event in (events.input_changed, events.kernels_changed, events.architecture_changed):
            listen(self, event, self._update_begins)
        listen(self, events.activations_changed, self._activations_changed)
        self.layer_settings.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.kernel_editor.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self._history_changed()
        listen(self, self.playground.undo_stack.events.changed, self._undo_stack_changed)
        self._undo_stack_changed()

        self.feature_maps.hovered.connect(self._map_pixel_hovered)
        self.feature_maps.hover_left.connect(self._map_hover_left)
        self.canvas.hovered.connect(self._canvas_pixel_hovered)
        self.canvas.left.connect(self._canvas_hover_left)
        self.kernel_editor.filter_selected.connect(self._filter_selected)

    def _canvas_changed(self) -> None:
        """A stroke segment landed: mark the input dirty; the posted flush feeds it to the network once."""
        self._input_dirty = True
        if self._update_started is None:
            self._update_started = time.perf_counter()
        self._schedule_flush()

    def _update_begins(self, *args) -> None:
        if self._update_started is None:
            self._update_started = time.perf_counter()

    def _activations_changed(self, trace) -> None:
        self.last_engine_seconds = self.playground.last_update_seconds
        if self._update_started is None:
            self._update_started = time.perf_counter() - self.last_engine_seconds
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        """Ask for one flush_updates in this event-loop turn, however many changes arrive before it.

        NOTE: a posted event, not a 0 ms timer: Qt delivers posted events (normal
        priority) before the low-priority repaint requests and before timers, so
        the canvas and the maps are painted together in one pass instead of two.
        """
        if not self._flush_posted:
            self._flush_posted = True
            QCoreApplication.postEvent(self, QEvent(FLUSH_EVENT))

    def event(self, event) -> bool:
        if event.type() == FLUSH_EVENT:
            self._flush_posted = False
            self.flush_updates()
            return True
        return super().event(event)

    @property
    def update_pending(self) -> bool:
        """True while a drawing change or a repaint waits for flush_updates."""
        return self._input_dirty or self._update_started is not None

    def flush_updates(self) -> None:
        """Do the pending update now: feed a changed drawing to the network, then paint every changed panel.

        Runs once per event-loop turn (see _schedule_flush); tests and
        benchmarks may call it to finish an update synchronously.
        """
        if self._flushing:  # the posted flush event, delivered by the sendPostedEvents below
            return
        self._flushing = True
        try:
            if self._input_dirty:
                self._input_dirty = False
                self.playground.set_input(self.canvas_model.network_input())
            if self._update_started is None:
                return
            # The panels asked for a repaint; deliver those requests now (pyqtgraph's queued scene update,
            # then Qt's repaint request), so every panel is painted in this pass and the paint is measured.
            QCoreApplication.sendPostedEvents()
            total = time.perf_counter() - self._update_started
            self._update_started = None
        finally:
            self._flushing = False
        self.last_paint_seconds = max(total - self.last_engine_seconds, 0.0)
        self.speed_label.setText(f"update {self.last_engine_seconds * 1e3:.2f} ms engine + "
                                 f"{self.last_paint_seconds * 1e3:.1f} ms paint")

    def _framing_changed(self) -> None:
        self.mnist_framing_action.blockSignals(True)
        self.mnist_framing_action.setChecked(self.canvas_model.mnist_framing)
        self.mnist_framing_action.blockSignals(False)

    def _history_changed(self) -> None:
        self.undo_stroke_action.setEnabled(self.canvas_model.can_undo)
        self.redo_stroke_action.setEnabled(self.canvas_model.can_redo)

    def _undo_stack_changed(self) -> None:
        text = self.playground.undo_stack.undo_text
        label = f"Undo &{text}" if text else "Undo &network change"
        # NOTE: only on a change: every kernel click pushes an entry, and a new action text re-lays out the menus
        if self.undo_network_action.text() != label:
            self.undo_network_action.setText(label)
        if self.undo_network_action.isEnabled() != (text is not None):
            self.undo_network_action.setEnabled(text is not None)

    def _show_maps(self) -> None:
        self.feature_maps.setFocus()
        self.statusBar().showMessage("Look at the feature maps in the middle of the window.", 6000)

    def closeEvent(self, event) -> None:
        self.explain_dock.stop_training()  # a lesson's training thread must not outlive the window
        self.inspect_dock.stop()
        self.training.stop()  # its evaluation and data-loading threads
        save_window_state(self, self.settings)
        scratch = getattr(self.settings, "scratch_folder", None)
        if scratch:  # a window outside the app: its settings were only for this run
            shutil.rmtree(scratch, ignore_errors=True)
        super().closeEvent(event)

    # -- linked hover
    def _map_pixel_hovered(self, pixel) -> None:
        """A feature-map cell under the mouse: outline its receptive field on the canvas and its kernel's weights."""
        rect = pixel.input_rect
        if rect is None:
            self.canvas.set_highlight([])
        else:  # the field is in network-input pixels; with MNIST framing the drawing is placed elsewhere
            row0, col0, row1, col1 = rect.row0, rect.col0, rect.row1 + 1, rect.col1 + 1
            framing = self.canvas_model.framing()
            if framing is not None:
                (row0, col0), (row1, col1) = framing.to_canvas(row0, col0), framing.to_canvas(row1, col1)
            self.canvas.set_highlight([(row0, col0, row1, col1, RECEPTIVE_FIELD_COLOUR)])
        cells = [(cell.channel, cell.ki, cell.kj) for cell in pixel.kernel_cells]
        self._clear_kernel_highlight()
        if cells:
            layer = pixel.kernel_cells[0].layer
            self.kernel_editor.highlight(layer, pixel.filter, cells)
            self._highlighted_kernel = (layer, pixel.filter)

    def _map_hover_left(self) -> None:
        self.canvas.set_highlight([])
        self._clear_kernel_highlight()

    def _clear_kernel_highlight(self) -> None:
        if self._highlighted_kernel is not None:
            self.kernel_editor.highlight(*self._highlighted_kernel, None)
            self._highlighted_kernel = None

    def _canvas_pixel_hovered(self, row: float, col: float) -> None:
        framing = self.canvas_model.framing()
        if framing is not None:  # the point of the drawing -> where the network sees it
            row, col = framing.to_network(row, col)
        size = self.playground.input.shape[-2:]
        if 0 <= row < size[0] and 0 <= col < size[1]:
            self.feature_maps.show_input_pixel(int(row), int(col))
        else:
            self.feature_maps.clear_highlight()

    def _canvas_hover_left(self) -> None:
        self.feature_maps.clear_highlight()

    def _filter_selected(self, layer: int, filter: int) -> None:
        self.statusBar().showMessage(f"Editing filter {filter + 1} of {layer_name(self.playground.network, layer)}.",
                                     4000)

    # ------------------------------------------------------------------ commands
    def draw_sample_digit(self, digit: int = SAMPLE_DIGIT) -> None:
        """Write a sample digit on the canvas through the stroke API (as a hand would)."""
        self.canvas_model.stamp_sample_digit(digit)

    def _reset_kernels(self) -> None:
        self.playground.reset_kernels()
        self.statusBar().showMessage("Every kernel is back to its reference weights.", 4000)
