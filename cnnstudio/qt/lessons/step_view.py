"""The step-through of one layer: the current drawing replayed through a conv layer, one window at a time.

``ExplainView(playground)`` replays the current drawing through one conv layer
with the current kernels, one window position at a time (the model is a
:class:`~cnnstudio.lessons.step_through.StepThrough`): play/pause, step, speed and a
scrubber drive it; each step shows the patch, the kernel, their element-wise
products, the sum plus bias and the output pixel filling in.  Then the same for
the activation, pooling, flatten, the dense layer and softmax.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QSpinBox, QVBoxLayout, QWidget

from cnnstudio.lessons.step_records import SHOWN_DECIMALS
from cnnstudio.lessons.step_through import PHASES, SOFTMAX_NOTE, StepThrough
from cnnstudio.render.mosaic import DIVERGING_LUT, INK_LUT
from cnnstudio.qt.widgets.signals import listen
from cnnstudio.qt.widgets import theme

from .grid_view import (CURRENT, WINDOW, GridView, number_text, operator_label, rich_label, symmetric_levels,
                        tool_button, worth_refreshing)
from .step_end_phases import NetworkEndPhases

SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500)
NO_CONV_TEXT = ("<b>This network has no conv layer to step through</b>: it has only dense layers. Load a model "
                "with conv layers (File > Load model...), or bring the previous network back with Edit > Undo "
                "settings change.")


class ExplainView(NetworkEndPhases, QWidget):
    """Step through one conv layer (and the end of the network) on the playground's input and kernels.

    A network without conv layers shows a message instead (``model`` is None then).
    """

    def __init__(self, playground, parent=None):
        super().__init__(parent)
        self.playground = playground
        self.model: StepThrough | None = None  # None while the network has no conv layer
        self._stage: int | None = 0            # the conv layer of the step being shown
        self._rebuild_timer = QTimer(self, singleShot=True, interval=0)
        self._rebuild_timer.timeout.connect(self.rebuild)
        self._stale = False  # the playground changed while the view was hidden
        self._play_timer = QTimer(self)
        self._play_timer.timeout.connect(self._tick)
        self._build()
        self.set_speed(20)
        listen(self, playground.events.activations_changed, self._playground_changed)
        listen(self, playground.events.architecture_changed, self._playground_changed)
        self.rebuild()

    # -- construction
    def _build(self) -> None:
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.no_conv_label = rich_label(NO_CONV_TEXT, style=f"color: {theme.css(theme.text())}; padding: 12px;")
        self.no_conv_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_conv_label.hide()
        outer.addWidget(self.no_conv_label)
        self.steps_widget = QWidget()  # everything but the message: hidden while there is nothing to step through
        outer.addWidget(self.steps_widget, 1)
        layout = QVBoxLayout(self.steps_widget)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)

        controls = QHBoxLayout()
        self.stage_box = QComboBox()
        self.stage_box.setToolTip("The conv layer to step through")
        self.stage_box.currentIndexChanged.connect(lambda i: i >= 0 and self.model.rebuild(stage=i))
        self.filter_box = QSpinBox()
        self.filter_box.setPrefix("filter ")
        self.filter_box.valueChanged.connect(lambda v: self.model.rebuild(filter=v - 1))
        self.channel_box = QSpinBox()
        self.channel_box.setPrefix("input channel ")
        self.channel_box.setToolTip("A filter of a later layer reads every map of the layer before: pick which one "
                                    "to show (the sum runs over all of them)")
        self.channel_box.valueChanged.connect(lambda v: self.refresh())
        self.phase_box = QComboBox()
        for name in PHASES:
            self.phase_box.addItem(name, name)
        self.phase_box.setToolTip("Jump to the start of a phase")
        self.phase_box.activated.connect(lambda i: self.model.go_to_phase(PHASES[i]))
        self.start_button = tool_button("|◀ start", "Back to the first step", lambda: self.model.go_to(0))
        self.back_button = tool_button("◀ step", "One step back (Left)", self.model_step_back)
        self.play_button = tool_button("▶ play", "Play / pause (Space)", self.toggle_play)
        self.forward_button = tool_button("step ▶", "One step forward (Right)", self.model_step_forward)
        self.phase_end_button = tool_button("phase ▶|", "To the end of this phase", self.finish_phase)
        self.speed_box = QComboBox()
        for speed in SPEEDS:
            self.speed_box.addItem(f"{speed} steps/s", speed)
        self.speed_box.currentIndexChanged.connect(lambda i: self.set_speed(SPEEDS[i]))
        for widget in (self.stage_box, self.filter_box, self.channel_box, self.phase_box, self.start_button,
                       self.back_button, self.play_button, self.forward_button, self.phase_end_button,
                       self.speed_box):
            controls.addWidget(widget)
        controls.addStretch(1)
        layout.addLayout(controls)

        scrub = QHBoxLayout()
        self.scrubber = QSlider(Qt.Orientation.Horizontal)
        self.scrubber.setToolTip("Drag to any step")
        self.scrubber.valueChanged.connect(self.model_go_to)
        self.position_label = QLabel()
        self.position_label.setMinimumWidth(150)
        scrub.addWidget(self.scrubber, 1)
        scrub.addWidget(self.position_label)
        layout.addLayout(scrub)

        self.phase_label = rich_label(style=f"font-weight: bold; color: {theme.css(theme.text())};")
        self.warning_label = rich_label(style=f"color: {theme.css(theme.warning())}; "
                                                 f"background: {theme.css(theme.warning_background())}; padding: 3px;")
        layout.addWidget(self.phase_label)
        layout.addWidget(self.warning_label)

        scene = QHBoxLayout()
        self.source = GridView("input")
        self.patch = GridView("patch", numbers=True, max_cell=40)
        self.kernel = GridView("kernel", numbers=True, max_cell=40)
        self.products = GridView("products", numbers=True, max_cell=40, decimals=SHOWN_DECIMALS)
        self.result = rich_label(style="font-size: 14px; padding: 4px;")
        self.result.setMinimumWidth(170)
        self.result.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.target = GridView("feature map")
        self.ops = [operator_label("→"), operator_label("×"), operator_label("="), operator_label("→")]
        for widget, stretch in ((self.source, 4), (self.ops[0], 0), (self.patch, 2), (self.ops[1], 0),
                                (self.kernel, 2), (self.ops[2], 0), (self.products, 2), (self.result, 0),
                                (self.ops[3], 0), (self.target, 4)):
            scene.addWidget(widget, stretch)
        layout.addLayout(scene, 1)
        self.subtotals = GridView("", numbers=True, max_cell=48, decimals=SHOWN_DECIMALS)
        self.subtotals.setFixedHeight(62)   # cells of about 40 px: room for "-0.69"
        self.subtotals.clicked.connect(lambda row, col: self.channel_box.setValue(col + 1))
        self.subtotals.hide()
        layout.addWidget(self.subtotals)
        self.description = rich_label(style=f"color: {theme.css(theme.text())}; padding: 2px;")
        layout.addWidget(self.description)
        self.note_label = rich_label(style=f"color: {theme.css(theme.panel_text())}; "
                                           f"background: {theme.css(theme.track())}; "
                                           f"padding: 3px;")
        self.note_label.hide()
        layout.addWidget(self.note_label)

    def _sync_choices(self) -> None:
        specs = self.playground.network.conv_specs
        self.stage_box.blockSignals(True)
        self.stage_box.clear()
        for k, spec in enumerate(specs):
            self.stage_box.addItem(f"conv {k + 1} ({spec.kernel}x{spec.kernel}, stride {spec.stride}, "
                                   f"padding {spec.padding})")
        self.stage_box.setCurrentIndex(self.model.stage)
        self.stage_box.blockSignals(False)
        self.filter_box.blockSignals(True)
        self.filter_box.setRange(1, specs[self.model.stage].filters)
        self.filter_box.setValue(self.model.filter + 1)
        self.filter_box.blockSignals(False)
        self._sync_channels()
        self.scrubber.blockSignals(True)
        self.scrubber.setRange(0, self.model.count - 1)
        self.scrubber.blockSignals(False)

    def _sync_channels(self) -> None:
        """The channel box follows the input channels of the conv layer the current step is in."""
        step = self.model.step()
        channels = self.model.replay(step.stage).padded.shape[0] if step.stage is not None else 1
        if self.channel_box.maximum() != channels:
            self.channel_box.blockSignals(True)
            self.channel_box.setRange(1, channels)
            self.channel_box.blockSignals(False)
        self.channel_box.setVisible(channels > 1)

    # -- commands (the buttons and keys call these)
    def model_go_to(self, index: int) -> None:
        self.model.go_to(index)

    def model_step_forward(self) -> None:
        self.model.step_forward()

    def model_step_back(self) -> None:
        self.model.step_back()

    def finish_phase(self) -> None:
        span = self.model.span(self.model.phase)
        self.model.go_to(span.stop - 1 if self.model.position < span.stop - 1 else span.stop)

    def set_speed(self, steps_per_second: float) -> None:
        self.steps_per_second = steps_per_second
        # NOTE: a timer cannot tick faster than the screen paints: above 50 steps/s, several steps per tick
        self._steps_per_tick = max(1, round(steps_per_second / 50))
        self._play_timer.setInterval(int(1000 * self._steps_per_tick / steps_per_second))
        index = SPEEDS.index(steps_per_second) if steps_per_second in SPEEDS else -1
        if index >= 0 and self.speed_box.currentIndex() != index:
            self.speed_box.setCurrentIndex(index)

    @property
    def playing(self) -> bool:
        return self._play_timer.isActive()

    def toggle_play(self) -> None:
        if self.playing:
            self._play_timer.stop()
        else:
            if self.model.at_end:
                self.model.go_to(0)
            self._play_timer.start()
        self.play_button.setText("❚❚ pause" if self.playing else "▶ play")

    def _tick(self) -> None:
        for _ in range(self._steps_per_tick):
            if not self.model.step_forward():
                self.toggle_play()
                break

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if self.model is None:
            super().keyPressEvent(event)
        elif key == Qt.Key.Key_Space:
            self.toggle_play()
        elif key == Qt.Key.Key_Right:
            self.model.step_forward()
        elif key == Qt.Key.Key_Left:
            self.model.step_back()
        else:
            super().keyPressEvent(event)

    # -- the playground changed
    def _playground_changed(self, *args) -> None:
        if not worth_refreshing(self):
            self._stale = True
        elif not self._rebuild_timer.isActive():
            self._rebuild_timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._rebuild_timer.start()

    def rebuild(self) -> None:
        """Take the playground's current network, input and kernels (the position is kept).

        A network without conv layers has nothing to step through: the view says so instead.
        """
        self._rebuild_timer.stop()
        self._stale = False
        network, image = self.playground.network, self.playground.input
        if not network.conv_specs:
            if self.playing:
                self.toggle_play()
            self.model = None
            self.steps_widget.hide()
            self.no_conv_label.show()
            return
        self.no_conv_label.hide()
        self.steps_widget.show()
        if self.model is None:
            self.model = StepThrough(network, image)
            self.model.events.position_changed.connect(self.refresh)
            self.model.events.rebuilt.connect(self._model_rebuilt)
            self._model_rebuilt()
        else:
            self.model.rebuild(network=network, image=image)

    def _model_rebuilt(self) -> None:
        """New numbers, maybe of another stage or filter: its choices (e.g. how many input channels), then paint."""
        self._sync_choices()
        self.refresh()

    # -- painting the current step
    def refresh(self) -> None:
        model = self.model
        if model is None:
            return
        step = model.step()
        self.scrubber.blockSignals(True)
        self.scrubber.setValue(model.position)
        self.scrubber.blockSignals(False)
        self.position_label.setText(f"step {model.position + 1} of {model.count}")
        self.phase_box.setCurrentIndex(PHASES.index(step.phase))
        self._stage = step.stage
        self._sync_channels()
        layer = f" · conv {step.stage + 1}" if step.stage is not None else ""
        self.phase_label.setText(f"{model.phase_title(step.phase)} "
                                 f"<span style='font-weight: normal; color: {theme.css(theme.muted())}'>"
                                 f"(step {step.local + 1} of "
                                 f"{model.span(step.phase, step.stage).count}){layer}</span>")
        warnings = model.replay(step.stage).slide_warnings if step.phase == "conv" else []
        self.warning_label.setText("<br>".join(warnings))
        self.warning_label.setVisible(bool(warnings))
        self.note_label.setText(SOFTMAX_NOTE if step.phase == "softmax" else "")
        self.note_label.setVisible(step.phase == "softmax")
        self.subtotals.setVisible(step.phase == "conv" and self.channel_box.maximum() > 1)
        getattr(self, f"_show_{step.phase}")(step.detail)
        self.description.setText(model.describe())

    def _middle(self, titles: tuple[str, str, str], operators=("→", "×", "=", "→")) -> None:
        for view, title in zip((self.patch, self.kernel, self.products), titles):
            view.title = title
            view.setVisible(bool(title))
        for label, text in zip(self.ops, operators):
            label.setText(text)
            label.setVisible(bool(text))

    def _show_conv(self, d) -> None:
        model = self.model
        r = model.replay(self._stage)
        c = self.channel_box.value() - 1
        padded = r.padded[c]
        is_image = r.stage == 0
        lut, levels = (INK_LUT, (0.0, max(1.0, float(padded.max())))) if is_image else \
            (DIVERGING_LUT, symmetric_levels(padded))
        K = r.spec.kernel
        self.source.title = (f"padded input ({padded.shape[0]}x{padded.shape[1]}, zeros shaded)" if is_image else
                             f"padded map {c + 1} of pool {r.stage}")
        self.source.set_data(padded, lut, levels)
        inner = (r.rows.pad_before, r.cols.pad_before,
                 r.rows.pad_before + r.rows.size - 1, r.cols.pad_before + r.cols.size - 1)
        self.source.set_overlays(rects=[(*inner, "#8892a0", 1), (d.top, d.left, d.top + K - 1, d.left + K - 1,
                                                                 WINDOW, 3)],
                                 crosses=r.uncovered, tint=r.is_padding)
        self.source.set_caption(f"stride {r.spec.stride}: the window jumps {r.spec.stride} pixel(s)")
        channels = d.patch.shape[0]
        of_channel = f" ch {c + 1}" if channels > 1 else ""
        self._middle((f"patch{of_channel}", f"filter {r.filter + 1}{of_channel}", f"products{of_channel}"))
        self.patch.set_data(d.patch[c], lut, levels)
        self.patch.set_overlays()
        self.kernel.set_data(d.kernel[c], DIVERGING_LUT, symmetric_levels(d.kernel))
        self.products.set_data(d.shown_products[c], DIVERGING_LUT, symmetric_levels(d.products))
        if channels > 1:
            self.subtotals.set_data(d.shown_subtotals, DIVERGING_LUT, symmetric_levels(d.shown_subtotals))
            self.subtotals.set_overlays(rects=[(0, c, 0, c, CURRENT, 2)])
            self.subtotals.title = f"sum of each channel's shown products, channels 1..{channels} (click one)"
            subtotal = f"channel {c + 1}: {d.shown_subtotals[c]:.{SHOWN_DECIMALS}f}<br>all {channels}: "
        else:
            subtotal = "sum "
        self.result.setText(f"{subtotal}<b>{d.shown_total:.{SHOWN_DECIMALS}f}</b><br>"
                            f"<span style='color:{theme.css(theme.muted())}'>(rounded; exact {d.total:.4f})</span>"
                            f"<br>+ bias {d.bias:.4f}<br>= <b>{d.value:.4f}</b>")
        self.result.setToolTip(f"Each product is rounded to {SHOWN_DECIMALS} decimals; the sum of the shown "
                               f"products is exactly their total. The exact sum {d.total:.4f} uses unrounded values.")
        filled = model.conv_filled(stage=self._stage)
        self.target.title = f"feature map of conv {r.stage + 1} ({r.conv.shape[0]}x{r.conv.shape[1]})"
        self.target.set_data(filled, DIVERGING_LUT, symmetric_levels(r.conv))
        self.target.set_overlays(rects=[(d.row, d.col, d.row, d.col, CURRENT, 2)])
        self.target.set_caption(f"{np.isfinite(filled).sum()} of {r.conv.size} pixels")

    def _show_activation(self, d) -> None:
        model = self.model
        r = model.replay(self._stage)
        levels = symmetric_levels(r.conv)
        self.source.title = "feature map"
        self.source.set_data(r.conv, DIVERGING_LUT, levels)
        self.source.set_overlays(rects=[(d.row, d.col, d.row, d.col, CURRENT, 2)])
        self.source.set_caption("")
        self._middle(("", "", ""), ("→", "", "", "→"))
        name = "ReLU" if r.spec.activation == "relu" else r.spec.activation
        colour = theme.css(theme.accent()) if d.zeroed else theme.css(theme.text())
        self.result.setText(f"{number_text(d.before)}<br>{name}<br><b style='color:{colour}'>{number_text(d.after)}</b>"
                            + (f"<br><span style='color:{colour}'>negative: zeroed</span>" if d.zeroed else ""))
        filled = model.activation_filled(stage=self._stage)
        done = np.isfinite(filled)
        zeroed = done & (r.conv < 0) & (r.activation == 0)
        self.target.title = f"after {name}"
        self.target.set_data(filled, DIVERGING_LUT, levels)
        self.target.set_overlays(rects=[(d.row, d.col, d.row, d.col, CURRENT, 2)],
                                 fills=[(r, c, r, c, QColor(26, 115, 232, 90)) for r, c in zip(*np.nonzero(zeroed))])
        self.target.set_caption(f"{int(zeroed.sum())} negative pixels zeroed so far (blue)")

    def _show_pool(self, d) -> None:
        model = self.model
        r = model.replay(self._stage)
        size = r.spec.pool_size
        levels = symmetric_levels(r.activation)
        self.source.title = "activated map"
        self.source.set_data(r.activation, DIVERGING_LUT, levels)
        rects = [(d.top, d.left, d.top + size - 1, d.left + size - 1, WINDOW, 3)]
        if d.winner is not None:
            rects.append((d.winner[0], d.winner[1], d.winner[0], d.winner[1], CURRENT, 2))
        self.source.set_overlays(rects=rects)
        self.source.set_caption("")
        self._middle(("pool window", "", ""), ("→", "", "", "→"))
        self.patch.set_data(d.window, DIVERGING_LUT, levels)
        self.patch.set_overlays(rects=[] if d.winner is None else
                                [(d.winner[0] - d.top, d.winner[1] - d.left, d.winner[0] - d.top,
                                  d.winner[1] - d.left, CURRENT, 3)])
        how = "max" if d.winner is not None else "mean"
        self.result.setText(f"{how}<br>= <b>{number_text(d.value)}</b>")
        self.target.title = f"pooled ({r.pooled.shape[0]}x{r.pooled.shape[1]})"
        self.target.set_data(model.pooled_filled(stage=self._stage), DIVERGING_LUT, levels)
        self.target.set_overlays(rects=[(d.row, d.col, d.row, d.col, CURRENT, 2)])
        self.target.set_caption("each window keeps its max value" if how == "max" else "each window keeps its mean")

    # -- pixel access for tests
    def shown_feature_map(self) -> np.ndarray:
        """The values the feature-map panel shows now (NaN = not filled yet)."""
        return self.target.values.copy()
