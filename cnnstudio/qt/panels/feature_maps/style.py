"""The feature-map panel's data colours, spacing and resting hint: what its pieces share, in one place.

Chrome colours (text, backgrounds) come from ``cnnstudio.qt.widgets.theme``.
"""
from __future__ import annotations

FIELD_COLOR = "#0a9b48"       # receptive field outlines: neither blue nor red, so it reads on every map
CELL_COLOR = "#111111"        # the hovered cell, a max pool's winner
INPUT_PIXEL_COLOR = "#f08c00"  # readable on white paper and on black ink
MAP_GAP = 2
# NOTE: the least size of the maps on screen: with many filters or stages the panel scrolls rather than shrink a
# 7x7 map to a few pixels or elide every column title (a 4-stage network, 64 filters, on a 1366x768 laptop)
MIN_MAP_PIXELS = 18       # a map's least height on screen (a 7x7 map: 2.5 pixels a cell)
MIN_CELL_PIXELS = 2       # ... and at least this many pixels a cell, up to maps of MAX_MIN_MAP_PIXELS
MAX_MIN_MAP_PIXELS = 24
MAX_ROWS = 16              # maps in one column of a mosaic; more filters make more columns
MIN_COLUMN_WIDTH = 62     # a column's least width: room for its colour bar's two numbers
INPUT_HINT = ("Point at any map cell to see the numbers behind it and its receptive field. "
              "Drag to pan, wheel to zoom.")
