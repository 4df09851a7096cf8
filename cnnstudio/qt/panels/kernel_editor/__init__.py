"""The kernel editor: every filter of a conv layer as a grid of coloured, clickable weights.

``QtKernelEditor(playground)`` shows, for one conv layer and one of its input
channels, each filter's K x K kernel (blue negative, white zero, red positive,
value printed in the cell) and the filter's bias under it.  Every edit is a
command on the playground; the view repaints only when the playground says
``kernels_changed`` and re-lays out on ``architecture_changed``.  A click
repaints only what it changed (the cell, the outlines that moved, the two cards
whose selection changed); the whole grid only when the colour scale moves.

All grids are painted by one widget (``KernelGrid``), which hit-tests the
mouse itself: a layer of 16 filters of 11 x 11 weights is ~2000 cells, too
many for one child widget each.

While training runs, the playground knows the (smoothed) gradient of the loss for
every kernel weight; "Show gradients" draws, on each cell, which way the update
pushes that weight: a triangle pointing up (the weight grows: the gradient is
negative) or down, its area and opacity growing with |gradient| relative to the
largest of the layer.  A new gradient repaints the grid once.

Files: ``editor`` (``QtKernelEditor``: controls and commands), ``grid`` (the grid
widget: what it shows and repaints), ``grid_input`` (mouse and keys), ``layout``
(where cards and cells are), ``painting`` (drawing a card, a bias, a push glyph),
``cell_editor`` (typing a value), ``colours`` and ``words`` (how a weight looks and reads).
"""
from cnnstudio.qt.panels.kernel_editor.cell_editor import MAX_WEIGHT
from cnnstudio.qt.panels.kernel_editor.colours import value_colours
from cnnstudio.qt.panels.kernel_editor.editor import QtKernelEditor
from cnnstudio.qt.panels.kernel_editor.grid import DEFAULT_STEP, STEPS
from cnnstudio.qt.panels.kernel_editor.layout import BIAS
from cnnstudio.qt.panels.kernel_editor.words import DOWN, UP, format_value, push_words

__all__ = ["QtKernelEditor", "BIAS", "UP", "DOWN", "STEPS", "DEFAULT_STEP", "MAX_WEIGHT", "value_colours",
           "format_value", "push_words"]
