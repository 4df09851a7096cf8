"""Every feature map of every conv layer, live: convolution | activation | pooled, one row per filter.

Each stage of a layer is ONE image item showing a mosaic (its F maps stacked in
a column, see ``cnnstudio.render.mosaic``) fed ready premultiplied BGRA pixels:
painting 6 mosaics instead of 72 small images is what keeps a stroke under the
frame budget (PERFORMANCE.md).  Items are created when the architecture changes
and only get ``setImage`` afterwards.

The three views of a layer share one coordinate system, the conv map's pixels:
the pooled mosaic is drawn scaled by the pool stride, with its gaps chosen so
that map f starts at the same height in all three, so each pooled cell sits over
its pool window.  The views are linked (zoom and pan together).

Many stages or filters scroll rather than squeeze: the graphics keep a least size (every map
about 18+ pixels tall, every column title whole) inside a scroll area, and a stage of more than
16 maps lays them out in several columns.

Hover: the scene position becomes (stage, kind, filter, row, col); the receptive
field is outlined on this and every earlier map, ``hovered(MapHover)`` is emitted
and the arithmetic is shown under the maps.

Files: ``widget`` (``QtFeatureMaps``), ``panel_grid`` (the columns of panels of one
architecture), ``mosaic_panel`` (one stage's view, image and outlines), ``captions``
(titles and colour bars), ``hover`` (``MapHover``), ``style`` (colours shared by all).
"""
from cnnstudio.qt.panels.feature_maps.hover import MapHover
from cnnstudio.qt.panels.feature_maps.style import CELL_COLOR, FIELD_COLOR, INPUT_HINT, INPUT_PIXEL_COLOR, MAP_GAP
from cnnstudio.qt.panels.feature_maps.widget import SCALE_CHOICES, QtFeatureMaps

__all__ = ["QtFeatureMaps", "MapHover", "SCALE_CHOICES", "FIELD_COLOR", "CELL_COLOR", "INPUT_PIXEL_COLOR", "MAP_GAP", "INPUT_HINT"]
