"""The training settings form: data, optimizer, learning rate, momentum, batch size, epochs, decay, augmentation."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QMenu, QSpinBox,
                               QToolButton, QWidget)

from cnnstudio.io.catalog import fashion_mnist_available
from cnnstudio.qt.widgets.signals import qt_signals_blocked
from cnnstudio.training import TrainingSettings

# (settings.data, combo text, tooltip); "fashion" is listed only when the system has it
DATA_CHOICES = (("mnist", "MNIST 5k (quick)", "5,000 handwritten digits shipped with CNN Studio: 4,000 to train "
                 "on, 1,000 to test; an epoch takes seconds"),
                ("mnist-full", "MNIST full (60,000)", "All of MNIST: 60,000 digits to train on, 10,000 to test; "
                 "an epoch takes a minute or two"),
                ("fashion", "Fashion-MNIST", "70,000 pictures of clothes in 10 classes (T-shirt/top, Trouser, ... "
                 "Ankle boot), from the dataset-fashion-mnist package"),
                ("idx", "IDX data set (open one first)", "Your own IDX files: File > Open IDX data set"),
                ("mine", "My digits", "The digits you drew and labelled in My digits"),
                ("mix", "MNIST 5k + my digits", "The shipped 5,000 digits and yours together"))
OPTIMIZER_CHOICES = (("adam", "Adam"), ("sgd", "SGD with momentum"))


class TrainingSettingsForm(QWidget):
    """The controls of a ``TrainingSettings``; ``edited()`` when the learner changes one,
    ``open_idx_requested()`` for the Open... button next to the data choice (its menu also has
    ``class_names_requested()``: class names for the opened IDX set).

    ``fashion`` : list Fashion-MNIST; None: when its files are installed (``fashion_mnist_available``).
    """

    edited = Signal()
    open_idx_requested = Signal()
    class_names_requested = Signal()

    def __init__(self, parent=None, fashion: bool | None = None):
        super().__init__(parent)
        self._running = False
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        data_row = QHBoxLayout()
        self.data_combo = QComboBox()
        self.data_combo.setObjectName("dataCombo")
        fashion = fashion_mnist_available() if fashion is None else fashion
        for key, text, tip in DATA_CHOICES:
            if key != "fashion" or fashion:
                self.data_combo.addItem(text, key)
                self.data_combo.setItemData(self.data_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.data_combo.currentIndexChanged.connect(self._edited)
        self.open_idx_button = QToolButton()
        self.open_idx_button.setObjectName("openIdxButton")
        self.open_idx_button.setText("Open…")
        self.open_idx_button.setToolTip("Open an IDX data set (MNIST, Fashion-MNIST, KMNIST, EMNIST digits): "
                                        "an images file, then its labels file; class names come from a "
                                        "classes.txt or *.names file beside it, or from the arrow's menu")
        self.open_idx_button.clicked.connect(lambda checked=False: self.open_idx_requested.emit())
        menu = QMenu(self.open_idx_button)
        self.open_idx_action = QAction("Open IDX data set…", menu)
        self.open_idx_action.triggered.connect(lambda checked=False: self.open_idx_requested.emit())
        self.class_names_action = QAction("Class names for the IDX data set…", menu)
        self.class_names_action.setObjectName("classNamesAction")
        self.class_names_action.triggered.connect(lambda checked=False: self.class_names_requested.emit())
        menu.addActions([self.open_idx_action, self.class_names_action])
        self.open_idx_button.setMenu(menu)
        self.open_idx_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
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

        for spin in (self.learning_rate_spin, self.momentum_spin, self.batch_spin, self.epochs_spin,
                     self.weight_decay_spin):
            spin.valueChanged.connect(self._edited)
        self.shift_check.toggled.connect(self._edited)
        self.widgets = (self.data_combo, self.open_idx_button, self.optimizer_combo,
                                  self.learning_rate_spin, self.momentum_spin, self.batch_spin, self.epochs_spin,
                                  self.weight_decay_spin, self.shift_check)

        self.set_settings(TrainingSettings())

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

    def set_settings(self, settings: TrainingSettings, idx_open: bool = False) -> None:
        """Show ``settings`` (a loaded model's, say); "idx" data shows as MNIST unless an IDX set is open,
        and data this machine lacks (Fashion-MNIST not installed) as MNIST too."""
        with qt_signals_blocked(*self.widgets):
            self.optimizer_combo.setCurrentIndex(max(0, self.optimizer_combo.findData(settings.optimizer)))
            self.learning_rate_spin.setValue(settings.learning_rate)
            self.momentum_spin.setValue(settings.momentum)
            self.batch_spin.setValue(settings.batch_size)
            self.epochs_spin.setValue(settings.epochs)
            self.weight_decay_spin.setValue(settings.weight_decay)
            self.shift_check.setChecked(settings.shift_augment > 0)
            data = settings.data if settings.data != "idx" or idx_open else "mnist"
            self.data_combo.setCurrentIndex(max(0, self.data_combo.findData(data)))
        self._optimizer_changed()

    def set_running(self, running: bool) -> None:
        """While training runs the settings cannot change (they are taken at Start)."""
        self._running = running
        for widget in self.widgets:
            widget.setEnabled(not running)
        self.momentum_spin.setEnabled(not running and self.optimizer_combo.currentData() == "sgd")

    def _optimizer_changed(self) -> None:
        self.momentum_spin.setEnabled(self.optimizer_combo.currentData() == "sgd" and not self._running)
        self._edited()

    def _edited(self, *args) -> None:
        self.edited.emit()
