"""One stage of a layer on screen: its mosaic in a ViewBox, the two highlight outlines over it and its colour bar.

A panel maps between scene positions and map cells (``cell_at``) and draws
outlines of map-cell rectangles on chosen maps (``rect_path``).  Its mosaic is
drawn scaled by ``scale`` (a pooled stage by its pool stride), so all panels of
a layer share the conv map's pixel coordinates.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainterPath, QPen, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsPathItem

from cnnstudio.core.receptive_field import Rect
from cnnstudio.qt.panels.feature_maps.captions import ColorBar
from cnnstudio.qt.panels.feature_maps.style import CELL_COLOR, FIELD_COLOR, INPUT_PIXEL_COLOR
from cnnstudio.qt.widgets.bgra_image_item import BgraImageItem
from cnnstudio.render.mosaic import MosaicLayout, paint_mosaic
from cnnstudio.qt.widgets import theme


class MosaicPanel:
    """One mosaic in one ViewBox, plus the two highlight paths drawn over it."""

    def __init__(self, stage: int, kind: str, layout: MosaicLayout, scale: float, signed: bool, lut: np.ndarray):
        self.stage, self.kind, self.layout, self.scale, self.signed, self.lut = stage, kind, layout, scale, signed, lut
        self.levels = np.zeros((layout.count, 2), dtype=np.float32)
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.view.setBackgroundColor(theme.view_background())  # the gaps between the maps show it
        self.image = BgraImageItem()
        self.image.setTransform(QTransform.fromScale(scale, scale))
        self.view.addItem(self.image)
        self.field = self._path(FIELD_COLOR, 2.0, z=10)
        self.cells = self._path(INPUT_PIXEL_COLOR if kind == "input" else CELL_COLOR, 2.0, z=11)
        height, width = layout.shape
        self.bounds = QRectF(0, 0, width * scale, height * scale)
        self.bar: ColorBar | None = None

    def _path(self, color: str, width: float, z: float) -> QGraphicsPathItem:
        item = QGraphicsPathItem()
        pen = QPen(QColor(color), width)
        pen.setCosmetic(True)
        pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
        item.setPen(pen)
        item.setZValue(z)
        self.view.addItem(item, ignoreBounds=True)
        return item

    def show_maps(self, maps: np.ndarray, levels: np.ndarray) -> None:
        self.levels = levels
        self.image.setImage(paint_mosaic(maps, self.layout, levels, self.signed, self.lut, byte_order="bgra"))

    def cell_at(self, scene_pos) -> tuple[int, int, int] | None:
        if not self.view.sceneBoundingRect().contains(scene_pos):
            return None
        local = self.image.mapFromScene(scene_pos)
        return self.layout.mosaic_position((local.x(), local.y()))

    def rect_path(self, rect: Rect, filters) -> QPainterPath:
        """The outline of map-cell rectangle ``rect`` on each map in ``filters`` (None: all), in view coordinates."""
        path = QPainterPath()
        s = self.scale
        for f in range(self.layout.count) if filters is None else filters:
            top, left = self.layout.to_mosaic(f, rect.row0, rect.col0)
            path.addRect(QRectF(left * s, top * s, rect.width * s, rect.height * s))
        return path

    def clear_highlight(self) -> None:
        self.field.setPath(QPainterPath())
        self.cells.setPath(QPainterPath())

    def map_picture(self, filter: int, least_side: int = 196) -> QPixmap | None:
        """Map ``filter`` as shown (its colours on this panel's scale), each cell a square of whole pixels,
        at least ``least_side`` pixels a side; None before the first paint."""
        pixels = self.image.image
        if pixels is None or not 0 <= filter < self.layout.count:
            return None
        top, left = self.layout.origin(filter)
        height, width = self.layout.height, self.layout.width
        block = np.ascontiguousarray(pixels[top:top + height, left:left + width])
        image = QImage(block.data, width, height, 4 * width, QImage.Format.Format_ARGB32_Premultiplied).copy()
        factor = max(1, -(-least_side // max(height, width)))
        return QPixmap.fromImage(image.scaled(width * factor, height * factor))
