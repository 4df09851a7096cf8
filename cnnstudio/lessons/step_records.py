"""What the step-through shows at one step: one record per kind of step (conv, activation, pool, ...)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


@dataclass(frozen=True)
class PhaseSpan:
    name: str
    start: int
    count: int

    @property
    def stop(self) -> int:
        return self.start + self.count
