"""What each filter wants: the input it likes best, and the training patches that excite it most.

Qt-free.  Two views of one conv filter (stage k, filter f), on inputs in [0, 1] (0 = background):

- :func:`maximise_activation` (activation maximisation, as in the deep visualization toolbox): gradient
  ascent on the input of the activation of the filter's *centre unit*, the cell (h // 2, w // 2) of its
  activation map, all the stage's filters at once as ONE batch.  Only the unit's receptive field
  (``core.receptive_field``) can move it, so the ascent changes only those pixels: from a seeded start
  there, with mid-grey (0.5, "does not matter") everywhere else and a small L2 pull toward mid-grey, the
  picture is the pattern the unit wants in its field (kernel-like for conv 1, a stroke fragment deeper);
- :func:`top_patches`: over a data set, the k images where the filter's strongest response is
  highest (at most one position per image), with the input patch that position sees (its
  receptive field; zeros where the field reaches past the border).

A filter's *activation* (the ascent's objective) is its centre unit's activation; *blank* is that unit's
activation on an all-zero input (0 when ReLU cuts a negative bias).  "10x over blank": the reached
activation is at least 10 x max(blank, floor), floor = 1e-3 x the stage's mean activation on real digits,
so a filter whose blank response is 0 must still reach a real fraction of what digits give it.  A filter
that no input in [0, 1] can make fire (:func:`activation_upper_bound` <= 0) is *silent*: nothing to raise.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from cnnstudio.core.receptive_field import MapTarget, Rect, receptive_field
from cnnstudio.engine import (
    Network,
    activation_forward,
    avgpool2d_forward,
    conv2d_forward,
    maxpool2d_forward,
)

STEPS = 60
LEARNING_RATE = 0.2   # per step, in pixel units (the step is the gradient scaled to a largest value of 1)
L2 = 0.02              # pull toward mid-grey, relative to the scaled gradient: pixels the unit barely uses stay grey
GREY = 0.5             # the start outside the receptive field and what the L2 pull aims at: "does not matter"
BLUR_FROM = 6          # smooth the step when the centre unit's field is at least this many pixels across
BLANK_FLOOR = 1e-3     # of the stage's mean activation on real digits: the "10x over blank" floor
_BLUR = np.array([0.25, 0.5, 0.25], dtype=np.float32)  # its spectrum cos^2 >= 0: a blurred ascent still climbs


@dataclass
class Ascent:
    """Activation maximisation of a stage's chosen filters (objective: each filter's centre unit).

    images     : (F, C, H, W) float32 in [0, 1], image i is what filter ``filters[i]``'s centre unit wants
                 (mid-grey outside its receptive field)
    filters    : (F,) the filter indices
    activation : (F,) the centre unit's activation of filter ``filters[i]`` on image i
    blank      : (F,) the same unit's activation on an all-zero input
    peak       : (F,) the largest activation of that filter's map on image i
    mean       : (F,) the mean of that map on image i
    history    : (steps + 1, F) the centre activation before each step and at the end
    centre     : (row, col) the centre unit on the stage's activation maps
    field      : the centre unit's receptive field on the input (clipped, inclusive ``Rect``)
    """

    images: np.ndarray
    filters: np.ndarray
    activation: np.ndarray
    blank: np.ndarray
    peak: np.ndarray
    mean: np.ndarray
    history: np.ndarray
    centre: tuple
    field: Rect


@dataclass
class TopPatches:
    """The k images that excite each filter most, and where.

    index      : (F, k) image index in the data set (at most once per filter)
    row, col   : (F, k) the position of the filter's strongest response on its activation map
    activation : (F, k) float32 that response, highest first
    patches    : (F, k, C, ph, pw) float32 the input under the receptive field (zeros outside the image)
    rects      : F lists of k unclipped input rectangles (``core.receptive_field.Rect``)
    """

    index: np.ndarray
    row: np.ndarray
    col: np.ndarray
    activation: np.ndarray
    patches: np.ndarray
    rects: list


# ---------------------------------------------------------------- forward to one stage

def stage_activations(network, images, stage: int) -> np.ndarray:
    """Conv stage ``stage``'s activation maps (N, F, h, w) float32 of a batch (N, C, H, W), any H x W."""
    h = np.ascontiguousarray(images, dtype=np.float32)
    for k, spec in enumerate(network.conv_specs[:stage + 1]):
        h = activation_forward(conv2d_forward(h, network.weight(k), network.bias(k), spec.stride, spec.padding),
                               spec.activation)
        if k == stage:
            return h
        if spec.pool == "max":
            h = maxpool2d_forward(h, spec.pool_size, spec.pool_stride)[0]
        elif spec.pool == "avg":
            h = avgpool2d_forward(h, spec.pool_size, spec.pool_stride)
    return h


def _check_stage(network, stage) -> int:
    count = len(network.conv_specs)
    if isinstance(stage, bool) or not isinstance(stage, (int, np.integer)) or not 0 <= stage < count:
        fix = f"pass a conv stage from 0 to {count - 1}" if count else "use a network with a conv layer"
        raise ValueError(f"stage {stage!r} does not exist: the network has {count} conv stages. Fix: {fix}.")
    return int(stage)


def _check_filters(filters, count: int) -> np.ndarray:
    chosen = np.arange(count) if filters is None else np.asarray(filters, dtype=np.int64).reshape(-1)
    if chosen.size == 0 or chosen.min() < 0 or chosen.max() >= count:
        raise ValueError(f"filters {list(chosen)} are not all among this stage's {count} filters. "
                         f"Fix: pass indices from 0 to {count - 1}.")
    return chosen


# ---------------------------------------------------------------- activation maximisation

def centre_unit(network, stage: int) -> tuple[int, int]:
    """(row, col) = (h // 2, w // 2) of conv stage ``stage``'s activation maps: the unit the ascent climbs."""
    g = network.geometry()[_check_stage(network, stage)]
    return g.height // 2, g.width // 2


def centre_field(network, stage: int) -> Rect:
    """The centre unit's receptive field on the network's input (clipped, inclusive)."""
    row, col = centre_unit(network, stage)
    return receptive_field(network, MapTarget(stage, "activation", 0, row, col)).input_rect


def _blur(x: np.ndarray) -> np.ndarray:
    """A separable [1/4, 1/2, 1/4] blur of the last two axes (edges repeated)."""
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
    y = _BLUR[0] * p[..., :-2, :] + _BLUR[1] * p[..., 1:-1, :] + _BLUR[2] * p[..., 2:, :]
    return _BLUR[0] * y[..., :-2] + _BLUR[1] * y[..., 1:-1] + _BLUR[2] * y[..., 2:]


def _candidate_starts(shape: tuple, inside: np.ndarray, rng) -> np.ndarray:
    """Seeded starting images (M, C, H, W): grey everywhere, and in the field (``inside``, (H, W) bool)
    grey with faint noise first, then uniform noise, smooth blobs and strokes.

    A ReLU unit silent on the grey start has a zero gradient there, so each filter starts from the
    candidate its centre unit responds to most (the first when none is better).
    """
    C, H, W = shape
    faint = GREY + 0.05 * rng.standard_normal((1, C, H, W))
    noise = rng.uniform(0.0, 1.0, (3, C, H, W))
    blobs = rng.uniform(0.0, 1.0, (4, C, H, W)).astype(np.float32)
    for _ in range(2):
        blobs = _blur(blobs)
    low, high = blobs.min(axis=(2, 3), keepdims=True), blobs.max(axis=(2, 3), keepdims=True)
    blobs = (blobs - low) / np.maximum(high - low, 1e-6)
    strokes = (blobs > 0.6).astype(np.float32)
    starts = np.concatenate([faint, noise, blobs, strokes])
    return np.clip(np.where(inside, starts, GREY), 0.0, 1.0).astype(np.float32)


def ascend(network, stage: int, filters=None, steps: int = STEPS, lr: float = LEARNING_RATE, l2: float = L2,
           blur: bool | None = None, jitter: int = 0, seed: int = 0, input_shape=None) -> Ascent:
    """Activation maximisation with its history and numbers: see :func:`maximise_activation`."""
    stage = _check_stage(network, stage)
    shape = tuple(network.input_shape if input_shape is None else input_shape)
    if shape != network.input_shape:
        raise ValueError(f"the network takes {network.input_shape} inputs, not {shape}. "
                         f"Fix: maximise on the network's own input size.")
    if steps < 0:
        raise ValueError(f"steps = {steps}. Fix: pass 0 or more steps.")
    g = network.geometry(shape)[stage]
    filters = _check_filters(filters, g.filters)
    F, rows = filters.size, np.arange(filters.size)
    row, col = g.height // 2, g.width // 2
    field = centre_field(network, stage)
    inside = np.zeros(shape[1:], dtype=bool)
    inside[field.row0:field.row1 + 1, field.col0:field.col1 + 1] = True
    if blur is None:  # a 3x3 field is the kernel itself: blurring would smear it
        blur = min(field.height, field.width) >= BLUR_FROM
    rng = np.random.default_rng(seed)
    starts = _candidate_starts(shape, inside, rng)
    liking = stage_activations(network, starts, stage)[:, filters, row, col]   # (M, F)
    # the smooth grey start where the unit is already awake there (noise would linger in the picture),
    # else the candidate it responds to most
    choice = np.where(liking[0] > 0, 0, np.argmax(liking, axis=0))
    x = np.ascontiguousarray(starts[choice])
    objective = np.zeros((F, g.filters, g.height, g.width), dtype=np.float32)
    objective[rows, filters, row, col] = 1.0                                     # one-hot: the centre unit
    # Climb the unit's value before its activation function: the activations are monotone, so the input
    # that maximises one maximises the other, and a unit that starts dead (ReLU of a negative value: zero
    # gradient) still has a slope to climb.
    activation = network.conv_specs[stage].activation
    climber = _without_activation(network, stage)
    history = np.zeros((steps + 1, F), dtype=np.float32)
    for step in range(steps + 1):
        if jitter and step < steps:  # climb a shifted copy, so no pattern depends on one exact pixel grid
            dy, dx = (int(v) for v in rng.integers(-jitter, jitter + 1, 2))
            result = climber.input_gradients(np.roll(x, (dy, dx), axis=(2, 3)), stage=stage,
                                             grad_activation=objective)
            gradient = np.roll(result.input, (-dy, -dx), axis=(2, 3))
        else:
            result = climber.input_gradients(x, stage=stage, grad_activation=objective)
            gradient = result.input
        history[step] = activation_forward(result.activations[stage][rows, filters, row, col], activation)
        if step == steps:
            break
        if blur:
            gradient = _blur(gradient)
        gradient = np.where(inside, gradient, 0.0)  # pixels outside the field stay grey (jitter and blur spill)
        largest = np.abs(gradient).reshape(F, -1).max(axis=1).reshape(F, 1, 1, 1)
        ascent = gradient / np.maximum(largest, 1e-12) - l2 * (x - GREY)
        rate = lr * (0.55 + 0.45 * np.cos(np.pi * step / max(steps, 1)))  # smaller steps at the end: it settles
        x = np.clip(x + rate * ascent, 0.0, 1.0).astype(np.float32)
    maps = activation_forward(result.activations[stage][rows, filters], activation)
    blank = blank_activation(network, stage)[filters]
    return Ascent(x, filters, maps[:, row, col].astype(np.float32), blank.astype(np.float32),
                  maps.max(axis=(1, 2)).astype(np.float32), maps.mean(axis=(1, 2)).astype(np.float32),
                  history, (row, col), field)


def _without_activation(network, stage: int):
    """A copy of ``network`` whose conv stage ``stage`` has no activation function (the same weights)."""
    layers = list(network.layers)
    layers[stage] = replace(layers[stage], activation="none")
    climber = Network(layers, network.input_shape)
    climber.set_state(network.params)
    return climber


def maximise_activation(network, stage: int, filters=None, steps: int = STEPS, lr: float = LEARNING_RATE,
                        l2: float = L2, blur: bool | None = None, jitter: int = 0, seed: int = 0) -> np.ndarray:
    """The input each filter's centre unit likes best, by gradient ascent on the pixels of its receptive field.

    Parameters
    ----------
    network : engine ``Network``
    stage : conv stage k (0-based)
    filters : indices of the stage's filters to picture, default all
    steps : ascent steps; each one is ONE batch forward + backward of all chosen filters
    lr : step size in pixel units (each step's gradient is scaled to a largest value of 1)
    l2 : pull toward mid-grey (a small regulariser: pixels the unit barely uses stay "does not matter")
    blur : smooth each step's gradient with a 3x3 [1/4, 1/2, 1/4] kernel (for large fields: a pattern,
        not pixel noise); the step stays inside the field either way
    jitter : if > 0, climb a copy rolled by up to ``jitter`` pixels each step (a neighbouring unit: a picture
        less tied to one pixel grid, not a surer climb); the step still stays in the centre unit's field
    seed : the start in the field (grey with faint seeded noise, or the seeded noise/blob/stroke candidate
        the unit responds to most) and the jitter come from it: the same seed gives the same pictures

    Returns
    -------
    images : (F, C, H, W) float32 in [0, 1], mid-grey outside the centre unit's receptive field; image i
        raises filter ``filters[i]``'s centre unit (on the shipped model, at least 10x over a blank input
        for every filter that can fire: see the module docstring)
    """
    return ascend(network, stage, filters, steps, lr, l2, blur, jitter, seed).images


def blank_activation(network, stage: int) -> np.ndarray:
    """(F,) every filter's centre-unit activation on an all-zero input of the network's size."""
    row, col = centre_unit(network, stage)
    blank = np.zeros((1,) + tuple(network.input_shape), dtype=np.float32)
    return stage_activations(network, blank, stage)[0, :, row, col]


def activation_upper_bound(network, stage: int, input_shape=None) -> np.ndarray:
    """(F,) an upper bound of each filter's activation for any input in [0, 1] (interval arithmetic).

    Each stage's maps are bounded cell by cell from the bounds of its input (positive weights take the
    upper bound, negative ones the lower); a bound <= 0 after ReLU means the filter is silent on
    every input in [0, 1]: no ascent can make it fire.
    """
    stage = _check_stage(network, stage)
    shape = (1,) + tuple(network.input_shape if input_shape is None else input_shape)
    low, high = np.zeros(shape, np.float32), np.ones(shape, np.float32)
    for k, spec in enumerate(network.conv_specs[:stage + 1]):
        w, b = network.weight(k), network.bias(k)
        zero = np.zeros_like(b)
        positive, negative = np.maximum(w, 0), np.minimum(w, 0)
        new_low = (conv2d_forward(low, positive, b, spec.stride, spec.padding)
                   + conv2d_forward(high, negative, zero, spec.stride, spec.padding))
        new_high = (conv2d_forward(high, positive, b, spec.stride, spec.padding)
                    + conv2d_forward(low, negative, zero, spec.stride, spec.padding))
        # every activation is monotone non-decreasing, so the bounds map straight through
        low, high = activation_forward(new_low, spec.activation), activation_forward(new_high, spec.activation)
        if k == stage:
            break
        if spec.pool == "max":
            low, high = (maxpool2d_forward(v, spec.pool_size, spec.pool_stride)[0] for v in (low, high))
        elif spec.pool == "avg":
            low, high = (avgpool2d_forward(v, spec.pool_size, spec.pool_stride) for v in (low, high))
    return high[0].max(axis=(1, 2))


# ---------------------------------------------------------------- the patches that excite a filter most

def top_patches(network, stage: int, images, k: int = 9, batch_size: int = 250,
                progress: Callable | None = None, cancelled: Callable | None = None) -> TopPatches | None:
    """For each filter of a conv stage, the k images of a data set where its strongest response is highest.

    Parameters
    ----------
    images : (N, C, H, W) float32 in [0, 1], run through the stage in batches of ``batch_size``
    k : images per filter (fewer when the data set has fewer)
    progress : optional ``(done, total) -> None`` after every batch
    cancelled : optional ``() -> bool``; when it says True between batches, the work stops and None returns

    Returns
    -------
    TopPatches: per filter, k (image index, row, col, activation), highest first, at most one position per
    image (its strongest), ties to the lower index; and the input patch under each position's receptive field.
    """
    stage = _check_stage(network, stage)
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[0] == 0 or images.shape[1] != network.input_shape[0]:
        raise ValueError(f"images of shape {images.shape} are not a batch of {network.input_shape[0]}-channel "
                         f"images. Fix: pass (N, C, H, W) with N >= 1.")
    if k < 1:
        raise ValueError(f"k = {k}. Fix: ask for 1 or more patches per filter.")
    N = images.shape[0]
    k = min(int(k), N)
    best_value = best_index = best_flat = None
    for start in range(0, N, batch_size):
        if cancelled is not None and cancelled():
            return None
        maps = stage_activations(network, images[start:start + batch_size], stage)
        n, F = maps.shape[:2]
        flat = maps.reshape(n, F, -1)
        where = flat.argmax(axis=2)                                    # (n, F) first maximum
        value = np.take_along_axis(flat, where[..., None], axis=2)[..., 0]
        index = np.broadcast_to(np.arange(start, start + n)[:, None], (n, F))
        if best_value is not None:
            value = np.concatenate([best_value, value])
            index = np.concatenate([best_index, index])
            where = np.concatenate([best_flat, where])
        # highest first; a stable sort keeps the lower image index first among equals
        order = np.argsort(-value, axis=0, kind="stable")[:k]
        best_value = np.take_along_axis(value, order, axis=0)
        best_index = np.take_along_axis(index, order, axis=0)
        best_flat = np.take_along_axis(where, order, axis=0)
        if progress is not None:
            progress(min(start + batch_size, N), N)
    width = maps.shape[3]
    rows, cols = np.divmod(best_flat.T, width)
    return _with_patches(network, stage, images, best_index.T.copy(), rows, cols, best_value.T.copy())


def _with_patches(network, stage, images, index, rows, cols, activation) -> TopPatches:
    F, k = index.shape
    C = images.shape[1]
    shape = images.shape[1:]
    rects, patches = [], None
    for f in range(F):
        rects.append([])
        for j in range(k):
            field = receptive_field(network, MapTarget(stage, "activation", f, int(rows[f, j]), int(cols[f, j])),
                                    input_shape=shape)
            outer, inner = field.input_unclipped, field.input_rect
            if patches is None:
                patches = np.zeros((F, k, C, outer.height, outer.width), dtype=np.float32)
            rects[f].append(outer)
            patches[f, j, :, inner.row0 - outer.row0:inner.row1 - outer.row0 + 1,
                    inner.col0 - outer.col0:inner.col1 - outer.col0 + 1] = \
                images[index[f, j], :, inner.row0:inner.row1 + 1, inner.col0:inner.col1 + 1]
    return TopPatches(index, rows, cols, activation.astype(np.float32), patches, rects)
