"""``QtKernelEditor``: the kernel editor panel, its controls and the commands it sends to the playground.

It owns no weights: it shows the playground's through a ``KernelGrid`` and
turns the grid's intents (a nudge, a typed value) and its buttons (a preset,
randomise, reset) into playground commands; ``kernels_changed``,
``architecture_changed`` and ``gradients_changed`` are its only reasons to repaint.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QHBoxLayout, QLabel, QMenu, QPushButton,
                               QScrollArea, QSizePolicy, QSpinBox, QToolButton, QVBoxLayout, QWidget)

from cnnstudio.core.presets import PRESETS, preset_kernel, presets_for, random_kernel
from cnnstudio.engine import ConvSpec
from cnnstudio.qt.panels.kernel_editor.colours import ColourScale
from cnnstudio.qt.panels.kernel_editor.grid import DEFAULT_STEP, STEPS, KernelGrid
from cnnstudio.qt.panels.kernel_editor.layout import BIAS
from cnnstudio.qt.panels.kernel_editor.words import DOWN, UP, push_words
from cnnstudio.qt.widgets.export import export_menu
from cnnstudio.qt.widgets.signals import listen, qt_signals_blocked

FOOTER_FROM_HEIGHT = 190  # px: below this the editor shows its cards without the legend and the hints


class QtKernelEditor(QWidget):
    """Edit the kernels and biases of a conv layer by clicking, scrolling and typing.

    Parameters
    ----------
    playground : cnnstudio.core.playground.Playground
        Receives every edit as a command (``set_kernel_cell``, ``set_kernel``,
        ``set_bias``, ``reset_kernels``); its ``kernels_changed`` and
        ``architecture_changed`` events are the only reasons to repaint.

    ``filter_selected(layer, filter)`` is emitted when the selected filter
    changes; ``highlight(layer, filter, cells)`` outlines weights (linked hover).
    The playground's ``gradients_changed`` brings the push glyphs (``gradients``:
    what is drawn), shown while "Show gradients" (``gradients_check``) is ticked.
    Cell geometry (``cell_rect``, ``bias_rect``, ``header_rect``) is in
    ``self.grid``'s coordinates.
    """

    filter_selected = Signal(int, int)
    message = Signal(str)          # why an edit was refused, for the status bar

    def __init__(self, playground, parent=None):
        super().__init__(parent)
        self.setObjectName("kernelEditor")
        self.playground = playground
        self._layer = 0
        self._channel = 0
        self._conv_layers: list[int] = []
        self._highlight = None  # (layer, filter, [(channel, row, col), ...])
        self._rng = np.random.default_rng()
        self._build()
        events = playground.events
        listen(self, events.kernels_changed, self._on_kernels_changed)
        listen(self, events.architecture_changed, self._on_architecture_changed)
        listen(self, events.gradients_changed, self._sync_gradients)
        self._sync_architecture()

    # -- construction (once)
    def _build(self) -> None:
        self.layer_combo = QComboBox(objectName="kernelLayer")
        self.layer_combo.setToolTip("Which conv layer's kernels to show")
        self.channel_spin = QSpinBox(objectName="kernelChannel")
        self.channel_spin.setPrefix("input ")
        self.channel_spin.setToolTip("A filter of a deeper layer has one kernel per input channel "
                                     "(per feature map of the layer before): choose which one to edit")
        self.step_combo = QComboBox(objectName="kernelStep")
        for step in STEPS:
            self.step_combo.addItem(f"step {step:g}", step)
        self.step_combo.setCurrentIndex(STEPS.index(DEFAULT_STEP))
        self.step_combo.setToolTip("How much a click raises (left) or lowers (right) a weight; "
                                   "the wheel moves a tenth of it")
        self.scale = ColourScale(self._vmax)
        self.gradients_check = QCheckBox(f"Show gradients {UP}{DOWN}", objectName="kernelShowGradients")
        self.gradients_check.setChecked(True)

        self.filter_label = QLabel(objectName="kernelFilterLabel")
        # an action, not a label: a combo showing "Sobel x" read like the name of whatever the filter holds
        self.preset_button = QToolButton(objectName="kernelPreset")
        self.preset_button.setText("Apply preset\u2026")
        self.preset_button.setPopupMode(QToolButton.InstantPopup)
        self.preset_button.setToolTip("Put a classic kernel into the selected filter (this input channel) at once; "
                                      "Edit > Undo takes it back")
        self.preset_menu = QMenu(self.preset_button)
        self.preset_actions = {}
        for name in PRESETS:
            action = self.preset_menu.addAction(name)
            action.triggered.connect(lambda checked=False, n=name: self.apply_preset(n))
            self.preset_actions[name] = action
        self.preset_button.setMenu(self.preset_menu)
        self.export_menu = None  # the last right-click menu of a card (kept for tests and to stay alive)
        self.randomise_button = QPushButton("Randomise", objectName="kernelRandomise")
        self.randomise_button.setToolTip("Draw the selected filter's kernel afresh, as the network's "
                                         "initialisation does (He normal)")
        self.reset_button = QPushButton("Reset to trained", objectName="kernelReset")
        self.reset_button.setToolTip("Put back the trained weights and biases of every filter of this layer")

        self.grid = KernelGrid(self._shown)
        self.scroll = QScrollArea(objectName="kernelScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        self.scroll.setWidget(self.grid)
        self.readout = QLabel(objectName="kernelReadout")
        self.readout.setTextFormat(Qt.RichText)
        # NOTE: a long readout is cut at the right instead of widening the editor (and re-laying out the window)
        self.readout.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.readout.setMinimumHeight(self.readout.fontMetrics().height())
        self.hint = QLabel(objectName="kernelHint")
        self.hint.setWordWrap(True)
        hint_font = self.hint.font()
        hint_font.setPointSizeF(max(hint_font.pointSizeF() - 1, 7))
        self.hint.setFont(hint_font)
        self.hint.setForegroundRole(QPalette.PlaceholderText)

        top = QHBoxLayout()
        top.addWidget(self.layer_combo)
        top.addWidget(self.channel_spin)
        top.addWidget(self.step_combo)
        top.addStretch(1)
        top.addWidget(self.reset_button)
        presets = QHBoxLayout()
        presets.addWidget(self.filter_label)
        presets.addWidget(self.preset_button)
        presets.addWidget(self.randomise_button)
        presets.addStretch(1)
        words = QVBoxLayout()
        words.setSpacing(1)
        words.addWidget(self.readout)
        words.addWidget(self.hint)
        keys = QVBoxLayout()  # what the colours and the triangles mean
        keys.setSpacing(2)
        keys.addWidget(self.scale)
        keys.addWidget(self.gradients_check)
        keys.addStretch(1)
        self.footer = QWidget(objectName="kernelFooter")
        footer = QHBoxLayout(self.footer)
        footer.setContentsMargins(0, 0, 0, 0)
        footer.addLayout(keys)
        footer.addLayout(words, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addLayout(presets)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.footer)

        self.layer_combo.currentIndexChanged.connect(self._on_layer_chosen)
        self.channel_spin.valueChanged.connect(self._on_channel_chosen)
        self.step_combo.currentIndexChanged.connect(self._on_step_chosen)
        self.randomise_button.clicked.connect(self.randomise)
        self.reset_button.clicked.connect(self.reset_to_trained)
        self.gradients_check.toggled.connect(self._sync_gradients)
        self.grid.nudged.connect(self._on_nudged)
        self.grid.value_entered.connect(self._on_value_entered)
        self.grid.filter_clicked.connect(self.select_filter)
        self.grid.pointed_changed.connect(self._sync_readout)
        self.grid.export_requested.connect(self.show_export_menu)

    def sizeHint(self) -> QSize:
        return QSize(460, 480)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # Squeezed below what the footer needs (a short laptop screen with a dock open, where the drawing
        # takes the column's larger part), the legend and the hints give their room to the cards.
        squeezed = event.size().height() < FOOTER_FROM_HEIGHT
        if self.footer.isHidden() != squeezed:
            self.footer.setHidden(squeezed)

    # -- what is shown
    @property
    def layer(self) -> int:
        """Index (in ``network.layers``) of the conv layer shown."""
        return self._layer

    @property
    def channel(self) -> int:
        """The input channel whose kernels are shown (0-based)."""
        return self._channel

    @property
    def selected_filter(self) -> int:
        return self.grid.selected

    @property
    def step(self) -> float:
        return self.grid.step

    @property
    def gradients(self) -> np.ndarray | None:
        """The gradients drawn on the cells shown, (filters, K, K); None when none are drawn."""
        return self.grid.gradients

    def _spec(self) -> ConvSpec | None:
        layers = self.playground.network.layers
        return layers[self._layer] if self._conv_layers else None

    def _shown(self):
        """(weights (F, K, K), bias (F,), vmax) of the layer and channel shown: what the grid paints."""
        if not self._conv_layers:
            return np.zeros((0, 1, 1), np.float32), np.zeros(0, np.float32), 1.0
        weight = self.playground.network.weight(self._layer)
        return weight[:, self._channel], self.playground.network.bias(self._layer), self._vmax()

    def _vmax(self) -> float:
        """Half-width of the colour scale: the largest |weight| of the layer, so filters compare at a glance."""
        if not self._conv_layers:
            return 1.0
        weight = self.playground.network.weight(self._layer)
        vmax = float(np.max(np.abs(weight))) if weight.size else 0.0
        return vmax if math.isfinite(vmax) and vmax > 1e-6 else 1.0

    # -- geometry for tests and linked views (grid coordinates)
    def cell_rect(self, filter: int, row: int, col: int) -> QRect:
        return self.grid.cell_rect(filter, row, col)

    def bias_rect(self, filter: int) -> QRect:
        return self.grid.bias_rect(filter)

    def header_rect(self, filter: int) -> QRect:
        return self.grid.header_rect(filter)

    # -- selection
    def select_layer(self, layer: int) -> None:
        """Show conv layer ``layer`` (an index into ``network.layers``)."""
        if layer not in self._conv_layers:
            raise ValueError(f"layer {layer} is not a conv layer")
        self.layer_combo.setCurrentIndex(self._conv_layers.index(layer))

    def select_channel(self, channel: int) -> None:
        """Show the kernels that read input channel ``channel`` (0-based)."""
        self.channel_spin.setValue(channel + 1)

    def select_filter(self, filter: int) -> None:
        if not 0 <= filter < max(self.grid.filters, 1) or filter == self.grid.selected:
            return
        self.grid.select(filter)
        self._sync_filter_label()
        self.filter_selected.emit(self._layer, filter)

    def set_step(self, step: float) -> None:
        self.step_combo.setCurrentIndex(STEPS.index(step))

    def highlight(self, layer: int, filter: int | None, cells=None) -> None:
        """Outline weights ``cells`` [(channel, row, col), ...] of ``filter`` in ``layer``; None clears."""
        self._highlight = None if cells is None or filter is None else (layer, filter, list(cells))
        self._sync_highlight()

    def _sync_highlight(self) -> None:
        cells = set()
        if self._highlight is not None:
            layer, f, wanted = self._highlight
            if layer == self._layer:
                cells = {(f, i, j) for (c, i, j) in wanted if c == self._channel}
        self.grid.set_highlighted(cells)

    # -- commands
    def _on_nudged(self, f: int, row: int, col: int, steps: float) -> None:
        value = self.grid.value_at(f, row, col) + steps * self.step
        self._on_value_entered(f, row, col, value)

    def _on_value_entered(self, f: int, row: int, col: int, value: float) -> None:
        try:
            if row == BIAS:
                self.playground.set_bias(self._layer, f, value)
            else:
                self.playground.set_kernel_cell(self._layer, f, self._channel, row, col, value)
        except ValueError as err:  # a value the playground refuses (beyond ±1,000,000): the weight stays as it was
            QApplication.beep()
            self.message.emit(str(err))

    def apply_preset(self, name: str) -> None:
        """Put preset ``name`` into the selected filter's kernel of this channel (one undo step)."""
        spec = self._spec()
        if spec is None:
            return
        self.playground.set_kernel(self._layer, self.grid.selected, preset_kernel(name, spec.kernel),
                                   channel=self._channel)

    def randomise(self) -> None:
        """Draw the selected filter's kernel of this channel afresh (He normal)."""
        spec = self._spec()
        if spec is None:
            return
        channels = self.playground.network.weight(self._layer).shape[1]
        kernel = random_kernel(self._rng, spec.kernel, channels * spec.kernel * spec.kernel)
        self.playground.set_kernel(self._layer, self.grid.selected, kernel, channel=self._channel)

    def reset_to_trained(self) -> None:
        """Put back the trained (or loaded) weights and biases of the layer shown."""
        if self._conv_layers:
            self.playground.reset_kernels(self._layer)

    def filter_weights(self, filter: int) -> np.ndarray | None:
        """A copy of ``filter``'s weights in the layer shown, (C, K, K) over every input channel; None if none."""
        if not self._conv_layers or not 0 <= filter < self.grid.filters:
            return None
        return np.array(self.playground.network.weight(self._layer)[filter])

    def show_export_menu(self, filter: int, global_pos) -> None:
        """The export menu of ``filter``'s card (a right click on its title): its weights and its picture."""
        if self.export_menu is not None:
            self.export_menu.deleteLater()
        layer = self._conv_layers.index(self._layer) + 1
        self.export_menu = export_menu(self, f"conv {layer} filter {filter + 1}",
                                       lambda: self.filter_weights(filter),
                                       lambda: self.grid.grab(self.grid.card_rect(filter)))
        self.export_menu.popup(global_pos)

    # -- user choices
    def _on_layer_chosen(self, index: int) -> None:
        if 0 <= index < len(self._conv_layers):
            self._layer = self._conv_layers[index]
            self._channel = 0
            self._sync_layer()
            self.filter_selected.emit(self._layer, self.grid.selected)

    def _on_channel_chosen(self, value: int) -> None:
        self._channel = value - 1
        self.grid.cancel_edit()
        self._sync_highlight()
        self._sync_gradients()
        self.grid.source_changed()

    def _on_step_chosen(self, index: int) -> None:
        self.grid.step = float(self.step_combo.itemData(index))
        self._sync_hint()

    # -- model -> view
    def _on_kernels_changed(self, layer: int) -> None:
        if layer == self._layer:
            if self.grid.refresh_values():  # only the edited cells, unless the colour scale moved
                self.scale.update()
            self._sync_readout()

    def _on_architecture_changed(self) -> None:
        self._sync_architecture()

    def _sync_architecture(self) -> None:
        layers = self.playground.network.layers
        self._conv_layers = [k for k, spec in enumerate(layers) if isinstance(spec, ConvSpec)]
        names = [f"conv {n + 1}" for n in range(len(self._conv_layers))]
        if self._layer not in self._conv_layers:
            self._layer = self._conv_layers[0] if self._conv_layers else 0
        with qt_signals_blocked(self.layer_combo):
            if [self.layer_combo.itemText(k) for k in range(self.layer_combo.count())] != names:
                self.layer_combo.clear()
                self.layer_combo.addItems(names)
            if self._conv_layers:
                self.layer_combo.setCurrentIndex(self._conv_layers.index(self._layer))
        self._sync_layer()

    def _sync_layer(self) -> None:
        """Fit the controls and the grid to the layer shown (its filters, channels and kernel size)."""
        spec = self._spec()
        enabled = spec is not None
        for widget in (self.layer_combo, self.preset_button, self.randomise_button,
                       self.reset_button, self.step_combo):
            widget.setEnabled(enabled)
        if spec is None:
            self.grid.set_shape(0, 1)
            self.channel_spin.setEnabled(False)
            self._sync_filter_label()
            self._sync_gradients()
            return
        channels = self.playground.network.weight(self._layer).shape[1]
        self._channel = min(self._channel, channels - 1)
        with qt_signals_blocked(self.channel_spin):
            self.channel_spin.setRange(1, channels)
            self.channel_spin.setSuffix(f" of {channels}")
            self.channel_spin.setValue(self._channel + 1)
        self.channel_spin.setEnabled(channels > 1)
        self._sync_presets(spec.kernel)
        self.grid.set_shape(spec.filters, spec.kernel)
        self.grid.source_changed()
        self._sync_filter_label()
        self._sync_highlight()
        self._sync_hint()
        self._sync_gradients()
        self.scale.update()

    def _sync_presets(self, size: int) -> None:
        """Grey out the presets that make no sense at this kernel size (a 1x1 Sobel)."""
        available = set(presets_for(size))
        for name, action in self.preset_actions.items():
            action.setEnabled(name in available)

    def _sync_gradients(self, *args) -> None:
        """Draw the gradients of the layer and channel shown, if training brought some and the box is ticked."""
        known = self.playground.kernel_gradients
        if self.gradients_check.isEnabled() != bool(known) or not self.gradients_check.toolTip():
            self.gradients_check.setEnabled(bool(known))
            self.gradients_check.setToolTip(
                "Draw on every weight which way training pushes it: a triangle up (the weight grows) or down, "
                "bigger and darker for a stronger push. It is minus the gradient of the loss, which "
                "backpropagation computes for every weight (smoothed over the last training steps)."
                + ("" if known else "<br><br>Start training (Ctrl+T shows the Training dock) to see them."))
        gradient = known.get(self._layer) if self._conv_layers and self.gradients_check.isChecked() else None
        if gradient is None:
            self.grid.set_gradients(None)
        else:
            largest = float(np.max(np.abs(gradient))) if gradient.size else 0.0
            self.grid.set_gradients(gradient[:, self._channel], largest if math.isfinite(largest) else 0.0)
        self._sync_readout()

    def _sync_filter_label(self) -> None:
        self.filter_label.setText(f"Filter {self.grid.selected + 1}:" if self.grid.filters else "")

    def _sync_readout(self) -> None:
        """The exact value of the hovered (or focused) cell: readable even when the cells are too small for text."""
        cell = self.grid.pointed_cell if self._conv_layers else None
        if cell is None:
            self.readout.setText("")
            return
        f, i, j = cell
        where = "bias" if i == BIAS else f"row {i + 1}, column {j + 1}"
        channel = f" \u00b7 input {self._channel + 1}" if self.channel_spin.maximum() > 1 and i != BIAS else ""
        value = self.grid.value_at(f, i, j)
        text = f"filter {f + 1}{channel} \u00b7 {where}: <b>{value:+.4f}</b>".replace("-", "\u2212")
        if self.grid.gradients is not None and i != BIAS:
            text += f" \u00b7 {push_words(float(self.grid.gradients[f, i, j]), short=True)}"
        self.readout.setText(text)

    def _sync_hint(self) -> None:
        spec = self._spec()
        if spec is None:
            self.hint.setText("")
            return
        step = f"{self.step:g}"
        self.hint.setText(f"Click +{step}, right click \u2212{step}, wheel \u00b1{self.step / 10:g} \u00b7 "
                          f"double click or type a number \u00b7 arrow keys move \u00b7 click a title to select, "
                          f"right click it to export")
