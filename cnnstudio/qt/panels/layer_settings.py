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
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QComboBox, QFrame, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                               QScrollArea, QSpinBox, QVBoxLayout, QWidget)

from cnnstudio.engine.shapes import ACTIVATIONS, MAX_KERNEL, MAX_STRIDE, POOLS, ConvSpec, resolve_padding
from cnnstudio.core.playground import Playground

from cnnstudio.qt.widgets.signals import listen, qt_signals_blocked
from cnnstudio.qt.widgets import theme

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


def _stage_output(stage) -> tuple[int, int, int]:
    """(F, H, W) a conv stage hands on: its pooled maps, or its activations when it does not pool."""
    if stage.pool == "none":
        return stage.filters, stage.height, stage.width
    return stage.filters, stage.pooled_height, stage.pooled_width


def image_mode_note(network, input_shape) -> str:
    """'' on the network's own input; else a sentence that the dense layers only run on their input size."""
    input_shape = tuple(input_shape)
    if input_shape == tuple(network.input_shape):
        return ""
    return (f"<b>Image mode</b>: the conv layers run on the {_shape_text(input_shape)} image, so the shapes "
            f"above are its shapes. The dense layers and the prediction only run on a "
            f"{_shape_text(network.input_shape)} input (the digit canvas).")


class _ConvGroup(QGroupBox):
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
        self.setTitle(f"{self.name.capitalize()}   {_shape_text((stage.channels, stage.in_height, stage.in_width))}"
                      f" \u2192 {_shape_text(_stage_output(stage))}")
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
        self.banner.setStyleSheet(f"#undoBanner {{ background: {theme.css(theme.warning_background())}; "
                                  f"border: 1px solid {theme.css(theme.warning_border())}; border-radius: 4px; }}")
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.setContentsMargins(6, 4, 6, 4)
        self.banner_text = QLabel()
        self.banner_text.setWordWrap(True)
        self.banner_text.setStyleSheet(f"color: {theme.css(theme.panel_text())};")
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
        # NOTE: the groups switch to one field per row on a narrow panel (resizeEvent); a horizontal
        # scroll bar appears only below even that width, so no field is ever out of reach
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.body = QWidget()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 0, 4, 0)
        self.body_layout.setSpacing(6)
        self.summary = QLabel()
        self.summary.setObjectName("networkSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setStyleSheet(f"color: {theme.css(theme.text())}; padding: 2px 4px;")
        self.body_layout.addWidget(self.summary)
        self.body_layout.addStretch(1)
        self.scroll.setWidget(self.body)
        outer.addWidget(self.scroll, 1)

        self._input_shape = tuple(playground.input.shape)
        listen(self, playground.events.architecture_changed, self.sync)
        listen(self, playground.events.input_changed, self._input_changed)
        self.sync()

    def _input_changed(self) -> None:
        # every stroke sends this: only a new input size (image mode) changes what the groups show
        if tuple(self.playground.input.shape) != self._input_shape:
            self.sync()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Two fields per row when they fit in the panel's width, else one (nothing clipped on a laptop)."""
        if not self.groups:
            return
        available = self.scroll.width() - self.scroll.verticalScrollBar().sizeHint().width() - 4
        columns = 2 if available >= max(g.two_column_width() for g in self.groups) else 1
        for group in self.groups:
            group.set_columns(columns)

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
        self._input_shape = tuple(self.playground.input.shape)
        try:
            stages = network.geometry(self._input_shape)
        except ValueError:  # an input the conv layers cannot take: show the network's own shapes
            stages = network.geometry()
        for group, stage in zip(self.groups, stages):
            group.sync(network, stage)
        note = image_mode_note(network, self._input_shape)
        self.summary.setText(network_summary(network) + (f"<br>{note}" if note else ""))
        self._fit_columns()

    def _stage(self, layer: int):
        """The StageGeometry of conv layer ``layer`` on the current input (the network's own if it cannot run)."""
        network = self.playground.network
        index = sum(1 for s in network.layers[:layer] if isinstance(s, ConvSpec))
        try:
            return network.geometry(self._input_shape)[index]
        except ValueError:
            return network.geometry()[index]

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
            group.sync(self.playground.network, self._stage(layer))  # the field goes back to the value the network has
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
