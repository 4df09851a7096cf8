"""How well the network does on the test digits: accuracy, a confusion matrix, and its mistakes as pictures.

The confusion matrix has a row per true digit and a column per predicted digit;
clicking a cell shows those test images (the off-diagonal cells are the mistakes).
The worst-mistakes gallery shows the images the network got wrong most confidently.
Classes are named as the test set names them (the rows: true) and as the network names
them (the columns: predicted, ``Playground.class_names``): "0".."9", or "T-shirt/top", ...

Evaluation (``cnnstudio.training.trainer.evaluate``) runs on the GUI thread: 1,000 test
digits take a few tens of milliseconds.  It runs when asked (``evaluate``), not while
training runs; a hidden view only marks itself stale and evaluates when shown.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem, QPushButton,
                               QSizePolicy, QStyledItemDelegate, QVBoxLayout, QWidget)

from cnnstudio.io.class_names import DIGIT_NAMES
from cnnstudio.qt.widgets.signals import listen
from cnnstudio.training import evaluate, worst_mistakes

# colour-blind safe (no red against green): right answers in blue, mistakes in orange, each light to dark
RIGHT = QColor(33, 102, 172)      # the diagonal, by the share of that digit recognised
WRONG = QColor(230, 97, 1)        # off the diagonal, by the count against the worst mistake
SELECTED = QColor("#111111")
THUMBNAIL = 56                    # gallery thumbnails, pixels (a 28x28 digit at 2x)
WORST_COUNT = 24
MAX_CAPTION_WIDTH = 170           # a gallery column grows for long class names up to this, then they wrap


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


class ConfusionMatrix(QWidget):
    """A painted 10 x 10 table of counts: row = true class, column = predicted class.

    ``cell_clicked(true, predicted)`` when the user clicks a cell.  The headings are the class
    names (``set_class_names``); column names wider than a cell are written upwards.
    """

    cell_clicked = Signal(int, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("confusionMatrix")
        self.confusion = np.zeros((10, 10), np.int64)
        self.selected: tuple[int, int] | None = None
        self.true_names: tuple[str, ...] = DIGIT_NAMES
        self.predicted_names: tuple[str, ...] = DIGIT_NAMES
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_confusion(self, confusion: np.ndarray) -> None:
        self.confusion = np.asarray(confusion, dtype=np.int64)
        self.update()

    def set_class_names(self, true_names, predicted_names=None) -> None:
        """Name the rows (true classes) and the columns (predicted; the same as the rows if None)."""
        self.true_names = tuple(true_names)
        self.predicted_names = tuple(predicted_names if predicted_names is not None else true_names)
        self.updateGeometry()
        self.update()

    def _kind(self) -> str:
        """ "digit" for digits, "class" for anything else (the axis titles say "true digit" or "true class")."""
        digits = set(DIGIT_NAMES)
        return "digit" if set(self.true_names) <= digits and set(self.predicted_names) <= digits else "class"

    def set_selected(self, cell: tuple[int, int] | None) -> None:
        self.selected = cell
        self.update()

    # -- geometry
    def _cell_side(self) -> int:
        """The smallest cell that holds a count in the widget's own font (the app's size, not smaller)."""
        metrics = QFontMetrics(self.font())
        return max(metrics.horizontalAdvance("8888") + 4, metrics.height() + 6)

    def _margins(self) -> tuple[int, int, bool]:
        """(left, top, columns written upwards): room for the axis titles and the class names."""
        metrics = QFontMetrics(self.font())
        line = metrics.height()
        row_width = max((metrics.horizontalAdvance(name) for name in self.true_names), default=0)
        column_width = max((metrics.horizontalAdvance(name) for name in self.predicted_names), default=0)
        upwards = column_width > self._cell_side() - 4
        return (max(2 * line + 4, line + row_width + 10),
                line + (column_width + 8 if upwards else line + 4), upwards)

    def _grid(self) -> tuple[int, int, int]:
        """(left, top, cell size) of the table, leaving room for the headings and the legend under it."""
        classes = len(self.confusion)
        line = QFontMetrics(self.font()).height()
        left, top, _ = self._margins()
        legend = 2 * line + 8
        cell = max(self._cell_side(), min((self.width() - left - 4) // classes,
                                          (self.height() - top - legend - 4) // classes))
        return left, top, cell

    def minimumSizeHint(self) -> QSize:
        line = QFontMetrics(self.font()).height()
        left, top, _ = self._margins()
        side = 10 * self._cell_side()
        return QSize(side + left + 4, side + top + 4 + 2 * line + 8)

    def cell_rect(self, true: int, predicted: int) -> QRect:
        left, top, cell = self._grid()
        return QRect(left + predicted * cell, top + true * cell, cell, cell)

    def cell_at(self, pos: QPoint) -> tuple[int, int] | None:
        left, top, cell = self._grid()
        classes = len(self.confusion)
        col, row = (pos.x() - left) // cell, (pos.y() - top) // cell
        if pos.x() < left or pos.y() < top or not (0 <= row < classes and 0 <= col < classes):
            return None
        return int(row), int(col)

    def sizeHint(self) -> QSize:
        return QSize(max(360, self.minimumSizeHint().width()), max(400, self.minimumSizeHint().height()))

    def cell_colour(self, true: int, predicted: int) -> QColor | None:
        """The fill of a cell: blue on the diagonal, orange off it, darker for more; None for an empty cell."""
        counts = self.confusion
        count = int(counts[true, predicted])
        if not count:
            return None
        if true == predicted:
            base, strength = RIGHT, count / max(int(counts[true].sum()), 1)
        else:
            off_diagonal = counts[~np.eye(len(counts), dtype=bool)]
            base, strength = WRONG, count / max(int(off_diagonal.max(initial=0)), 1)
        colour = QColor(base)
        colour.setAlphaF(0.12 + 0.88 * strength)
        return colour

    # -- painting
    def paintEvent(self, event):
        painter = QPainter(self)
        palette = self.palette()
        text, muted = palette.color(QPalette.ColorRole.WindowText), palette.color(QPalette.ColorRole.PlaceholderText)
        base, grid = palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Mid)
        left, top, cell = self._grid()
        upwards = self._margins()[2]
        classes = len(self.confusion)
        line = QFontMetrics(self.font()).height()
        kind = self._kind()
        painter.setFont(self.font())
        painter.setPen(muted)
        painter.drawText(QRect(left, 0, cell * classes, line), Qt.AlignmentFlag.AlignCenter, f"predicted {kind}")
        painter.save()
        painter.translate(0, top + cell * classes)
        painter.rotate(-90)
        painter.drawText(QRect(0, 0, cell * classes, line), Qt.AlignmentFlag.AlignCenter, f"true {kind}")
        painter.restore()
        painter.setPen(text)
        for k in range(classes):
            column, row = _name(self.predicted_names, k), _name(self.true_names, k)
            if upwards:  # long names: written bottom to top above their column
                painter.save()
                painter.translate(left + k * cell + (cell - line) // 2, top - 4)
                painter.rotate(-90)
                painter.drawText(QRect(0, 0, top - line - 4, line), Qt.AlignmentFlag.AlignLeft, column)
                painter.restore()
            else:
                painter.drawText(QRect(left + k * cell, line, cell, top - line), Qt.AlignmentFlag.AlignCenter, column)
            painter.drawText(QRect(line, top + k * cell, left - line - 6, cell),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, row)
        for true in range(classes):
            for predicted in range(classes):
                rect = self.cell_rect(true, predicted)
                colour = self.cell_colour(true, predicted)
                painter.fillRect(rect, base)
                if colour is not None:
                    painter.fillRect(rect, colour)
                painter.setPen(grid)
                painter.drawRect(rect.adjusted(0, 0, -1, -1))
                dark = colour is not None and colour.alphaF() > 0.55
                painter.setPen(QColor("white") if dark else (text if colour is not None else muted))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(int(self.confusion[true, predicted])))
        if self.selected is not None:
            painter.setPen(palette.color(QPalette.ColorRole.Highlight))
            painter.drawRect(self.cell_rect(*self.selected).adjusted(0, 0, -1, -1))
            painter.drawRect(self.cell_rect(*self.selected).adjusted(1, 1, -2, -2))
        # the legend: what the two colours mean
        y = top + classes * cell + 6
        for k, (colour, words) in enumerate(((RIGHT, f"right: the share of that {self._kind()} recognised"),
                                             (WRONG, "mistakes: darker for more (the worst is darkest)"))):
            swatch = QRect(left, y + k * (line + 2) + 2, line - 4, line - 4)
            painter.fillRect(swatch, colour)
            painter.setPen(text)
            painter.drawText(QRect(swatch.right() + 6, y + k * (line + 2), self.width() - swatch.right() - 6, line),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, words)
        painter.end()

    # -- mouse
    def mousePressEvent(self, event):
        cell = self.cell_at(event.position().toPoint())
        if cell is not None and event.button() == Qt.MouseButton.LeftButton:
            self.set_selected(cell)
            self.cell_clicked.emit(*cell)
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event):
        cell = self.cell_at(event.position().toPoint())
        if cell is None:
            self.setToolTip("")
        else:
            true, predicted = cell
            count = int(self.confusion[true, predicted])
            what = "right" if true == predicted else "wrong"
            self.setToolTip(f"True {_name(self.true_names, true)}, predicted "
                            f"{_name(self.predicted_names, predicted)}: {count} test image"
                            f"{'s' if count != 1 else ''} ({what}). Click to see them.")
        super().mouseMoveEvent(event)


class QtEvaluationView(QWidget):
    """Test accuracy, the confusion matrix and the mistakes of the playground's network.

    Parameters
    ----------
    playground : whose ``network`` is evaluated
    test_digits : a callable returning the test ``Digits`` to evaluate on (or None when there are none)

    ``image_activated(image)`` is emitted with a (28, 28) test image the user double-clicks.
    """

    image_activated = Signal(object)

    def __init__(self, playground, test_digits, parent=None):
        super().__init__(parent)
        self.setObjectName("evaluationView")
        self.playground = playground
        self._test_digits = test_digits
        self.digits = None
        self.evaluation = None
        self._long_names = False  # class names too long for "true → predicted" on one line under a thumbnail
        self._stale = True

        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setObjectName("evaluateButton")
        self.evaluate_button.setToolTip("Run the network on every test digit")
        self.evaluate_button.clicked.connect(self.evaluate)
        self.accuracy_label = QLabel("Not evaluated yet.")
        self.accuracy_label.setObjectName("testAccuracy")
        self.accuracy_label.setTextFormat(Qt.TextFormat.RichText)

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

        top = QHBoxLayout()
        top.addWidget(self.evaluate_button)
        top.addWidget(self.accuracy_label, 1)
        galleries = QVBoxLayout()
        galleries.addWidget(self.cell_title)
        galleries.addWidget(self.cell_gallery, 1)
        galleries.addWidget(self.worst_title)
        galleries.addWidget(self.worst_gallery, 1)
        body = QHBoxLayout()
        body.addWidget(self.matrix, 0)
        body.addLayout(galleries, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addLayout(body, 1)

    # ------------------------------------------------------------------ commands
    def mark_stale(self) -> None:
        """The network or the data changed: evaluate now if shown, else when next shown."""
        self._stale = True
        if self.isVisible():
            self.evaluate()

    def evaluate(self) -> bool:
        """Run the network on the test digits and show the results; False when there are none."""
        digits = self._test_digits()
        if digits is None or len(digits) == 0:
            self.accuracy_label.setText("No test digits for the chosen data.")
            return False
        if digits.images.shape[1:] != self.playground.network.input_shape:
            self.accuracy_label.setText("The test digits do not fit this network's input size.")
            return False
        self.digits = digits
        self.evaluation = evaluation = evaluate(self.playground.network, digits)
        self._stale = False
        wrong = int(np.count_nonzero(evaluation.predictions != digits.labels))
        self.accuracy_label.setText(
            f"<b>Test accuracy {evaluation.accuracy:.1%}</b> on {len(digits):,} "
            f"{'digits' if digits.class_names == DIGIT_NAMES else 'images'}"
            + (f" of {digits.name}" if digits.name else "")
            + f" &nbsp;·&nbsp; {wrong:,} wrong &nbsp;·&nbsp; loss {evaluation.loss:.3f}")
        self.matrix.set_confusion(evaluation.confusion)
        self._show_class_names()
        return True

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
        self.cell_title.setText(f"True {_name(true_names, true)}, predicted {_name(predicted_names, predicted)}: "
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
        true, predicted = _name(true_names, true), _name(predicted_names, predicted)
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


def _name(names: tuple[str, ...], index: int) -> str:
    return names[index] if 0 <= index < len(names) else str(index)
