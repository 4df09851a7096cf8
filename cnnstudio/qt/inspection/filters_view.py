"""What each filter wants: per conv layer, one card per filter with the input it likes best and the
nine training patches that excite it most.

The picture is activation maximisation of the filter's centre unit: gradient ascent on the pixels of
its receptive field (60 steps, all the layer's filters as one batch) from a seeded start, everything
else mid-grey ("does not matter"), so the same weights always give the same picture.  A card shows the
field (outlined) with a pixel of its surroundings.  It runs in a worker thread (tens of milliseconds)
and again whenever the weights change (latest wins, only while the tab is shown).  The top patches scan
every training digit of the data chosen in the Training dock (4,000 for MNIST 5k, a few tenths of a
second): press to compute.  Click a card to select its filter.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.qt.widgets import theme
from cnnstudio.qt.widgets.signals import listen
from cnnstudio.render.mosaic import INK_LUT

from .filters_worker import ASCENT, PATCHES, FiltersComputer, FiltersRequest

PICTURE = 96          # side of the preferred input on a card (pixels)
MARGIN = 1            # input pixels shown around the centre unit's receptive field
PATCH_GAP = 3
CARD_SIZE = QSize(2 * PICTURE + 30, PICTURE + 46)
NO_CONV = "This view needs a conv layer: the network has none. Add one in the layer settings."


def _grey_qimage(image: np.ndarray) -> QImage:
    """(C, H, W) in [0, 1] -> a QImage in the canvas's polarity (0 black, 1 white); three channels as RGB."""
    image = np.clip(np.nan_to_num(np.asarray(image, np.float32)), 0.0, 1.0)
    if image.shape[0] == 3:
        rgb = (image.transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)
    else:
        index = (image.mean(axis=0) * (len(INK_LUT) - 1) + 0.5).astype(np.intp)
        rgb = np.ascontiguousarray(INK_LUT[index][..., :3])
    height, width = rgb.shape[:2]
    rgb = np.ascontiguousarray(rgb)
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def field_crop(ascent, index: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Image ``index`` of an ``Ascent`` cropped to its centre unit's field and MARGIN pixels around it.

    Returns the crop (C, h, w) and the field inside it as (row0, col0, rows, cols).
    """
    field = ascent.field
    image = ascent.images[index]
    H, W = image.shape[1:]
    r0, c0 = max(field.row0 - MARGIN, 0), max(field.col0 - MARGIN, 0)
    r1, c1 = min(field.row1 + MARGIN, H - 1), min(field.col1 + MARGIN, W - 1)
    return image[:, r0:r1 + 1, c0:c1 + 1], (field.row0 - r0, field.col0 - c0, field.height, field.width)


class FilterCard(QWidget):
    """One filter: its preferred input (left), its nine top patches (right, 3x3) and the activation reached."""

    clicked = Signal(int)

    def __init__(self, filter_index: int, parent=None):
        super().__init__(parent)
        self.filter_index = filter_index
        self.picture: QImage | None = None
        self.field: tuple[int, int, int, int] | None = None   # the receptive field in the picture's pixels
        self.patches: list[QImage] = []
        self.caption = "computing..."
        self.patch_caption = ""
        self.silent = False
        self.selected = False
        self.setFixedSize(CARD_SIZE)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_ascent(self, image: np.ndarray | None, field, activation: float, blank: float, peak: float,
                   mean: float, silent: bool) -> None:
        """Show ``image`` (C, h, w), a crop with the centre unit's ``field`` (row0, col0, rows, cols) inside."""
        self.picture = None if image is None else _grey_qimage(image)
        self.field = field
        self.silent = silent
        self.caption = ("silent on every input in [0, 1]" if silent
                        else f"centre {activation:.2f} · blank {blank:.2f}")
        self.setToolTip(f"Filter {self.filter_index + 1}: the pattern its centre unit likes best in its receptive "
                        f"field (outlined; grey = does not matter)\nraises that unit's activation to {activation:.3f} "
                        f"(on a blank input: {blank:.3f}); over the whole map: peak {peak:.3f}, mean {mean:.3f}."
                        "\nRight: the 9 training patches that excite the filter most.")
        self.update()

    def set_patches(self, patches: np.ndarray | None, values: np.ndarray | None = None) -> None:
        self.patches = [] if patches is None else [_grey_qimage(p) for p in patches]
        self.patch_caption = "" if values is None or not len(values) else f"best patch {values[0]:.2f}"
        self.update()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.filter_index)
        super().mousePressEvent(event)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.fillRect(self.rect(), theme.panel())
        border = theme.accent() if self.selected else theme.border()
        painter.setPen(QPen(border, 2 if self.selected else 1))
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(theme.panel_text())
        painter.drawText(QRectF(8, 3, CARD_SIZE.width() - 16, 18), Qt.AlignmentFlag.AlignVCenter,
                         f"filter {self.filter_index + 1}")
        painter.setFont(self.font())
        painter.setPen(theme.panel_muted())
        painter.drawText(QRectF(8, 3, CARD_SIZE.width() - 16, 18),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, self.patch_caption)
        top = 22.0
        left = QRectF(8, top, PICTURE, PICTURE)
        painter.fillRect(left, QColor("#000000"))
        frame = QPen(theme.border(), 1)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if self.picture is not None:
            # square pixels: a non-square crop is centred in the square
            scale = PICTURE / max(self.picture.width(), self.picture.height())
            shown = QRectF(0, 0, self.picture.width() * scale, self.picture.height() * scale)
            shown.moveCenter(left.center())
            painter.drawImage(shown, self.picture)
            if self.field is not None:
                row0, col0, rows, cols = self.field
                painter.setPen(QPen(theme.accent(), 2))
                painter.drawRect(QRectF(shown.left() + col0 * scale, shown.top() + row0 * scale,
                                        cols * scale, rows * scale))
        painter.setPen(frame)  # an all-ink picture must not melt into a light card
        painter.drawRect(left.adjusted(-0.5, -0.5, 0.5, 0.5))
        cell = (PICTURE - 2 * PATCH_GAP) / 3
        x0 = 8 + PICTURE + 12
        for index in range(9):
            r, c = divmod(index, 3)
            box = QRectF(x0 + c * (cell + PATCH_GAP), top + r * (cell + PATCH_GAP), cell, cell)
            if index < len(self.patches):
                painter.drawImage(box, self.patches[index])
                painter.drawRect(box.adjusted(-0.5, -0.5, 0.5, 0.5))
            else:
                painter.fillRect(box, theme.track())
        painter.setPen(theme.error() if self.silent else theme.panel_text())
        painter.drawText(QRectF(8, top + PICTURE + 3, CARD_SIZE.width() - 16, 18), Qt.AlignmentFlag.AlignVCenter,
                         self.caption)
        painter.end()


class FiltersView(QWidget):
    """A grid of filter cards for the chosen conv layer (objectName ``inspectFilters``)."""

    def __init__(self, context, parent=None):
        super().__init__(parent)
        self.context = context
        self.playground = context.playground
        self.version = 0             # bumps with every weight change
        self._patches_wanted = False  # "Find top patches" was pressed while the data was still loading
        self.ascents: dict[int, tuple[int, object]] = {}   # stage -> (version, AscentResult)
        self.patches: dict[int, tuple[int, object]] = {}   # stage -> (version, TopPatches)
        self.ascent_runs = 0         # results shown (tests and benchmarks count them)
        self.last_ascent_seconds = self.last_patches_seconds = None
        self.cards: list[FilterCard] = []
        self.selected: int | None = None
        self._dirty = True
        self._data_name, self._data_count = "the training data", 0
        self.computer = FiltersComputer(self)
        self.computer.ready.connect(self._ready)
        self.computer.failed.connect(self._failed)
        self.computer.progress.connect(self._progress)
        self._timer = QTimer(self, singleShot=True, interval=0)  # one ascent per event-loop turn, however many edits
        self._timer.timeout.connect(self._request_ascent)
        self._build()
        self._fill_layers()
        listen(self, self.playground.events.kernels_changed, self._weights_changed)
        listen(self, self.playground.events.architecture_changed, self._architecture_changed)

    # ------------------------------------------------------------------ construction
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        row = QHBoxLayout()
        row.addWidget(QLabel("Layer"))
        self.layer_box = QComboBox()
        self.layer_box.setObjectName("filtersLayer")
        self.layer_box.setToolTip("The conv layer whose filters are shown")
        self.layer_box.currentIndexChanged.connect(self._layer_chosen)
        row.addWidget(self.layer_box)
        self.status = QLabel()
        self.status.setObjectName("filtersStatus")
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row.addWidget(self.status, 1)
        layout.addLayout(row)
        row = QHBoxLayout()
        self.patches_button = QPushButton("Find top patches")
        self.patches_button.setObjectName("filtersPatchesButton")
        self.patches_button.setToolTip("Scan every training digit for the 9 patches each filter responds to most")
        self.patches_button.clicked.connect(self.compute_patches)
        row.addWidget(self.patches_button)
        self.progress = QProgressBar()
        self.progress.setObjectName("filtersProgress")
        self.progress.setFixedWidth(120)
        self.progress.hide()
        row.addWidget(self.progress)
        self.reason = QLabel()
        self.reason.setObjectName("filtersPatchesReason")
        self.reason.setWordWrap(True)
        self.reason.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row.addWidget(self.reason, 1)
        layout.addLayout(row)
        self.scroll = QScrollArea()
        self.scroll.setObjectName("filtersScroll")
        self.scroll.setWidgetResizable(True)
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setSpacing(6)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.scroll.setWidget(self.grid_host)
        layout.addWidget(self.scroll, 1)

    def _fill_layers(self) -> None:
        specs = self.playground.network.conv_specs
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        for k, spec in enumerate(specs):
            self.layer_box.addItem(f"conv {k + 1} ({spec.filters} filters, {spec.kernel}×{spec.kernel})", k)
        self.layer_box.blockSignals(False)
        self.layer_box.setEnabled(bool(specs))
        self.patches_button.setEnabled(bool(specs))
        if not specs:
            self.status.setText(NO_CONV)
        self._make_cards()

    @property
    def stage(self) -> int | None:
        return self.layer_box.currentData()

    def _make_cards(self) -> None:
        for card in self.cards:
            card.hide()
            card.deleteLater()
        self.cards = []
        self.selected = None
        if self.stage is None:
            return
        for f in range(self.playground.network.conv_specs[self.stage].filters):
            card = FilterCard(f, self.grid_host)
            card.setObjectName(f"filterCard{f}")
            card.clicked.connect(self._card_clicked)
            self.cards.append(card)
        self._lay_out_cards()
        self._show_cached()

    def _lay_out_cards(self) -> None:
        # as many columns as fit: up to 64 filters scroll rather than shrink
        width = self.scroll.viewport().width() - 12
        columns = max(1, width // (CARD_SIZE.width() + self.grid.spacing()))
        while self.grid.count():  # re-adding a widget would leave its old cell behind
            self.grid.takeAt(0)
        for index, card in enumerate(self.cards):
            self.grid.addWidget(card, *divmod(index, columns))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._lay_out_cards()

    # ------------------------------------------------------------------ what changes
    def _weights_changed(self, *args) -> None:
        self.version += 1
        self._schedule()
        self._show_patch_state()

    def _architecture_changed(self) -> None:
        self.version += 1
        self.computer.forget()
        self.progress.hide()
        self.ascents.clear()
        self.patches.clear()
        self._fill_layers()
        self._schedule()

    def _layer_chosen(self, *args) -> None:
        self._make_cards()
        self._schedule()

    def _schedule(self) -> None:
        self._dirty = True
        if self.isVisible() and not self._timer.isActive():
            self._timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self._lay_out_cards)  # the viewport has its width only once shown
        if self._dirty:
            self._schedule()

    def _request_ascent(self) -> None:
        stage = self.stage
        if stage is None or not self.isVisible():
            return
        self._dirty = False
        cached = self.ascents.get(stage)
        if cached is not None and cached[0] == self.version:
            return
        self.status.setText(f"Climbing the pixels for conv {stage + 1}'s filters...")
        self.computer.request(FiltersRequest(ASCENT, self.playground.network.copy(), stage, version=self.version))

    def data_changed(self) -> None:
        """The Training dock's data arrived or changed: scan it if the learner asked while there was none."""
        if self._patches_wanted:
            self.compute_patches()

    def compute_patches(self) -> None:
        """Scan the Training dock's training digits for each filter's top 9 patches (in the worker)."""
        stage = self.stage
        if stage is None:
            return
        try:
            train = self.context.data_source()[0]
        except ValueError as err:  # e.g. still loading: ``data_changed`` asks again when the data arrives
            self.reason.setText(f"No data for top patches: {err}")
            self._patches_wanted = True
            return
        self._patches_wanted = False
        network = self.playground.network
        if tuple(train.images.shape[1:2]) != network.input_shape[:1]:
            self.reason.setText(f"{train.name or 'The training data'} has {train.images.shape[1]} channel(s); this "
                                f"network takes {network.input_shape[0]}. Fix: choose matching data in Training.")
            return
        self._data_name = train.name or "the training data"
        self._data_count = len(train)
        self.reason.setText(f"Scanning {len(train):,} digits of {self._data_name}...")
        self.progress.setRange(0, len(train))
        self.progress.setValue(0)
        self.progress.show()
        self.patches_button.setEnabled(False)
        self.computer.request(FiltersRequest(PATCHES, network.copy(), stage, train.images, self.version))

    # ------------------------------------------------------------------ results
    def _ready(self, request, result, seconds: float) -> None:
        stage = request.stage
        if request.kind == ASCENT:
            self.last_ascent_seconds = seconds
            self.ascents[stage] = (request.version, result)
            self.ascent_runs += 1
            field = result.ascent.field
            self.status.setText(f"Conv {stage + 1}: what each filter's centre unit wants in its {field.height}×"
                                f"{field.width} receptive field (outlined; grey = does not matter), after "
                                f"{result.ascent.history.shape[0] - 1} steps of gradient ascent on the pixels "
                                f"({seconds * 1000:.0f} ms, in the background).")
        else:
            self.last_patches_seconds = seconds
            self.patches[stage] = (request.version, result)
            self.progress.hide()
            self.patches_button.setEnabled(True)
        if stage == self.stage:
            self._show_cached()

    def _failed(self, kind: str, text: str) -> None:
        (self.status if kind == ASCENT else self.reason).setText(text)
        if kind == PATCHES:
            self.progress.hide()
            self.patches_button.setEnabled(True)

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _show_cached(self) -> None:
        stage = self.stage
        if stage is None or not self.cards:
            return
        ascent = self.ascents.get(stage)
        if ascent is not None and len(ascent[1].bound) == len(self.cards):
            a = ascent[1].ascent
            for f, card in enumerate(self.cards):
                crop, field = field_crop(a, f)
                card.set_ascent(crop, field, float(a.activation[f]), float(a.blank[f]), float(a.peak[f]),
                                float(a.mean[f]), bool(ascent[1].bound[f] <= 0))
        top = self.patches.get(stage)
        if top is not None and top[1].patches.shape[0] == len(self.cards):
            for f, card in enumerate(self.cards):
                card.set_patches(top[1].patches[f], top[1].activation[f])
        else:
            for card in self.cards:
                card.set_patches(None)
        self._show_patch_state()

    def _show_patch_state(self) -> None:
        if self.stage is None or not self.patches_button.isEnabled() and self.progress.isVisible():
            return
        top = self.patches.get(self.stage)
        took = (f" ({self.last_patches_seconds:.1f} s last time)" if self.last_patches_seconds is not None
                else " (a few tenths of a second)")
        if top is None:
            self.reason.setText("Press to compute: the 9 patches that excite each filter most come from scanning "
                                f"every training digit of the chosen data{took}.")
        elif top[0] != self.version:
            self.reason.setText(f"The weights changed since these patches were found: press to update{took}.")
        else:
            self.reason.setText(f"Top patches of {self._data_count:,} digits of {self._data_name}: "
                                "each shows its receptive field (black beyond the border).")

    def _card_clicked(self, filter_index: int) -> None:
        self.selected = filter_index
        for card in self.cards:
            card.selected = card.filter_index == filter_index
            card.update()
        card = self.cards[filter_index]
        self.context.message(f"Conv {self.stage + 1}, filter {filter_index + 1}: {card.caption}", 5000)

    def stop(self) -> None:
        """End the worker thread (the window calls this as it closes)."""
        self._timer.stop()
        self.computer.stop()
