"""How well the network does on the test digits: accuracy, a confusion matrix, and its mistakes as pictures.

The confusion matrix (confusion_matrix.py) has a row per true digit and a column per predicted digit;
clicking a cell shows those test images (the off-diagonal cells are the mistakes).
The worst-mistakes gallery shows the images the network got wrong most confidently.
Classes are named as the test set names them (the rows: true) and as the network names
them (the columns: predicted, ``Playground.class_names``): "0".."9", or "T-shirt/top", ...

Evaluation (``cnnstudio.training.evaluate``) runs in a worker thread (eval_worker.py) on a copy of
the network: 10,000 test images take 0.5-2 s.  Meanwhile the previous results stay, greyed, under
"Evaluating 10,000 test images…"; a newer request (the network or the data changed) drops the
running one.  It runs when asked (``evaluate``), when training stops or pauses, or when the data
changes; a hidden view only marks itself stale and evaluates when shown.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem,
                               QProgressBar, QPushButton, QStyledItemDelegate, QVBoxLayout, QWidget)

from cnnstudio.io.class_names import DIGIT_NAMES
from cnnstudio.qt.widgets.signals import listen
from cnnstudio.training import worst_mistakes

from .confusion_matrix import RIGHT, SELECTED, WRONG, ConfusionMatrix, class_label  # noqa: F401 (RIGHT...: re-exported)
from .data_loader import DataLoading
from .eval_worker import EvaluationComputer
from .format import sentence

THUMBNAIL = 56                    # gallery thumbnails, pixels (a 28x28 digit at 2x)
WORST_COUNT = 24
MAX_CAPTION_WIDTH = 170           # a gallery column grows for long class names up to this, then they wrap
BUSY_DELAY_MS = 150               # a quicker evaluation shows its results without greying the old ones first


def digit_pixmap(image, size: int = THUMBNAIL) -> QPixmap:
    """A digit (H, W) or (1, H, W) float in [0, 1] as a ``size`` x ``size`` pixmap, white ink on black."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3:
        image = image[0]
    gray = np.ascontiguousarray(np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8))
    height, width = gray.shape
    qimage = QImage(gray.data, width, height, width, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(qimage.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.FastTransformation))


def gallery_list(object_name: str, cls=QListWidget) -> QListWidget:
    """A wrapping grid of thumbnails with a caption under each (a ``cls``, QListWidget or a subclass)."""
    gallery = cls()
    gallery.setObjectName(object_name)
    gallery.setViewMode(QListView.ViewMode.IconMode)
    gallery.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
    gallery.setGridSize(QSize(THUMBNAIL + 24, THUMBNAIL + 36))
    gallery.setResizeMode(QListView.ResizeMode.Adjust)
    gallery.setMovement(QListView.Movement.Static)
    gallery.setUniformItemSizes(True)
    gallery.setWordWrap(True)
    gallery.setSpacing(2)
    return gallery


class QtEvaluationView(QWidget):
    """Test accuracy, the confusion matrix and the mistakes of the playground's network.

    Parameters
    ----------
    playground : whose ``network`` is evaluated (a copy, in a worker thread)
    test_digits : a callable returning the test ``Digits`` to evaluate on, or None when there are none; it may
        raise ``DataLoading`` while they are read off the GUI thread (then ``mark_stale`` once they are in)

    Signals: ``image_activated(image)`` with a (28, 28) test image the user double-clicks;
    ``evaluated()`` when new results are shown.
    """

    image_activated = Signal(object)
    evaluated = Signal()

    def __init__(self, playground, test_digits, parent=None):
        super().__init__(parent)
        self.setObjectName("evaluationView")
        self.playground = playground
        self._test_digits = test_digits
        self.digits = None
        self.evaluation = None
        self._long_names = False  # class names too long for "true → predicted" on one line under a thumbnail
        self._stale = True
        self._loading = False     # waiting for the panel to read the data off the GUI thread
        self._training = False    # while training runs, new weights do not restart an evaluation (it would never end)

        self.computer = EvaluationComputer(self)
        self.computer.ready.connect(self._show_evaluation)
        self.computer.failed.connect(self._failed)
        # The thread ends before the widgets go: QWidget emits ``destroyed`` before deleting its children.
        self.destroyed.connect(self.computer.stop)
        self._restart = QTimer(self)  # one restart for the several kernels_changed of one weight update
        self._restart.setSingleShot(True)
        self._restart.setInterval(0)
        self._restart.timeout.connect(self._restart_if_busy)
        self._busy_timer = QTimer(self)
        self._busy_timer.setSingleShot(True)
        self._busy_timer.setInterval(BUSY_DELAY_MS)
        self._busy_timer.timeout.connect(self._show_busy)
        self._busy_text = ""

        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setObjectName("evaluateButton")
        self.evaluate_button.setToolTip("Run the network on every test digit")
        self.evaluate_button.clicked.connect(self.evaluate)
        self.accuracy_label = QLabel("Not evaluated yet.")
        self.accuracy_label.setObjectName("testAccuracy")
        self.accuracy_label.setTextFormat(Qt.TextFormat.RichText)
        self.busy_bar = QProgressBar()  # no range: the moving "busy" bar
        self.busy_bar.setObjectName("evaluationBusy")
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setFixedSize(80, self.fontMetrics().height())
        self.busy_label = QLabel()
        self.busy_label.setObjectName("evaluationStatus")
        self.busy_bar.hide()
        self.busy_label.hide()

        self.matrix = ConfusionMatrix()
        self.matrix.cell_clicked.connect(self.show_cell)

        self.cell_title = QLabel("Click a cell of the matrix to see its test images.")
        self.cell_title.setObjectName("cellTitle")
        self.cell_gallery = gallery_list("cellGallery")
        self.worst_title = QLabel("Worst mistakes: wrong, and most sure of it")
        self.worst_gallery = gallery_list("mistakesGallery")
        for gallery in (self.cell_gallery, self.worst_gallery):
            gallery.itemDoubleClicked.connect(self._item_activated)
            gallery.setItemDelegate(_GridCaption(gallery))
        listen(self, playground.events.class_names_changed, self._show_class_names)
        listen(self, playground.events.kernels_changed, self._network_changed)
        listen(self, playground.events.architecture_changed, self._network_changed)

        top = QHBoxLayout()
        top.addWidget(self.evaluate_button)
        top.addWidget(self.accuracy_label, 1)
        top.addWidget(self.busy_bar)
        top.addWidget(self.busy_label)
        galleries = QVBoxLayout()
        galleries.addWidget(self.cell_title)
        galleries.addWidget(self.cell_gallery, 1)
        galleries.addWidget(self.worst_title)
        galleries.addWidget(self.worst_gallery, 1)
        self.results = QWidget()  # disabled (greyed) while newer results are computed
        self.results.setObjectName("evaluationResults")
        body = QHBoxLayout(self.results)
        body.setContentsMargins(0, 0, 0, 0)
        body.addWidget(self.matrix, 0)
        body.addLayout(galleries, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.results, 1)

    # ------------------------------------------------------------------ commands
    def mark_stale(self) -> None:
        """The network or the data changed: drop a running evaluation; evaluate now if shown, else when next shown."""
        self._stale = True
        self.computer.forget()
        if self.isVisible():
            self.evaluate()
        else:
            self._idle()

    def set_training(self, running: bool) -> None:
        """While training runs, an evaluation asked for shows the weights of that moment (new ones arrive 15 times
        a second: restarting for each would never finish); training's end or pause asks for a fresh one."""
        self._training = running

    def evaluate(self) -> bool:
        """Evaluate the network on the test digits in the worker thread; the results replace the shown ones when
        they arrive (``evaluated``).  True when under way (or waiting for the data to load); False when there are
        no test digits that fit (said in the view)."""
        try:
            digits = self._test_digits()
        except DataLoading as loading:
            self.computer.forget()
            self._stale = True  # the panel's ``data_ready`` -> mark_stale evaluates once the data is in
            self._loading = True
            self._busy(f"Loading {loading.what}…")
            return True
        problem = None
        if digits is None or len(digits) == 0:
            problem = "No test digits for the chosen data."
        elif digits.images.shape[1:] != self.playground.network.input_shape:
            problem = "The test digits do not fit this network's input size."
        if problem is not None:
            self.computer.forget()
            self._idle()
            self.accuracy_label.setText(problem)
            return False
        self._stale = False
        self.computer.request(self.playground.network, digits)
        self._busy(f"Evaluating {len(digits):,} test images…")
        return True

    def stop(self) -> None:
        """End the evaluation thread (the window is going)."""
        self.computer.stop()

    # ------------------------------------------------------------------ from the worker
    def _show_evaluation(self, evaluation, digits, seconds: float) -> None:
        self._idle()
        self.digits = digits
        self.evaluation = evaluation
        wrong = int(np.count_nonzero(evaluation.predictions != digits.labels))
        self.accuracy_label.setText(
            f"<b>Test accuracy {evaluation.accuracy:.1%}</b> on {len(digits):,} "
            f"{'digits' if digits.class_names == DIGIT_NAMES else 'images'}"
            + (f" of {digits.name}" if digits.name else "")
            + f" &nbsp;·&nbsp; {wrong:,} wrong &nbsp;·&nbsp; loss {evaluation.loss:.3f}")
        self.accuracy_label.setToolTip(f"Evaluated in {seconds:.2f} s, off the GUI thread.")
        self.matrix.set_confusion(evaluation.confusion)
        self._show_class_names()
        self.evaluated.emit()

    def _failed(self, text: str) -> None:
        self._idle()
        self.accuracy_label.setText(f"Cannot evaluate: {sentence(text)}")

    def _network_changed(self, *args) -> None:
        """A running evaluation is of weights that are gone: run it again (once for a burst of changes)."""
        if self.computer.busy and not self._training:
            self._restart.start()

    def _restart_if_busy(self) -> None:
        if self.computer.busy:
            self.evaluate()

    # ------------------------------------------------------------------ busy
    def _busy(self, text: str) -> None:
        """Say ``text`` with a moving bar and grey the previous results, unless the work ends within a moment."""
        self._busy_text = text
        if not self.busy_label.isHidden():  # already saying what it does: say the new thing
            self.busy_label.setText(text)
        elif not self._busy_timer.isActive():
            self._busy_timer.start()

    def _show_busy(self) -> None:
        self.busy_label.setText(self._busy_text)
        self.busy_label.show()
        self.busy_bar.show()
        # NOTE: greyed by disabling (grey text and icons, a faded matrix); an opacity effect smeared the galleries
        self.results.setEnabled(False)
        self.accuracy_label.setEnabled(False)

    def _idle(self) -> None:
        self._loading = False
        self._busy_timer.stop()
        self.busy_label.hide()
        self.busy_bar.hide()
        self.results.setEnabled(True)
        self.accuracy_label.setEnabled(True)

    @property
    def busy(self) -> bool:
        """True while an evaluation, or the data it waits for, is under way."""
        return self.computer.busy or self._loading

    # ------------------------------------------------------------------ showing the results

    def _names(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(the test set's class names, the network's): rows and columns, true and predicted."""
        predicted = self.playground.class_names
        return (self.digits.class_names if self.digits is not None else predicted), predicted

    def _show_class_names(self) -> None:
        """Label the matrix and re-caption the galleries with the current class names."""
        true_names, predicted_names = self._names()
        self.matrix.set_class_names(true_names, predicted_names)
        metrics = QFontMetrics(self.cell_gallery.font())
        self._long_names = any(metrics.horizontalAdvance(f"{name} → ") > THUMBNAIL for name in true_names) or \
            any(metrics.horizontalAdvance(f"→ {name}") > THUMBNAIL for name in predicted_names)
        # long names: "true →", "predicted" and the confidence on three lines, in a wider column
        widest = max(metrics.horizontalAdvance(f"{name} →") for name in (*true_names, *predicted_names))
        width = min(max(THUMBNAIL + 24, widest + 24), MAX_CAPTION_WIDTH)
        for gallery in (self.cell_gallery, self.worst_gallery):
            gallery.setGridSize(QSize(width, THUMBNAIL + 3 * metrics.height() + 8) if self._long_names
                                else QSize(THUMBNAIL + 24, THUMBNAIL + 36))
        if self.evaluation is None:
            return
        if self.matrix.selected is not None:
            self.show_cell(*self.matrix.selected)
        self._fill_worst()

    def show_cell(self, true: int, predicted: int) -> None:
        """Show the test images of true digit ``true`` that the network called ``predicted``."""
        self.matrix.set_selected((true, predicted))
        self.cell_gallery.clear()
        if self.evaluation is None:
            return
        rows = np.flatnonzero((self.digits.labels == true) & (self.evaluation.predictions == predicted))
        kind = "right" if true == predicted else "mistakes"
        true_names, predicted_names = self._names()
        self.cell_title.setText(f"True {class_label(true_names, true)}, "
                                f"predicted {class_label(predicted_names, predicted)}: "
                                f"{len(rows)} image{'s' if len(rows) != 1 else ''} ({kind})"
                                + (" — the first 200 shown" if len(rows) > 200 else ""))
        for row in rows[:200]:
            self.cell_gallery.addItem(self._item(int(row)))

    def _fill_worst(self) -> None:
        self.worst_gallery.clear()
        for row in worst_mistakes(self.evaluation, self.digits, WORST_COUNT):
            self.worst_gallery.addItem(self._item(int(row)))

    def _item(self, row: int) -> QListWidgetItem:
        true = int(self.digits.labels[row])
        predicted = int(self.evaluation.predictions[row])
        confidence = float(self.evaluation.probabilities[row, predicted])
        true_names, predicted_names = self._names()
        true, predicted = class_label(true_names, true), class_label(predicted_names, predicted)
        caption = f"{true} →{chr(10) if self._long_names else ' '}{predicted}\n{confidence:.0%}"
        item = QListWidgetItem(QIcon(digit_pixmap(self.digits.images[row])), caption)
        item.setData(Qt.ItemDataRole.UserRole, row)
        item.setToolTip(f"Test image {row}: true {true}, predicted {predicted} with {confidence:.0%} confidence. "
                        f"Double-click to draw it on the canvas.")
        return item

    def _item_activated(self, item: QListWidgetItem) -> None:
        row = item.data(Qt.ItemDataRole.UserRole)
        self.image_activated.emit(np.array(self.digits.images[row, 0]))

    def showEvent(self, event):
        super().showEvent(event)
        if self._stale:
            self.evaluate()


class _GridCaption(QStyledItemDelegate):
    """Items as wide as the gallery's grid: the default wraps a caption at the thumbnail's width (56 px),
    too narrow for "Ankle boot"."""

    def sizeHint(self, option, index) -> QSize:
        natural = super().sizeHint(option, index)
        grid = self.parent().gridSize()
        return QSize(max(natural.width(), grid.width() - 6), natural.height())
