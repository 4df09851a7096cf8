"""The training panel: choose data and settings, start, pause, step or reset, and watch the curves.

Training runs in a worker thread (``TrainingController``); this panel only sends it
commands and draws what comes back.  The trained weights land in the playground
about 15 times a second, so the kernels, the feature maps of the current drawing and
the prediction change while one watches.

- Data: the shipped MNIST 5k, an opened IDX data set, the user's own digits, or MNIST + them.
- Settings: optimizer (Adam, SGD with momentum), learning rate, momentum, batch size,
  epochs, weight decay, random-shift augmentation.  They are taken at Start; changing one
  while paused ends the paused run (the weights stay), so the next Start uses it.
- Lock: a locked kernel (and its bias) is left exactly as the user set it.
- Curves (``lossPlot``, ``accuracyPlot``): training (smoothed batch loss, running epoch
  accuracy) and test (each evaluation) against the step, updated in place.
- Divergence: a NaN or exploding loss pauses the run on the last good weights and says why; a lower
  learning rate and Start go on from there.
- Models: save and load one file (``cnnstudio.io.model_file``); a bad file, or a model for other
  images, is explained in a dialog and changes nothing.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QDockWidget, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QFrame, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QMessageBox,
                               QProgressBar, QPushButton, QScrollArea, QSizePolicy, QSpinBox, QTabWidget, QToolButton,
                               QVBoxLayout, QWidget)

from cnnstudio.engine import Network
from cnnstudio.io.datasets import DatasetError, Digits, load_idx_pair, load_mnist_5k
from cnnstudio.training.trainer import TrainingSettings, make_dataset

from cnnstudio.qt.training.worker import TrainingController

PLOT_BACKGROUND = "#ffffff"
TEXT = "#2b2f36"
MUTED = "#6b7280"
ERROR_COLOUR = "#d32f2f"
TRAIN_COLOUR = (37, 99, 235)     # blue: training figures
TEST_COLOUR = (232, 89, 12)      # orange: test figures
SMOOTHING = 0.9                  # exponential smoothing of the noisy batch loss for the training curve
DOCK_HEIGHT = 330                # the training dock's height when it first shows
REDRAW_INTERVAL_MS = 100         # the curves and the progress bar redraw 10 times a second

DATA_CHOICES = (("mnist", "MNIST 5k (4,000 train / 1,000 test)"),
                ("idx", "IDX data set (open one first)"),
                ("mine", "My digits"),
                ("mix", "MNIST 5k + my digits"))
OPTIMIZER_CHOICES = (("adam", "Adam"), ("sgd", "SGD with momentum"))


def format_seconds(seconds: float) -> str:
    """'4 s', '2 min 5 s', '1 h 3 min', or '?' when unknown."""
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def progress_text(progress) -> str:
    """'epoch 2/5 · 11,800 samples/s · 4 s left' for the progress bar."""
    parts = [f"epoch {progress.epoch}/{progress.epochs}"]
    if progress.samples_per_second > 0:
        parts.append(f"{progress.samples_per_second:,.0f} samples/s")
    if progress.finished:
        parts.append("done")
    elif progress.samples_per_second > 0:
        parts.append(f"{format_seconds(progress.seconds_left)} left")
    return " · ".join(parts)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5, 10, 20, 50, ... (times any power of ten) that is at least ``value`` > 0."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        if factor * power >= value * (1 - 1e-9):
            return factor * power
    return 10 * power


class TrainingHistory:
    """The curves of every run since the last reset, steps counted across runs.

    The keys match the model's ``Trainer.history`` (and a saved model's history):
    ``step``, ``loss`` (batch loss), ``train_acc`` per step; ``test_step``, ``test_loss``,
    ``test_acc`` per test evaluation.
    """

    KEYS = ("step", "loss", "train_acc", "test_step", "test_loss", "test_acc")

    def __init__(self, data: dict | None = None):
        self.data = {key: [] for key in self.KEYS}
        if data:
            for key in self.KEYS:
                self.data[key] = [float(v) for v in data.get(key, [])]
        self.offset = 0  # steps of the runs before the current one
        self.smoothed_loss: list[float] = []  # the batch loss, smoothed as it arrives (redraws stay O(1) in Python)
        self._average = 0.0
        for value in self.data["loss"]:
            self._smooth(value)

    def _smooth(self, value: float) -> None:
        # An exponential moving average with bias correction, as TensorBoard smooths a curve.
        self._average = SMOOTHING * self._average + (1 - SMOOTHING) * value
        self.smoothed_loss.append(self._average / (1 - SMOOTHING ** (len(self.smoothed_loss) + 1)))

    def new_run(self) -> None:
        self.offset = int(self.data["step"][-1]) if self.data["step"] else 0

    def add(self, progress) -> None:
        step = self.offset + progress.step
        if progress.diverged:
            return  # the diverged step's weights were thrown away; its loss is not a point of the curve
        self.data["step"].append(step)
        self.data["loss"].append(progress.batch_loss)
        self._smooth(progress.batch_loss)
        self.data["train_acc"].append(progress.train_accuracy)
        # NOTE: an overflowing test loss is left out: it cannot be drawn, and a saved history must be finite
        if progress.test_fresh and progress.test_loss is not None and math.isfinite(progress.test_loss):
            self.data["test_step"].append(step)
            self.data["test_loss"].append(progress.test_loss)
            self.data["test_acc"].append(progress.test_accuracy)

    def as_dict(self) -> dict:
        return {key: list(values) for key, values in self.data.items()}

    def __len__(self) -> int:
        return len(self.data["step"])


class QtTrainingPanel(QWidget):
    """Train the playground's network live (objectName ``trainingPanel``).

    Parameters
    ----------
    playground : the network to train (through ``TrainingController``)
    my_digits : a ``MyDigits`` for the "My digits" and "mix" data choices (optional)
    mnist : the (train, test) digits of the "MNIST 5k" choice; the shipped ones, loaded on first use, if None
    """

    locks_changed = Signal()
    evaluation_due = Signal()     # training stopped or paused, or a model was loaded: time to evaluate
    message = Signal(str)         # one line for the status bar

    def __init__(self, playground, my_digits=None, controller: TrainingController | None = None, mnist=None,
                 parent=None):
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self.playground = playground
        self.my_digits = my_digits
        self.controller = controller or TrainingController(playground, parent=self)
        self.history = TrainingHistory()
        self.idx_digits: Digits | None = None
        self._mnist: tuple[Digits, Digits] | None = mnist
        self._last_progress = None
        self._curves_dirty = False
        self._undo_reset_state: list[np.ndarray] | None = None
        self._undo_reset_history: TrainingHistory | None = None
        self._lock_buttons: dict[tuple[int, int], QToolButton] = {}

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setInterval(REDRAW_INTERVAL_MS)
        self._redraw_timer.timeout.connect(self._redraw_if_changed)

        self._build()
        self._rebuild_locks()
        self._update_buttons()

        c = self.controller
        c.state_changed.connect(self._state_changed)
        c.progress.connect(self._progress)
        c.diverged.connect(self._diverged)
        c.error.connect(lambda text: self.show_status(text, error=True))
        c.locks_changed.connect(self._locks_changed)
        playground.events.architecture_changed.connect(self._rebuild_locks)
        # The training thread must end before the widgets go: when the app quits or this panel is deleted
        # (QWidget emits ``destroyed`` before deleting its children, so the controller is still there).
        QApplication.instance().aboutToQuit.connect(self.controller.shutdown)
        self.destroyed.connect(self.controller.shutdown)

    # ------------------------------------------------------------------ construction
    def _build(self) -> None:
        controls = QVBoxLayout()
        controls.setSpacing(6)

        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("startButton")
        self.start_button.setToolTip("Train the network; the kernels, maps and prediction change as it learns")
        self.start_button.clicked.connect(self.toggle_training)
        self.step_button = QPushButton("Step")
        self.step_button.setObjectName("stepButton")
        self.step_button.setToolTip("Train on one mini-batch, then wait")
        self.step_button.clicked.connect(self.step)
        self.reset_button = QPushButton("Reset…")
        self.reset_button.setObjectName("resetButton")
        self.reset_button.setToolTip("Give every layer fresh random weights and clear the curves")
        self.reset_button.clicked.connect(lambda: self.reset_weights())
        for button in (self.start_button, self.step_button, self.reset_button):
            buttons.addWidget(button)
        controls.addLayout(buttons)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        data_row = QHBoxLayout()
        self.data_combo = QComboBox()
        self.data_combo.setObjectName("dataCombo")
        for key, text in DATA_CHOICES:
            self.data_combo.addItem(text, key)
        self.data_combo.currentIndexChanged.connect(self._settings_edited)
        self.open_idx_button = QToolButton()
        self.open_idx_button.setText("Open…")
        self.open_idx_button.setToolTip("Open an IDX data set (MNIST, Fashion-MNIST, KMNIST, EMNIST digits): "
                                        "an images file, then its labels file")
        self.open_idx_button.clicked.connect(self.open_idx_dialog)
        data_row.addWidget(self.data_combo, 1)
        data_row.addWidget(self.open_idx_button)
        form.addRow("Data", data_row)

        self.optimizer_combo = QComboBox()
        self.optimizer_combo.setObjectName("optimizerCombo")
        for key, text in OPTIMIZER_CHOICES:
            self.optimizer_combo.addItem(text, key)
        self.optimizer_combo.currentIndexChanged.connect(self._optimizer_changed)
        form.addRow("Optimizer", self.optimizer_combo)

        self.learning_rate_spin = QDoubleSpinBox()
        self.learning_rate_spin.setObjectName("learningRateSpin")
        self.learning_rate_spin.setDecimals(5)
        self.learning_rate_spin.setRange(0.00001, 10.0)
        self.learning_rate_spin.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.learning_rate_spin.setToolTip("How big a step each update takes. Adam: about 0.001 to 0.003; "
                                           "SGD: about 0.01 to 0.1. Too high and the loss blows up.")
        form.addRow("Learning rate", self.learning_rate_spin)

        self.momentum_spin = QDoubleSpinBox()
        self.momentum_spin.setObjectName("momentumSpin")
        self.momentum_spin.setRange(0.0, 0.99)
        self.momentum_spin.setSingleStep(0.05)
        self.momentum_spin.setToolTip("SGD only: how much of the previous update carries over")
        form.addRow("Momentum", self.momentum_spin)

        self.batch_spin = QSpinBox()
        self.batch_spin.setObjectName("batchSpin")
        self.batch_spin.setRange(1, 1024)
        self.batch_spin.setToolTip("Images per update")
        form.addRow("Batch size", self.batch_spin)

        self.epochs_spin = QSpinBox()
        self.epochs_spin.setObjectName("epochsSpin")
        self.epochs_spin.setRange(1, 200)
        self.epochs_spin.setToolTip("Passes over the training images")
        form.addRow("Epochs", self.epochs_spin)

        self.weight_decay_spin = QDoubleSpinBox()
        self.weight_decay_spin.setObjectName("weightDecaySpin")
        self.weight_decay_spin.setDecimals(5)
        self.weight_decay_spin.setRange(0.0, 0.1)
        self.weight_decay_spin.setSingleStep(0.0001)
        self.weight_decay_spin.setToolTip("Pulls every weight a little towards 0 at each update; 0 = off")
        form.addRow("Weight decay", self.weight_decay_spin)

        self.shift_check = QCheckBox("shift images by up to 2 pixels")
        self.shift_check.setObjectName("shiftCheck")
        self.shift_check.setToolTip("Random-shift augmentation: every training image is moved a little each time, "
                                    "so the network learns that a digit moved is the same digit")
        form.addRow("Augment", self.shift_check)
        controls.addLayout(form)

        for spin in (self.learning_rate_spin, self.momentum_spin, self.batch_spin, self.epochs_spin,
                     self.weight_decay_spin):
            spin.valueChanged.connect(self._settings_edited)
        self.shift_check.toggled.connect(self._settings_edited)
        self._settings_widgets = (self.data_combo, self.open_idx_button, self.optimizer_combo,
                                  self.learning_rate_spin, self.momentum_spin, self.batch_spin, self.epochs_spin,
                                  self.weight_decay_spin, self.shift_check)

        self.locks_box = QGroupBox("Lock kernels (training leaves them as they are)")
        self.locks_box.setObjectName("locksBox")
        self.locks_layout = QGridLayout(self.locks_box)
        self.locks_layout.setContentsMargins(6, 4, 6, 4)
        self.locks_layout.setSpacing(2)
        controls.addWidget(self.locks_box)

        models = QHBoxLayout()
        self.save_model_button = QPushButton("Save model…")
        self.save_model_button.setObjectName("saveModelButton")
        self.save_model_button.clicked.connect(self.save_model_dialog)
        self.load_model_button = QPushButton("Load model…")
        self.load_model_button.setObjectName("loadModelButton")
        self.load_model_button.clicked.connect(self.load_model_dialog)
        models.addWidget(self.save_model_button)
        models.addWidget(self.load_model_button)
        controls.addLayout(models)
        controls.addStretch(1)

        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("trainingProgress")
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("not training")

        status_row = QHBoxLayout()
        self.status_label = QLabel("Press Start to train on the chosen data.")
        self.status_label.setObjectName("trainingStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        # NOTE: a fixed height, so a new message never re-lays out the plots (tens of ms while training runs);
        # three lines hold a divergence's explanation at the dock's usual width, the tooltip any longer text
        self.status_label.setFixedHeight(3 * self.status_label.fontMetrics().lineSpacing() + 4)
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.undo_reset_button = QPushButton("Undo reset")
        self.undo_reset_button.setObjectName("undoResetButton")
        self.undo_reset_button.clicked.connect(self.undo_reset)
        self.undo_reset_button.hide()
        status_row.addWidget(self.status_label, 1)
        status_row.addWidget(self.undo_reset_button)

        self.loss_plot = self._make_plot("lossPlot", "loss (cross-entropy)")
        self.loss_plot.setToolTip("How wrong the network is: training (smoothed; faint: every batch) and test")
        self.accuracy_plot = self._make_plot("accuracyPlot", "accuracy (%)", legend_offset=(-10, -30))
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

        right = QVBoxLayout()
        right.addWidget(self.progress_bar)
        right.addLayout(status_row)
        plots = QHBoxLayout()  # side by side: the dock is wide and short
        plots.addWidget(self.loss_plot, 1)
        plots.addWidget(self.accuracy_plot, 1)
        right.addLayout(plots, 1)

        left = QWidget()
        left.setLayout(controls)
        scroll = QScrollArea()  # a short dock scrolls the controls instead of pushing the window taller
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setFixedWidth(left.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 4)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(scroll)
        layout.addLayout(right, 1)

        self.set_settings(TrainingSettings())

    def _make_plot(self, name: str, label: str, legend_offset=(-10, 10)) -> pg.PlotWidget:
        """A plot made once; ``legend_offset`` (x, y): negative counts from the right / bottom edge."""
        plot = pg.PlotWidget(background=PLOT_BACKGROUND)
        plot.setObjectName(name)
        item = plot.getPlotItem()
        item.setLabel("left", label, color=TEXT)
        item.setLabel("bottom", "step", color=TEXT)
        item.addLegend(offset=legend_offset, labelTextColor=TEXT)
        for axis in ("left", "bottom"):
            item.getAxis(axis).enableAutoSIPrefix(False)
            item.getAxis(axis).setPen(MUTED)
            item.getAxis(axis).setTextPen(TEXT)
        item.setMenuEnabled(False)
        plot.setMinimumHeight(120)
        return plot

    # ------------------------------------------------------------------ settings
    def settings(self) -> TrainingSettings:
        """The settings the controls show, validated (``ValueError`` with the reason otherwise)."""
        return TrainingSettings(
            optimizer=self.optimizer_combo.currentData(),
            learning_rate=float(self.learning_rate_spin.value()),
            momentum=float(self.momentum_spin.value()),
            batch_size=int(self.batch_spin.value()),
            epochs=int(self.epochs_spin.value()),
            weight_decay=float(self.weight_decay_spin.value()),
            shift_augment=2 if self.shift_check.isChecked() else 0,
            data=self.data_combo.currentData(),
        ).validate()

    def set_settings(self, settings: TrainingSettings) -> None:
        """Show ``settings`` in the controls (a loaded model's, say)."""
        widgets = self._settings_widgets
        previous = [w.blockSignals(True) for w in widgets]
        try:
            self.optimizer_combo.setCurrentIndex(max(0, self.optimizer_combo.findData(settings.optimizer)))
            self.learning_rate_spin.setValue(settings.learning_rate)
            self.momentum_spin.setValue(settings.momentum)
            self.batch_spin.setValue(settings.batch_size)
            self.epochs_spin.setValue(settings.epochs)
            self.weight_decay_spin.setValue(settings.weight_decay)
            self.shift_check.setChecked(settings.shift_augment > 0)
            data = settings.data if settings.data != "idx" or self.idx_digits is not None else "mnist"
            self.data_combo.setCurrentIndex(max(0, self.data_combo.findData(data)))
        finally:
            for widget, was in zip(widgets, previous):
                widget.blockSignals(was)
        self._optimizer_changed()

    def _optimizer_changed(self) -> None:
        self.momentum_spin.setEnabled(self.optimizer_combo.currentData() == "sgd"
                                      and self.controller.state != "running")
        self._settings_edited()

    def _settings_edited(self, *args) -> None:
        if self.controller.state in ("paused", "pausing"):
            self.controller.stop()
            self.show_status("Settings changed: the next Start trains from the current weights with them.")

    def datasets(self) -> tuple[Digits, Digits]:
        """The (train, test) digits of the chosen data (``ValueError``/``DatasetError`` with the reason)."""
        settings = self.settings()
        if settings.data == "mnist":
            if self._mnist is None:
                self._mnist = load_mnist_5k()
            return self._mnist
        return make_dataset(settings, my_digits=self.my_digits, idx=self.idx_digits)

    def test_digits(self) -> Digits | None:
        """The chosen data's test digits, or None when they cannot be had (the reason goes to the status line)."""
        try:
            return self.datasets()[1]
        except ValueError as err:
            self.show_status(_sentence(err), error=True)
            return None

    # ------------------------------------------------------------------ commands
    def toggle_training(self) -> None:
        """Start, pause or resume, by the state the button shows."""
        state = self.controller.state
        if state == "running":
            self.controller.pause()
        elif state in ("paused", "pausing"):
            self.controller.resume()
        else:
            self.start()

    def start(self, paused: bool = False) -> bool:
        """Begin a run with the controls' settings; False (and the reason shown) when it cannot."""
        try:
            settings = self.settings()
            train, test = self.datasets()
            self.history.new_run()
            self.controller.start(settings, train, test, paused=paused)
        except ValueError as err:  # DatasetError is a ValueError
            self.show_status(_sentence(err), error=True)
            return False
        self._hide_undo_reset()
        self._redraw_timer.start()
        self.show_status(f"Training on {train.name or 'the chosen data'}: {len(train):,} images, "
                         f"testing on {len(test):,}.")
        return True

    def pause(self) -> None:
        self.controller.pause()

    def step(self) -> None:
        """Train on one mini-batch (beginning a paused run if there is none)."""
        if self.controller.state == "running":
            return
        if not self.controller.has_session and not self.start(paused=True):
            return
        self.controller.step_once()

    def reset_weights(self, confirm: bool = True) -> bool:
        """Give every layer fresh random weights and clear the curves (after asking); undoable once."""
        if confirm:
            answer = QMessageBox.question(
                self, "Reset the weights?",
                "Give every layer fresh random weights and clear the training curves?\n\n"
                "Locked kernels are reset too. You can undo this until training starts again.",
                QMessageBox.StandardButton.Reset | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel)
            if answer != QMessageBox.StandardButton.Reset:
                return False
        self.controller.stop()
        network = self.playground.network
        self._undo_reset_state = network.get_state()
        self._undo_reset_history = self.history
        seed = int(np.random.default_rng().integers(2 ** 31))
        fresh = Network(network.layers, network.input_shape, seed=seed)
        self.playground.set_weights(fresh.get_state())
        self.history = TrainingHistory()
        self._last_progress = None
        self._reset_progress_bar()
        self._redraw()
        self.show_status("Every layer has fresh random weights.")
        self.undo_reset_button.show()
        return True

    def undo_reset(self) -> None:
        if self._undo_reset_state is None:
            return
        try:
            self.playground.set_weights(self._undo_reset_state)
        except ValueError:
            self.show_status("The layers changed since the reset, so the old weights no longer fit.", error=True)
        else:
            self.history = self._undo_reset_history
            self._redraw()
            self.show_status("The weights from before the reset are back.")
        self._hide_undo_reset()

    def _hide_undo_reset(self) -> None:
        self._undo_reset_state = self._undo_reset_history = None
        self.undo_reset_button.hide()

    # -- locks
    def set_locked(self, layer: int, filter: int, locked: bool) -> None:
        """Lock or unlock kernel ``filter`` of conv layer ``layer`` (0-based)."""
        self.controller.set_locked(layer, filter, locked)

    def is_locked(self, layer: int, filter: int) -> bool:
        return self.controller.is_locked(layer, filter)

    def lock_button(self, layer: int, filter: int) -> QToolButton:
        return self._lock_buttons[(layer, filter)]

    def _rebuild_locks(self) -> None:
        while self.locks_layout.count():
            widget = self.locks_layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self._lock_buttons.clear()
        per_row = 8
        row = 0
        for layer, spec in enumerate(self.playground.network.conv_specs):
            label = QLabel(f"conv {layer + 1}")
            label.setStyleSheet(f"color: {MUTED};")
            self.locks_layout.addWidget(label, row, 0)
            for filter in range(spec.filters):
                button = QToolButton()
                button.setObjectName(f"lock_{layer}_{filter}")
                button.setCheckable(True)
                button.setText(str(filter + 1))
                button.setToolTip(f"Lock filter {filter + 1} of conv {layer + 1}: training leaves its kernel "
                                  f"and bias exactly as they are")
                button.setFixedSize(26, 22)
                button.setStyleSheet("QToolButton:checked { background: #fde68a; border: 1px solid #b45309; "
                                     "font-weight: bold; }")
                button.setChecked(self.controller.is_locked(layer, filter))
                button.toggled.connect(lambda on, l=layer, f=filter: self.set_locked(l, f, on))
                self._lock_buttons[(layer, filter)] = button
                self.locks_layout.addWidget(button, row + filter // per_row, 1 + filter % per_row)
            row += max(1, math.ceil(spec.filters / per_row))

    def _locks_changed(self) -> None:
        for (layer, filter), button in self._lock_buttons.items():
            locked = self.controller.is_locked(layer, filter)
            if button.isChecked() != locked:
                button.blockSignals(True)
                button.setChecked(locked)
                button.blockSignals(False)
        self.locks_changed.emit()

    # -- IDX data
    def open_idx_dialog(self) -> None:
        """Ask for an IDX images file, then its labels file, and open them."""
        images, _ = QFileDialog.getOpenFileName(self, "Open IDX images file", "",
                                                "IDX images (*idx3-ubyte* *.idx3* *.gz);;All files (*)")
        if not images:
            return
        guess = images.replace("images-idx3", "labels-idx1").replace("images.idx3", "labels.idx1")
        start = guess if guess != images and Path(guess).exists() else str(Path(images).parent)
        labels, _ = QFileDialog.getOpenFileName(self, "Open the matching IDX labels file", start,
                                                "IDX labels (*idx1-ubyte* *.idx1* *.gz);;All files (*)")
        if labels:
            self.open_idx(images, labels)

    def open_idx(self, images_path, labels_path) -> bool:
        """Read an IDX pair and choose it as the data; a bad file is explained and the data stays as it was."""
        try:
            digits = load_idx_pair(images_path, labels_path)
        except DatasetError as err:
            QMessageBox.warning(self, "Cannot open this data set", str(err))
            return False
        self.idx_digits = digits
        index = self.data_combo.findData("idx")
        self.data_combo.setItemText(index, f"IDX: {digits.name} ({len(digits):,} digits)")
        self.data_combo.setCurrentIndex(index)
        self.show_status(f"Opened {digits.name}: {len(digits):,} digits; one sixth is kept aside for testing.")
        return True

    # -- model files
    def save_model_dialog(self) -> None:
        from cnnstudio.io import model_file
        path, _ = QFileDialog.getSaveFileName(self, "Save model", str(Path.home() / f"my-model{model_file.SUFFIX}"),
                                              f"CNN Studio models (*{model_file.SUFFIX});;All files (*)")
        if path:
            self.save_model(path)

    def save_model(self, path) -> bool:
        """Write the playground's network, the locks, the settings and the curves to ``path`` (atomically)."""
        from cnnstudio.io.model_file import save_model
        try:
            settings = self.settings()
        except ValueError:
            settings = TrainingSettings()
        try:
            written = save_model(path, self.playground.network, self.controller.locked, settings,
                                 self.history.as_dict())
        except (OSError, ValueError) as err:
            QMessageBox.critical(self, "Cannot save the model", _sentence(err))
            return False
        self.show_status(f"Saved the model to {written or path}.")
        return True

    def load_model_dialog(self) -> None:
        from cnnstudio.io import model_file
        path, _ = QFileDialog.getOpenFileName(self, "Load model", str(Path.home()),
                                              f"CNN Studio models (*{model_file.SUFFIX});;All files (*)")
        if path:
            self.load_model(path)

    def load_model(self, path) -> bool:
        """Replace the network (and locks, settings, curves) with a saved model's.

        Everything is checked before anything changes: a bad file, or a model for other images, is
        explained in a dialog and leaves the network, its weights, the locks, the curves and any
        training session as they were.
        """
        from cnnstudio.io.model_file import ModelFileError, load_model
        try:
            loaded = load_model(path)
            self._check_fits(Path(path).name, loaded.network)
        except ModelFileError as err:
            QMessageBox.critical(self, "Cannot load this model", str(err))
            return False
        history = TrainingHistory(loaded.history)  # the file's history was checked: its curves can be drawn
        self.controller.stop()
        self.playground.set_network(loaded.network)
        for layer, filter in sorted(self.controller.locked):
            self.controller.set_locked(layer, filter, False)
        for layer, filter in sorted(loaded.locked):
            self.controller.set_locked(layer, filter, True)
        if loaded.settings is not None:
            self.set_settings(loaded.settings)
        self.history = history
        self._last_progress = None
        self._reset_progress_bar()
        self._hide_undo_reset()
        self._redraw()
        self.show_status(f"Loaded the model {Path(path).name}.")
        self.evaluation_due.emit()
        return True

    def _check_fits(self, name: str, network: Network) -> None:
        """``ModelFileError`` (reason and fix) unless the playground can show and train ``network``."""
        from cnnstudio.io.model_file import ModelFileError
        ours = self.playground.network
        if tuple(network.input_shape) != tuple(ours.input_shape):
            height, width = ours.input_shape[1:]
            raise ModelFileError(
                f"{name}: this model takes {_shape(network.input_shape)} images; CNN Studio draws {height}x{width} "
                f"({_shape(ours.input_shape)}). Fix: choose a model made for {_shape(ours.input_shape)} images, "
                f"or train one here.")
        if network.num_classes != ours.num_classes:
            raise ModelFileError(
                f"{name}: this model sorts images into {network.num_classes} classes; CNN Studio sorts digits into "
                f"{ours.num_classes}. Fix: choose a model whose last layer has {ours.num_classes} units, or "
                f"train one here.")

    # ------------------------------------------------------------------ from the controller
    def _state_changed(self, state: str) -> None:
        self._update_buttons()
        if state in ("idle", "paused"):
            self._redraw()
            self._redraw_timer.stop()
            self.evaluation_due.emit()
        if state == "running":
            self._redraw_timer.start()

    def _progress(self, progress) -> None:
        self.history.add(progress)
        self._last_progress = progress
        self._curves_dirty = True
        if progress.message and not progress.diverged:
            self.show_status(progress.message)

    def _diverged(self, message: str) -> None:
        # The run restarts its step count when it goes on, so its curve continues from here.
        self.history.new_run()
        message = f"{message} Paused: lower the learning rate, then press Start."
        self.show_status(message, error=True)
        self.message.emit(message)

    def _update_buttons(self) -> None:
        state = self.controller.state
        running = state == "running"
        self.start_button.setText({"running": "Pause", "pausing": "Resume", "paused": "Resume"}.get(state, "Start"))
        self.step_button.setEnabled(not running)
        for widget in self._settings_widgets:
            widget.setEnabled(not running)
        self.momentum_spin.setEnabled(not running and self.optimizer_combo.currentData() == "sgd")
        self.load_model_button.setEnabled(not running)

    # ------------------------------------------------------------------ drawing
    def _redraw_if_changed(self) -> None:
        if self._curves_dirty:
            self._redraw()

    def _redraw(self) -> None:
        """Put the curves and the progress bar up to date (in place: ``setData`` on items made once)."""
        data = {key: np.asarray(values, dtype=np.float64) for key, values in self.history.data.items()}
        steps = data["step"]
        self.batch_loss_curve.setData(steps, data["loss"])
        self.train_loss_curve.setData(steps, np.asarray(self.history.smoothed_loss, dtype=np.float64))
        self.train_accuracy_curve.setData(steps, 100 * data["train_acc"])
        self.test_loss_curve.setData(data["test_step"], data["test_loss"])
        self.test_accuracy_curve.setData(data["test_step"], 100 * data["test_acc"])
        self._curves_dirty = False
        top_step = steps[-1] if len(steps) else 0
        top_loss = max(np.max(data["loss"][:50], initial=0), np.max(data["test_loss"], initial=0))
        self._set_ranges(top_step, top_loss)
        progress = self._last_progress
        if progress is not None:
            self.progress_bar.setValue(int(round(1000 * progress.fraction)))
            text = progress_text(progress)
            if self.controller.state == "paused":
                text = text.split(" · ")[0] + " · paused"
            self.progress_bar.setFormat(text)

    def _set_ranges(self, top_step: float, top_loss: float) -> None:
        ranges = (nice_ceiling(max(top_step, 10)), nice_ceiling(max(top_loss, 0.5)))
        if ranges != self._ranges:
            self._ranges = ranges
            self.loss_plot.setXRange(0, ranges[0], padding=0.02)
            self.loss_plot.setYRange(0, ranges[1], padding=0.02)

    def _reset_progress_bar(self) -> None:
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("not training")

    def show_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setToolTip(text)
        self.status_label.setStyleSheet(f"color: {ERROR_COLOUR if error else TEXT};")


def _shape(shape) -> str:
    """'1x28x28' for (1, 28, 28)."""
    return "x".join(str(int(n)) for n in shape)


def _sentence(err: Exception) -> str:
    """An exception's message as a sentence: capital first letter, final full stop."""
    text = str(err).strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


class TrainingDock(QDockWidget):
    """The dock that holds training, evaluation and My digits as three tabs (objectName ``trainingDock``)."""

    def __init__(self, panel: QtTrainingPanel, evaluation, my_digits_view, parent=None):
        super().__init__("Training", parent)
        self.setObjectName("trainingDock")
        self.panel, self.evaluation, self.my_digits_view = panel, evaluation, my_digits_view
        self.tabs = QTabWidget()
        self.tabs.setObjectName("trainingTabs")
        self.tabs.addTab(panel, "Train")
        self.tabs.addTab(evaluation, "Evaluate")
        self.tabs.addTab(my_digits_view, "My digits")
        self.setWidget(self.tabs)


def install_training(window) -> TrainingDock:
    """Add training, evaluation and My digits to a main window: a dock, File actions and digit keys.

    Needs ``window.playground``, ``window.canvas_model`` and the ``QMainWindow`` API.
    The dock starts hidden under the maps; View > Training (Ctrl+T) and every File
    action about data or models show it.  Keys 0-9 that reach the window (nobody
    typing) label the drawing and add it to My digits.
    """
    from cnnstudio.io.my_digits import MyDigits

    from cnnstudio.qt.training.evaluation_view import QtEvaluationView
    from cnnstudio.qt.training.my_digits_view import QtMyDigits

    playground, canvas_model = window.playground, window.canvas_model
    show_status = window.statusBar().showMessage
    my_digits = MyDigits()
    my_digits_view = QtMyDigits(my_digits, canvas_model.network_input)
    my_digits_view.load()
    my_digits_view.install_key_labels(window)
    panel = QtTrainingPanel(playground, my_digits=my_digits)
    evaluation = QtEvaluationView(playground, panel.test_digits)
    dock = TrainingDock(panel, evaluation, my_digits_view, window)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.hide()

    panel.evaluation_due.connect(evaluation.mark_stale)
    panel.data_combo.currentIndexChanged.connect(lambda index: evaluation.mark_stale())
    panel.message.connect(lambda text: show_status(text, 10000))
    my_digits_view.message.connect(lambda text: show_status(text, 6000))
    evaluation.image_activated.connect(canvas_model.load_image)

    def showing(slot):
        def run():
            dock.show()
            dock.raise_()
            slot()
        return run

    def add_action(menu, text, slot, shortcut=None, before=None) -> QAction:
        action = QAction(text, window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda checked=False: slot())
        menu.insertAction(before, action) if before is not None else menu.addAction(action)
        return action

    menus = {action.text().replace("&", ""): action.menu() for action in window.menuBar().actions()}
    file_menu = menus.get("File")
    if file_menu is not None:
        quit_separator = next((a for a in reversed(file_menu.actions()) if a.isSeparator()), None)
        dock.open_idx_action = add_action(file_menu, "Open &IDX data set...", showing(panel.open_idx_dialog),
                                          before=quit_separator)
        dock.save_model_action = add_action(file_menu, "Sa&ve model...", showing(panel.save_model_dialog),
                                            "Ctrl+Shift+S", before=quit_separator)
        dock.load_model_action = add_action(file_menu, "&Load model...", showing(panel.load_model_dialog),
                                            "Ctrl+L", before=quit_separator)
    view_menu = menus.get("View")
    if view_menu is not None:
        toggle = dock.toggleViewAction()
        toggle.setText("&Training, evaluation and my digits")
        toggle.setShortcut(QKeySequence("Ctrl+T"))
        view_menu.insertAction(view_menu.actions()[0] if view_menu.actions() else None, toggle)
    dock.visibilityChanged.connect(
        lambda visible: visible and dock.height() < DOCK_HEIGHT // 2
        and window.resizeDocks([dock], [DOCK_HEIGHT], Qt.Orientation.Vertical))
    return dock
