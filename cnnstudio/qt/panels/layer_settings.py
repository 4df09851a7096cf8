"""The settings of every conv layer: kernel size, stride, padding, filters, activation, pooling.

Each edit becomes one ``playground.set_conv_settings`` command.  An impossible
setting (the playground raises ``ValueError`` with the reason and a fix) is
shown in red right under the field, the field goes back to the network's
value and the network stays as it was.  Warnings (a kernel or pool window that
does not slide symmetrically) are shown in amber under the layer's group, and
a change that replaced trained weights offers an Undo.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (QComboBox, QFrame, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                               QScrollArea, QSpinBox, QVBoxLayout, QWidget)

from cnnstudio.engine.shapes import ACTIVATIONS, MAX_KERNEL, MAX_STRIDE, POOLS, ConvSpec, resolve_padding
from cnnstudio.core.playground import Playground

from cnnstudio.qt.widgets.signals import qt_signals_blocked

ERROR_COLOUR = "#d32f2f"
ERROR_TINT = "#fde3e1"  # the background of a field whose last edit was refused
WARNING_COLOUR = "#b26a00"
SAME_PADDING = -1  # the padding spin box's special value, shown as "same"
MAX_FILTERS = 32
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


def layer_name(network, index: int) -> str:
    """'conv 2' or 'dense 1': the name a learner sees for layer ``index``."""
    spec = network.layers[index]
    kind = "conv" if isinstance(spec, ConvSpec) else "dense"
    number = sum(1 for s in network.layers[:index + 1] if type(s) is type(spec))
    return f"{kind} {number}"


def join_names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def split_reason_fix(message: str, where: str | None = None) -> tuple[str, str]:
    """Split a validator message into (reason, fix); drop the 'layer 1 (conv 1): ' prefix when it is ``where``."""
    reason, _, fix = message.partition(" Fix: ")
    prefix = re.match(r"layer \d+ \((conv|dense) \d+\): ", reason)
    if prefix and where is not None and prefix.group(0)[:-2].endswith(f"({where})"):
        reason = reason[prefix.end():]
    return reason[:1].upper() + reason[1:], fix


def merge_axis_warnings(warnings) -> list[str]:
    """One warning instead of two when the height and the width have the same problem (square maps)."""
    def as_width(text: str) -> str:
        return text.replace("height", "width").replace("row(s)", "column(s)")

    merged: list[str] = []
    for text in warnings:
        if "width" in text and any(as_width(m) == text for m in warnings if "height" in m):
            continue
        if "height" in text and as_width(text) in warnings:
            text = text.replace("height", "height and width").replace("row(s)", "rows and columns")
        merged.append(text)
    return merged


def network_summary(network) -> str:
    """The dense layers and the trainable numbers of every layer, as rich text."""
    lines = []
    for k, spec in enumerate(network.layers):
        if isinstance(spec, ConvSpec):
            continue
        report = network.reports[k]
        inputs = network.weight(k).shape[1]
        last = k == len(network.layers) - 1
        lines.append(f"<b>{layer_name(network, k).capitalize()}</b>&nbsp;&nbsp;{_shape_text(report.input_shape)} "
                     f"= {inputs} numbers \u2192 {spec.units}{', then softmax' if last else ''} (fixed here)")
    counts = network.weight_counts()
    parts = " \u00b7 ".join(f"{layer_name(network, k)} {n:,}" for k, n in enumerate(counts))
    lines.append(f"Trainable numbers: {parts} \u00b7 <b>total {sum(counts):,}</b>")
    return "<br>".join(lines)


def _shape_text(shape) -> str:
    return "\u00d7".join(str(v) for v in shape)


class _ConvGroup(QGroupBox):
    """The fields of one conv layer, with an error line under each field and warnings at the bottom."""

    edited = Signal(int, str, object)  # layer, field key, new value

    def __init__(self, layer: int, parent=None):
        super().__init__(parent)
        self.layer = layer
        self.name = f"conv {layer + 1}"
        self.editors: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        # two fields per row; under each row, the errors of its two fields (hidden until there is one)
        grid = QGridLayout(self)
        grid.setContentsMargins(8, 4, 8, 6)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(3)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self.arithmetic = QLabel()
        self.arithmetic.setObjectName("shapeArithmetic")
        self.arithmetic.setWordWrap(True)
        self.arithmetic.setStyleSheet("color: #555;")
        grid.addWidget(self.arithmetic, 0, 0, 1, 4)
        for index, field in enumerate(FIELDS):
            row, column = 1 + 2 * (index // 2), 2 * (index % 2)
            editor = self._make_editor(field)
            editor.setObjectName(f"conv{layer}_{field.key}")
            editor.setToolTip(field.tooltip)
            editor.setMinimumWidth(56)
            self.editors[field.key] = editor
            label = QLabel(field.label)
            label.setToolTip(field.tooltip)
            label.setBuddy(editor)
            grid.addWidget(label, row, column)
            grid.addWidget(editor, row, column + 1)
            error = QLabel()
            error.setObjectName(f"conv{layer}_{field.key}_error")
            error.setWordWrap(True)
            error.setTextFormat(Qt.TextFormat.RichText)
            error.setStyleSheet(f"color: {ERROR_COLOUR};")
            error.hide()
            self.errors[field.key] = error
            grid.addWidget(error, row + 1, 0, 1, 4)
        self.warning = QLabel()
        self.warning.setObjectName(f"conv{layer}_warning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(f"color: {WARNING_COLOUR};")
        self.warning.hide()
        grid.addWidget(self.warning, 2 + len(FIELDS), 0, 1, 4)

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

    def sync(self, network) -> None:
        """Show the layer's current settings, shapes and warnings (no commands are sent)."""
        spec = network.layers[self.layer]
        report = network.reports[self.layer]
        self.name = layer_name(network, self.layer)
        self.setTitle(f"{self.name.capitalize()}   {_shape_text(report.input_shape)} \u2192 "
                      f"{_shape_text(report.output_shape)}")
        with qt_signals_blocked(*self.editors.values()):
            for key, editor in self.editors.items():
                value = getattr(spec, key)
                if isinstance(editor, QComboBox):
                    editor.setCurrentText(value)
                else:
                    if key == "padding":
                        editor.setMaximum(max(spec.kernel - 1, 0))
                        value = SAME_PADDING if value == "same" else value
                    editor.setValue(value)
        pooling = spec.pool != "none"
        self.editors["pool_size"].setEnabled(pooling)
        self.editors["pool_stride"].setEnabled(pooling)
        self.arithmetic.setText(self._arithmetic(spec, report))
        self.show_warnings(report.warnings)

    @staticmethod
    def _arithmetic(spec: ConvSpec, report) -> str:
        """The output-size formula with this layer's numbers: '(14 - 3 + 2*1) / 1 + 1 = 14  ->  max pool 2/2: 7'."""
        W = report.input_shape[2]
        out, _ = resolve_padding(W, spec.kernel, spec.stride, spec.padding)
        if spec.padding == "same":
            text = f"same padding: \u2308{W} / {spec.stride}\u2309 = {out}"
        else:
            text = f"({W} \u2212 {spec.kernel} + 2\u00b7{spec.padding}) / {spec.stride} + 1 = {out}"
        if spec.pool != "none":
            text += f"  \u2192  {spec.pool} pool {spec.pool_size}/{spec.pool_stride}: {report.output_shape[2]}"
        return text

    def show_error(self, key: str, message: str) -> None:
        reason, fix = split_reason_fix(message, self.name)
        text = f"\u26a0 <b>{FIELD_NOUNS[key].capitalize()}:</b> {reason}"
        if fix:
            text += f"<br><b>Fix:</b> {fix}"
        self.errors[key].setText(text)
        self.errors[key].show()
        palette = self.editors[key].palette()
        palette.setColor(QPalette.ColorRole.Base, QColor(ERROR_TINT))
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


class QtLayerSettings(QWidget):
    """Edit the conv layers of a :class:`Playground`; errors and warnings are explained in place."""

    message = Signal(str)  # a sentence for the status bar

    def __init__(self, playground: Playground, parent=None):
        super().__init__(parent)
        self.setObjectName("layerSettings")
        self.playground = playground
        self.groups: list[_ConvGroup] = []

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(4)
        self.banner = QFrame()
        self.banner.setObjectName("undoBanner")
        self.banner.setStyleSheet("#undoBanner { background: #fff4e0; border: 1px solid #e0b060; border-radius: 4px; }")
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.setContentsMargins(6, 4, 6, 4)
        self.banner_text = QLabel()
        self.banner_text.setWordWrap(True)
        self.banner_text.setStyleSheet("color: #5a3a00;")
        self.undo_button = QPushButton("Undo")
        self.undo_button.setObjectName("undoSettingsButton")
        self.undo_button.setToolTip("Go back to the previous layers and weights (Ctrl+Alt+Z)")
        self.undo_button.clicked.connect(self.undo)
        banner_layout.addWidget(self.banner_text, 1)
        banner_layout.addWidget(self.undo_button, 0, Qt.AlignmentFlag.AlignTop)
        self.banner.hide()
        outer.addWidget(self.banner)

        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.body = QWidget()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 0, 4, 0)
        self.body_layout.setSpacing(6)
        self.summary = QLabel()
        self.summary.setObjectName("networkSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setStyleSheet("color: #444; padding: 2px 4px;")
        self.body_layout.addWidget(self.summary)
        self.body_layout.addStretch(1)
        self.scroll.setWidget(self.body)
        outer.addWidget(self.scroll, 1)

        playground.events.architecture_changed.connect(self.sync)
        self.sync()

    # -- model -> view
    def sync(self) -> None:
        """Rebuild the groups if the number of conv layers changed, then show every layer's settings."""
        network = self.playground.network
        conv_layers = [k for k, s in enumerate(network.layers) if isinstance(s, ConvSpec)]
        if [g.layer for g in self.groups] != conv_layers:
            for group in self.groups:
                group.setParent(None)
                group.deleteLater()
            self.groups = []
            for k in conv_layers:
                group = _ConvGroup(k)
                group.edited.connect(self._edit)
                self.body_layout.insertWidget(len(self.groups), group)
                self.groups.append(group)
        for group in self.groups:
            group.sync(network)
        self.summary.setText(network_summary(network))

    def group(self, layer: int) -> _ConvGroup:
        return next(g for g in self.groups if g.layer == layer)

    # -- view -> model
    def _edit(self, layer: int, key: str, value) -> None:
        self.apply(layer, **{key: value})

    def apply(self, layer: int, **changes) -> bool:
        """Send one settings command; on ``ValueError`` explain it under the field and keep the network."""
        group = self.group(layer)
        key = next(iter(changes))
        before = self.playground.network
        try:
            change = self.playground.set_conv_settings(layer, **changes)
        except ValueError as error:
            group.clear_errors()
            group.sync(self.playground.network)  # the field goes back to the value the network has
            group.show_error(key, str(error))
            self.message.emit(f"Not applied: {split_reason_fix(str(error))[0]}")
            return False
        for g in self.groups:
            g.clear_errors()
        after = self.playground.network
        what = FIELD_NOUNS.get(key, key)
        if change.discarded_weights:
            replaced = [layer_name(after, k) for k in range(min(len(before.layers), len(after.layers)))
                        if before.weight(k).shape != after.weight(k).shape]
            layers = join_names(replaced) if replaced else "some layers"
            text = f"Changing {what} replaced the trained weights of {layers} with fresh random ones."
            self.banner_text.setText(text + "  Undo: Ctrl+Alt+Z or the button.")
            self.banner.show()
            self.message.emit(text + " \u2014 Undo (Ctrl+Alt+Z)")
        else:
            self.banner.hide()
            self.message.emit(f"{layer_name(after, layer).capitalize()}: {what} set to {changes[key]}.")
        return True

    def undo(self) -> bool:
        """Take back the newest change to the network (a settings change, a kernel edit, a model load, ...)."""
        try:
            undone = self.playground.undo()
        except ValueError as err:
            self.message.emit(f"Cannot undo: {err}.")
            return False
        self.banner.hide()
        for g in self.groups:
            g.clear_errors()
        self.message.emit(f"Undid the {undone}." if undone else "Nothing to undo.")
        return undone is not None
