"""What a filter looks for: occlusion maps and receptive fields that grow layer by layer.

Qt-free.

- :func:`occlusion_map` slides a patch over the input, runs the network on
  every occluded copy (one batch) and reports how much the probability of the
  predicted class drops at each position: where it drops most is what the
  network looked at.  NOTE: on MNIST's black paper a mid-grey (0.5) patch adds a
  blob of ink that the network reads as a stroke, so the patch is filled with
  the background value by default (``BACKGROUND``): it hides strokes without
  drawing new ones; ``GREY`` is there to try.
- :func:`field_growth` gives, for one unit of any map, the input region it sees
  through every earlier map, and :func:`field_sizes` the size of a unit's
  receptive field at each layer: each conv adds ``(K - 1)`` times the product of
  the strides before it, each pooling ``(size - 1)`` times it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnstudio.core.receptive_field import MapTarget, Rect, receptive_field

BACKGROUND = 0.0
GREY = 0.5


@dataclass
class OcclusionMap:
    """Result of :func:`occlusion_map`.

    ``probability[r, c]`` is the target class's probability with the patch's top-left
    corner at ``(r * stride, c * stride)``; ``drop`` is ``baseline - probability``;
    ``pixel_drop`` (H, W) spreads each drop over the pixels the patch covered (mean).
    """

    target: int
    baseline: float
    patch: int
    stride: int
    probability: np.ndarray
    drop: np.ndarray
    pixel_drop: np.ndarray

    @property
    def largest_drop(self) -> float:
        return float(self.drop.max()) if self.drop.size else 0.0


def patch_positions(size: int, patch: int, stride: int) -> list[int]:
    """Top-left corners along one axis, the last one flush with the edge so every pixel is covered."""
    last = max(size - patch, 0)
    positions = list(range(0, last + 1, stride))
    if positions[-1] != last:
        positions.append(last)
    return positions


def occluded_images(image: np.ndarray, patch: int, stride: int, fill: float = BACKGROUND):
    """Every copy of ``image`` (H, W) with a ``patch`` x ``patch`` square set to ``fill``.

    Returns ``(images (R*C, 1, H, W) float32, rows, cols)`` with the corner positions.
    """
    image = np.asarray(image, dtype=np.float32)
    H, W = image.shape
    rows, cols = patch_positions(H, patch, stride), patch_positions(W, patch, stride)
    images = np.repeat(image[None, None], len(rows) * len(cols), axis=0)
    for k, (r, c) in enumerate((r, c) for r in rows for c in cols):
        images[k, 0, r:r + patch, c:c + patch] = fill
    return images, rows, cols


def _check_occlusion_input(network, image, patch, stride, target) -> np.ndarray:
    """The image as (H, W) float32, or a ValueError saying what does not fit and how to fix it."""
    image = np.asarray(image, dtype=np.float32)
    channels, height, width = network.input_shape
    if channels != 1:
        raise ValueError(f"occlusion_map: the network takes {channels} channels, but occlusion maps hide a patch "
                         f"of one grey image. Fix: use a network with a one-channel input (1, H, W).")
    if image.ndim == 3 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 2:
        raise ValueError(f"occlusion_map: image has shape {image.shape}, expected one grey image ({height}, "
                         f"{width}) or (1, {height}, {width}). Fix: convert it to grayscale (one channel).")
    if image.shape != (height, width):
        raise ValueError(f"occlusion_map: image is {image.shape[0]}x{image.shape[1]}, but the network takes "
                         f"{height}x{width}. Fix: resize the image to {height}x{width} (e.g. MNIST framing).")
    for name, value in (("patch", patch), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"occlusion_map: {name} = {value!r} must be a whole number of pixels >= 1. "
                             f"Fix: use e.g. patch 8, stride 2.")
    if target is not None and not 0 <= int(target) < network.num_classes:
        raise ValueError(f"occlusion_map: target = {target} is not a class of this network (0.."
                         f"{network.num_classes - 1}). Fix: pass a class index, or None for the predicted class.")
    return image


def occlusion_map(network, image, patch: int = 8, stride: int = 2, fill: float = BACKGROUND,
                  target: int | None = None, batch_size: int = 3) -> OcclusionMap:
    """How the probability of ``target`` (default: the predicted class) drops as a patch hides each region.

    Parameters
    ----------
    network : engine ``Network`` taking (1, H, W)
    image : (H, W) float32, or (1, H, W), of the network's size
    patch, stride : side of the grey square and its step, in pixels
    fill : the patch's value: 0 is the background, 0.5 mid-grey
    batch_size : images per engine call; the default 3 keeps the engine on its
        serial path, which is what a GUI thread should use while a trainer runs

    Raises ``ValueError`` for a multi-channel network or image, or an image of another size.
    """
    image = _check_occlusion_input(network, image, patch, stride, target)
    baseline = network.predict_proba(image[None, None])[0]
    target = int(np.argmax(baseline)) if target is None else int(target)
    images, rows, cols = occluded_images(image, patch, stride, fill)
    probability = network.predict_proba(images, batch_size=batch_size)[:, target].reshape(len(rows), len(cols))
    drop = baseline[target] - probability
    total = np.zeros(image.shape, dtype=np.float64)
    count = np.zeros(image.shape, dtype=np.float64)
    for a, r in enumerate(rows):
        for b, c in enumerate(cols):
            total[r:r + patch, c:c + patch] += drop[a, b]
            count[r:r + patch, c:c + patch] += 1
    return OcclusionMap(target, float(baseline[target]), patch, stride, probability, drop,
                        total / np.maximum(count, 1))


# ---------------------------------------------------------------- receptive fields, layer by layer

MAP_NAMES = {"conv": "conv", "activation": "activation", "pooled": "pool"}


@dataclass(frozen=True)
class FieldStep:
    """The region of one map (``stage`` -1 = the input) that a chosen unit depends on."""

    label: str          # "input", "conv 1", "pool 1", ...
    stage: int
    kind: str
    rect: Rect          # clipped to the map
    unclipped: Rect     # reaching into the padding
    map_shape: tuple[int, int]


def map_choices(network, input_shape=None) -> list[tuple[str, int, str, tuple[int, int]]]:
    """Every map a unit can be picked from: ``(label, stage, kind, (height, width))``, input side first."""
    choices = []
    for k, g in enumerate(network.geometry(input_shape)):
        choices.append((f"conv {k + 1}", k, "conv", (g.height, g.width)))
        if g.pool != "none":
            choices.append((f"pool {k + 1}", k, "pooled", (g.pooled_height, g.pooled_width)))
    return choices


def field_growth(network, stage: int, kind: str, row: int, col: int, filter: int = 0,
                 input_shape=None) -> list[FieldStep]:
    """The unit's region on each earlier map, from the input up to the unit itself (conv and pooled maps)."""
    field = receptive_field(network, MapTarget(stage, kind, filter, row, col), input_shape=input_shape)
    geometry = network.geometry(input_shape)
    C, H, W = tuple(input_shape or network.input_shape)
    steps = []
    for region in reversed(field.regions):
        if region.kind == "activation":
            continue  # the same cells as its conv map
        if region.stage < 0:
            steps.append(FieldStep("input", -1, "input", region.rect, region.unclipped, (H, W)))
        else:
            label = f"{MAP_NAMES[region.kind]} {region.stage + 1}"
            steps.append(FieldStep(label, region.stage, region.kind, region.rect, region.unclipped,
                                   geometry[region.stage].map_shape(region.kind)))
    return steps


def field_sizes(network, input_shape=None) -> list[tuple[str, int]]:
    """(map label, side of one unit's receptive field on the input, in pixels), for every map."""
    out = []
    for label, stage, kind, (h, w) in map_choices(network, input_shape):
        field = receptive_field(network, MapTarget(stage, kind, 0, h // 2, w // 2), input_shape=input_shape)
        out.append((label, field.input_unclipped.height))
    return out
