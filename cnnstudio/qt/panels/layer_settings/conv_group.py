"""One conv layer's settings: every field applies at once, an impossible one is explained right under it."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QComboBox, QGridLayout, QGroupBox, QLabel, QSpinBox, QWidget

from cnnstudio.engine.shapes import ACTIVATIONS, MAX_KERNEL, MAX_STRIDE, POOLS, ConvSpec, resolve_padding

from cnnstudio.qt.panels.layer_settings.text import (layer_name, merge_axis_warnings, shape_text, split_reason_fix,
                                                    stage_output)
from cnnstudio.qt.widgets.signals import qt_signals_blocked
from cnnstudio.qt.widgets import theme


SAME_PADDING = -1  # the padding spin box's special value, shown as "same"
MAX_FILTERS = 64  # the views scroll rather than squeeze up to here (feature maps, kernel editor)
MAX_POOL = 6


@dataclass(frozen=True)
class _Field:
    """One editable ConvSpec field: its key, label, range (spin boxes) or choices (combo boxes) and tooltip."""

    key: str
    label: str    # next to the editor
    noun: str     # in sentences: "Changing kernel size replaced ..."
    tooltip: str
    minimum: int = 0
    maximum: int = 0
    choices: tuple[str, ...] = ()


FIELDS = (
    _Field("kernel", "Kernel", "kernel size", "K: the kernel is a K x K window of weights slid over the input.",
           1, MAX_KERNEL),
    _Field("stride", "Stride", "stride", "S: how many pixels the kernel moves between two outputs.", 1, MAX_STRIDE),
    _Field("padding", "Padding", "padding", "P: rings of zeros around the input; 'same' keeps the size (at stride 1).",
           SAME_PADDING, MAX_KERNEL - 1),
    _Field("filters", "Filters", "the number of filters",
           "How many kernels, so how many feature maps this layer makes.", 1, MAX_FILTERS),
    _Field("activation", "Activation", "activation", "The function applied to every conv output.", choices=ACTIVATIONS),
    _Field("pool", "Pooling", "pooling", "Shrinks each map: max keeps the strongest answer, avg the mean.",
           choices=POOLS),
    _Field("pool_size", "Pool size", "pool size", "The side of the pooling window.", 1, MAX_POOL),
    _Field("pool_stride", "Pool stride", "pool stride", "How many pixels the pooling window moves.", 1, MAX_POOL),
)
FIELD_NOUNS = {f.key: f.noun for f in FIELDS}


def show_values(editors: dict, spec) -> None:
    """Put ``spec``'s fields in ``editors`` (key -> combo box or spin box; 'same' padding as SAME_PADDING)."""
    for key, editor in editors.items():
        value = getattr(spec, key)
        if isinstance(editor, QComboBox):
            editor.setCurrentText(value)
        else:
            editor.setValue(SAME_PADDING if value == "same" else value)


class ConvGroup(QGroupBox):
    """The fields of one conv layer, with an error line under each field and warnings at the bottom."""

    edited = Signal(int, str, object)  # layer, field key, new value

    def __init__(self, layer: int, parent=None):
        super().__init__(parent)
        self.layer = layer
        self.name = f"conv {layer + 1}"
        self.editors: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        # fields in one or two columns (``set_columns``, by the panel's width); under each field its error
        # (hidden until there is one); the arithmetic above, the warnings below
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(8, 4, 8, 6)
        self.grid.setHorizontalSpacing(6)
        self.grid.setVerticalSpacing(3)
        self.arithmetic = QLabel()
        self.arithmetic.setObjectName("shapeArithmetic")
        self.arithmetic.setWordWrap(True)
        self.arithmetic.setStyleSheet(f"color: {theme.css(theme.muted())};")
        self.labels: dict[str, QLabel] = {}
        for field in FIELDS:
            editor = self._make_editor(field)
            editor.setObjectName(f"conv{layer}_{field.key}")
            editor.setToolTip(field.tooltip)
            editor.setMinimumWidth(56)
            self.editors[field.key] = editor
            label = QLabel(field.label)
            label.setToolTip(field.tooltip)
            label.setBuddy(editor)
            self.labels[field.key] = label
            error = QLabel()
            error.setObjectName(f"conv{layer}_{field.key}_error")
            error.setWordWrap(True)
            error.setTextFormat(Qt.TextFormat.RichText)
            error.setStyleSheet(f"color: {theme.css(theme.error())};")
            error.hide()
            self.errors[field.key] = error
        self.warning = QLabel()
        self.warning.setObjectName(f"conv{layer}_warning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(f"color: {theme.css(theme.warning())};")
        self.warning.hide()
        self.columns = 0
        self.set_columns(2)

    def two_column_width(self) -> int:
        """The width this group needs to show its fields two per row without clipping any."""
        label = max(l.sizeHint().width() for l in self.labels.values())
        editor = max(max(e.minimumSizeHint().width(), e.minimumWidth()) for e in self.editors.values())
        margins = self.grid.contentsMargins()
        return 2 * (label + editor) + 3 * self.grid.horizontalSpacing() + margins.left() + margins.right() + 4

    def set_columns(self, columns: int) -> None:
        """Lay the fields out ``columns`` (1 or 2) per row: one column keeps every field visible on a narrow panel."""
        if columns == self.columns:
            return
        self.columns = columns
        grid = self.grid
        for widget in (self.arithmetic, self.warning, *self.labels.values(), *self.editors.values(),
                       *self.errors.values()):
            grid.removeWidget(widget)
        span = 2 * columns
        grid.addWidget(self.arithmetic, 0, 0, 1, span)
        for index, field in enumerate(FIELDS):
            row, column = 1 + 2 * (index // columns), 2 * (index % columns)
            grid.addWidget(self.labels[field.key], row, column)
            grid.addWidget(self.editors[field.key], row, column + 1)
            grid.addWidget(self.errors[field.key], row + 1, 0, 1, span)
        grid.addWidget(self.warning, 2 + 2 * len(FIELDS), 0, 1, span)
        for column in range(4):
            grid.setColumnStretch(column, 1 if column in (1, 3) and column < span else 0)

    def _make_editor(self, field: _Field) -> QWidget:
        if field.choices:
            editor = QComboBox()
            editor.addItems(list(field.choices))
            editor.currentTextChanged.connect(lambda text, key=field.key: self.edited.emit(self.layer, key, text))
            return editor
        editor = QSpinBox()
        editor.setRange(field.minimum, field.maximum)
        editor.setKeyboardTracking(False)  # typing "11" is one command, not "1" then "11"
        if field.key == "padding":
            editor.setSpecialValueText("same")
        editor.valueChanged.connect(lambda value, key=field.key: self.edited.emit(
            self.layer, key, "same" if key == "padding" and value == SAME_PADDING else value))
        return editor

    def sync(self, network, stage=None) -> None:
        """Show the layer's current settings, shapes and warnings (no commands are sent).

        ``stage`` is the layer's ``StageGeometry`` on the current input (a photo in image mode);
        None: on the network's own input.
        """
        spec = network.layers[self.layer]
        report = network.reports[self.layer]
        if stage is None:
            stage = network.geometry()[self._conv_index(network)]
        self.name = layer_name(network, self.layer)
        self.setTitle(f"{self.name.capitalize()}   {shape_text((stage.channels, stage.in_height, stage.in_width))}"
                      f" \u2192 {shape_text(stage_output(stage))}")
        with qt_signals_blocked(*self.editors.values()):
            self.editors["padding"].setMaximum(max(spec.kernel - 1, 0))
            show_values(self.editors, spec)
        pooling = spec.pool != "none"
        self.editors["pool_size"].setEnabled(pooling)
        self.editors["pool_stride"].setEnabled(pooling)
        self.arithmetic.setText(self._arithmetic(spec, stage))
        self.show_warnings(report.warnings)

    def _conv_index(self, network) -> int:
        """This layer's place among the conv layers (the index of its StageGeometry)."""
        return sum(1 for s in network.layers[:self.layer] if isinstance(s, ConvSpec))

    @staticmethod
    def _arithmetic(spec: ConvSpec, stage) -> str:
        """The output-size formula with this layer's numbers: '(14 - 3 + 2*1) / 1 + 1 = 14  ->  max pool 2/2: 7'."""
        W = stage.in_width
        out, _ = resolve_padding(W, spec.kernel, spec.stride, spec.padding)
        if spec.padding == "same":
            text = f"same padding: \u2308{W} / {spec.stride}\u2309 = {out}"
        else:
            text = f"({W} \u2212 {spec.kernel} + 2\u00b7{spec.padding}) / {spec.stride} + 1 = {out}"
        if spec.pool != "none":
            text += f"  \u2192  {spec.pool} pool {spec.pool_size}/{spec.pool_stride}: {stage.pooled_width}"
        return text

    def show_error(self, key: str, message: str) -> None:
        reason, fix = split_reason_fix(message, self.name)
        text = f"\u26a0 <b>{FIELD_NOUNS[key].capitalize()}:</b> {reason}"
        if fix:
            text += f"<br><b>Fix:</b> {fix}"
        self.errors[key].setText(text)
        self.errors[key].show()
        palette = self.editors[key].palette()
        palette.setColor(QPalette.ColorRole.Base, theme.error_background())
        self.editors[key].setPalette(palette)

    def clear_errors(self) -> None:
        for key, label in self.errors.items():
            if label.isVisible() or label.text():
                label.clear()
                label.hide()
                self.editors[key].setPalette(QPalette())

    def show_warnings(self, warnings) -> None:
        warnings = merge_axis_warnings(warnings)
        if warnings:
            self.warning.setText("\n".join(f"\u25b2 {w[:1].upper()}{w[1:]}" for w in warnings))
            self.warning.show()
        else:
            self.warning.clear()
            self.warning.hide()
