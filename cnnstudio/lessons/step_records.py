"""What the step-through shows at one step: one record per kind of step (conv, activation, pool, ...),
and the slide of a window over one axis (which cells it never reaches, and why)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnstudio.engine import resolve_padding
from cnnstudio.engine.shapes import symmetric_fixes

SYMMETRIC_RULE = "ensure that the kernel slides across the input symmetrically"


SHOWN_DECIMALS = 2   # the step-through shows products with this many decimals


def shown_sums(products: np.ndarray, decimals: int = SHOWN_DECIMALS) -> tuple[np.ndarray, np.ndarray, float]:
    """(C, K, K) products as shown (rounded), each channel's sum of those and the sum of all of them.

    Summed in whole hundredths (for 2 decimals), so the shown subtotals and total are exactly
    the sums of the shown numbers: the learner's own addition gives the same result.
    """
    products = np.asarray(products, dtype=np.float64)
    if not np.isfinite(products).all():   # an overflowing map: nothing to round, shown as it is
        subtotals = products.reshape(products.shape[0], -1).sum(axis=1)
        return products, subtotals, float(subtotals.sum())
    unit = 10 ** decimals
    counts = np.rint(np.asarray(products, dtype=np.float64) * unit).astype(np.int64)
    subtotals = counts.reshape(counts.shape[0], -1).sum(axis=1)
    return counts / unit, subtotals / unit, float(subtotals.sum()) / unit


@dataclass(frozen=True)
class ConvStep:
    """One window position: ``value = sum(patch * kernel) + bias``."""

    row: int               # output pixel
    col: int
    top: int               # window's top-left cell in the padded input
    left: int
    patch: np.ndarray      # (C, K, K) padded-input cells under the window
    kernel: np.ndarray     # (C, K, K)
    products: np.ndarray   # (C, K, K) patch * kernel
    total: float           # sum of the products
    bias: float
    value: float           # total + bias: the output pixel
    shown_products: np.ndarray | None = None   # (C, K, K) the products rounded to ``SHOWN_DECIMALS``
    shown_subtotals: np.ndarray | None = None  # (C,) exact sums of each channel's shown products
    shown_total: float = 0.0                   # exact sum of the shown products (so the shown numbers add up)


@dataclass(frozen=True)
class ActivationStep:
    """One feature-map pixel through the activation."""

    row: int
    col: int
    before: float
    after: float
    zeroed: bool           # a negative value that ReLU set to 0


@dataclass(frozen=True)
class PoolStep:
    """One pool window on the activated map and the value it keeps."""

    row: int               # pooled pixel
    col: int
    top: int               # window's top-left cell in the activated map
    left: int
    window: np.ndarray     # (size, size) the values in the window
    winner: tuple[int, int] | None  # max pooling: the window cell (in map coordinates) holding the maximum
    value: float


@dataclass(frozen=True)
class FlattenStep:
    """One row of one pooled map, copied to ``vector[start:start + len(values)]``."""

    filter: int
    row: int
    start: int
    values: np.ndarray


@dataclass(frozen=True)
class DenseStep:
    """One unit of one dense layer: ``value = inputs . weights + bias``, then its activation."""

    layer: int             # index among the dense layers (0 = the first after flatten)
    unit: int
    inputs: np.ndarray     # (D,)
    weights: np.ndarray    # (D,) this unit's row of the weight matrix
    products: np.ndarray   # (D,)
    bias: float
    value: float           # before the activation
    output: float          # after it (the logit for the last layer)
    activation: str


@dataclass(frozen=True)
class SoftmaxStep:
    """One class: ``probability = exp(logit - max) / sum of exp(logits - max)``."""

    cls: int
    logits: np.ndarray
    exps: np.ndarray       # exp(logits - max)
    total: float
    probability: float


@dataclass(frozen=True)
class Step:
    """Step ``index`` of the whole replay: ``local`` is its number inside ``phase``."""

    index: int
    phase: str
    local: int
    detail: ConvStep | ActivationStep | PoolStep | FlattenStep | DenseStep | SoftmaxStep
    stage: int | None = None   # the conv layer of a conv, activation or pool step (0-based)


@dataclass(frozen=True)
class PhaseSpan:
    name: str
    start: int
    count: int
    stage: int | None = None   # the conv layer of a conv, activation or pool phase (0-based)

    @property
    def stop(self) -> int:
        return self.start + self.count


# ---------------------------------------------------------------- the slide of a window over one axis

@dataclass(frozen=True)
class AxisSlide:
    """How a K-wide window with stride S moves over one axis of W cells padded by P before / after."""

    axis: str          # "height" or "width"
    size: int          # W
    kernel: int        # K
    stride: int        # S
    pad_before: int
    pad_after: int
    positions: int     # output size

    @property
    def padded(self) -> int:
        return self.size + self.pad_before + self.pad_after

    @property
    def reached(self) -> int:
        """Padded cells 0 .. reached - 1 are under some window position."""
        return (self.positions - 1) * self.stride + self.kernel

    @property
    def left_over(self) -> int:
        """Padded cells at the end that no window position covers."""
        return self.padded - self.reached


def axis_slide(axis: str, size: int, kernel: int, stride: int, padding) -> AxisSlide:
    """The slide of one conv axis, for an int padding or ``"same"`` (settings not yet in a network)."""
    positions, pad = resolve_padding(size, kernel, stride, padding)
    return AxisSlide(axis, size, kernel, stride, pad.before, pad.after, positions)


def slide_warning(slide: AxisSlide, padding, both: bool = False) -> str | None:
    """A sentence for an axis (or, ``both``, two equal axes) the window does not cover to the end; None when it does."""
    if slide.left_over <= 0:
        return None
    lines = "row(s) and column" if both else "row" if slide.axis == "height" else "column"
    W, K, S = slide.size, slide.kernel, slide.stride
    if padding == "same":
        arithmetic = f"with 'same' padding the last {slide.left_over} {lines}(s) are never reached"
        fixes = ["an odd kernel size", "stride 1"]
    else:
        P = int(padding)
        arithmetic = (f"(W - K + 2P) = ({W} - {K} + 2*{P}) = {W - K + 2 * P} is not divisible by the stride "
                      f"S = {S}, so the window never reaches the last {slide.left_over} {lines}(s)")
        fixes = symmetric_fixes(W, K, S, P) or ["change the kernel size"]
    where = "the height and the width" if both else f"the {slide.axis}"
    return (f"Over {where}: {arithmetic} (marked with a cross). The study note: "
            f"'{SYMMETRIC_RULE}'. Fix: {' or '.join(fixes)}.")
