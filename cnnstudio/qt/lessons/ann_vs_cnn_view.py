"""ANN vs CNN, side by side: their weights, their tolerance to shifts, and both predictions on the drawing.

``AnnVsCnnView(playground, current_image)`` trains a dense network (flatten ->
64 -> 10) and the app's CNN on the shipped digits with our engine, in a worker
thread that drives :func:`~cnnstudio.lessons.ann_vs_cnn.compare_steps` and only
sends back progress and, at the end, the finished comparison.  Then it shows:

(a) the weights of each, layer by layer, and how they grow with the image size;
(b) the accuracy on the test digits shifted by -4..+4 pixels, for both;
(c) both predictions on the current drawing; the arrow keys shift it a pixel.

``current_image()`` returns the drawing the network sees, (28, 28) float32.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QThread, Qt, Signal
from PySide6.QtWidgets import (QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from cnnstudio.io.datasets import load_mnist_5k
from cnnstudio.lessons.ann_vs_cnn import (ANN_LAYERS, Comparison, ComparisonProgress, cnn_layers, compare_steps,
                                        far_shift_mean, weight_growth, weight_rows)
from cnnstudio.render.mosaic import DIVERGING_LUT, INK_LUT
from cnnstudio.training import shift_images
from cnnstudio.qt.widgets.signals import listen
from cnnstudio.qt.widgets import theme

from .grid_view import GridView, rich_label, symmetric_levels

pg.setConfigOptions(imageAxisOrder="row-major")

ANN_COLOUR = "#1a73e8"
CNN_COLOUR = "#d93025"
ARROWS = {Qt.Key.Key_Left: (0, -1), Qt.Key.Key_Right: (0, 1), Qt.Key.Key_Up: (-1, 0), Qt.Key.Key_Down: (1, 0)}
MAX_SHIFT = 6


class ComparisonWorker(QThread):
    """Drives ``compare_steps`` off the GUI thread; emits progress and, at the end, the comparison."""

    progressed = Signal(float, str)
    finished_comparison = Signal(object)

    def __init__(self, train, test, parent=None, **options):
        super().__init__(parent)
        self.train, self.test, self.options = train, test, options

    def run(self) -> None:
        for item in compare_steps(self.train, self.test, **self.options):
            if self.isInterruptionRequested():  # asked to stop between two batches, never killed
                return
            if isinstance(item, ComparisonProgress):
                self.progressed.emit(item.fraction, item.stage)
            else:
                self.finished_comparison.emit(item)

    def stop(self) -> None:
        """Ask the run to stop after the batch under way and wait for it; quiet (no signal is emitted)."""
        self.requestInterruption()
        self.wait()


class AnnVsCnnView(QWidget):
    """The dense network and the CNN on the same digits.

    Parameters
    ----------
    playground : the live playground (its ``input_changed`` refreshes the predictions)
    current_image : callable returning the (28, 28) drawing
    epochs, train_size, test_size : training budget (tests use a few hundred digits)
    """

    comparison_ready = Signal()

    def __init__(self, playground, current_image, epochs: int = 2, train_size: int | None = None,
                 test_size: int | None = None, parent=None):
        super().__init__(parent)
        self.playground = playground
        self.current_image = current_image
        self.options = {"epochs": epochs, "train_size": train_size, "test_size": test_size}
        self.comparison: Comparison | None = None
        self.worker: ComparisonWorker | None = None
        self.shift = (0, 0)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._build()
        self._fill_weight_tables()
        listen(self, playground.events.input_changed, self.refresh_predictions)
        self.refresh_predictions()

    # -- construction
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(rich_label(
            f"<b>Why not an ANN?</b> "
            f"<span style='color:{theme.css(theme.muted())}'>The study note: an n*n image makes a <i>large weight "
            "matrix</i>, and <i>if one or two pixel shifted, the predicted result will change dramatically in "
            "ANN</i>. Both networks below are trained here on the same 4,000 digits.</span>"))
        row = QHBoxLayout()
        self.train_button = QPushButton("Train both")
        self.train_button.setToolTip("Train the ANN and the CNN with our engine, then shift the test digits")
        self.train_button.clicked.connect(self.start_training)
        self.train_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(220)
        self.status = QLabel("Not trained yet: press Train both (a few seconds).")
        self.status.setStyleSheet(f"color: {theme.css(theme.muted())};")
        row.addWidget(self.train_button)
        row.addWidget(self.progress)
        row.addWidget(self.status, 1)
        layout.addLayout(row)

        grid = QGridLayout()
        # (a) weights
        self.layer_table = QTableWidget(0, 4)
        self.layer_table.setHorizontalHeaderLabels(["network", "layer", "weights + biases", "count"])
        self.growth_table = QTableWidget(0, 3)
        self.growth_table.setHorizontalHeaderLabels(["image", "ANN", "CNN"])
        for table in (self.layer_table, self.growth_table):
            table.verticalHeader().hide()
            table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
            table.horizontalHeader().setStretchLastSection(True)
        weights = QVBoxLayout()
        weights.addWidget(rich_label("<b>(a) Weights, layer by layer</b> (28x28 input)"))
        weights.addWidget(self.layer_table, 3)
        weights.addWidget(rich_label("<b>Total weights as the image grows</b>"))
        weights.addWidget(self.growth_table, 2)
        self.growth_note = rich_label(style=f"color: {theme.css(theme.muted())};")
        weights.addWidget(self.growth_note)
        grid.addLayout(weights, 0, 0)

        # (b) shift tolerance
        self.shift_plot = pg.PlotWidget(background=theme.panel())
        self.shift_plot.setTitle("(b) accuracy on shifted test digits", color=theme.css(theme.panel_text()))
        self.shift_plot.setLabel("bottom", "shift (pixels)")
        self.shift_plot.setLabel("left", "accuracy")
        self.shift_plot.setYRange(0, 1)
        self.shift_plot.showGrid(x=True, y=True, alpha=0.3)
        self.shift_plot.addLegend(offset=(-10, -10))
        self.curves = {}
        for name, colour in (("ann", ANN_COLOUR), ("cnn", CNN_COLOUR)):
            for axis, style in (("horizontal", Qt.PenStyle.SolidLine), ("vertical", Qt.PenStyle.DashLine)):
                self.curves[name, axis] = self.shift_plot.plot(
                    [], [], pen=pg.mkPen(colour, width=2, style=style), symbol="o", symbolSize=5,
                    symbolBrush=colour, name=f"{name.upper()} {axis}")
        plot_box = QVBoxLayout()
        plot_box.addWidget(self.shift_plot, 1)
        self.shift_note = rich_label(style=f"color: {theme.css(theme.muted())};")
        plot_box.addWidget(self.shift_note)
        grid.addLayout(plot_box, 0, 1)

        # (c) the drawing, shifted, and both predictions
        live = QVBoxLayout()
        live.addWidget(rich_label(f"<b>(c) Your drawing</b> "
                                  f"<span style='color:{theme.css(theme.muted())}'>(arrow keys shift it; click "
                                  "here first)</span>"))
        self.drawing_view = GridView("shift (0, 0)")
        live.addWidget(self.drawing_view, 2)
        self.bars = pg.PlotWidget(background=theme.panel())
        self.bars.setYRange(0, 1)
        self.bars.setXRange(-0.6, 9.6)
        self.bars.getAxis("bottom").setTicks([[(d, str(d)) for d in range(10)]])
        self.bars.setMouseEnabled(x=False, y=False)
        self.bars.addLegend(offset=(-10, 5))
        self.ann_bars = pg.BarGraphItem(x=np.arange(10) - 0.2, height=np.zeros(10), width=0.38, brush=ANN_COLOUR,
                                        name="ANN")
        self.cnn_bars = pg.BarGraphItem(x=np.arange(10) + 0.2, height=np.zeros(10), width=0.38, brush=CNN_COLOUR,
                                        name="CNN")
        self.bars.addItem(self.ann_bars)
        self.bars.addItem(self.cnn_bars)
        live.addWidget(self.bars, 2)
        self.prediction_label = rich_label()
        live.addWidget(self.prediction_label)
        grid.addLayout(live, 0, 2)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 3)
        grid.setColumnStretch(2, 2)
        layout.addLayout(grid, 1)

        kernels = QHBoxLayout()
        self.kernels_label = rich_label(f"<b>The CNN's first-layer kernels</b> "
                                        f"<span style='color:{theme.css(theme.muted())}'>appear here "
                                        "after training.</span>")
        self.kernels_label.setMaximumWidth(260)
        kernels.addWidget(self.kernels_label)
        self.kernel_views = []
        for f in range(cnn_layers()[0].filters):
            view = GridView(f"{f + 1}", max_cell=16)
            view.setMinimumSize(50, 56)
            self.kernel_views.append(view)
            kernels.addWidget(view)
        layout.addLayout(kernels)

    def _fill_weight_tables(self) -> None:
        rows = [("ANN", r) for r in weight_rows(ANN_LAYERS)] + [("CNN", r) for r in weight_rows(cnn_layers())]
        self.layer_table.setRowCount(len(rows))
        for k, (network, row) in enumerate(rows):
            for c, text in enumerate((network, f"{row.layer}: {row.shape}", row.formula, f"{row.count:,}")):
                item = QTableWidgetItem(text)
                if c == 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.layer_table.setItem(k, c, item)
        self.layer_table.resizeColumnsToContents()
        ann, cnn = weight_growth(ANN_LAYERS), weight_growth(cnn_layers())
        self.growth_table.setRowCount(len(ann))
        for k, size in enumerate(ann):
            for c, text in enumerate((f"{size}x{size}", f"{sum(r.count for r in ann[size]):,}",
                                      f"{sum(r.count for r in cnn[size]):,}")):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.growth_table.setItem(k, c, item)
        big = max(ann)
        self.growth_note.setText(
            f"At {big}x{big} the ANN's first weight matrix alone holds {ann[big][0].count:,} numbers: one weight "
            f"per pixel for each hidden unit. The CNN's kernels stay at "
            f"{sum(r.count for r in cnn[big][:-1]):,} numbers at any size; only its last dense layer grows.")

    # -- training
    def start_training(self) -> None:
        if self.training:
            return
        train, test = load_mnist_5k()
        if self.worker is not None:  # the last run's finished thread
            self.worker.deleteLater()
        self.worker = worker = ComparisonWorker(train, test, self, **self.options)
        worker.progressed.connect(self._progressed)
        worker.finished_comparison.connect(self.set_comparison)
        # The thread must end before it is deleted with this view, or Qt aborts the whole app: stop it when the
        # app quits or this view goes (QWidget emits ``destroyed`` before deleting its children, the worker).
        QCoreApplication.instance().aboutToQuit.connect(worker.stop)
        self.destroyed.connect(worker.stop)
        self.train_button.setEnabled(False)
        self.status.setText("training...")
        worker.start()

    @property
    def training(self) -> bool:
        return self.worker is not None and self.worker.isRunning()

    def stop_training(self) -> None:
        """Stop a training under way (after the batch under way) and wait for its thread; the status says so."""
        if not self.training:
            return
        self.worker.stop()
        self.train_button.setEnabled(True)
        self.progress.setValue(0)
        self.status.setText("Training stopped: press Train both to start again.")

    def _progressed(self, fraction: float, stage: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.status.setText(f"{stage}...")

    def set_comparison(self, comparison: Comparison) -> None:
        """Show a finished comparison (from the worker, or given directly)."""
        self.comparison = comparison
        self.train_button.setEnabled(True)
        self.train_button.setText("Train again")
        self.progress.setValue(1000)
        self.status.setText(f"trained in {comparison.seconds:.1f} s: test accuracy ANN {comparison.ann_accuracy:.0%}, "
                            f"CNN {comparison.cnn_accuracy:.0%}")
        shifts = np.array(comparison.shifts)
        for (name, axis), curve in self.curves.items():
            curves = comparison.ann_curves if name == "ann" else comparison.cnn_curves
            curve.setData(shifts, curves[axis])
        ann_far, cnn_far = far_shift_mean(comparison.ann_curves, shifts), far_shift_mean(comparison.cnn_curves, shifts)
        self.shift_note.setText(f"Solid: shifted sideways, dashed: up/down. Shifted by 2 to 4 pixels, the ANN gets "
                                f"{ann_far:.0%} right and the CNN {cnn_far:.0%}: the CNN's curve is flatter.")
        weight = comparison.cnn.weight(0)
        levels = symmetric_levels(weight)
        for f, view in enumerate(self.kernel_views):
            view.set_data(weight[f, 0], DIVERGING_LUT, levels)
        self.kernels_label.setText(f"<b>The CNN's first-layer kernels,</b> "
                                   f"<span style='color:{theme.css(theme.muted())}'>learned by "
                                   "backpropagation: many are edge detectors (red on one side, blue on the "
                                   "other).</span>")
        self.refresh_predictions()
        self.comparison_ready.emit()

    # -- the drawing, shifted
    def keyPressEvent(self, event) -> None:
        if event.key() in ARROWS:
            dy, dx = ARROWS[event.key()]
            self.set_shift(self.shift[0] + dy, self.shift[1] + dx)
        elif event.key() == Qt.Key.Key_0:
            self.set_shift(0, 0)
        else:
            super().keyPressEvent(event)

    def set_shift(self, dy: int, dx: int) -> None:
        self.shift = (int(np.clip(dy, -MAX_SHIFT, MAX_SHIFT)), int(np.clip(dx, -MAX_SHIFT, MAX_SHIFT)))
        self.refresh_predictions()

    def shifted_image(self) -> np.ndarray | None:
        image = np.asarray(self.current_image(), dtype=np.float32)
        if image.ndim == 3:
            image = image[0]
        if image.shape != (28, 28):
            return None
        return shift_images(image, *self.shift)

    def refresh_predictions(self, *args) -> None:
        image = self.shifted_image()
        dy, dx = self.shift
        self.drawing_view.title = f"shift ({dx:+d} right, {dy:+d} down)"
        if image is None:
            self.prediction_label.setText("The comparison needs a 28x28 drawing (digit mode).")
            return
        self.drawing_view.set_data(image, INK_LUT, (0, 1))
        if self.comparison is None:
            self.prediction_label.setText("Train both networks to see their predictions.")
            return
        ann, cnn = self.comparison.predict(image)
        self.ann_bars.setOpts(height=ann)
        self.cnn_bars.setOpts(height=cnn)
        self.predictions = (ann, cnn)
        self.prediction_label.setText(
            f"<span style='color:{ANN_COLOUR}'>ANN says <b>{int(np.argmax(ann))}</b> ({ann.max():.0%})</span>"
            f"&nbsp;&nbsp;<span style='color:{CNN_COLOUR}'>CNN says <b>{int(np.argmax(cnn))}</b> "
            f"({cnn.max():.0%})</span>")
