"""One layer of the architecture editor's draft: its fields, its shapes and parameters, and what the validator says.

A card only shows a draft layer and reports edits (``edited``) and its buttons
(``moved``, ``removed``); the editor changes the draft and calls ``show_check``.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QSpinBox,
                               QToolButton, QVBoxLayout, QWidget)

from cnnstudio.engine.shapes import ACTIVATIONS, MAX_KERNEL, MAX_STRIDE, POOLS, ConvSpec

from cnnstudio.core.architectures import LayerCheck
from cnnstudio.qt.panels.layer_settings.conv_group import MAX_FILTERS, MAX_POOL, SAME_PADDING, show_values
from cnnstudio.qt.panels.layer_settings.text import merge_axis_warnings, shape_text, split_reason_fix
from cnnstudio.qt.widgets.signals import qt_signals_blocked
from cnnstudio.qt.widgets import theme

MAX_UNITS = 1024
MAX_DROPOUT = 0.9

# (key, label, tooltip, range or choices) of the fields of each kind of layer
CONV_FIELDS = (
    ("filters", "Filters", "How many kernels, so how many feature maps this stage makes.", (1, MAX_FILTERS)),
    ("kernel", "Kernel", "K: the kernel is a K x K window of weights slid over the input.", (1, MAX_KERNEL)),
    ("stride", "Stride", "S: how many pixels the kernel moves between two outputs.", (1, MAX_STRIDE)),
    # NOTE: up to K_max - 1 (not K - 1 as in the Layers tab): a padding that is too big is explained, not hidden
    ("padding", "Padding", "P: rings of zeros around the input; 'same' keeps the size (at stride 1).",
     (SAME_PADDING, MAX_KERNEL - 1)),
    ("activation", "Activation", "The function applied to every conv output.", ACTIVATIONS),
    ("pool", "Pooling", "Shrinks each map: max keeps the strongest answer, avg the mean.", POOLS),
    ("pool_size", "Pool size", "The side of the pooling window.", (1, MAX_POOL)),
    ("pool_stride", "Pool stride", "How many pixels the pooling window moves.", (1, MAX_POOL)),
)
DENSE_FIELDS = (
    ("units", "Units", "How many numbers this layer outputs (its neurons).", (1, MAX_UNITS)),
    ("activation", "Activation", "The function applied to every unit's output.", ACTIVATIONS),
    ("dropout", "Dropout", "The fraction of this layer's inputs zeroed at random in each training step "
                           "(0: off). Evaluation and the live view use every input.", (0.0, MAX_DROPOUT)),
)
OUTPUT_FIELDS = (DENSE_FIELDS[2],)  # the output layer: one unit per class, then softmax


class LayerCard(QFrame):
    """The fields of draft layer ``index`` (conv stage, hidden dense or output), with ▲ ▼ ✕ buttons."""

    edited = Signal(int, str, object)  # layer, field key, new value
    moved = Signal(int, int)           # layer, step (-1 up, +1 down)
    removed = Signal(int)

    def __init__(self, index: int, spec, output: bool, parent=None):
        super().__init__(parent)
        self.index = index
        self.kind = "conv" if isinstance(spec, ConvSpec) else "dense"
        self.output = output
        self.setObjectName(f"arch{index}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.editors: dict[str, QWidget] = {}

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(3)
        header = QHBoxLayout()
        header.setSpacing(2)
        self.title = QLabel()
        self.title.setObjectName(f"arch{index}_title")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        header.addWidget(self.title, 1)
        self.buttons: dict[str, QToolButton] = {}
        for key, text, tip in (("up", "\u25b2", "Move this layer up"), ("down", "\u25bc", "Move this layer down"),
                               ("remove", "\u2715", "Remove this layer")):
            button = QToolButton()
            button.setObjectName(f"arch{index}_{key}")
            button.setText(text)
            button.setToolTip(tip)
            button.setAutoRaise(True)
            header.addWidget(button)
            self.buttons[key] = button
        self.buttons["up"].clicked.connect(lambda: self.moved.emit(self.index, -1))
        self.buttons["down"].clicked.connect(lambda: self.moved.emit(self.index, 1))
        self.buttons["remove"].clicked.connect(lambda: self.removed.emit(self.index))
        if output:
            for button in self.buttons.values():
                button.hide()
        layout.addLayout(header)

        self.shapes = QLabel()  # "1×28×28 → 8×14×14 · 80 parameters"
        self.shapes.setObjectName(f"arch{index}_shapes")
        self.shapes.setStyleSheet(f"color: {theme.css(theme.muted())};")
        layout.addWidget(self.shapes)

        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        fields = CONV_FIELDS if self.kind == "conv" else OUTPUT_FIELDS if output else DENSE_FIELDS
        for n, (key, label, tip, choices) in enumerate(fields):
            editor = self._make_editor(key, choices)
            editor.setObjectName(f"arch{index}_{key}")
            editor.setToolTip(tip)
            editor.setMinimumWidth(52)
            caption = QLabel(label)
            caption.setToolTip(tip)
            caption.setBuddy(editor)
            row, column = divmod(n, 2)
            grid.addWidget(caption, row, 2 * column)
            grid.addWidget(editor, row, 2 * column + 1)
            self.editors[key] = editor
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        layout.addLayout(grid)

        self.error = QLabel()
        self.error.setObjectName(f"arch{index}_error")
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.RichText)
        self.error.setStyleSheet(f"color: {theme.css(theme.error())};")
        self.error.hide()
        layout.addWidget(self.error)
        self.warning = QLabel()
        self.warning.setObjectName(f"arch{index}_warning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(f"color: {theme.css(theme.warning())};")
        self.warning.hide()
        layout.addWidget(self.warning)
        self.show_spec(spec)

    def _make_editor(self, key: str, choices) -> QWidget:
        if isinstance(choices[0], str):
            editor = QComboBox()
            editor.addItems(list(choices))
            editor.currentTextChanged.connect(lambda text: self.edited.emit(self.index, key, text))
            return editor
        if isinstance(choices[0], float):
            editor = QDoubleSpinBox()
            editor.setRange(*choices)
            editor.setDecimals(2)
            editor.setSingleStep(0.05)
            editor.setSpecialValueText("off")
            editor.valueChanged.connect(lambda value: self.edited.emit(self.index, key, round(value, 2)))
            return editor
        editor = QSpinBox()
        editor.setRange(*choices)
        if key == "padding":
            editor.setSpecialValueText("same")
        # NOTE: keyboard tracking stays on: each digit typed updates the shapes shown, nothing is applied yet
        editor.valueChanged.connect(lambda value: self.edited.emit(
            self.index, key, "same" if key == "padding" and value == SAME_PADDING else value))
        return editor

    def show_spec(self, spec) -> None:
        """Put ``spec``'s values in the fields (no ``edited`` signals)."""
        with qt_signals_blocked(*self.editors.values()):
            show_values(self.editors, spec)

    def show_check(self, spec, check: LayerCheck, can_move_up: bool, can_move_down: bool, can_remove: bool) -> None:
        """Show the layer's name, shapes, parameters and the validator's error or warnings (not its fields)."""
        if self.kind == "conv":
            pooling = spec.pool != "none"
            self.editors["pool_size"].setEnabled(pooling)
            self.editors["pool_stride"].setEnabled(pooling)
        what = (f"{spec.units} outputs, then softmax" if self.output else "hidden")
        name = check.name.capitalize() + (f" <span style='color:{theme.css(theme.muted())}'>({what})</span>"
                                          if self.kind == "dense" else "")
        self.title.setText(f"<b>{name}</b>")
        if check.output_shape is not None:
            self.shapes.setText(f"{shape_text(check.input_shape)} \u2192 {shape_text(check.output_shape)}"
                                f"  \u00b7  {check.params:,} parameters")
        elif check.error:
            self.shapes.setText(f"{shape_text(check.input_shape)} \u2192 impossible")
        else:
            self.shapes.setText("shape unknown until the layer above is possible")
        if check.error:
            reason, fix = split_reason_fix(check.error, check.name)
            self.error.setText(f"\u26a0 {reason}" + (f"<br><b>Fix:</b> {fix}" if fix else ""))
            self.error.show()
        else:
            self.error.clear()
            self.error.hide()
        warnings = merge_axis_warnings(list(check.warnings))
        self.warning.setText("\n".join(f"\u25b2 {w[:1].upper()}{w[1:]}" for w in warnings))
        self.warning.setVisible(bool(warnings))
        self.buttons["up"].setEnabled(can_move_up)
        self.buttons["down"].setEnabled(can_move_down)
        self.buttons["remove"].setEnabled(can_remove)
