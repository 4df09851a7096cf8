"""The StatQuest lesson as a panel: a 6x6 X or O through a CNN small enough to show every number.

``XOView(lesson=None)`` shows, left to right: the picture (click a cell to flip
it), the 3x3 filter and its bias, the 4x4 feature map, ReLU, the 2x2 max pool
(each window's maximum outlined on the ReLU map), the flattened 4 numbers, the
dense weights and biases, the two logits and the softmax probabilities.  The
arrow keys move the picture by a pixel: the pooled numbers barely change and
the network still says X.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from cnnstudio.lessons.xo import XOLesson
from cnnstudio.render.mosaic import DIVERGING_LUT, INK_LUT, SEQUENTIAL_LUT
from cnnstudio.qt.widgets import theme

from .grid_view import CURRENT, WINDOW, GridView, operator_label, rich_label, symmetric_levels

ARROWS = {Qt.Key.Key_Left: (0, -1), Qt.Key.Key_Right: (0, 1), Qt.Key.Key_Up: (-1, 0), Qt.Key.Key_Down: (1, 0)}


class XOView(QWidget):
    """Every number of the tiny X-or-O network, live."""

    def __init__(self, lesson: XOLesson | None = None, parent=None):
        super().__init__(parent)
        self.lesson = lesson or XOLesson()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(rich_label(
            "<b>X or O?</b> The StatQuest example: one 3x3 filter, ReLU, 2x2 max pooling, then a small ANN and "
            f"softmax. <span style='color:{theme.css(theme.muted())}'>Arrow keys move the picture by a pixel; "
            "click a cell to flip it. "
            "Max pooling keeps each window's largest value wherever it sits in the window, so the CNN can "
            "<i>tolerate small shifts</i>.</span>"))
        buttons = QHBoxLayout()
        self.x_button = QPushButton("Draw X")
        self.o_button = QPushButton("Draw O")
        self.train_button = QPushButton("Train again")
        self.x_button.clicked.connect(lambda: self.lesson.draw("X"))
        self.o_button.clicked.connect(lambda: self.lesson.draw("O"))
        self.train_button.clicked.connect(self.lesson.train)
        for text, (dy, dx) in (("←", (0, -1)), ("→", (0, 1)), ("↑", (-1, 0)), ("↓", (1, 0))):
            button = QPushButton(text)
            button.setFixedWidth(34)
            button.setToolTip("Move the picture by one pixel (arrow keys)")
            button.clicked.connect(lambda checked=False, dy=dy, dx=dx: self.lesson.shift(dy, dx))
            buttons.addWidget(button)
        for button in (self.x_button, self.o_button, self.train_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            buttons.addWidget(button)
        self.report_label = QLabel()
        self.report_label.setStyleSheet(f"color: {theme.css(theme.muted())};")
        buttons.addWidget(self.report_label, 1)
        self.verdict = QLabel()
        self.verdict.setStyleSheet("font-size: 22px; font-weight: bold;")
        buttons.addWidget(self.verdict)
        layout.addLayout(buttons)

        flow = QGridLayout()
        self.image_view = GridView("input 6x6", numbers=True)
        self.image_view.clicked.connect(self.lesson.toggle_pixel)
        self.filter_view = GridView("filter 3x3", numbers=True)
        self.conv_view = GridView("feature map", numbers=True)
        self.relu_view = GridView("ReLU", numbers=True)
        self.pool_view = GridView("max pool 2x2", numbers=True)
        self.flat_view = GridView("flatten", numbers=True)
        self.dense_view = GridView("dense weights", numbers=True)
        self.logit_view = GridView("logits X, O", numbers=True)
        self.prob_view = GridView("softmax X, O", numbers=True)
        self.bias_label = QLabel()
        self.bias_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.dense_bias_label = QLabel()
        self.dense_bias_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        views = [(self.image_view, "∗"), (self.filter_view, "→"), (self.conv_view, "→"), (self.relu_view, "→"),
                 (self.pool_view, "→"), (self.flat_view, "×"), (self.dense_view, "→"), (self.logit_view, "→"),
                 (self.prob_view, "")]
        for k, (view, op) in enumerate(views):
            view.setMinimumSize(70, 70)
            flow.addWidget(view, 0, 2 * k)
            flow.setColumnStretch(2 * k, 3 if view in (self.image_view, self.conv_view, self.relu_view) else 2)
            if op:
                flow.addWidget(operator_label(op), 0, 2 * k + 1)
        flow.addWidget(self.bias_label, 1, 2)
        flow.addWidget(self.dense_bias_label, 1, 12)
        layout.addLayout(flow, 1)
        self.explanation = rich_label(style=f"color: {theme.css(theme.text())};")
        layout.addWidget(self.explanation)

        self.lesson.events.trace_changed.connect(self.refresh)
        self.refresh()

    def keyPressEvent(self, event) -> None:
        if event.key() in ARROWS:
            self.lesson.shift(*ARROWS[event.key()])
        else:
            super().keyPressEvent(event)

    def refresh(self) -> None:
        lesson = self.lesson
        trace, network = lesson.trace, lesson.network
        stage = trace.stages[0]
        self.image_view.set_data(lesson.image, INK_LUT, (0, 1))
        kernel = network.weight(0)[0, 0]
        self.filter_view.set_data(kernel, DIVERGING_LUT, symmetric_levels(kernel))
        self.bias_label.setText(f"bias {network.bias(0)[0]:+.2f}")
        levels = symmetric_levels(stage.conv)
        self.conv_view.set_data(stage.conv[0], DIVERGING_LUT, levels)
        self.relu_view.set_data(stage.activation[0], DIVERGING_LUT, levels)
        winners = [divmod(int(w), stage.activation.shape[2]) for w in stage.winner[0].reshape(-1)]
        self.relu_view.set_overlays(rects=[(r, c, r, c, CURRENT, 2) for r, c in winners] +
                                    [(2 * i, 2 * j, 2 * i + 1, 2 * j + 1, WINDOW, 1) for i in range(2) for j in range(2)])
        self.pool_view.set_data(stage.pooled[0], DIVERGING_LUT, levels)
        self.flat_view.set_data(trace.flat[:, None], DIVERGING_LUT, levels)
        weights = network.weight(1)
        self.dense_view.set_data(weights.T, DIVERGING_LUT, symmetric_levels(weights))
        self.dense_view.set_caption("columns: X, O")
        self.dense_bias_label.setText("bias " + ", ".join(f"{b:+.2f}" for b in network.bias(1)))
        self.logit_view.set_data(trace.logits, DIVERGING_LUT, symmetric_levels(trace.logits))
        self.prob_view.set_data(trace.probabilities, SEQUENTIAL_LUT, (0, 1))
        name, probability = lesson.prediction
        colour = "#0a9b48" if probability > 0.5 else theme.css(theme.muted())
        self.verdict.setText(f"<span style='color:{colour}'>{name} ({probability:.0%})</span>")
        if lesson.report is not None:
            self.report_label.setText(f"trained in {lesson.report.seconds:.1f} s on generated Xs and Os "
                                      f"(20 numbers in all)")
        pooled = ", ".join(f"{v:.2f}" for v in trace.flat)
        self.explanation.setText(
            f"Filter ∗ input: the <i>dot product between the input and the filter</i> at each of the 4x4 positions. "
            f"ReLU zeroes the negatives; max pooling keeps [{pooled}]; the dense layer turns these 4 numbers "
            f"into the logits {trace.logits[0]:.2f} (X) and {trace.logits[1]:.2f} (O), and softmax into "
            f"{trace.probabilities[0]:.0%} X, {trace.probabilities[1]:.0%} O.")
