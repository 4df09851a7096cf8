"""Explain mode: the step-through of one layer, receptive fields layer by layer, and the occlusion map.

``ExplainView(playground)`` replays the current drawing through one conv layer
with the current kernels, one window position at a time (the model is a
:class:`~cnnstudio.lessons.step_through.StepThrough`): play/pause, step, speed and a
scrubber drive it; each step shows the patch, the kernel, their element-wise
products, the sum plus bias and the output pixel filling in.  Then the same for
the activation, pooling, flatten, the dense layer and softmax.

``ReceptiveFieldView(playground)`` and ``OcclusionView(playground)`` answer
"what does a unit look at?".  All three paint their grids with ``GridView``, a
small widget that draws a matrix as coloured cells with the numbers in them
when they fit (the X-or-O view uses it too).
"""
from __future__ import annotations

import math
import time

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QSizePolicy, QSlider, QSpinBox,
                               QToolButton, QVBoxLayout, QWidget)

from cnnstudio.lessons.step_through import PHASES, StepThrough
from cnnstudio.render.mosaic import DIVERGING_LUT, GRAY_LUT, SEQUENTIAL_LUT
from cnnstudio.lessons.occlusion import BACKGROUND, GREY, field_growth, map_choices, occlusion_map, patch_positions
from cnnstudio.core.receptive_field import MapTarget, receptive_field

EMPTY = QColor("#eceef1")        # a cell not computed yet
PADDING_TINT = QColor(120, 130, 150, 70)
WINDOW = QColor("#0a9b48")       # the sliding window, the receptive field
CURRENT = QColor("#111111")      # the output cell being filled
UNREACHED = QColor("#d93025")    # cells the window never reaches
ZEROED = QColor("#1a73e8")       # negatives that ReLU zeroed
AMBER = "#8a5a00"
FIELD_COLOURS = ("#0a9b48", "#1a73e8", "#e37400", "#a142f4", "#d93025", "#00897b")
SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500)
NO_CONV_TEXT = ("<b>This network has no conv layer to step through</b>: it has only dense layers. Load a model "
                "with conv layers (File > Load model...), or bring the previous network back with Edit > Undo "
                "settings change.")
NO_CONV_FIELD_TEXT = ("<b>This network has no conv layer</b>, so no unit has a receptive field to show: every "
                      "dense unit sees the whole image. Load a model with conv layers to explore them.")


def _number(value: float) -> str:
    if not math.isfinite(value):
        return ""
    if value == round(value) and abs(value) < 1000:
        return str(int(round(value)))
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _worth_refreshing(view: QWidget) -> bool:
    """Whether ``view`` should redo its work for a playground change now.

    NOTE: a view inside a window but hidden (the Explain dock closed, or
    another tab in front) would otherwise recompute after every click and
    stroke, for no one; it catches up in its ``showEvent``.  A view that is a
    window of its own stays live.
    """
    return view.isVisible() or view.isWindow()


def symmetric_levels(*arrays) -> tuple[float, float]:
    """(-top, top) with ``top`` the largest finite magnitude (infinite values are drawn at the ends)."""
    tops = [float(np.abs(a[np.isfinite(a)]).max()) for a in map(np.asarray, arrays) if np.isfinite(a).any()]
    top = max(tops + [1e-3])
    return -top, top


def lut_indices(values: np.ndarray, levels: tuple[float, float], size: int) -> np.ndarray:
    """Rows of a ``size``-row colour table for ``values``: ``levels`` span the table, values beyond them (even
    infinite ones, from an overflowing map) take its end colours; NaN values, and anything the arithmetic
    cannot place (infinite levels), take row 0, to be painted over.
    """
    # NOTE: huge levels are brought into float64's range so that hi - lo cannot overflow to inf
    lo, hi = np.clip(np.nan_to_num(np.asarray(levels, dtype=np.float64)), -1e300, 1e300)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = (np.asarray(values, dtype=np.float64) - lo) / max(hi - lo, 1e-12) * (size - 1)
    return np.clip(np.nan_to_num(scaled, nan=0.0), 0, size - 1).astype(np.int64)


class GridView(QWidget):
    """A matrix painted as coloured cells, numbers inside when they fit, with overlays.

    ``set_data(values, lut, levels)``: NaN cells are painted as not-yet-computed, infinite ones in the end
    colours of ``lut``.
    Overlays (all in cell coordinates): ``rects`` ``(row0, col0, row1, col1, colour, width)``
    inclusive; ``fills`` ``(row0, col0, row1, col1, QColor)``; ``crosses`` a bool mask;
    ``tint`` a bool mask painted over (the padding border).  ``clicked(row, col)`` on a press.
    """

    clicked = Signal(int, int)

    def __init__(self, title: str = "", numbers: bool | None = None, max_cell: int = 44, min_cell: int = 3,
                 parent=None):
        super().__init__(parent)
        self.title = title
        self.numbers = numbers          # None: when the cells are big enough
        self.max_cell, self.min_cell = max_cell, min_cell
        self.values = np.zeros((1, 1))
        self.lut, self.levels = GRAY_LUT, (0.0, 1.0)
        self.rects, self.fills, self.crosses, self.tint = [], [], None, None
        self.caption = ""
        self._image = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(40, 40)

    def set_data(self, values, lut=None, levels=None) -> None:
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[None]
        self.values = values
        if lut is not None:
            self.lut = lut
        if levels is not None:
            self.levels = (float(levels[0]), float(levels[1]))
        rgba = np.ascontiguousarray(self.lut[lut_indices(values, self.levels, len(self.lut))])
        rgba[np.isnan(values)] = EMPTY.getRgb()
        self._rgba = rgba  # QImage does not copy: keep the buffer alive
        self._image = QImage(rgba.data, rgba.shape[1], rgba.shape[0], rgba.shape[1] * 4,
                             QImage.Format.Format_RGBA8888)
        self.update()

    def set_overlays(self, rects=(), fills=(), crosses=None, tint=None) -> None:
        self.rects, self.fills, self.crosses, self.tint = list(rects), list(fills), crosses, tint
        self.update()

    def set_caption(self, text: str) -> None:
        self.caption = text
        self.update()

    # -- geometry
    def _header(self) -> int:
        return (16 if self.title else 0)

    def _footer(self) -> int:
        return 16 if self.caption else 0

    def cell_size(self) -> float:
        H, W = self.values.shape
        avail_w = self.width() - 4
        avail_h = self.height() - 4 - self._header() - self._footer()
        return max(min(avail_w / W, avail_h / H, self.max_cell), 0.5)

    def _origin(self) -> tuple[float, float]:
        H, W = self.values.shape
        c = self.cell_size()
        x = (self.width() - W * c) / 2
        y = self._header() + 2 + (self.height() - self._header() - self._footer() - 4 - H * c) / 2
        return x, y

    def cell_rect(self, row: float, col: float, rows: float = 1, cols: float = 1) -> QRectF:
        x, y = self._origin()
        c = self.cell_size()
        return QRectF(x + col * c, y + row * c, cols * c, rows * c)

    def sizeHint(self) -> QSize:
        H, W = self.values.shape
        c = min(self.max_cell, max(self.min_cell, 360 / max(H, W)))
        return QSize(int(W * c) + 8, int(H * c) + 8 + self._header() + self._footer())

    def mousePressEvent(self, event) -> None:
        x, y = self._origin()
        c = self.cell_size()
        col = int((event.position().x() - x) // c)
        row = int((event.position().y() - y) // c)
        if 0 <= row < self.values.shape[0] and 0 <= col < self.values.shape[1]:
            self.clicked.emit(row, col)

    # -- painting
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        H, W = self.values.shape
        c = self.cell_size()
        if self.title:
            painter.setPen(QColor("#2b2f36"))
            font = painter.font()
            font.setBold(True)
            painter.setFont(font)
            painter.drawText(QRectF(0, 0, self.width(), 16), Qt.AlignmentFlag.AlignCenter, self.title)
            font.setBold(False)
            painter.setFont(font)
        if self.caption:
            painter.setPen(QColor("#555"))
            painter.drawText(QRectF(0, self.height() - 16, self.width(), 16), Qt.AlignmentFlag.AlignCenter,
                             self.caption)
        if self._image is None:
            return
        whole = self.cell_rect(0, 0, H, W)
        painter.drawImage(whole, self._image)
        if self.tint is not None:
            for r, cc in zip(*np.nonzero(self.tint)):
                painter.fillRect(self.cell_rect(r, cc), PADDING_TINT)
        for r0, c0, r1, c1, colour in self.fills:
            painter.fillRect(self.cell_rect(r0, c0, r1 - r0 + 1, c1 - c0 + 1), colour)
        if c >= 6:
            painter.setPen(QPen(QColor(0, 0, 0, 40), 1))
            for r in range(H + 1):
                painter.drawLine(whole.left(), whole.top() + r * c, whole.right(), whole.top() + r * c)
            for k in range(W + 1):
                painter.drawLine(whole.left() + k * c, whole.top(), whole.left() + k * c, whole.bottom())
        show_numbers = self.numbers if self.numbers is not None else c >= 24
        if show_numbers and c >= 12:
            font = QFont(painter.font())
            font.setPointSizeF(max(min(c * 0.28, 11), 5.5))
            painter.setFont(font)
            lo, hi = self.levels
            for r in range(H):
                for k in range(W):
                    v = self.values[r, k]
                    if not math.isfinite(v):
                        continue
                    rgba = self._rgba[r, k]
                    dark = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2] < 128
                    painter.setPen(QColor("white") if dark else QColor("#111"))
                    painter.drawText(self.cell_rect(r, k), Qt.AlignmentFlag.AlignCenter, _number(v))
        if self.crosses is not None:
            painter.setPen(QPen(UNREACHED, max(1.0, c / 10)))
            for r, k in zip(*np.nonzero(self.crosses)):
                cell = self.cell_rect(r, k).adjusted(c * 0.2, c * 0.2, -c * 0.2, -c * 0.2)
                painter.drawLine(cell.topLeft(), cell.bottomRight())
                painter.drawLine(cell.topRight(), cell.bottomLeft())
        for r0, c0, r1, c1, colour, width in self.rects:
            painter.setPen(QPen(QColor(colour), width))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self.cell_rect(r0, c0, r1 - r0 + 1, c1 - c0 + 1))
        painter.end()


def _label(text: str = "", style: str = "", wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setTextFormat(Qt.TextFormat.RichText)
    if style:
        label.setStyleSheet(style)
    return label


def _operator(text: str) -> QLabel:
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setStyleSheet("font-size: 20px; color: #555; padding: 0 2px;")
    label.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
    return label


def _tool(text: str, tip: str, slot) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.clicked.connect(lambda checked=False: slot())
    return button


def _wrap(vector: np.ndarray, width: int) -> np.ndarray:
    """A long vector as rows of ``width`` (NaN after the end), to draw it as a strip."""
    rows = -(-vector.size // width)
    out = np.full(rows * width, np.nan)
    out[:vector.size] = vector
    return out.reshape(rows, width)


# ---------------------------------------------------------------- the step-through

class ExplainView(QWidget):
    """Step through one conv layer (and the end of the network) on the playground's input and kernels.

    A network without conv layers shows a message instead (``model`` is None then).
    """

    def __init__(self, playground, parent=None):
        super().__init__(parent)
        self.playground = playground
        self.model: StepThrough | None = None  # None while the network has no conv layer
        self._rebuild_timer = QTimer(self, singleShot=True, interval=0)
        self._rebuild_timer.timeout.connect(self.rebuild)
        self._stale = False  # the playground changed while the view was hidden
        self._play_timer = QTimer(self)
        self._play_timer.timeout.connect(self._tick)
        self._build()
        self.set_speed(20)
        playground.events.activations_changed.connect(self._playground_changed)
        playground.events.architecture_changed.connect(self._playground_changed)
        self.rebuild()

    # -- construction
    def _build(self) -> None:
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.no_conv_label = _label(NO_CONV_TEXT, style="color: #2b2f36; padding: 12px;")
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
        self.start_button = _tool("|◀ start", "Back to the first step", lambda: self.model.go_to(0))
        self.back_button = _tool("◀ step", "One step back (Left)", self.model_step_back)
        self.play_button = _tool("▶ play", "Play / pause (Space)", self.toggle_play)
        self.forward_button = _tool("step ▶", "One step forward (Right)", self.model_step_forward)
        self.phase_end_button = _tool("phase ▶|", "To the end of this phase", self.finish_phase)
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

        self.phase_label = _label(style="font-weight: bold; color: #2b2f36;")
        self.warning_label = _label(style=f"color: {AMBER}; background: #fff4dc; padding: 3px;")
        layout.addWidget(self.phase_label)
        layout.addWidget(self.warning_label)

        scene = QHBoxLayout()
        self.source = GridView("input")
        self.patch = GridView("patch", numbers=True, max_cell=40)
        self.kernel = GridView("kernel", numbers=True, max_cell=40)
        self.products = GridView("products", numbers=True, max_cell=40)
        self.result = _label(style="font-size: 14px; padding: 4px;")
        self.result.setMinimumWidth(130)
        self.result.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.target = GridView("feature map")
        self.ops = [_operator("→"), _operator("×"), _operator("="), _operator("→")]
        for widget, stretch in ((self.source, 4), (self.ops[0], 0), (self.patch, 2), (self.ops[1], 0),
                                (self.kernel, 2), (self.ops[2], 0), (self.products, 2), (self.result, 0),
                                (self.ops[3], 0), (self.target, 4)):
            scene.addWidget(widget, stretch)
        layout.addLayout(scene, 1)
        self.description = _label(style="color: #2b2f36; padding: 2px;")
        layout.addWidget(self.description)

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
        channels = self.model.padded.shape[0]
        self.channel_box.setRange(1, channels)
        self.channel_box.setVisible(channels > 1)
        self.scrubber.blockSignals(True)
        self.scrubber.setRange(0, self.model.count - 1)
        self.scrubber.blockSignals(False)

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
        if not _worth_refreshing(self):
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
        self.phase_label.setText(f"{model.phase_title(step.phase)} "
                                 f"<span style='font-weight: normal; color: #777'>(step {step.local + 1} of "
                                 f"{model.span(step.phase).count})</span>")
        warnings = model.slide_warnings if step.phase == "conv" else []
        self.warning_label.setText("<br>".join(warnings))
        self.warning_label.setVisible(bool(warnings))
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
        c = self.channel_box.value() - 1
        padded = model.padded[c]
        is_image = model.stage == 0
        lut, levels = (GRAY_LUT, (0.0, max(1.0, float(padded.max())))) if is_image else \
            (DIVERGING_LUT, symmetric_levels(padded))
        K = model.spec.kernel
        self.source.title = (f"padded input ({padded.shape[0]}x{padded.shape[1]}, zeros shaded)" if is_image else
                             f"padded map {c + 1} of pool {model.stage}")
        self.source.set_data(padded, lut, levels)
        inner = (model.rows.pad_before, model.cols.pad_before,
                 model.rows.pad_before + model.rows.size - 1, model.cols.pad_before + model.cols.size - 1)
        self.source.set_overlays(rects=[(*inner, "#8892a0", 1), (d.top, d.left, d.top + K - 1, d.left + K - 1,
                                                                 WINDOW, 3)],
                                 crosses=model.uncovered, tint=model.is_padding)
        self.source.set_caption(f"stride {model.spec.stride}: the window jumps {model.spec.stride} pixel(s)")
        self._middle(("patch", f"kernel (filter {model.filter + 1})", "products"))
        self.patch.set_data(d.patch[c], lut, levels)
        self.patch.set_overlays()
        self.kernel.set_data(d.kernel[c], DIVERGING_LUT, symmetric_levels(d.kernel))
        self.products.set_data(d.products[c], DIVERGING_LUT, symmetric_levels(d.products))
        over = f"<br><span style='color:#777'>(all {d.patch.shape[0]} channels)</span>" if d.patch.shape[0] > 1 else ""
        self.result.setText(f"sum {_number(d.total)}{over}<br>+ bias {_number(d.bias)}<br>= <b>{_number(d.value)}</b>")
        self.target.title = f"feature map ({model.conv.shape[0]}x{model.conv.shape[1]})"
        self.target.set_data(model.conv_filled(), DIVERGING_LUT, symmetric_levels(model.conv))
        self.target.set_overlays(rects=[(d.row, d.col, d.row, d.col, CURRENT, 2)])
        self.target.set_caption(f"{np.isfinite(model.conv_filled()).sum()} of {model.conv.size} pixels")

    def _show_activation(self, d) -> None:
        model = self.model
        levels = symmetric_levels(model.conv)
        self.source.title = "feature map"
        self.source.set_data(model.conv, DIVERGING_LUT, levels)
        self.source.set_overlays(rects=[(d.row, d.col, d.row, d.col, CURRENT, 2)])
        self.source.set_caption("")
        self._middle(("", "", ""), ("→", "", "", "→"))
        name = "ReLU" if model.spec.activation == "relu" else model.spec.activation
        colour = ZEROED.name() if d.zeroed else "#2b2f36"
        self.result.setText(f"{_number(d.before)}<br>{name}<br><b style='color:{colour}'>{_number(d.after)}</b>"
                            + ("<br><span style='color:#1a73e8'>negative: zeroed</span>" if d.zeroed else ""))
        filled = model.activation_filled()
        done = np.isfinite(filled)
        zeroed = done & (model.conv < 0) & (model.activation == 0)
        self.target.title = f"after {name}"
        self.target.set_data(filled, DIVERGING_LUT, levels)
        self.target.set_overlays(rects=[(d.row, d.col, d.row, d.col, CURRENT, 2)],
                                 fills=[(r, c, r, c, QColor(26, 115, 232, 90)) for r, c in zip(*np.nonzero(zeroed))])
        self.target.set_caption(f"{int(zeroed.sum())} negative pixels zeroed so far (blue)")

    def _show_pool(self, d) -> None:
        model = self.model
        size = model.spec.pool_size
        levels = symmetric_levels(model.activation)
        self.source.title = "activated map"
        self.source.set_data(model.activation, DIVERGING_LUT, levels)
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
        self.result.setText(f"{how}<br>= <b>{_number(d.value)}</b>")
        self.target.title = f"pooled ({model.pooled.shape[0]}x{model.pooled.shape[1]})"
        self.target.set_data(model.pooled_filled(), DIVERGING_LUT, levels)
        self.target.set_overlays(rects=[(d.row, d.col, d.row, d.col, CURRENT, 2)])
        self.target.set_caption("each window keeps its max value" if how == "max" else "each window keeps its mean")

    def _pooled_tiles(self) -> tuple[np.ndarray, int]:
        """The last stage's pooled maps tiled in a grid, a line of NaN between them; and the number of columns."""
        maps = self.model.last_pooled
        F, Hq, Wq = maps.shape
        columns = int(math.ceil(math.sqrt(F)))
        rows = -(-F // columns)
        out = np.full((rows * (Hq + 1) - 1, columns * (Wq + 1) - 1), np.nan)
        for f in range(F):
            r, c = divmod(f, columns)
            out[r * (Hq + 1):r * (Hq + 1) + Hq, c * (Wq + 1):c * (Wq + 1) + Wq] = maps[f]
        return out, columns

    def _show_flatten(self, d) -> None:
        model = self.model
        F, Hq, Wq = model.last_pooled.shape
        levels = symmetric_levels(model.last_pooled)
        self.source.title = f"the {F} pooled maps of conv {len(model.network.conv_specs)}"
        tiles, columns = self._pooled_tiles()
        self.source.set_data(tiles, DIVERGING_LUT, levels)
        r, c = divmod(d.filter, columns)
        row, col = r * (Hq + 1) + d.row, c * (Wq + 1)
        self.source.set_overlays(rects=[(row, col, row, col + Wq - 1, WINDOW, 2)])
        self.source.set_caption("")
        self._middle(("", "", ""), ("→", "", "", "→"))
        self.result.setText(f"map {d.filter + 1}, row {d.row}<br>→ entries<br>{d.start}..{d.start + Wq - 1}")
        width = Hq * Wq
        self.target.title = f"one vector of {model.flat.size} numbers (a line per map)"
        self.target.set_data(_wrap(model.flat_filled(), width), DIVERGING_LUT, levels)
        r, c = divmod(d.start, width)
        self.target.set_overlays(rects=[(r, c, r, c + Wq - 1, WINDOW, 2)])
        self.target.set_caption("colours kept: the same numbers, in one line")

    def _show_dense(self, d) -> None:
        model = self.model
        F, Hq, Wq = model.last_pooled.shape
        # the first dense layer reads the flattened maps: wrap them as flatten drew them, a line per map
        width = Hq * Wq if d.layer == 0 else int(math.ceil(math.sqrt(d.inputs.size * 2)))
        self.source.title = f"input vector ({d.inputs.size})"
        self.source.set_data(_wrap(d.inputs, width), DIVERGING_LUT, symmetric_levels(d.inputs))
        self.source.set_overlays()
        self.source.set_caption("")
        self._middle(("", f"weights of {'class' if d.layer == len(model.dense_values) - 1 else 'unit'} {d.unit}",
                      "products"), ("→", "×", "=", "→"))
        self.kernel.set_data(_wrap(d.weights, width), DIVERGING_LUT, symmetric_levels(d.weights))
        self.products.set_data(_wrap(d.products, width), DIVERGING_LUT, symmetric_levels(d.products))
        self.result.setText(f"sum {_number(d.value - d.bias)}<br>+ bias {_number(d.bias)}<br>= <b>{_number(d.value)}</b>")
        outputs = model.dense_filled(d.layer)
        last = d.layer == len(model.dense_values) - 1
        self.target.title = "logits (one per class)" if last else f"dense layer {d.layer + 1}"
        self.target.set_data(outputs, DIVERGING_LUT, symmetric_levels(model.dense_outputs[d.layer]))
        self.target.set_overlays(rects=[(0, d.unit, 0, d.unit, CURRENT, 2)])
        self.target.set_caption("classes 0 .. 9, left to right" if last and outputs.size == 10 else "")

    def _show_softmax(self, d) -> None:
        model = self.model
        self.source.title = "logits"
        self.source.set_data(d.logits, DIVERGING_LUT, symmetric_levels(d.logits))
        self.source.set_overlays(rects=[(0, d.cls, 0, d.cls, CURRENT, 2)])
        self.source.set_caption("")
        self._middle(("", "exp(logit - max)", ""), ("→", "", "", "→"))
        self.kernel.set_data(d.exps, SEQUENTIAL_LUT, (0, 1))
        self.kernel.set_overlays(rects=[(0, d.cls, 0, d.cls, CURRENT, 2)])
        self.result.setText(f"{_number(d.exps[d.cls])}<br>÷ {_number(d.total)}<br>= <b>{d.probability:.3f}</b>")
        self.target.title = "probabilities"
        self.target.set_data(model.probabilities_filled(), SEQUENTIAL_LUT, (0, 1))
        self.target.set_overlays(rects=[(0, d.cls, 0, d.cls, CURRENT, 2)])
        best = int(np.argmax(model.probabilities))
        self.target.set_caption(f"the network says {best} ({model.probabilities[best]:.0%})")

    # -- pixel access for tests
    def shown_feature_map(self) -> np.ndarray:
        """The values the feature-map panel shows now (NaN = not filled yet)."""
        return self.target.values.copy()


# ---------------------------------------------------------------- receptive fields

class ReceptiveFieldView(QWidget):
    """Pick a unit of any map; see the region it sees on every map before it, down to the input."""

    def __init__(self, playground, parent=None):
        super().__init__(parent)
        self.playground = playground
        self.choice = (0, "conv", 14, 14)  # (stage, kind, row, col)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        row = QHBoxLayout()
        self.map_box = QComboBox()
        self.map_box.setToolTip("The map of the unit")
        self.map_box.activated.connect(self._map_chosen)
        row.addWidget(QLabel("unit of"))
        row.addWidget(self.map_box)
        self.summary = _label()
        row.addWidget(self.summary, 1)
        layout.addLayout(row)
        layout.addWidget(_label("<span style='color:#555'>Click a cell of any map to pick that unit. Each layer "
                                "sees a larger region of the input: the coloured squares on the input show "
                                "one unit's receptive field at each layer.</span>"))
        self.maps_row = QHBoxLayout()
        layout.addLayout(self.maps_row, 1)
        self.views: list[GridView] = []
        self._timer = QTimer(self, singleShot=True, interval=30)
        self._timer.timeout.connect(self.refresh)
        self._stale = False  # the playground changed while the view was hidden
        playground.events.activations_changed.connect(self._playground_changed)
        playground.events.architecture_changed.connect(self._playground_changed)
        self.refresh()

    def _playground_changed(self, *args) -> None:
        if _worth_refreshing(self):
            self._timer.start()
        else:
            self._stale = True

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._timer.start()

    def _map_chosen(self, index: int) -> None:
        label, stage, kind, (h, w) = self._choices[index]
        self.choice = (stage, kind, h // 2, w // 2)
        self.refresh()

    def select(self, stage: int, kind: str, row: int, col: int) -> None:
        self.choice = (stage, kind, row, col)
        self.refresh()

    def growth(self):
        stage, kind, row, col = self.choice
        return field_growth(self.playground.network, stage, kind, row, col,
                            input_shape=self.playground.input.shape)

    def refresh(self) -> None:
        self._stale = False
        network, trace = self.playground.network, self.playground.trace
        if not network.conv_specs:
            self._choices = []
            self.map_box.clear()
            self.map_box.setEnabled(False)
            for view in self.views:
                view.hide()
            self.summary.setText(NO_CONV_FIELD_TEXT)
            return
        self.map_box.setEnabled(True)
        self._choices = map_choices(network, self.playground.input.shape)
        stage, kind, row, col = self.choice
        names = [(s, k) for _, s, k, _ in self._choices]
        if (stage, kind) not in names:
            stage, kind = names[0]
        h, w = self._choices[names.index((stage, kind))][3]
        self.choice = (stage, kind, min(row, h - 1), min(col, w - 1))
        self.map_box.blockSignals(True)
        self.map_box.clear()
        self.map_box.addItems([c[0] for c in self._choices])
        self.map_box.setCurrentIndex(names.index((stage, kind)))
        self.map_box.blockSignals(False)
        steps = self.growth()
        while len(self.views) < len(steps):
            view = GridView()
            view.clicked.connect(lambda r, c, k=len(self.views): self._clicked(k, r, c))
            self.views.append(view)
            self.maps_row.addWidget(view, 1)
        for view in self.views[len(steps):]:
            view.hide()
        sizes = []
        for k, (view, step) in enumerate(zip(self.views, steps)):
            view.show()
            view.title = f"{step.label} ({step.map_shape[0]}x{step.map_shape[1]})"
            view.step = step
            if step.stage < 0:
                view.set_data(self.playground.input[0], GRAY_LUT, (0, 1))
            else:
                maps = trace.stages[step.stage]
                data = (maps.pooled if step.kind == "pooled" else maps.conv)[0]
                view.set_data(data, DIVERGING_LUT, symmetric_levels(data))
            r = step.rect
            view.set_overlays(rects=[(r.row0, r.col0, r.row1, r.col1, FIELD_COLOURS[0], 2)])
            view.set_caption(f"{r.height}x{r.width} cells")
        # on the input: one unit's field at each layer of the chain, nested
        rects = []
        for k, step in enumerate(steps[1:]):
            centre = ((step.rect.row0 + step.rect.row1) // 2, (step.rect.col0 + step.rect.col1) // 2)
            field = receptive_field(network, MapTarget(step.stage, "pooled" if step.kind == "pooled" else "conv", 0,
                                                       *centre), input_shape=self.playground.input.shape)
            colour = FIELD_COLOURS[(k + 1) % len(FIELD_COLOURS)]
            rect = field.input_rect
            rects.append((rect.row0, rect.col0, rect.row1, rect.col1, colour, 2))
            sizes.append(f"<span style='color:{colour}'>{step.label}: {field.input_unclipped.height}x"
                         f"{field.input_unclipped.width}</span>")
        self.views[0].set_overlays(rects=rects[::-1])
        self.views[0].set_caption("")
        target = steps[-1]
        self.summary.setText(f"unit ({self.choice[2]}, {self.choice[3]}) of {target.label} sees "
                             f"{steps[0].rect.height}x{steps[0].rect.width} input pixels. One unit's field: "
                             + ", ".join(sizes))

    def _clicked(self, k: int, row: int, col: int) -> None:
        step = self.views[k].step
        if step.stage < 0:
            return
        self.select(step.stage, step.kind, row, col)


# ---------------------------------------------------------------- occlusion

class OcclusionView(QWidget):
    """Slide a patch over the drawing and show how the probability of the predicted class drops."""

    def __init__(self, playground, parent=None):
        super().__init__(parent)
        self.playground = playground
        self.result = None
        self.seconds = 0.0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        row = QHBoxLayout()
        self.patch_box = QSpinBox(minimum=2, maximum=14, value=8, prefix="patch ", suffix=" px")
        self.stride_box = QSpinBox(minimum=1, maximum=6, value=2, prefix="stride ", suffix=" px")
        self.fill_box = QComboBox()
        self.fill_box.addItem("patch: background (hides strokes)", BACKGROUND)
        self.fill_box.addItem("patch: grey 0.5", GREY)
        for widget in (self.patch_box, self.stride_box, self.fill_box):
            widget.setToolTip("The square slid over the drawing")
            row.addWidget(widget)
            (widget.valueChanged if isinstance(widget, QSpinBox) else widget.currentIndexChanged).connect(
                lambda *a: self._timer.start())
        self.info = _label()
        row.addWidget(self.info, 1)
        layout.addLayout(row)
        maps = QHBoxLayout()
        self.input_view = GridView("input and the most damaging patch")
        self.drop_view = GridView("probability drop (red: the network looked here)")
        self.prob_view = GridView("probability with the patch at each position")
        for view in (self.input_view, self.drop_view, self.prob_view):
            maps.addWidget(view, 1)
        layout.addLayout(maps, 1)
        self._timer = QTimer(self, singleShot=True, interval=30)
        self._timer.timeout.connect(self.refresh)
        playground.events.activations_changed.connect(self._playground_changed)
        self.refresh()

    def _playground_changed(self, *args) -> None:
        if _worth_refreshing(self):  # hidden, it waits for showEvent (one forward pass per patch position)
            self._timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._timer.start()

    def refresh(self) -> None:
        playground = self.playground
        if not playground.input_fits_network:
            self.info.setText("The occlusion map needs an input of the network's size (a 28x28 drawing).")
            return
        start = time.perf_counter()
        patch, stride = self.patch_box.value(), self.stride_box.value()
        image = playground.input[0]
        self.result = result = occlusion_map(playground.network, image, patch, stride, self.fill_box.currentData())
        self.seconds = time.perf_counter() - start
        n = result.probability.size
        self.input_view.set_data(image, GRAY_LUT, (0, 1))
        r, c = np.unravel_index(np.argmax(result.drop), result.drop.shape)
        top = patch_positions(image.shape[0], patch, stride)[r]
        left = patch_positions(image.shape[1], patch, stride)[c]
        self.input_view.set_overlays(fills=[(top, left, top + patch - 1, left + patch - 1, QColor(128, 128, 128, 170))],
                                     rects=[(top, left, top + patch - 1, left + patch - 1, UNREACHED, 2)])
        self.drop_view.set_data(result.pixel_drop, DIVERGING_LUT, symmetric_levels(result.pixel_drop))
        self.prob_view.set_data(result.probability, SEQUENTIAL_LUT, (0, 1))
        self.info.setText(f"predicted class <b>{result.target}</b>: {result.baseline:.0%}; hiding the marked square "
                          f"drops it to {result.probability[r, c]:.0%}. {n} forward passes in "
                          f"{self.seconds * 1e3:.0f} ms ({n / max(self.seconds, 1e-6):,.0f} per second).")
