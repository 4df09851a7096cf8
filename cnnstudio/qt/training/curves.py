"""The training curves: loss and accuracy against the step, training and test, updated in place."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QWidget

from cnnstudio.qt.widgets import theme

from .format import nice_ceiling

TRAIN_COLOUR = (37, 99, 235)     # blue: training figures
TEST_COLOUR = (232, 89, 12)      # orange: test figures


class TrainingCurves(QWidget):
    """Two plots side by side (``lossPlot``, ``accuracyPlot``): the dock is wide and short.

    Training: the smoothed batch loss (faint: every batch) and the running epoch accuracy;
    test: each evaluation.  ``show(history)`` redraws from a ``TrainingHistory``.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.loss_plot = _make_plot("lossPlot", "loss (cross-entropy)")
        self.loss_plot.setToolTip("How wrong the network is: training (smoothed; faint: every batch) and test")
        self.accuracy_plot = _make_plot("accuracyPlot", "accuracy (%)", legend_offset=(-10, -30))
        self.accuracy_plot.setToolTip("Share of digits classified right: training (this epoch so far) and test")
        # NOTE: fixed ranges that grow in 1-2-5 steps: auto-ranging on every redraw re-lays out the axes,
        # which triples the cost of a redraw while training runs
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.getPlotItem().disableAutoRange()
            plot.getPlotItem().setMouseEnabled(x=False, y=False)
        self.accuracy_plot.setYRange(0, 100, padding=0.02)
        self.accuracy_plot.setXLink(self.loss_plot)
        self._ranges = (0.0, 0.0)
        self._set_ranges(10, 2.5)
        faint = pg.mkPen(TRAIN_COLOUR + (70,), width=1)
        self.batch_loss_curve = self.loss_plot.plot([], [], pen=faint)
        self.train_loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen(TRAIN_COLOUR, width=2), name="training")
        self.test_loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen(TEST_COLOUR, width=2), symbol="o",
                                                   symbolSize=5, symbolBrush=TEST_COLOUR, symbolPen=None, name="test")
        self.train_accuracy_curve = self.accuracy_plot.plot([], [], pen=pg.mkPen(TRAIN_COLOUR, width=2),
                                                            name="training (epoch so far)")
        self.test_accuracy_curve = self.accuracy_plot.plot([], [], pen=pg.mkPen(TEST_COLOUR, width=2), symbol="o",
                                                           symbolSize=5, symbolBrush=TEST_COLOUR, symbolPen=None,
                                                           name="test")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.loss_plot, 1)
        layout.addWidget(self.accuracy_plot, 1)

    def show_history(self, history) -> None:
        """Put the curves up to date (in place: ``setData`` on items made once)."""
        data = {key: np.asarray(values, dtype=np.float64) for key, values in history.data.items()}
        steps = data["step"]
        self.batch_loss_curve.setData(steps, data["loss"])
        self.train_loss_curve.setData(steps, np.asarray(history.smoothed_loss, dtype=np.float64))
        self.train_accuracy_curve.setData(steps, 100 * data["train_acc"])
        self.test_loss_curve.setData(data["test_step"], data["test_loss"])
        self.test_accuracy_curve.setData(data["test_step"], 100 * data["test_acc"])
        top_step = steps[-1] if len(steps) else 0
        top_loss = max(np.max(data["loss"][:50], initial=0), np.max(data["test_loss"], initial=0))
        self._set_ranges(top_step, top_loss)

    def _set_ranges(self, top_step: float, top_loss: float) -> None:
        ranges = (nice_ceiling(max(top_step, 10)), nice_ceiling(max(top_loss, 0.5)))
        if ranges != self._ranges:
            self._ranges = ranges
            self.loss_plot.setXRange(0, ranges[0], padding=0.02)
            self.loss_plot.setYRange(0, ranges[1], padding=0.02)


def _make_plot(name: str, label: str, legend_offset=(-10, 10)) -> pg.PlotWidget:
    """A plot made once; ``legend_offset`` (x, y): negative counts from the right / bottom edge."""
    plot = pg.PlotWidget(background=theme.panel())
    text, muted = theme.css(theme.panel_text()), theme.css(theme.panel_muted())
    plot.setObjectName(name)
    item = plot.getPlotItem()
    item.setLabel("left", label, color=text)
    item.setLabel("bottom", "step", color=text)
    item.addLegend(offset=legend_offset, labelTextColor=text)
    for axis in ("left", "bottom"):
        item.getAxis(axis).enableAutoSIPrefix(False)
        item.getAxis(axis).setPen(muted)
        item.getAxis(axis).setTextPen(text)
    item.setMenuEnabled(False)
    plot.setMinimumHeight(120)
    return plot
