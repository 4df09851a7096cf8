"""The confusion matrix of the Evaluate tab: a painted table of counts, row = true class, column = predicted.

Colour-blind safe (no red against green): right answers in blue, mistakes in orange.  The headings
are the class names; clicking a cell says which (``cell_clicked``), so the view can show its images.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from cnnstudio.io.class_names import DIGIT_NAMES

# colour-blind safe (no red against green): right answers in blue, mistakes in orange, each light to dark
RIGHT = QColor(33, 102, 172)      # the diagonal, by the share of that digit recognised
WRONG = QColor(230, 97, 1)        # off the diagonal, by the count against the worst mistake
SELECTED = QColor("#111111")
FADED = 0.4                       # the opacity of a disabled matrix (new results are being computed)

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
        if not self.isEnabled():  # the results of weights or data that are being replaced
            painter.setOpacity(FADED)
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
            column, row = class_label(self.predicted_names, k), class_label(self.true_names, k)
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
            self.setToolTip(f"True {class_label(self.true_names, true)}, predicted "
                            f"{class_label(self.predicted_names, predicted)}: {count} test image"
                            f"{'s' if count != 1 else ''} ({what}). Click to see them.")
        super().mouseMoveEvent(event)


def class_label(names: tuple[str, ...], index: int) -> str:
    """The name of class ``index`` (its number when ``names`` has none for it)."""
    return names[index] if 0 <= index < len(names) else str(index)
