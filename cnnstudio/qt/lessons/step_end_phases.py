"""The step-through's last phases, after the conv layers: flatten, the dense layers and softmax.

A mixin of :class:`~cnnstudio.qt.lessons.step_view.ExplainView`: it paints the view's
``source``, ``kernel``, ``products``, ``result`` and ``target`` for one step of these phases.
"""
from __future__ import annotations

import math

import numpy as np

from cnnstudio.render.mosaic import DIVERGING_LUT, SEQUENTIAL_LUT

from .grid_view import CURRENT, WINDOW, number_text, symmetric_levels


def _wrap(vector: np.ndarray, width: int) -> np.ndarray:
    """A long vector as rows of ``width`` (NaN after the end), to draw it as a strip."""
    rows = -(-vector.size // width)
    out = np.full(rows * width, np.nan)
    out[:vector.size] = vector
    return out.reshape(rows, width)


class NetworkEndPhases:
    """``_show_flatten``, ``_show_dense`` and ``_show_softmax`` for the step-through view."""

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
        self.result.setText(f"map {d.filter + 1}, row {d.row + 1}<br>→ entries<br>{d.start + 1}..{d.start + Wq}")
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
        last = d.layer == len(model.dense_values) - 1  # classes are named by their digit, units counted from 1
        self._middle(("", f"weights of class {d.unit}" if last else f"weights of unit {d.unit + 1}", "products"),
                     ("→", "×", "=", "→"))
        self.kernel.set_data(_wrap(d.weights, width), DIVERGING_LUT, symmetric_levels(d.weights))
        self.products.set_data(_wrap(d.products, width), DIVERGING_LUT, symmetric_levels(d.products))
        self.result.setText(f"sum {number_text(d.value - d.bias)}<br>+ bias {number_text(d.bias)}"
                            f"<br>= <b>{number_text(d.value)}</b>")
        outputs = model.dense_filled(d.layer)
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
        self.result.setText(f"{number_text(d.exps[d.cls])}<br>÷ {number_text(d.total)}"
                            f"<br>= <b>{d.probability:.3f}</b>")
        self.target.title = "probabilities"
        self.target.set_data(model.probabilities_filled(), SEQUENTIAL_LUT, (0, 1))
        self.target.set_overlays(rects=[(0, d.cls, 0, d.cls, CURRENT, 2)])
        best = int(np.argmax(model.probabilities))
        self.target.set_caption(f"the network says {best} ({model.probabilities[best]:.0%})")

