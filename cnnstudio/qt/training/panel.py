"""The training panel: choose data and settings, start, pause, step or reset, and watch the curves.

Training runs in a worker thread (``TrainingController``, cnnstudio/qt/training/worker.py) that
drives the Qt-free ``TrainingSession``; this panel only sends commands and draws what comes
back.  The trained weights land in the playground about 15 times a second, so the kernels,
the feature maps of the current drawing and the prediction change while one watches.

- Data: the shipped MNIST 5k or full MNIST, Fashion-MNIST (when installed), an opened IDX data set (with
  class names from a file), the user's own digits, or MNIST + them.  Training names the network's
  outputs after the data's classes (``Playground.class_names``).  A set not in memory yet is read off
  the GUI thread first (chosen_data.py): the Start button says "Loading MNIST full…" meanwhile.
- Settings: optimizer (Adam, SGD with momentum), learning rate, momentum, batch size,
  epochs, weight decay, random-shift augmentation.  They are taken at Start; changing one
  while paused ends the paused run (the weights stay), so the next Start uses it.
- Lock: a locked kernel (and its bias) is left exactly as the user set it (locks.py).
- Curves (``lossPlot``, ``accuracyPlot``, curves.py): training and test against the step.
- Divergence: a NaN or exploding loss pauses the run on the last good weights and says why; a lower
  learning rate and Start go on from there.
- Models: save, load and reset go through the ``Document`` (core/document.py); a bad file, or a
  model for other images, is explained in a dialog and changes nothing.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QApplication, QFileDialog, QFrame, QHBoxLayout, QLabel, QMessageBox, QProgressBar,
                               QPushButton, QScrollArea, QSizePolicy, QToolButton, QVBoxLayout, QWidget)

from cnnstudio.core.document import Document
from cnnstudio.io import model_file
from cnnstudio.io.datasets import Digits
from cnnstudio.io.model_file import ModelFileError
from cnnstudio.training import TrainingSettings
from cnnstudio.qt.widgets.signals import listen
from cnnstudio.qt.widgets import theme

from .chosen_data import ChosenData
from .curves import TrainingCurves
from .format import progress_text, sentence
from .idx_data import IdxData
from .settings_form import TrainingSettingsForm
from .locks import LockButtons
from .worker import TrainingController

ERROR_COLOUR = theme.LIGHT_ERROR
REDRAW_INTERVAL_MS = 100         # the curves and the progress bar redraw 10 times a second


class QtTrainingPanel(IdxData, ChosenData, QWidget):
    """Train the playground's network live (objectName ``trainingPanel``).

    Parameters
    ----------
    playground : the network to train (through ``TrainingController``)
    my_digits : a ``MyDigits`` for the "My digits" and "mix" data choices (optional)
    controller : the ``TrainingController`` to use; a new one if None
    document : the ``Document`` that loads, saves and resets; a new one on the controller's session if None
    mnist : the (train, test) digits of the "MNIST 5k" choice; the shipped ones, loaded on first use, if None
    fashion : list Fashion-MNIST among the data; None: when it is installed
    """

    locks_changed = Signal()
    evaluation_due = Signal()     # training stopped or paused, or a model was loaded: time to evaluate
    message = Signal(str)         # one line for the status bar
    data_ready = Signal()         # a set read off the GUI thread is in (or could not be read): ask again

    def __init__(self, playground, my_digits=None, controller: TrainingController | None = None, mnist=None,
                 document: Document | None = None, parent=None, fashion: bool | None = None):
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self.playground = playground
        self.my_digits = my_digits
        self.controller = controller or TrainingController(playground, parent=self)
        self.session = self.controller.session
        self.document = document or Document(playground, self.session)
        self.idx_digits: Digits | None = None
        self._fashion = fashion
        self._last_progress = None
        self._curves_dirty = False

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setInterval(REDRAW_INTERVAL_MS)
        self._redraw_timer.timeout.connect(self._redraw_if_changed)

        self._build()
        self._init_chosen_data(mnist)
        self._update_buttons()

        c = self.controller
        c.state_changed.connect(self._state_changed)
        c.progress.connect(self._progress)
        c.diverged.connect(self._diverged)
        c.error.connect(lambda text: self.show_status(text, error=True))
        c.locks_changed.connect(self._locks_changed)
        c.history_changed.connect(self._history_replaced)
        listen(self, self.playground.undo_stack.events.changed, self._undo_changed)
        # The training thread must end before the widgets go: when the app quits or this panel is deleted
        # (QWidget emits ``destroyed`` before deleting its children, so the controller is still there).
        QApplication.instance().aboutToQuit.connect(self.controller.shutdown)
        self.destroyed.connect(self.controller.shutdown)
        self.destroyed.connect(self.loader.stop)  # a read under way ends first (the loader's own aboutToQuit too)

    @property
    def history(self):
        """The session's ``TrainingHistory``: the curves of every run since the last reset or load."""
        return self.session.history

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
        for button, stretch in ((self.start_button, 2), (self.step_button, 1), (self.reset_button, 1)):
            buttons.addWidget(button, stretch)  # Start the widest: it says "Loading Fashion-MNIST…" meanwhile
        controls.addLayout(buttons)

        self.form = TrainingSettingsForm(fashion=self._fashion)
        self.form.edited.connect(self._settings_edited)
        self.form.open_idx_requested.connect(self.open_idx_dialog)
        self.form.class_names_requested.connect(self.class_names_dialog)
        for name in ("data_combo", "open_idx_button", "optimizer_combo", "learning_rate_spin", "momentum_spin",
                     "batch_spin", "epochs_spin", "weight_decay_spin", "shift_check"):
            setattr(self, name, getattr(self.form, name))  # the controls, for tests and the dock
        controls.addWidget(self.form)

        self.locks = LockButtons(self.playground, self.session)
        self.locks_box = self.locks
        controls.addWidget(self.locks)

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

        self.curves = TrainingCurves()
        for name in ("loss_plot", "accuracy_plot", "batch_loss_curve", "train_loss_curve", "test_loss_curve",
                     "train_accuracy_curve", "test_accuracy_curve"):
            setattr(self, name, getattr(self.curves, name))  # the plots and curves, for tests and screenshots

        right = QVBoxLayout()
        right.addWidget(self.progress_bar)
        right.addLayout(status_row)
        right.addWidget(self.curves, 1)

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

    # ------------------------------------------------------------------ settings
    def settings(self) -> TrainingSettings:
        """The settings the controls show, validated (``ValueError`` with the reason otherwise)."""
        return self.form.settings()

    def set_settings(self, settings: TrainingSettings) -> None:
        """Show ``settings`` in the controls (a loaded model's, say)."""
        self.form.set_settings(settings, idx_open=self.idx_digits is not None)

    def _settings_edited(self, *args) -> None:
        if self.controller.state in ("paused", "pausing"):
            self.controller.stop()
            self.show_status("Settings changed: the next Start trains from the current weights with them.")

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
        """Begin a run with the controls' settings; False (and the reason shown) when it cannot.

        Data not in memory yet (full MNIST or Fashion-MNIST, the first time) is read off the GUI thread first:
        True, and the run begins once it is in (a failed read shows its reason then).
        """
        return self._start(paused)

    def _start(self, paused: bool, step: bool = False) -> bool:
        if self._pending_start is not None:
            return True  # the data for a run is being read: a second press starts nothing more
        try:
            settings = self.settings()
        except ValueError as err:
            self.show_status(sentence(err), error=True)
            return False
        if not self.datasets_ready(settings.data):
            self._load_for_start(settings, paused, step)
            return True
        if not self._begin_run(paused):
            return False
        if step:
            self.controller.step_once()
        return True

    def _begin_run(self, paused: bool) -> bool:
        """Begin a run on the chosen data, which is in memory; False (and the reason shown) when it cannot."""
        try:
            settings = self.settings()
            train, test = self.datasets()
            self.history.new_run()
            self.controller.start(settings, train, test, paused=paused)
        except ValueError as err:  # DatasetError is a ValueError
            self.show_status(sentence(err), error=True)
            return False
        self.playground.set_class_names(train.class_names)  # the network now learns these classes
        self._hide_undo_reset()
        self._redraw_timer.start()
        self.show_status(f"Training on {train.name or 'the chosen data'}: {len(train):,} images, "
                         f"testing on {len(test):,}.")
        return True

    def pause(self) -> None:
        self.controller.pause()

    def step(self) -> None:
        """Train on one mini-batch (beginning a paused run if there is none)."""
        if self.controller.state == "running" or self._pending_start is not None:
            return
        if self.controller.has_session:
            self.controller.step_once()
        else:
            self._start(paused=True, step=True)  # steps once the run begins (after its data is read)

    def reset_weights(self, confirm: bool = True) -> bool:
        """Give every layer fresh random weights and clear the curves (after asking); Undo reset takes it back."""
        if confirm:
            answer = QMessageBox.question(
                self, "Reset the weights?",
                "Give every layer fresh random weights and clear the training curves?\n\n"
                "Locked kernels are reset too. Undo reset (or Edit > Undo) brings them back.",
                QMessageBox.StandardButton.Reset | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel)
            if answer != QMessageBox.StandardButton.Reset:
                return False
        self.document.reset_weights()
        self._last_progress = None
        self._reset_progress_bar()
        self._redraw()
        self.show_status("Every layer has fresh random weights.")
        self.undo_reset_button.show()
        return True

    def undo_reset(self) -> None:
        """Take back the reset, if it is still the newest change to the network."""
        if self.playground.undo_stack.undo_text == "weight reset":
            try:
                self.playground.undo()
            except ValueError as err:
                self.show_status(sentence(err), error=True)
            else:
                self.show_status("The weights from before the reset are back.")
        self._hide_undo_reset()

    def _hide_undo_reset(self) -> None:
        self.undo_reset_button.hide()

    def _undo_changed(self) -> None:
        if self.playground.undo_stack.undo_text != "weight reset":
            self._hide_undo_reset()

    # -- locks
    def set_locked(self, layer: int, filter: int, locked: bool) -> None:
        """Lock or unlock kernel ``filter`` of conv layer ``layer`` (0-based)."""
        self.controller.set_locked(layer, filter, locked)

    def is_locked(self, layer: int, filter: int) -> bool:
        return self.controller.is_locked(layer, filter)

    def lock_button(self, layer: int, filter: int) -> QToolButton:
        return self.locks.buttons[(layer, filter)]

    def _locks_changed(self) -> None:
        self.locks.sync()
        self.locks_changed.emit()

    # -- model files
    def save_model_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save model", str(Path.home() / f"my-model{model_file.SUFFIX}"),
                                              f"CNN Studio models (*{model_file.SUFFIX});;All files (*)")
        if path:
            self.save_model(path)

    def save_model(self, path) -> bool:
        """Write the playground's network, the locks, the settings and the curves to ``path`` (atomically)."""
        try:
            settings = self.settings()
        except ValueError:
            settings = TrainingSettings()
        try:
            written = self.document.save(path, settings)
        except (OSError, ValueError) as err:
            QMessageBox.critical(self, "Cannot save the model", sentence(err))
            return False
        self.show_status(f"Saved the model to {written or path}.")
        return True

    def load_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load model", str(Path.home()),
                                              f"CNN Studio models (*{model_file.SUFFIX});;All files (*)")
        if path:
            self.load_model(path)

    def load_model(self, path) -> bool:
        """Replace the network (and locks, settings, curves) with a saved model's; Edit > Undo takes it back.

        Everything is checked before anything changes: a bad file, or a model for other images, is
        explained in a dialog and leaves the network, its weights, the locks, the curves and any
        training session as they were.
        """
        try:
            loaded = self.document.load(path)
        except ModelFileError as err:
            QMessageBox.critical(self, "Cannot load this model", str(err))
            return False
        if loaded.settings is not None:
            self.set_settings(loaded.settings)
        self._last_progress = None
        self._reset_progress_bar()
        self._hide_undo_reset()
        self._redraw()
        self.show_status(f"Loaded the model {Path(path).name}. Edit > Undo brings the previous network back.")
        self.evaluation_due.emit()
        return True

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
        self._last_progress = progress
        self._curves_dirty = True
        if progress.message and not progress.diverged:
            self.show_status(progress.message)

    def _diverged(self, message: str) -> None:
        message = f"{message} Paused: lower the learning rate, then press Start."
        self.show_status(message, error=True)
        self.message.emit(message)

    def _history_replaced(self) -> None:
        """Other curves (a load, a reset or an undo of one): draw them."""
        self._last_progress = None
        self._reset_progress_bar()
        self._redraw()

    def _update_buttons(self) -> None:
        state = self.controller.state
        running = state == "running"
        loading = self.loading
        self.start_button.setText(f"Loading {loading}…" if loading else
                                  {"running": "Pause", "pausing": "Resume", "paused": "Resume"}.get(state, "Start"))
        self.start_button.setEnabled(loading is None)
        self.step_button.setEnabled(not running and loading is None)
        self.form.set_running(running)
        self.load_model_button.setEnabled(not running)

    # ------------------------------------------------------------------ drawing
    def _redraw_if_changed(self) -> None:
        if self._curves_dirty:
            self._redraw()

    def _redraw(self) -> None:
        """Put the curves and the progress bar up to date."""
        self.curves.show_history(self.history)
        self._curves_dirty = False
        progress = self._last_progress
        if progress is not None:
            self.progress_bar.setValue(int(round(1000 * progress.fraction)))
            text = progress_text(progress)
            if self.controller.state == "paused":
                text = text.split(" · ")[0] + " · paused"
            self.progress_bar.setFormat(text)

    def _reset_progress_bar(self) -> None:
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("not training")

    def show_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setToolTip(text)
        self.status_label.setStyleSheet(f"color: {theme.css(theme.error() if error else theme.text())};")
