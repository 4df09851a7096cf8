"""Where the kernel grid puts things: one card per filter in rows, its K x K cells, its bias; and what is where.

Pure geometry in the grid widget's pixels: ``compute_layout`` picks the largest
cells at which every card fits, and a ``GridLayout`` answers where a cell, bias
or title is (``cell_rect`` ...), what lies under a point (``hit_test``) and which
cell the arrow keys move to (``neighbour``).  A cell is (filter, row, col), with
``row == BIAS`` (and col 0) for the filter's bias.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QPoint, QRect

BIAS = -1
"""The ``row`` of a filter's bias cell (its ``col`` is 0)."""

# card metrics with readable values; below ROOMY_FROM pixels per cell the cards tighten
MARGIN, GAP, PAD, HEADER, BIAS_GAP, BIAS_H, MIN_INNER = 8, 10, 6, 18, 5, 20, 72
TIGHT_GAP, TIGHT_PAD, TIGHT_HEADER, TIGHT_BIAS_GAP, TIGHT_BIAS_H, TIGHT_MIN_INNER = 6, 4, 14, 3, 15, 40
# cells from ROOMY_FROM pixels get the roomy cards; values are printed from VALUES_FROM (in as many
# decimals as fit: a dock-sized editor has ~25 px cells, where the roomy cards would not fit)
MAX_CELL, ROOMY_FROM, VALUES_FROM = 46, 27, 24


@dataclass(frozen=True)
class GridLayout:
    """Where the grids are: one card per filter, laid out in rows; small cells get tighter cards."""

    filters: int
    size: int          # K
    cell: int          # pixels per weight
    cols: int
    x0: int
    y0: int
    card_w: int
    card_h: int
    inner_w: int       # width of the kernel and bias area inside a card
    height: int        # of all the cards, margins included
    pad: int           # card border to its content
    header: int        # height of the "filter n" line
    bias_gap: int
    bias_h: int
    gap: int           # between cards

    @property
    def compact(self) -> bool:
        return self.header < HEADER

    @property
    def values_shown(self) -> bool:
        """Whether the cells are large enough to print their values."""
        return self.cell >= VALUES_FROM

    def card_rect(self, filter: int) -> QRect:
        row, col = divmod(filter, self.cols)
        return QRect(self.x0 + col * (self.card_w + self.gap), self.y0 + row * (self.card_h + self.gap),
                     self.card_w, self.card_h)

    def header_rect(self, filter: int) -> QRect:
        """The "filter n" strip at the top of a filter's card: clicking it selects the filter."""
        card = self.card_rect(filter)
        return QRect(card.x(), card.y(), card.width(), self.pad + self.header)

    def kernel_origin(self, filter: int) -> QPoint:
        card = self.card_rect(filter)
        return QPoint(card.x() + self.pad + (self.inner_w - self.size * self.cell) // 2,
                      card.y() + self.pad + self.header)

    def kernel_area(self, filter: int) -> QRect:
        """The weights of a filter with the 1 px grid lines around them: opaque, painted over the card."""
        origin, side = self.kernel_origin(filter), self.size * self.cell
        return QRect(origin.x() - 1, origin.y() - 1, side + 1, side + 1)

    def cell_rect(self, filter: int, row: int, col: int) -> QRect:
        """The rectangle of weight (row, col) of ``filter``, or of its bias when ``row == BIAS``."""
        if row == BIAS:
            return self.bias_rect(filter)
        origin, cell = self.kernel_origin(filter), self.cell
        return QRect(origin.x() + col * cell, origin.y() + row * cell, cell, cell)

    def bias_rect(self, filter: int) -> QRect:
        card = self.card_rect(filter)
        top = card.y() + self.pad + self.header + self.size * self.cell + self.bias_gap
        return QRect(card.x() + self.pad, top, self.inner_w, self.bias_h)

    def hit_test(self, pos: QPoint):
        """``("cell", f, row, col)`` (row == BIAS for the bias), ``("card", f, 0, 0)`` or None."""
        if not self.filters:
            return None
        col_index = (pos.x() - self.x0) // (self.card_w + self.gap)
        row_index = (pos.y() - self.y0) // (self.card_h + self.gap)
        if not 0 <= col_index < self.cols or row_index < 0:
            return None
        f = row_index * self.cols + col_index
        if f >= self.filters or not self.card_rect(f).contains(pos):
            return None
        if self.bias_rect(f).contains(pos):
            return ("cell", f, BIAS, 0)
        origin = self.kernel_origin(f)
        i, j = (pos.y() - origin.y()) // self.cell, (pos.x() - origin.x()) // self.cell
        if 0 <= i < self.size and 0 <= j < self.size and pos.x() >= origin.x() and pos.y() >= origin.y():
            return ("cell", f, i, j)
        return ("card", f, 0, 0)

    def neighbour(self, cell, d_row: int, d_col: int):
        """The cell next to ``cell``: rows run down into the bias; columns run on into the next filter."""
        f, i, j = cell
        K, F = self.size, self.filters
        if d_row:
            row = K if i == BIAS else i
            row = min(max(row + d_row, 0), K)
            return (f, BIAS if row == K else row, 0 if row == K else j)
        if i == BIAS:
            return (min(max(f + d_col, 0), F - 1), BIAS, 0)
        j += d_col
        if j < 0 and f > 0:
            return (f - 1, i, K - 1)
        if j >= K and f < F - 1:
            return (f + 1, i, 0)
        return (f, i, min(max(j, 0), K - 1))


def min_cell(size: int) -> int:
    """The smallest cells before the grid scrolls: a 3x3 stays clickable, an 11x11 may become a heat map."""
    return max(6, min(12, 40 // max(size, 1)))


def min_width(size: int) -> int:
    """The narrowest the grid gets (one card of the smallest cells, with margins): narrower, it scrolls."""
    return _card_metrics(size, min_cell(size))["card_w"] + 2 * MARGIN


def _card_metrics(size: int, cell: int) -> dict:
    roomy = cell >= ROOMY_FROM
    pad, header, bias_gap, bias_h, gap, min_inner = (
        (PAD, HEADER, BIAS_GAP, BIAS_H, GAP, MIN_INNER) if roomy else
        (TIGHT_PAD, TIGHT_HEADER, TIGHT_BIAS_GAP, TIGHT_BIAS_H, TIGHT_GAP, TIGHT_MIN_INNER))
    inner_w = max(size * cell, min_inner)
    return dict(cell=cell, inner_w=inner_w, card_w=inner_w + 2 * pad,
                card_h=2 * pad + header + size * cell + bias_gap + bias_h,
                pad=pad, header=header, bias_gap=bias_gap, bias_h=bias_h, gap=gap)


def compute_layout(filters: int, size: int, width: int, height: int) -> GridLayout:
    """The largest cells at which ``filters`` cards of ``size`` x ``size`` weights fit width x height pixels.

    At ``min_cell`` they stop shrinking: then the grid is taller than ``height`` and scrolls.
    """
    width, height = max(width, 1), max(height, 1)
    for cell in range(MAX_CELL, min_cell(size) - 1, -1):
        m = _card_metrics(size, cell)
        cols = (width - 2 * MARGIN + m["gap"]) // (m["card_w"] + m["gap"])
        cols = max(1, min(cols, filters))
        rows = math.ceil(filters / cols) if filters else 0
        cols = math.ceil(filters / rows) if rows else 1  # balance the rows: 4 + 4, not 6 + 2
        total_w = 2 * MARGIN + cols * m["card_w"] + (cols - 1) * m["gap"]
        total_h = 2 * MARGIN + rows * m["card_h"] + max(rows - 1, 0) * m["gap"]
        if total_w <= width and total_h <= height:
            break
    x0 = max(MARGIN, (width - total_w) // 2 + MARGIN)
    return GridLayout(filters=filters, size=size, cols=cols, x0=x0, y0=MARGIN, height=total_h, **m)
