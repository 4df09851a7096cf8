"""The network's answer: the softmax probability of every class as a bar, the top class large and highlighted.

Painted with QPainter (ten rectangles and some text), repainted in place on every
``activations_changed``.  The classes are labelled with the playground's ``class_names``
("0".."9", or "T-shirt/top", "Trouser", ... for a network trained on Fashion-MNIST).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from cnnstudio.qt.widgets import theme

BAR = QColor("#9aa5b4")       # a mid grey that reads on a light and on a dark panel
TRACK_TINT = 0.19             # the empty track: the panel tinted this much toward BAR
TRACK = theme.blend(QColor("#ffffff"), BAR, TRACK_TINT)  # the track on a white panel
TOP = QColor("#e8590c")       # the predicted class: warm, apart from the maps' blue and red ramps
MARGIN = 10.0


class QtPredictionBars(QWidget):
    """Ten horizontal bars (one per class) with percentages; the most probable class is highlighted.

    When the input is not the network's size (a large image runs through the conv
    layers only) there are no probabilities and a message says what is needed.  When the
    outputs are not numbers (weights that overflow float32) a message says so and how to
    get back, instead of bars of NaN.
    """

    def __init__(self, playground, parent=None):
        super().__init__(parent)
        self.setObjectName("predictionBars")
        self._playground = playground
        self.probabilities: np.ndarray | None = None
        self.top_class: int | None = None
        self.blank_input = False  # nothing drawn: the bars show the biases' guess, the header asks for a digit
        self.not_finite = False   # the network's outputs are NaN or infinite: no bars, a message instead
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._background, self._text, self._muted = theme.panel(), theme.panel_text(), theme.panel_muted()
        self._track = theme.blend(self._background, BAR, TRACK_TINT)
        self._font = QFont(self.font())
        self._bold = QFont(self.font())
        self._bold.setBold(True)
        self._big = QFont(self.font())
        self._big.setBold(True)
        self._metrics = {False: QFontMetricsF(self._font), True: QFontMetricsF(self._bold)}
        self._measure_labels()
        event, names_event = playground.events.activations_changed, playground.events.class_names_changed
        event.connect(self._on_activations)
        names_event.connect(self._on_class_names)
        self.destroyed.connect(lambda *_: (event.disconnect(self._on_activations),
                                           names_event.disconnect(self._on_class_names)))
        if playground.trace is not None:
            self._on_activations(playground.trace)

    # ------------------------------------------------------------ model -> view
    def _on_activations(self, trace) -> None:
        p = trace.probabilities
        self.blank_input = not trace.input.any()
        self.not_finite = p is not None and not np.isfinite(p).all()
        if self.not_finite:
            p = None
        self.probabilities = None if p is None else np.array(p, dtype=np.float64)
        self.top_class = None if p is None else int(np.argmax(p))
        self.update()

    def message(self) -> str | None:
        """The text shown instead of bars, or None when bars are shown."""
        if self.not_finite:
            return ("No prediction: the network's outputs are not numbers (NaN or infinite), because some "
                    "weights are too large. Fix: Edit > Reset kernels, or load a model.")
        if self.probabilities is not None:
            return None
        _, height, width = self._playground.network.input_shape
        return f"prediction needs a {height}×{width} input"

    def class_label(self, index: int) -> str:
        """The name of class ``index`` as the playground's network knows it ("7", "Sneaker", ...)."""
        names = self._playground.class_names
        return names[index] if 0 <= index < len(names) else str(index)

    def _on_class_names(self) -> None:
        self._measure_labels()
        self.update()

    def _measure_labels(self) -> None:
        """The label column fits the widest class name (at most 40% of the width, longer names are elided)."""
        widest = max((self._metrics[True].horizontalAdvance(name) for name in self._playground.class_names),
                     default=0.0)
        self._widths = (max(widest, self._metrics[True].horizontalAdvance("00")) + 8,
                        self._metrics[True].horizontalAdvance("100.0%") + 8)

    def _label_width(self) -> float:
        return min(self._widths[0], max(0.4 * (self.width() - 2 * MARGIN), 24.0))

    # ------------------------------------------------------------ geometry
    def sizeHint(self) -> QSize:
        return QSize(max(220, int(self._widths[0] + self._widths[1] + 2 * MARGIN + 80)), 320)

    def minimumSizeHint(self) -> QSize:
        return QSize(140, 200)

    def _header_height(self) -> float:
        return min(max(self.height() * 0.24, 56.0), 96.0)

    def _rows(self) -> int:
        return len(self.probabilities) if self.probabilities is not None else self._playground.network.num_classes

    def _row_rect(self, index: int) -> QRectF:
        top = MARGIN + self._header_height()
        height = (self.height() - top - MARGIN) / max(self._rows(), 1)
        return QRectF(MARGIN, top + index * height, self.width() - 2 * MARGIN, height)

    def _track_in(self, row: QRectF) -> QRectF:
        thickness = max(min(row.height() * 0.62, 22.0), 3.0)
        left = row.left() + self._label_width()
        return QRectF(left, row.center().y() - thickness / 2, max(row.right() - self._widths[1] - left, 1.0),
                      thickness)

    def track_rect(self, index: int) -> QRectF:
        """Where the bar of class ``index`` can grow (its full length is 100 %)."""
        return self._track_in(self._row_rect(index))

    def bar_rect(self, index: int) -> QRectF:
        """The filled part of class ``index``'s bar."""
        track = self.track_rect(index)
        p = 0.0 if self.probabilities is None else float(self.probabilities[index])
        return QRectF(track.left(), track.top(), track.width() * min(max(p, 0.0), 1.0), track.height())

    # ------------------------------------------------------------ painting
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self._background)
        message = self.message()
        if message is not None:
            painter.setPen(self._muted)
            painter.setFont(self._font)
            painter.drawText(QRectF(self.rect()).adjusted(MARGIN, MARGIN, -MARGIN, -MARGIN),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, message)
            return
        self._paint_header(painter)
        first = self._row_rect(0)
        for index, p in enumerate(self.probabilities.tolist()):
            self._paint_row(painter, index, p, first.translated(0, index * first.height()))

    def _paint_header(self, painter: QPainter) -> None:
        header = QRectF(MARGIN, MARGIN, self.width() - 2 * MARGIN, self._header_height() - 6)
        if self.blank_input:
            painter.setFont(self._bold)
            painter.setPen(self._muted)
            painter.drawText(header, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             "Draw a digit on the canvas")
            return
        top = self.top_class
        name = self.class_label(top)
        size = max(int(header.height() * 0.95), 12)
        self._big.setPixelSize(size)
        # a long name ("Ankle boot") shrinks to leave room for "99.9% sure" beside it
        room = max(header.width() - 18 - self._metrics[True].horizontalAdvance("100.0% sure"), 24.0)
        natural = QFontMetricsF(self._big).horizontalAdvance(name)
        if natural > room:
            self._big.setPixelSize(max(int(size * room / natural), 10))
        digit_width = min(QFontMetricsF(self._big).horizontalAdvance(name), room) + 12
        painter.setFont(self._big)
        painter.setPen(TOP)
        painter.drawText(QRectF(header.left(), header.top(), digit_width, header.height()),
                         Qt.AlignmentFlag.AlignCenter, name)
        text = QRectF(header.left() + digit_width + 6, header.top(), header.width() - digit_width - 6,
                      header.height())
        painter.setFont(self._font)
        painter.setPen(self._muted)
        painter.drawText(QRectF(text.left(), text.top(), text.width(), text.height() / 2),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, "prediction")
        painter.setFont(self._bold)
        painter.setPen(self._text)
        painter.drawText(QRectF(text.left(), text.center().y(), text.width(), text.height() / 2),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                         f"{100 * self.probabilities[top]:.1f}% sure")

    def _paint_row(self, painter: QPainter, index: int, p: float, row: QRectF) -> None:
        # NOTE: drawText at a point (no text layout), cached metrics and unrounded rectangles: this runs
        # on every stroke, and aligned drawText in rectangles with antialiased rounded bars cost twice as much
        track = self._track_in(row)
        is_top = index == self.top_class and not self.blank_input  # no highlight for a guess on nothing
        font, metrics = (self._bold if is_top else self._font), self._metrics[is_top]
        baseline = row.center().y() + (metrics.ascent() - metrics.descent()) / 2
        painter.setFont(font)
        painter.setPen(TOP if is_top else self._text)
        label, room = self.class_label(index), self._label_width() - 8
        if metrics.horizontalAdvance(label) > room:  # only in a very narrow panel
            label = metrics.elidedText(label, Qt.TextElideMode.ElideRight, room)
        painter.drawText(QPointF(row.left() + room - metrics.horizontalAdvance(label), baseline), label)
        painter.fillRect(track, self._track)
        if p > 0:
            painter.fillRect(QRectF(track.left(), track.top(), track.width() * min(p, 1.0), track.height()),
                             TOP if is_top else BAR)
        percent = f"{100 * p:.1f}%"
        painter.setPen(TOP if is_top else self._muted)
        painter.drawText(QPointF(row.right() - metrics.horizontalAdvance(percent), baseline), percent)
