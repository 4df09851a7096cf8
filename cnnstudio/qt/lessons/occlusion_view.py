"""The occlusion map: slide a patch over the drawing and see how the predicted class's probability drops."""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QSpinBox, QVBoxLayout, QWidget

from cnnstudio.lessons.occlusion import BACKGROUND, GREY, occlusion_map, patch_positions
from cnnstudio.render.mosaic import DIVERGING_LUT, GRAY_LUT, INK_LUT
from cnnstudio.qt.widgets.signals import listen

from .grid_view import UNREACHED, GridView, rich_label, symmetric_levels, worth_refreshing


class OcclusionView(QWidget):
    """Slide a patch over the drawing and show how the probability of the predicted class drops."""

    def __init__(self, playground, parent=None):
        super().__init__(parent)
        self.playground = playground
        self.result = None
        self.seconds = 0.0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        row = QHBoxLayout()
        self.patch_box = QSpinBox(minimum=2, maximum=14, value=8, prefix="patch ", suffix=" px")
        self.stride_box = QSpinBox(minimum=1, maximum=6, value=2, prefix="stride ", suffix=" px")
        self.fill_box = QComboBox()
        self.fill_box.addItem("patch: background (hides strokes)", BACKGROUND)
        self.fill_box.addItem("patch: grey 0.5", GREY)
        for widget in (self.patch_box, self.stride_box, self.fill_box):
            widget.setToolTip("The square slid over the drawing")
            row.addWidget(widget)
            (widget.valueChanged if isinstance(widget, QSpinBox) else widget.currentIndexChanged).connect(
                lambda *a: self._timer.start())
        self.info = rich_label()
        row.addWidget(self.info, 1)
        layout.addLayout(row)
        maps = QHBoxLayout()
        self.input_view = GridView("input and the most damaging patch")
        self.drop_view = GridView("probability drop")
        self.prob_view = GridView("probability with the patch at each position")
        # one colour per meaning: red/blue only for the drop; the probability itself in grey
        self.input_view.set_caption("red square: the patch that hides the most")
        self.drop_view.set_caption("hiding it: red lowers the probability · blue raises it · white: no change")
        self.prob_view.set_caption("black: 100% · white: 0% (with the patch there)")
        for view in (self.input_view, self.drop_view, self.prob_view):
            maps.addWidget(view, 1)
        layout.addLayout(maps, 1)
        self._timer = QTimer(self, singleShot=True, interval=30)
        self._timer.timeout.connect(self.refresh)
        listen(self, playground.events.activations_changed, self._playground_changed)
        self.refresh()

    def _playground_changed(self, *args) -> None:
        if worth_refreshing(self):  # hidden, it waits for showEvent (one forward pass per patch position)
            self._timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._timer.start()

    def refresh(self) -> None:
        playground = self.playground
        if not playground.input_fits_network:
            self.info.setText("The occlusion map needs an input of the network's size (a 28x28 drawing).")
            return
        start = time.perf_counter()
        patch, stride = self.patch_box.value(), self.stride_box.value()
        image = playground.input[0]
        self.result = result = occlusion_map(playground.network, image, patch, stride, self.fill_box.currentData())
        self.seconds = time.perf_counter() - start
        n = result.probability.size
        self.input_view.set_data(image, INK_LUT, (0, 1))
        r, c = np.unravel_index(np.argmax(result.drop), result.drop.shape)
        top = patch_positions(image.shape[0], patch, stride)[r]
        left = patch_positions(image.shape[1], patch, stride)[c]
        self.input_view.set_overlays(fills=[(top, left, top + patch - 1, left + patch - 1, QColor(128, 128, 128, 170))],
                                     rects=[(top, left, top + patch - 1, left + patch - 1, UNREACHED, 2)])
        self.drop_view.set_data(result.pixel_drop, DIVERGING_LUT, symmetric_levels(result.pixel_drop))
        self.prob_view.set_data(result.probability, GRAY_LUT, (0, 1))
        self.info.setText(f"predicted class <b>{result.target}</b>: {result.baseline:.0%}; hiding the marked square "
                          f"drops it to {result.probability[r, c]:.0%}. {n} forward passes in "
                          f"{self.seconds * 1e3:.0f} ms ({n / max(self.seconds, 1e-6):,.0f} per second).")
