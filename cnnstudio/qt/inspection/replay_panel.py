"""One side of the training replay: the first layer's kernels, the drawing's maps and the prediction, at one step."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from cnnstudio.qt.widgets import theme
from cnnstudio.qt.widgets.bgra_image_item import BgraImageItem

BAR_COLOUR = (37, 99, 235)    # the training blue of the curves
TOP_COLOUR = (232, 89, 12)    # the predicted class, as the prediction bars mark it


class ImageBox(pg.GraphicsLayoutWidget):
    """A title over one ``BgraImageItem`` in a ViewBox that keeps square pixels and fits the picture."""

    def __init__(self, title: str, parent=None):
        super().__init__(parent)
        self.setBackground(theme.panel())
        self.ci.setContentsMargins(2, 2, 2, 2)
        self.title = self.addLabel(title, color=theme.css(theme.panel_text()), size="9pt")
        self.nextRow()
        self.box = self.addViewBox(lockAspect=True, enableMouse=False, invertY=True)
        self.box.setMenuEnabled(False)
        self.image = BgraImageItem()
        self.box.addItem(self.image)
        self.note = pg.TextItem("", color=theme.panel_muted(), anchor=(0.5, 0.5))
        self.box.addItem(self.note)
        self.setMinimumSize(90, 80)

    def show_pixels(self, pixels: np.ndarray) -> None:
        self.note.setText("")
        self.image.setImage(pixels)
        self.box.autoRange(padding=0.02)

    def show_note(self, text: str) -> None:
        """A message instead of the picture (e.g. no conv layer)."""
        self.image.setImage(np.zeros((1, 1, 4), dtype=np.uint8))
        self.note.setText(text)
        self.note.setPos(0.5, 0.5)
        self.box.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)


class ProbabilityBars(pg.PlotWidget):
    """Class probabilities as horizontal bars, the top class in orange, its name and percentage beside it."""

    def __init__(self, parent=None):
        super().__init__(parent, background=theme.panel())
        item = self.getPlotItem()
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.setMenuEnabled(False)
        item.getViewBox().invertY(True)
        item.setXRange(0, 1, padding=0.02)
        item.getAxis("bottom").setTicks([[(0, "0"), (0.5, "50%"), (1, "100%")]])
        for axis in ("left", "bottom"):
            item.getAxis(axis).setTextPen(theme.css(theme.panel_text()))
        self.bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.7, brushes=[])
        item.addItem(self.bars)
        self.top_label = pg.TextItem("", color=TOP_COLOUR, anchor=(0, 0.5))
        item.addItem(self.top_label)
        self.probabilities: np.ndarray | None = None
        self.setMinimumWidth(110)

    def show_probabilities(self, probabilities, names) -> None:
        """Bars for ``probabilities`` (classes,) labelled with ``names``; None clears them."""
        self.probabilities = None if probabilities is None else np.asarray(probabilities, dtype=np.float64)
        if self.probabilities is None:
            self.bars.setOpts(x0=[], y=[], width=[], brushes=[])
            self.top_label.setText("")
            self.getPlotItem().getAxis("left").setTicks([[(k, str(name)[:12]) for k, name in enumerate(names)]])
            self.getPlotItem().setYRange(-0.6, max(len(names), 1) - 0.4, padding=0)
            return
        p = self.probabilities
        rows = np.arange(p.size)
        top = int(np.argmax(p))
        brushes = [pg.mkBrush(TOP_COLOUR if k == top else BAR_COLOUR) for k in rows]
        self.bars.setOpts(x0=np.zeros(p.size), y=rows, width=p, height=0.7, brushes=brushes, pens=[None] * p.size)
        self.getPlotItem().getAxis("left").setTicks([[(k, str(names[k])[:12]) for k in rows]])
        self.getPlotItem().setYRange(-0.6, p.size - 0.4, padding=0)
        self.top_label.setText(f"{p[top]:.0%}")
        inside = p[top] > 0.6  # a long bar holds its number (in white); a short one has it beside
        self.top_label.setColor("white" if inside else TOP_COLOUR)
        self.top_label.setAnchor((1, 0.5) if inside else (0, 0.5))
        self.top_label.setPos(p[top] - 0.02 if inside else p[top] + 0.02, top)


class ReplayPanel(QWidget):
    """Kernels of the first conv layer, the maps of the drawing and the prediction, under one set of weights."""

    def __init__(self, title: str, object_name: str, parent=None):
        super().__init__(parent)
        self.setObjectName(object_name)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.heading = QLabel(title)
        self.heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.heading.setStyleSheet("font-weight: bold")
        layout.addWidget(self.heading)
        row = QWidget()
        columns = QHBoxLayout(row)
        columns.setContentsMargins(0, 0, 0, 0)
        columns.setSpacing(3)
        self.kernels = ImageBox("layer 1 kernels")
        self.maps = ImageBox("the drawing's maps")
        self.bars = ProbabilityBars()
        self.kernels.setToolTip("The first conv layer's kernels at this step (blue: negative, red: positive)")
        self.maps.setToolTip("The current drawing through the network with these weights: each conv stage's "
                             "activation maps, stages left to right")
        self.bars.setToolTip("What the network with these weights predicts for the current drawing")
        columns.addWidget(self.kernels, 2)
        columns.addWidget(self.maps, 4)
        columns.addWidget(self.bars, 2)
        row.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        layout.addWidget(row, 1)
