"""Which cells feed which: receptive fields, the arithmetic behind one map value, and the inverse.

Qt-free.  A map cell is named by a :class:`MapTarget` (conv stage ``stage``, ``kind``
one of "conv", "activation", "pooled", ``filter``, ``row``, ``col``; all indices
0-based, conv stages numbered from 0 as in ``ForwardTrace.stages``).

Geometry, per axis, of conv stage k (kernel K, stride S, zeros P before), as
``network.geometry(input_shape)`` resolves it:

- conv output row i reads padded input rows i*S .. i*S+K-1, i.e. input rows
  i*S-P .. i*S-P+K-1 (rows < 0 or >= H are padding zeros);
- the activation of row i reads conv row i;
- pooled row q reads activation rows q*s .. q*s+size-1 (pool stride s).

The explanations name layers, filters and channels from 1, as the rest of the app
does ("conv 1", "filter 3"), and give rows and columns as 0-based coordinates.

Rectangles (:class:`Rect`) are inclusive.  Going backwards, each rectangle is
clipped to its map before it is carried further, so ``rect`` holds exactly the
cells the target depends on; ``unclipped`` is carried without clipping and shows
how far the field reaches into the padding.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnstudio.engine import StageGeometry

KINDS = ("conv", "activation", "pooled")
ACTIVATION_NAMES = {"relu": "ReLU", "leaky_relu": "leaky ReLU", "tanh": "tanh", "sigmoid": "sigmoid",
                    "none": "no activation"}


# ---------------------------------------------------------------- results

@dataclass(frozen=True)
class Rect:
    """Rows row0..row1 and columns col0..col1, both inclusive."""

    row0: int
    col0: int
    row1: int
    col1: int

    @property
    def height(self) -> int:
        return self.row1 - self.row0 + 1

    @property
    def width(self) -> int:
        return self.col1 - self.col0 + 1

    def contains(self, row: int, col: int) -> bool:
        return self.row0 <= row <= self.row1 and self.col0 <= col <= self.col1

    def clip(self, height: int, width: int) -> Rect | None:
        """The part inside a height x width map, or None when nothing is left."""
        r0, c0 = max(self.row0, 0), max(self.col0, 0)
        r1, c1 = min(self.row1, height - 1), min(self.col1, width - 1)
        return Rect(r0, c0, r1, c1) if r0 <= r1 and c0 <= c1 else None


@dataclass(frozen=True)
class MapTarget:
    """One cell of one map: conv stage ``stage``, ``kind`` in KINDS, ``filter``, ``row``, ``col``."""

    stage: int
    kind: str
    filter: int
    row: int
    col: int


@dataclass(frozen=True)
class MapRegion:
    """The part of one map a target depends on.

    ``stage`` -1 with ``kind`` "input" is the network's input.  ``filters`` is
    ``(f,)`` when only the target's own filter is involved (inside its stage) and
    None when every map (channel) of that stage is.
    """

    stage: int
    kind: str
    filters: tuple[int, ...] | None
    rect: Rect
    unclipped: Rect


@dataclass(frozen=True)
class KernelCell:
    """One weight of the immediate convolution and the input cell it multiplies.

    ``layer`` indexes ``network.layers`` (conv layers come first, so it equals the
    stage), ``row``/``col`` are in the input of that conv; ``padding`` is True when
    that input cell is a padded zero.
    """

    layer: int
    filter: int
    channel: int
    ki: int
    kj: int
    row: int
    col: int
    padding: bool


@dataclass(frozen=True)
class ReceptiveField:
    """Everything a target depends on, from its own cell back to the network's input."""

    target: MapTarget
    regions: tuple[MapRegion, ...]   # the target's own cell first, then backwards to the input
    input_rect: Rect                 # on the network's input, clipped
    input_unclipped: Rect
    conv_cell: tuple[int, int]       # the conv output cell whose kernel cells are listed
    kernel_cells: tuple[KernelCell, ...]
    pool_window: Rect | None         # for a pooled target: its window on the activation map (unclipped)

    def region(self, stage: int, kind: str) -> MapRegion | None:
        for region in self.regions:
            if region.stage == stage and region.kind == kind:
                return region
        return None


@dataclass(frozen=True)
class StageCells:
    """The cells of one conv stage's maps (of every filter) fed by one input pixel; None where nothing is."""

    conv: Rect | None
    activation: Rect | None
    pooled: Rect | None

    def get(self, kind: str) -> Rect | None:
        return getattr(self, kind)


@dataclass(frozen=True)
class ConvTerms:
    """The numbers of one convolution output: value = sum(patch * kernel) + bias."""

    patch: np.ndarray     # (C, K, K) input cells, 0 where the kernel reads padding
    kernel: np.ndarray    # (C, K, K)
    bias: float
    products: np.ndarray  # (C, K, K) float64 patch * kernel
    value: float          # the trace's conv value at this cell
    row: int
    col: int


# ---------------------------------------------------------------- one axis at a time

def _back_conv(lo: int, hi: int, g: StageGeometry, axis: int) -> tuple[int, int]:
    pad = g.pad_top if axis == 0 else g.pad_left
    return lo * g.stride - pad, hi * g.stride - pad + g.kernel - 1


def _back_pool(lo: int, hi: int, g: StageGeometry) -> tuple[int, int]:
    return lo * g.pool_stride, hi * g.pool_stride + g.pool_size - 1


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _forward_conv(lo: int, hi: int, g: StageGeometry, axis: int) -> tuple[int, int]:
    """Output rows i whose window i*S-P .. i*S-P+K-1 meets input rows lo..hi (unclipped)."""
    pad = g.pad_top if axis == 0 else g.pad_left
    return _ceil_div(lo + pad - g.kernel + 1, g.stride), (hi + pad) // g.stride


def _forward_pool(lo: int, hi: int, g: StageGeometry) -> tuple[int, int]:
    return _ceil_div(lo - g.pool_size + 1, g.pool_stride), hi // g.pool_stride


def _rect_back(rect: Rect, step) -> Rect:
    r0, r1 = step(rect.row0, rect.row1, 0)
    c0, c1 = step(rect.col0, rect.col1, 1)
    return Rect(r0, c0, r1, c1)


# ---------------------------------------------------------------- the receptive field

def _check_target(geometry: list[StageGeometry], target: MapTarget) -> StageGeometry:
    if not 0 <= target.stage < len(geometry):
        raise ValueError(f"stage {target.stage} does not exist: the network has {len(geometry)} conv stages")
    if target.kind not in KINDS:
        raise ValueError(f"unknown map kind {target.kind!r}; choose one of {', '.join(KINDS)}")
    g = geometry[target.stage]
    height, width = g.map_shape(target.kind)
    if not (0 <= target.filter < g.filters and 0 <= target.row < height and 0 <= target.col < width):
        raise ValueError(f"cell (filter {target.filter}, row {target.row}, col {target.col}) is outside the "
                         f"{g.filters} maps of {height}x{width} of stage {target.stage} {target.kind}")
    return g


def receptive_field(network, target: MapTarget, trace=None, input_shape=None) -> ReceptiveField:
    """The receptive field of one map cell on every earlier map and on the input.

    Parameters
    ----------
    network : engine ``Network``
    target : the map cell
    trace : optional ``ForwardTrace``; for a max-pooled target its window's winner
        becomes the conv cell whose kernel cells are listed (otherwise the window's
        top-left cell), and its input shape is used when ``input_shape`` is None.
    input_shape : (C, H, W) of the image, default the trace's or the network's
    """
    if input_shape is None and trace is not None:
        input_shape = trace.input.shape
    geometry = network.geometry(input_shape)
    g = _check_target(geometry, target)
    k, f = target.stage, target.filter
    cell = Rect(target.row, target.col, target.row, target.col)
    regions = [MapRegion(k, target.kind, (f,), cell, cell)]
    rect = unclipped = cell
    pool_window = None
    conv_cell = (target.row, target.col)

    # inside the target's own stage: only its own filter is involved
    if target.kind == "pooled":
        if g.pool != "none":
            pool_window = _rect_back(cell, lambda lo, hi, axis: _back_pool(lo, hi, g))
            rect, unclipped = pool_window.clip(g.height, g.width), pool_window
            conv_cell = (rect.row0, rect.col0)
            if trace is not None and g.pool == "max":
                conv_cell = divmod(int(trace.stages[k].winner[f, target.row, target.col]), g.width)
        regions.append(MapRegion(k, "activation", (f,), rect, unclipped))
    if target.kind != "conv":
        regions.append(MapRegion(k, "conv", (f,), rect, unclipped))

    # back through every conv stage to the input: every channel is involved
    for stage in range(k, -1, -1):
        g = geometry[stage]
        unclipped = _rect_back(unclipped, lambda lo, hi, axis: _back_conv(lo, hi, g, axis))
        rect = _rect_back(rect, lambda lo, hi, axis: _back_conv(lo, hi, g, axis)).clip(g.in_height, g.in_width)
        if stage == 0:
            break
        below = geometry[stage - 1]
        regions.append(MapRegion(stage - 1, "pooled", None, rect, unclipped))
        if below.pool != "none":
            unclipped = _rect_back(unclipped, lambda lo, hi, axis: _back_pool(lo, hi, below))
            rect = _rect_back(rect, lambda lo, hi, axis: _back_pool(lo, hi, below)).clip(below.height, below.width)
        regions.append(MapRegion(stage - 1, "activation", None, rect, unclipped))
        regions.append(MapRegion(stage - 1, "conv", None, rect, unclipped))
    regions.append(MapRegion(-1, "input", None, rect, unclipped))

    g = geometry[k]
    kernel_cells = []
    for channel in range(g.channels):
        for ki in range(g.kernel):
            for kj in range(g.kernel):
                row = conv_cell[0] * g.stride - g.pad_top + ki
                col = conv_cell[1] * g.stride - g.pad_left + kj
                inside = 0 <= row < g.in_height and 0 <= col < g.in_width
                kernel_cells.append(KernelCell(k, f, channel, ki, kj, row, col, not inside))
    return ReceptiveField(target, tuple(regions), rect, unclipped, tuple(int(v) for v in conv_cell),
                          tuple(kernel_cells), pool_window)


def fed_by_input(network, row: int, col: int, input_shape=None) -> list[StageCells]:
    """The inverse of :func:`receptive_field`: which cells of each stage's maps input pixel (row, col) feeds.

    One :class:`StageCells` per conv stage (the same cells in every filter's map);
    once nothing is fed (a stride that skips the pixel), the later stages are None too.
    """
    geometry = network.geometry(input_shape)
    channels, height, width = tuple(input_shape or network.input_shape)
    if not (0 <= row < height and 0 <= col < width):
        raise ValueError(f"pixel (row {row}, col {col}) is outside the {height}x{width} input")
    rect: Rect | None = Rect(row, col, row, col)
    result = []
    for g in geometry:
        conv = activation = pooled = None
        if rect is not None:
            conv = _rect_back(rect, lambda lo, hi, axis: _forward_conv(lo, hi, g, axis)).clip(g.height, g.width)
            activation = conv
            if conv is None:
                pooled = None
            elif g.pool == "none":
                pooled = conv
            else:
                pooled = _rect_back(conv, lambda lo, hi, axis: _forward_pool(lo, hi, g)).clip(g.pooled_height,
                                                                                           g.pooled_width)
        result.append(StageCells(conv, activation, pooled))
        rect = pooled
    return result


# ---------------------------------------------------------------- the arithmetic

def _stage_input(trace, stage: int) -> np.ndarray:
    return trace.input if stage == 0 else trace.stages[stage - 1].pooled


def conv_terms(trace, network, stage: int, filter: int, row: int, col: int) -> ConvTerms:
    """The patch, kernel, bias and products behind ``trace.stages[stage].conv[filter, row, col]``."""
    g = network.geometry(trace.input.shape)[stage]
    x = _stage_input(trace, stage)
    K = g.kernel
    patch = np.zeros((g.channels, K, K), dtype=np.float32)
    r0, c0 = row * g.stride - g.pad_top, col * g.stride - g.pad_left
    rows = slice(max(r0, 0), min(r0 + K, g.in_height))
    cols = slice(max(c0, 0), min(c0 + K, g.in_width))
    patch[:, rows.start - r0:rows.stop - r0, cols.start - c0:cols.stop - c0] = x[:, rows, cols]
    kernel = network.weight(stage)[filter]
    bias = float(network.bias(stage)[filter])
    products = patch.astype(np.float64) * kernel.astype(np.float64)
    value = float(trace.stages[stage].conv[filter, row, col])
    return ConvTerms(patch, kernel.copy(), bias, products, value, row, col)


def _num(v: float, digits: int = 3) -> str:
    text = f"{v:.{digits}f}"
    return "0." + "0" * digits if text == "-0." + "0" * digits else text


def _signed_sum(terms: list[str], values: list[float], digits: int = 3) -> str:
    """'a + b - c + ...' from values (the sign goes between the terms) and optional labels."""
    parts = []
    for index, (label, v) in enumerate(zip(terms, values)):
        magnitude = _num(abs(v), digits)
        number = _num(v, digits) if index == 0 else magnitude
        piece = f"{number}{label}"
        if index == 0:
            parts.append(piece)
        else:
            parts.append(("- " if v < 0 and magnitude != _num(0, digits) else "+ ") + piece)
    return " ".join(parts)


def _title(network, target: MapTarget) -> str:
    spec = network.conv_specs[target.stage]
    what = {"conv": "convolution", "activation": ACTIVATION_NAMES.get(spec.activation, spec.activation),
            "pooled": f"{spec.pool} pool" if spec.pool != "none" else "no pooling"}[target.kind]
    return f"conv {target.stage + 1} {what}, filter {target.filter + 1}, row {target.row}, col {target.col}"


def _explain_conv(trace, network, stage: int, filter: int, row: int, col: int) -> str:
    terms = conv_terms(trace, network, stage, filter, row, col)
    channels, K = terms.patch.shape[0], terms.patch.shape[1]
    if channels == 1 and K * K <= 25:
        products = [float(p) for p in terms.products.reshape(-1)]
        line = _signed_sum([""] * len(products) + [" (bias)"], products + [terms.bias])
        return f"sum(patch × kernel) + bias = {line} = {terms.value:.4f}"
    sums = [float(s) for s in terms.products.reshape(channels, -1).sum(axis=1)]
    labels = [f" (ch {c + 1})" for c in range(channels)] + [" (bias)"]
    line = _signed_sum(labels, sums + [terms.bias])
    return (f"sum over {channels} channels of sum(patch × kernel) ({K}×{K} each) + bias\n"
            f"= {line} = {terms.value:.4f}")


def _explain_activation(trace, network, target: MapTarget) -> str:
    stage = trace.stages[target.stage]
    v = float(stage.conv[target.filter, target.row, target.col])
    y = float(stage.activation[target.filter, target.row, target.col])
    kind = network.conv_specs[target.stage].activation
    if kind == "relu":
        return f"ReLU(v) = max(0, v) = max(0, {v:.4f}) = {y:.4f}"
    if kind == "leaky_relu":
        how = f"{v:.4f}" if v > 0 else f"0.01 × {v:.4f}"
        return f"leaky ReLU(v) = v if v > 0 else 0.01 × v = {how} = {y:.4f}"
    if kind == "tanh":
        return f"tanh(v) = tanh({v:.4f}) = {y:.4f}"
    if kind == "sigmoid":
        return f"sigmoid(v) = 1 / (1 + exp(-v)) = 1 / (1 + exp({-v:.4f})) = {y:.4f}"
    return f"no activation: the value passes unchanged = {y:.4f}"


def _explain_pool(trace, network, target: MapTarget, field: ReceptiveField) -> str:
    g = network.geometry(trace.input.shape)[target.stage]
    stage = trace.stages[target.stage]
    window = field.pool_window
    values = stage.activation[target.filter, window.row0:window.row1 + 1, window.col0:window.col1 + 1]
    shown = "; ".join(", ".join(_num(float(v)) for v in row) for row in values)
    y = float(stage.pooled[target.filter, target.row, target.col])
    size = f"{g.pool_size}×{g.pool_size}"
    if g.pool == "max":
        r, c = field.conv_cell
        return f"max of the {size} window [{shown}] = {y:.4f} (winner at row {r}, col {c})"
    sum_text = " + ".join(_num(float(v)) for v in values.reshape(-1))
    return f"mean of the {size} window [{shown}] = ({sum_text}) / {values.size} = {y:.4f}"


def explain(trace, network, target: MapTarget) -> str:
    """The arithmetic that produced the value of ``target`` in ``trace``, as text.

    The first line names the map cell; the last number of the formula (before a
    "(winner ...)" note) is the trace's own value, to 4 decimals.
    """
    g = _check_target(network.geometry(trace.input.shape), target)
    title = _title(network, target)
    if target.kind == "conv":
        body = _explain_conv(trace, network, target.stage, target.filter, target.row, target.col)
    elif target.kind == "activation" or g.pool == "none":
        body = _explain_activation(trace, network, MapTarget(target.stage, "activation", target.filter,
                                                               target.row, target.col))
    else:
        body = _explain_pool(trace, network, target, receptive_field(network, target, trace))
    return f"{title}\n{body}"


def describe_input_pixel(network, row: int, col: int, input_shape=None) -> str:
    """One line per conv stage: which cells of its maps input pixel (row, col) feeds."""
    lines = [f"input pixel row {row}, col {col} feeds"]
    for k, cells in enumerate(fed_by_input(network, row, col, input_shape)):
        parts = []
        for kind in KINDS:
            rect = cells.get(kind)
            if kind == "activation" or (kind == "pooled" and network.conv_specs[k].pool == "none"):
                continue
            if rect is None:
                parts.append(f"{kind}: nothing")
            else:
                parts.append(f"{kind} rows {rect.row0}-{rect.row1}, cols {rect.col0}-{rect.col1}")
        lines.append(f"conv {k + 1}: " + "; ".join(parts))
    return "\n".join(lines)
