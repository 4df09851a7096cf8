"""The feature-map panel's data colours, spacing and resting hint: what its pieces share, in one place.

Chrome colours (text, backgrounds) come from ``cnnstudio.qt.widgets.theme``.
"""
from __future__ import annotations

FIELD_COLOR = "#0a9b48"       # receptive field outlines: neither blue nor red, so it reads on every map
CELL_COLOR = "#111111"        # the hovered cell, a max pool's winner
INPUT_PIXEL_COLOR = "#f08c00"  # readable on white paper and on black ink
MAP_GAP = 2
INPUT_HINT = ("Point at any map cell to see the numbers behind it and its receptive field. "
              "Drag to pan, wheel to zoom.")
