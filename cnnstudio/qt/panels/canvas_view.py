"""The drawing canvas view: shows the model's pixels exactly and turns mouse, pen and drops into commands.

``QtCanvas`` (objectName ``canvas``) paints a cached ``QImage`` of
``CanvasModel.image`` scaled nearest-neighbour, so every image pixel is a
crisp square.  It rebuilds that image only on ``image_changed``.  A toolbar row
holds brush size, eraser, undo/redo, clear, open, size and MNIST framing; with
framing on, an inset shows ``network_input()``.

For the main window: ``hovered(row, col)`` while the mouse moves over the image
without drawing, ``left()`` when it leaves, ``set_highlight(rects)`` to outline
image regions (e.g. receptive fields) and ``open_image_file(path)`` (File > Recent).
The right button erases, so the export menu (the drawing as PNG, its pixels as
values) is on the toolbar's "⋯" button and on Shift+right click.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (QColor, QImage, QKeySequence, QPainter, QPalette, QPen, QPixmap, QPointingDevice,
                           QShortcut)
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel, QSizePolicy,
                               QSlider, QToolButton, QVBoxLayout, QWidget)

from cnnstudio.core.canvas import DIGIT_SIZE, IMAGE_SIZES, CanvasModel
from cnnstudio.imaging.files import ImageFileError, read_rgba
from cnnstudio.qt.widgets.export import export_menu
from cnnstudio.qt.widgets.qimage import qimage_rgba

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"
MIN_IMAGE_SIDE = 280  # on-screen pixels: 10 per digit pixel
_GRID_COLOR = QColor(255, 255, 255, 26)  # faint on black ink-free pixels, invisible on white ink
_ERROR_COLOR = "#e5534b"  # readable on dark and light palettes


def _gray_qimage(array: np.ndarray) -> tuple[np.ndarray, QImage]:
    """(pixels kept alive, QImage viewing them) for float ``(H, W)`` in [0, 1]."""
    pixels = np.ascontiguousarray(np.clip(array * 255.0 + 0.5, 0, 255).astype(np.uint8))
    height, width = pixels.shape
    return pixels, QImage(pixels.data, width, height, pixels.strides[0], QImage.Format_Grayscale8)


class _NetworkInputPreview(QWidget):
    """A small nearest-neighbour picture of what the network sees (MNIST framing on)."""

    SCALE = 3

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("canvas_network_input")
        self.setToolTip("What the network sees: the drawing framed as MNIST did\n"
                        "(box scaled to 20 x 20, centred by centre of mass in 28 x 28)")
        self._pixels, self._qimage = _gray_qimage(np.zeros((DIGIT_SIZE, DIGIT_SIZE), np.float32))
        side = DIGIT_SIZE * self.SCALE + 2
        self.setFixedSize(side, side)

    def set_image(self, image: np.ndarray) -> None:
        self._pixels, self._qimage = _gray_qimage(image)
        self.update()

    def paintEvent(self, event):
        painter = QPainter(self)
        painter.drawImage(self.rect().adjusted(1, 1, -1, -1), self._qimage)
        painter.setPen(self.palette().color(QPalette.Mid))
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))


class QtCanvas(QWidget):
    """The drawing canvas (objectName ``canvas``) for a ``CanvasModel``.

    Left button (or pen) draws, right button (or the pen's eraser end) erases;
    Shift+right click (or the "⋯" button, ``export_button``) opens the export menu.
    Signals: ``hovered(row, col)`` in image pixels while the mouse moves over the
    image without drawing; ``left()`` when it leaves the image.
    """

    hovered = Signal(float, float)
    left = Signal()

    def __init__(self, model: CanvasModel, parent=None):
        super().__init__(parent)
        self.model = model
        self.setObjectName("canvas")
        self.setMouseTracking(True)
        self.setAcceptDrops(True)
        self.setCursor(Qt.CrossCursor)
        self.setToolTip("Left button draws, right button erases; Shift+right click saves or copies the drawing")
        self._highlights: list[tuple[QRectF, QColor]] = []
        self._stroke_button = Qt.NoButton  # the button (or pen) drawing the open stroke
        self._hovering = False
        self._grid: tuple[tuple[int, int], QPixmap] | None = None  # ((side, n), overlay)
        self._pixels, self._qimage = _gray_qimage(model.image)

        self._build_toolbar()
        # the image is painted by this widget into the space this empty, mouse-transparent slot takes
        self._image_slot = QWidget(self)
        self._image_slot.setAttribute(Qt.WA_TransparentForMouseEvents)
        self._image_slot.setMinimumSize(MIN_IMAGE_SIDE, MIN_IMAGE_SIDE)
        self._image_slot.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.message_label = QLabel(self)
        self.message_label.setObjectName("canvas_message")
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet(f"color: {_ERROR_COLOR};")
        self.message_label.setCursor(Qt.ArrowCursor)
        policy = self.message_label.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # a message must not move the image
        self.message_label.setSizePolicy(policy)
        self.message_label.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addWidget(self._toolbar)
        layout.addWidget(self._image_slot, 1)
        layout.addWidget(self.message_label)

        # WindowShortcut (the default context): active anywhere in the canvas's window, so they
        # work when the canvas sits in the main window, and a focused text field keeps its own undo.
        for keys, command in (("Ctrl+Z", self.model.undo), ("Ctrl+Shift+Z", self.model.redo),
                              ("Ctrl+Y", self.model.redo)):
            QShortcut(QKeySequence(keys), self).activated.connect(command)

        handlers = [(model.events.image_changed, self._on_image_changed),
                    (model.events.history_changed, self._on_history_changed),
                    (model.events.size_changed, self._on_size_changed),
                    (model.events.brush_size_changed, self._on_brush_size_changed),
                    (model.events.mnist_framing_changed, self._on_framing_changed)]
        for event, handler in handlers:
            event.connect(handler)
        # the model outlives its views: stop calling a deleted one
        self.destroyed.connect(lambda *_: [event.disconnect(handler) for event, handler in handlers])

        self._on_size_changed()
        self._on_brush_size_changed()
        self._on_history_changed()
        self._on_framing_changed()
        self._on_image_changed()

    # -- construction
    def _build_toolbar(self) -> None:
        self._toolbar = QWidget(self)
        self._toolbar.setObjectName("canvas_toolbar")
        self._toolbar.setCursor(Qt.ArrowCursor)
        self._toolbar.installEventFilter(self)  # a quick move from the image into the toolbar also leaves

        def tool_button(name: str, text: str, tip: str, slot=None) -> QToolButton:
            button = QToolButton(self._toolbar)
            button.setObjectName(name)
            button.setText(text)
            button.setToolTip(tip)
            button.setToolButtonStyle(Qt.ToolButtonTextOnly)
            button.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
            if slot is not None:
                button.clicked.connect(slot)
            return button

        brush_label = QLabel("Brush", self._toolbar)
        self.brush_slider = QSlider(Qt.Horizontal, self._toolbar)
        self.brush_slider.setObjectName("canvas_brush_size")
        self.brush_slider.setToolTip("Brush size")
        self.brush_slider.setRange(5, 70)  # tenths of a pixel at 28 x 28, scaled with the canvas size
        self.brush_slider.valueChanged.connect(self._on_brush_slider)
        self.brush_value = QLabel(self._toolbar)
        self.brush_value.setMinimumWidth(self.brush_value.fontMetrics().horizontalAdvance("00.0 px"))
        self.brush_value.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.eraser_button = tool_button("canvas_eraser", "Eraser",
                                         "Erase with the left button (the right button always erases)")
        self.eraser_button.setCheckable(True)

        self.undo_button = tool_button("canvas_undo", "Undo", "Undo the last stroke (Ctrl+Z)", self.model.undo)
        self.redo_button = tool_button("canvas_redo", "Redo", "Redo (Ctrl+Shift+Z)", self.model.redo)
        self.clear_button = tool_button("canvas_clear", "Clear", "Erase everything (undoable)", self.model.clear)
        self.open_button = tool_button("canvas_open", "Open…",
                                       "Open a PNG, JPEG, BMP, GIF, WebP or TIFF image (or drop one on the canvas)",
                                       self.open_image_dialog)

        self.export_button = tool_button("canvas_export", "\u22ef", "Save the drawing as PNG, copy its pixel "
                                         "values or save them as CSV or .npy (also Shift+right click on it)")
        self.export_button.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Fixed)
        self.export_button.setPopupMode(QToolButton.InstantPopup)
        self.export_menu = export_menu(self, "drawing", lambda: self.model.image.copy(), self.image_picture)
        self.export_button.setMenu(self.export_menu)

        self.size_combo = QComboBox(self._toolbar)
        self.size_combo.setObjectName("canvas_size")
        self.size_combo.setToolTip("28 x 28 draws digits for the classifier; larger sizes show kernels on photos")
        self.size_combo.addItem(f"{DIGIT_SIZE} × {DIGIT_SIZE} digit", DIGIT_SIZE)
        for size in IMAGE_SIZES:
            self.size_combo.addItem(f"{size} × {size} image", size)
        self.size_combo.currentIndexChanged.connect(self._on_size_combo)
        self.framing_check = QCheckBox("MNIST framing", self._toolbar)
        self.framing_check.setObjectName("canvas_mnist_framing")
        self.framing_check.setToolTip("Show the network the drawing as MNIST framed its digits:\n"
                                      "box scaled to 20 x 20, centred by centre of mass in 28 x 28")
        self.framing_check.toggled.connect(self.model.set_mnist_framing)

        self.preview = _NetworkInputPreview(self._toolbar)
        preview_caption = QLabel("Network input", self._toolbar)
        font = preview_caption.font()
        font.setPointSizeF(font.pointSizeF() * 0.85)
        preview_caption.setFont(font)
        preview_caption.setAlignment(Qt.AlignCenter)
        self._preview_box = QWidget(self._toolbar)
        preview_layout = QVBoxLayout(self._preview_box)
        preview_layout.setContentsMargins(0, 0, 0, 0)
        preview_layout.setSpacing(2)
        preview_layout.addWidget(preview_caption)
        preview_layout.addWidget(self.preview)

        def row(*widgets, stretch_index=None) -> QHBoxLayout:
            layout = QHBoxLayout()
            layout.setSpacing(6)
            for index, widget in enumerate(widgets):
                layout.addWidget(widget, 1 if index == stretch_index else 0)
            return layout

        controls = QVBoxLayout()
        controls.setSpacing(6)
        controls.addLayout(row(brush_label, self.brush_slider, self.brush_value, self.eraser_button,
                               stretch_index=1))
        controls.addLayout(row(self.undo_button, self.redo_button, self.clear_button, self.open_button,
                               self.export_button))
        controls.addLayout(row(self.size_combo, self.framing_check, stretch_index=0))
        controls.addStretch(1)
        layout = QHBoxLayout(self._toolbar)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addLayout(controls, 1)
        layout.addWidget(self._preview_box, 0, Qt.AlignTop)

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(max(hint.width(), 340), hint.height())

    # -- public API
    def set_highlight(self, rects) -> None:
        """Outline image regions: ``(row0, col0, row1, col1, color)`` half-open like slices, color a
        ``QColor`` or an ``(r, g, b[, a])`` tuple; ``set_highlight([])`` removes them."""
        highlights = []
        for row0, col0, row1, col1, color in rects:
            color = color if isinstance(color, QColor) else QColor(*color)
            highlights.append((QRectF(col0, row0, col1 - col0, row1 - row0), color))
        if highlights or self._highlights:
            self._highlights = highlights
            self.update(self.image_rect().adjusted(-3, -3, 3, 3))

    def load_image_file(self, path: str) -> bool:
        """Load an image file onto the canvas; on failure show why (and the fix) and keep the drawing."""
        name = Path(path).name
        try:
            rgba = read_rgba(path)
        except ImageFileError as error:
            self.show_message(f"Could not open “{name}”: it {error.problem}. Fix: {error.fix}.")
            return False
        return self._load_pixels(rgba, name)

    open_image_file = load_image_file  # the name File > Recent calls it by

    def image_picture(self) -> QPixmap:
        """The drawing as shown on screen (pixel grid and outlines included)."""
        return self.grab(self.image_rect())

    def open_image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an image", "", IMAGE_FILTER)
        if path:
            self.load_image_file(path)

    def show_message(self, text: str) -> None:
        """A one-line notice under the canvas (empty text hides it)."""
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))

    def image_rect(self) -> QRect:
        """Where the image is painted, in widget coordinates: square, an integer number of
        screen pixels per image pixel when it fits, centred in the space below the toolbar."""
        slot = self._image_slot.geometry()
        side, n = min(slot.width(), slot.height()), self.model.size
        scale = side // n if side >= n else side / n
        side = int(scale * n)
        return QRect(slot.x() + (slot.width() - side) // 2, slot.y() + (slot.height() - side) // 2, side, side)

    def image_position(self, position: QPointF) -> tuple[float, float]:
        """Widget position -> (row, col) in image pixels (floats, may lie outside the image)."""
        rect = self.image_rect()
        scale = rect.width() / self.model.size
        return (position.y() - rect.y()) / scale, (position.x() - rect.x()) / scale

    # -- model -> view
    def _on_image_changed(self) -> None:
        self._pixels, self._qimage = _gray_qimage(self.model.image)
        if self._preview_box.isVisibleTo(self):
            self.preview.set_image(self.model.network_input())
        if self.message_label.isVisibleTo(self):
            self.show_message("")
        self.update(self.image_rect())

    def _on_history_changed(self) -> None:
        self.undo_button.setEnabled(self.model.can_undo)
        self.redo_button.setEnabled(self.model.can_redo)

    def _on_size_changed(self) -> None:
        size = self.model.size
        index = self.size_combo.findData(size)
        if index < 0:  # a size the menu does not offer (the model allows 64..256)
            self.size_combo.addItem(f"{size} × {size} image", size)
            index = self.size_combo.count() - 1
        self.size_combo.blockSignals(True)
        self.size_combo.setCurrentIndex(index)
        self.size_combo.blockSignals(False)
        self.framing_check.setEnabled(self.model.is_digit_mode)
        self._on_framing_changed()
        self.update()

    def _on_brush_size_changed(self) -> None:
        self.brush_slider.blockSignals(True)
        self.brush_slider.setValue(round(self.model.brush_size * DIGIT_SIZE / self.model.size * 10))
        self.brush_slider.blockSignals(False)
        self.brush_value.setText(f"{self.model.brush_size:.1f} px")

    def _on_framing_changed(self) -> None:
        self.framing_check.blockSignals(True)
        self.framing_check.setChecked(self.model.mnist_framing)
        self.framing_check.blockSignals(False)
        shown = self.model.mnist_framing and self.model.is_digit_mode
        self._preview_box.setVisible(shown)
        if shown:
            self.preview.set_image(self.model.network_input())

    # -- view -> model
    def _on_brush_slider(self, value: int) -> None:
        self.model.set_brush_size(value / 10 * self.model.size / DIGIT_SIZE)

    def _on_size_combo(self, index: int) -> None:
        self.model.set_size(self.size_combo.itemData(index))

    def _load_pixels(self, rgba: np.ndarray, name: str) -> bool:
        try:
            self.model.load_image(rgba)  # the model makes it gray, as for the command line's predict
        except ValueError as error:
            self.show_message(f"Could not use “{name}”: {error}.")
            return False
        return True

    # -- drawing
    def _begin(self, position: QPointF, button, erase: bool) -> None:
        row, col = self.image_position(position)
        if not (0 <= row < self.model.size and 0 <= col < self.model.size):
            return
        self._stop_hovering()
        self._stroke_button = button
        self.model.begin_stroke(col, row, erase=erase or self.eraser_button.isChecked())

    def _move(self, position: QPointF) -> None:
        row, col = self.image_position(position)
        if self._stroke_button != Qt.NoButton:
            self.model.stroke_to(col, row)
            return
        inside = 0 <= row < self.model.size and 0 <= col < self.model.size
        if inside:
            self._hovering = True
            self.hovered.emit(row, col)
        else:
            self._stop_hovering()

    def _end(self, button) -> None:
        if button == self._stroke_button:
            self._stroke_button = Qt.NoButton
            self.model.end_stroke()

    def mousePressEvent(self, event):
        if event.button() == Qt.RightButton and event.modifiers() & Qt.ShiftModifier:
            self.export_menu.popup(event.globalPosition().toPoint())  # the plain right button erases
        elif event.button() in (Qt.LeftButton, Qt.RightButton) and self._stroke_button == Qt.NoButton:
            self._begin(event.position(), event.button(), erase=event.button() == Qt.RightButton)
        event.accept()

    def mouseMoveEvent(self, event):
        self._move(event.position())

    def mouseReleaseEvent(self, event):
        self._end(event.button())

    def tabletEvent(self, event):
        # Handled here (and accepted, so Qt synthesizes no mouse event): the pen's eraser end erases.
        kind = event.type()
        if kind == QEvent.Type.TabletPress and self._stroke_button == Qt.NoButton:
            erase = (event.pointerType() == QPointingDevice.PointerType.Eraser
                     or event.button() == Qt.RightButton)
            self._begin(event.position(), event.button(), erase)
        elif kind == QEvent.Type.TabletMove:
            self._move(event.position())
        elif kind == QEvent.Type.TabletRelease:
            self._end(event.button())
        event.accept()

    def contextMenuEvent(self, event):
        if event.reason() == event.Reason.Keyboard:  # the Menu key; a mouse right click erased (or Shift: shown)
            self.export_menu.popup(self.mapToGlobal(self.image_rect().center()))
        event.accept()

    def leaveEvent(self, event):
        self._stop_hovering()
        super().leaveEvent(event)

    def eventFilter(self, watched, event):
        if watched is self._toolbar and event.type() == QEvent.Type.Enter:
            self._stop_hovering()
        return super().eventFilter(watched, event)

    def _stop_hovering(self) -> None:
        if self._hovering:
            self._hovering = False
            self.left.emit()

    # -- drag and drop
    def _dropped_file(self, mime) -> str | None:
        for url in mime.urls():
            if url.isLocalFile():
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event):
        mime = event.mimeData()
        if self._dropped_file(mime) or mime.hasImage():
            event.acceptProposedAction()

    def dragMoveEvent(self, event):
        self.dragEnterEvent(event)

    def dropEvent(self, event):
        mime = event.mimeData()
        path = self._dropped_file(mime)
        if path:
            self.load_image_file(path)
        elif mime.hasImage():
            self._load_pixels(qimage_rgba(QImage(mime.imageData())), "the dropped image")
        else:
            return
        event.acceptProposedAction()

    # -- painting
    def _pixel_grid(self, side: int, n: int) -> QPixmap:
        """Faint lines between image pixels, drawn once per on-screen size (56 Python draw calls cost ~1 ms)."""
        if self._grid is None or self._grid[0] != (side, n):
            grid = QPixmap(side, side)
            grid.fill(Qt.transparent)
            painter = QPainter(grid)
            painter.setPen(QPen(_GRID_COLOR, 0))
            for k in range(1, n):
                offset = round(k * side / n)
                painter.drawLine(offset, 0, offset, side - 1)
                painter.drawLine(0, offset, side - 1, offset)
            painter.end()
            self._grid = ((side, n), grid)
        return self._grid[1]

    def paintEvent(self, event):
        rect = self.image_rect()
        painter = QPainter(self)
        painter.drawImage(rect, self._qimage)  # no SmoothPixmapTransform: nearest neighbour, exact pixels
        n = self.model.size
        scale = rect.width() / n
        if n == DIGIT_SIZE and scale >= 4:
            painter.drawPixmap(rect.topLeft(), self._pixel_grid(rect.width(), n))
        if self._highlights:
            painter.setRenderHint(QPainter.Antialiasing)
            painter.setClipRect(rect.adjusted(-2, -2, 2, 2))
            for region, color in self._highlights:
                painter.setPen(QPen(color, 2))
                painter.drawRect(QRectF(rect.x() + region.x() * scale, rect.y() + region.y() * scale,
                                        region.width() * scale, region.height() * scale))
            painter.setClipping(False)
            painter.setRenderHint(QPainter.Antialiasing, False)
        painter.setPen(self.palette().color(QPalette.Mid))
        painter.drawRect(rect.adjusted(-1, -1, 0, 0))
