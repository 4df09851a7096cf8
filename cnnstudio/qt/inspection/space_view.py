"""The digit space: 1,000 test digits placed by what the network's last hidden layer sees, and the drawing among them.

Each digit is a point, coloured by its class; the axes are the two directions in which the digits'
last-hidden-layer vectors differ most (PCA).  The drawing is the star: it moves with every stroke
(one projection, microseconds: its vector is already in the playground's trace).  While training,
the points are recomputed with the current weights (at most twice a second, in a worker thread: a
forward pass of 1,000 digits takes ~0.1-0.2 s).  Hover a point to see the digit; click it to load it
onto the canvas (Ctrl+Z takes it back).
"""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from cnnstudio.inspection.digit_space import DIGITS_SHOWN, PER_CLASS, embedding_available, pick_digits
from cnnstudio.qt.lessons.grid_view import GridView, rich_label
from cnnstudio.qt.widgets import theme
from cnnstudio.qt.widgets.signals import listen
from cnnstudio.render.mosaic import INK_LUT

from .space_worker import SpaceComputer, SpaceRequest

MIN_SECONDS_BETWEEN_UPDATES = 0.5   # while training: at most two new pictures a second
HOVER_PIXELS = 10                   # a point this close to the mouse (screen pixels) is the hovered one
# Tableau 10: ten colours told apart by most people, also in print
CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf")


def class_colour(label: int) -> QColor:
    if label < len(CLASS_COLOURS):
        return QColor(CLASS_COLOURS[label])
    return QColor.fromHsvF((label * 0.618) % 1.0, 0.7, 0.85)


class DigitSpaceView(QWidget):
    """A scatter of test digits in the plane of their last hidden layer's two principal axes."""

    def __init__(self, context, parent=None):
        super().__init__(parent)
        self.context = context
        self.playground = context.playground
        self.canvas_model = context.canvas_model
        self.space = None           # the shown DigitSpace
        self.digits = None          # the test Digits the points come from
        self.indices = np.zeros(0, np.int64)  # which of them are shown
        self.images = None          # their images (N, C, H, W)
        self.labels = np.zeros(0, np.int64)
        self.hovered: int | None = None
        self.marker_position: np.ndarray | None = None
        self._stale = True          # the weights changed since the shown space was computed
        self._last_request = -1e9
        self._marker_posted = False
        self.computer = SpaceComputer(self)
        self.computer.ready.connect(self._space_ready)
        self.computer.failed.connect(lambda text: self.info.setText(text))
        self._update_timer = QTimer(self, singleShot=True)
        self._update_timer.timeout.connect(self._request_space)
        self._build()
        listen(self, self.playground.events.activations_changed, self._drawing_changed)
        listen(self, self.playground.events.kernels_changed, self._weights_changed)
        listen(self, self.playground.events.architecture_changed, self._architecture_changed)
        if hasattr(self.playground.events, "class_names_changed"):
            listen(self, self.playground.events.class_names_changed, self._fill_legend)
        controller = context.training_controller
        if controller is not None:
            controller.progress.connect(self._weights_changed)
            controller.state_changed.connect(self._training_state_changed)

    # ------------------------------------------------------------------ construction
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        row = QHBoxLayout()
        row.addWidget(QLabel("Map"))
        self.method_box = QComboBox()
        self.method_box.setObjectName("spaceMethod")
        self.method_box.addItem("PCA (linear, live)", "PCA")
        self.method_box.addItem("t-SNE", "t-SNE")
        available, reason = embedding_available("t-SNE")
        self.tsne_reason = reason
        if not available:
            self.method_box.model().item(1).setEnabled(False)
            self.method_box.setItemData(1, reason, role=3)  # Qt.ToolTipRole: why it cannot be chosen
        self.method_box.setToolTip("PCA: the two directions in which the digits differ most (a new drawing can be "
                                   "placed at once).\n" + (reason if not available else
                                                           "t-SNE: neighbours kept together; recomputed, slow; "
                                                           "the drawing cannot be placed."))
        self.method_box.currentIndexChanged.connect(lambda *a: self._weights_changed())
        row.addWidget(self.method_box)
        self.info = rich_label()
        self.info.setObjectName("spaceInfo")
        row.addWidget(self.info, 1)
        layout.addLayout(row)
        body = QHBoxLayout()
        self.plot = pg.PlotWidget(background=theme.panel())
        self.plot.setObjectName("spacePlot")
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.scatters: list[pg.ScatterPlotItem] = []
        self.marker = pg.ScatterPlotItem(size=22, symbol="star", brush=pg.mkBrush("#111111"),
                                         pen=pg.mkPen("#ffffff", width=1.5))
        self.marker.setZValue(10)
        self.ring = pg.ScatterPlotItem(size=16, symbol="o", brush=None, pen=pg.mkPen(theme.text(), width=2))
        self.ring.setZValue(9)
        self.plot.addItem(self.marker)
        self.plot.addItem(self.ring)
        self.plot.scene().sigMouseMoved.connect(self._mouse_moved)
        self.plot.scene().sigMouseClicked.connect(self._mouse_clicked)
        body.addWidget(self.plot, 1)
        side = QVBoxLayout()
        # the legend beside the plot, not in it: inside it would hide points (and the star)
        self.legend = rich_label(wrap=False)
        self.legend.setObjectName("spaceLegend")
        side.addWidget(self.legend)
        self.thumbnail = GridView("hovered digit", max_cell=5, min_cell=2)
        self.thumbnail.setObjectName("spaceThumbnail")
        self.thumbnail.setFixedSize(150, 170)
        side.addWidget(self.thumbnail)
        self.hover_label = rich_label("Hover a point to see its digit; click it to put it on the canvas.")
        self.hover_label.setObjectName("spaceHover")
        self.hover_label.setFixedWidth(150)
        side.addWidget(self.hover_label)
        side.addStretch(1)
        body.addLayout(side)
        layout.addLayout(body, 1)
        self._fill_legend()

    def _class_names(self) -> list[str]:
        classes = self.playground.network.num_classes
        names = list(getattr(self.playground, "class_names", [str(i) for i in range(classes)]))
        return names if len(names) == classes else [str(i) for i in range(classes)]

    def _fill_legend(self, *args) -> None:
        """One scatter (and legend entry) per class: the legend names the colours."""
        for scatter in self.scatters:
            self.plot.removeItem(scatter)
        self.scatters = []
        names = self._class_names()
        cells = []
        for label, name in enumerate(names):
            colour = class_colour(label)
            scatter = pg.ScatterPlotItem(size=6, pen=pg.mkPen(colour.darker(130), width=0.5),
                                         brush=pg.mkBrush(colour), name=name)
            self.plot.addItem(scatter)
            self.scatters.append(scatter)
            cells.append(f"<td><span style='color:{colour.name()}'>●</span> {name}</td>")
        columns = 5 if len(names) <= 10 else 4
        rows = ["<tr>" + "".join(cells[k:k + columns]) + "</tr>" for k in range(0, len(cells), columns)]
        self.legend.setText(f"<table cellspacing='3'>{''.join(rows)}</table>★ your drawing")
        if self.space is not None:
            self._show_points()

    # ------------------------------------------------------------------ data and updates
    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._check_digits()
        if self._stale:
            self._weights_changed()
        self._place_drawing()

    def data_changed(self) -> None:
        """The Training dock's chosen data changed, or finished loading: take its test digits (when shown)."""
        if self.isVisible():
            self._check_digits()
            if self._stale:
                self._weights_changed()

    def _training_state_changed(self, *args) -> None:
        if self.isVisible():
            self._check_digits()  # a run may have started on another data set

    def _check_digits(self) -> None:
        """Take the chosen data set's test digits (100 per class, 1,000 in all) when they changed."""
        try:
            digits = self.context.data_source()[1]
        except ValueError as err:
            self._no_digits(f"No test digits to show: {err}")
            return
        if digits is self.digits:
            return
        shape = tuple(self.playground.network.input_shape)
        if tuple(digits.images.shape[1:]) != shape:
            self._no_digits(f"The test images are {'x'.join(map(str, digits.images.shape[1:]))} but the network "
                            f"takes {'x'.join(map(str, shape))}: choose data that fits it.")
            return
        self.digits = digits
        self.indices = pick_digits(digits.labels, DIGITS_SHOWN, PER_CLASS)
        self.images = np.ascontiguousarray(digits.images[self.indices])
        self.labels = np.asarray(digits.labels[self.indices], np.int64)
        self.computer.forget()
        self.space = None
        self._stale = True

    def _no_digits(self, text: str) -> None:
        self.digits, self.images, self.space = None, None, None
        self.labels = np.zeros(0, np.int64)
        self.computer.forget()
        for scatter in self.scatters:
            scatter.clear()
        self.info.setText(text)

    def _architecture_changed(self, *args) -> None:
        self.digits = None  # re-checked against the new input shape
        self.computer.forget()
        self.space = None
        self.marker.clear()
        self._fill_legend()
        if self.isVisible():
            self._check_digits()
        self._weights_changed()

    def _weights_changed(self, *args) -> None:
        """The weights moved (training, an edit): a new picture soon, at most twice a second, while shown."""
        self._stale = True
        if not self.isVisible() or self._update_timer.isActive():
            return
        wait = MIN_SECONDS_BETWEEN_UPDATES - (time.perf_counter() - self._last_request)
        self._update_timer.start(max(0, int(wait * 1000)))

    def _request_space(self) -> None:
        if self.images is None or not self.isVisible():
            return
        self._stale = False
        self._last_request = time.perf_counter()
        self.computer.request(SpaceRequest(self.playground.network.copy(), self.images,
                                           self.method_box.currentData()))

    def _space_ready(self, space, seconds: float) -> None:
        if self.images is None or space.points.shape[0] != self.labels.shape[0]:
            return
        self.space = space
        self._show_points()
        method = self.method_box.currentData()
        if method == "PCA":
            first, second = space.pca.explained
            self.plot.setLabel("bottom", f"PC 1 · {first:.0%} of the variance")
            self.plot.setLabel("left", f"PC 2 · {second:.0%} of the variance")
            axes = f"the axes explain {first:.0%} + {second:.0%} of the variance"
        else:
            self.plot.setLabel("bottom", "t-SNE 1")
            self.plot.setLabel("left", "t-SNE 2")
            axes = "t-SNE keeps neighbours together; distances far apart mean little"
        self.info.setText(f"{len(self.labels):,} test digits from {self.digits.name or 'the test set'}, placed by "
                          f"their last hidden layer ({space.features.shape[1]} numbers each); {axes}. "
                          f"<span style='color:{theme.css(theme.muted())}'>{seconds * 1e3:.0f} ms</span>")
        self._place_drawing()

    def _show_points(self) -> None:
        points = self.space.points
        for label, scatter in enumerate(self.scatters):
            members = np.flatnonzero(self.labels == label)
            scatter.setData(x=points[members, 0], y=points[members, 1], data=members)

    def _drawing_changed(self, *args) -> None:
        """A stroke: move the star, once per event-loop turn."""
        if self.isVisible() and not self._marker_posted:
            self._marker_posted = True
            QTimer.singleShot(0, self._place_drawing)

    def _place_drawing(self) -> None:
        self._marker_posted = False
        trace = self.playground.trace
        space = self.space
        if space is None or trace is None or trace.logits is None or self.method_box.currentData() != "PCA":
            self.marker.clear()
            self.marker_position = None
            return
        hidden = trace.dense[-2] if len(trace.dense) > 1 else trace.flat
        if hidden.shape[0] != space.features.shape[1]:
            return  # the architecture changed: a new space is on its way
        self.marker_position = space.pca.project(hidden)
        self.marker.setData(pos=[self.marker_position])

    # ------------------------------------------------------------------ hover and click
    def point_at(self, scene_pos) -> int | None:
        """The shown digit (index into ``labels``) nearest to a scene position, if within HOVER_PIXELS."""
        if self.space is None or not self.labels.size:
            return None
        view_box = self.plot.getPlotItem().getViewBox()
        if not view_box.sceneBoundingRect().contains(scene_pos):
            return None
        where = view_box.mapSceneToView(scene_pos)
        pixel_x, pixel_y = view_box.viewPixelSize()
        points = self.space.points
        distance = np.hypot((points[:, 0] - where.x()) / max(pixel_x, 1e-12),
                            (points[:, 1] - where.y()) / max(pixel_y, 1e-12))
        nearest = int(np.argmin(distance))
        return nearest if distance[nearest] <= HOVER_PIXELS else None

    def _mouse_moved(self, scene_pos) -> None:
        index = self.point_at(scene_pos)
        if index == self.hovered:
            return
        self.hovered = index
        if index is None:
            self.ring.clear()
            self.plot.setToolTip("")
            return
        names = self._class_names()
        label = names[self.labels[index]] if self.labels[index] < len(names) else str(self.labels[index])
        self.ring.setData(pos=[self.space.points[index]])
        self.thumbnail.set_data(self.images[index, 0], INK_LUT, (0, 1))
        self.thumbnail.title = f"digit: {label}"
        text = f"test digit #{self.indices[index]}, labelled <b>{label}</b>; click to load it onto the canvas"
        self.hover_label.setText(text)
        self.plot.setToolTip(f"test digit #{self.indices[index]}: {label}")

    def _mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        index = self.point_at(event.scenePos())
        if index is not None:
            self.load_digit(index)

    def load_digit(self, index: int) -> None:
        """Put shown digit ``index`` on the canvas as the network sees it (one undoable step)."""
        if self.images is None or self.images.shape[1] != 1:
            return
        self.canvas_model.load_network_image(self.images[index, 0])
        names = self._class_names()
        self.context.message(f"Test digit #{self.indices[index]} ({names[self.labels[index]]}) is on the canvas; "
                             f"Ctrl+Z takes it back.", 6000)

    def stop(self) -> None:
        """End the worker thread (the window is closing)."""
        self._update_timer.stop()
        self.computer.stop()
