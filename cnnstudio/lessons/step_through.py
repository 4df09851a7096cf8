"""Explain mode: one layer's arithmetic, one position at a time.

Qt-free.  A :class:`StepThrough` replays the forward pass of one image through
one conv stage (convolution of one filter, its activation, its pooling) and
then through the end of the network (flatten, each dense layer, softmax), as a
list of small steps a learner can play, pause, step and scrub:

=============  ===============================================  ==============================
phase          one step is                                      fills
=============  ===============================================  ==============================
``conv``       one window position: patch x kernel, sum + bias  one pixel of the feature map
``activation`` one feature-map pixel through the activation     one pixel of the activated map
``pool``       one pool window and its maximum (or mean)        one pixel of the pooled map
``flatten``    one row of one pooled map copied into the vector  ``Wq`` entries of the vector
``dense``      one unit: vector . weights + bias                 one unit's output (a logit)
``softmax``    one class: exp(z - max) / sum                     one probability
=============  ===============================================  ==============================

The numbers are computed here in NumPy (float64) from the network's weights,
not copied from the engine, so a test can check that replaying every step
gives what the engine computed.

Geometry (sizes and padding come from ``network.geometry``): the window of
output pixel (i, j) covers padded rows ``i*S .. i*S+K-1`` and columns
``j*S .. j*S+K-1``.  When ``(W - K + 2P)`` is not a
multiple of S the window never reaches the last ``(W - K + 2P) % S`` rows or
columns of the padded input: :attr:`StepThrough.uncovered` marks them and
:attr:`StepThrough.slide_warnings` says why, in the study note's words, with a fix.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnstudio.engine import activation_forward, resolve_padding
from cnnstudio.engine.shapes import symmetric_fixes

from cnnstudio.base.events import EventGroup
from cnnstudio.lessons.step_records import (ConvStep, ActivationStep, PoolStep, FlattenStep, DenseStep, SoftmaxStep, Step, PhaseSpan)

PHASES = ("conv", "activation", "pool", "flatten", "dense", "softmax")
PHASE_TITLES = {
    "conv": "Convolution: the kernel slides over the input",
    "activation": "Activation: every feature-map pixel through the activation",
    "pool": "Pooling: pick the max value from each window",
    "flatten": "Flatten: the pooled maps unrolled into one vector",
    "dense": "Dense layer: the vector times the weights of each unit",
    "softmax": "Softmax: logits become probabilities",
}
AVERAGE_POOL_TITLE = "Pooling: average each window"   # PHASE_TITLES["pool"] is max pooling's
SYMMETRIC_RULE = "ensure that the kernel slides across the input symmetrically"


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


# ---------------------------------------------------------------- the replay

def _pad(x: np.ndarray, rows: AxisSlide, cols: AxisSlide) -> np.ndarray:
    return np.pad(x, ((0, 0), (rows.pad_before, rows.pad_after), (cols.pad_before, cols.pad_after)))


def _activate(values: np.ndarray, activation: str) -> np.ndarray:
    return activation_forward(values.astype(np.float32), activation).astype(np.float64)


class StepThrough:
    """Replay of one image through conv stage ``stage`` (filter ``filter``) and the rest of the network.

    Parameters
    ----------
    network : engine ``Network`` with at least one conv stage
    image : (C, H, W) or (H, W) the network's input (any size the conv stages accept)
    stage, filter : which conv stage and which of its filters to replay

    Events: ``position_changed()`` after ``go_to`` moved, ``rebuilt()`` after the
    numbers were recomputed (new image, weights, stage or filter).
    """

    def __init__(self, network, image, stage: int = 0, filter: int = 0):
        self.events = EventGroup("position_changed", "rebuilt")
        self.position = 0
        self._set(network, image, stage, filter)

    # -- building
    def rebuild(self, network=None, image=None, stage: int | None = None, filter: int | None = None) -> None:
        """Recompute with whatever changed; the position is kept (clamped) when the steps still fit."""
        self._set(self.network if network is None else network, self.image if image is None else image,
                  self.stage if stage is None else stage, self.filter if filter is None else filter)
        self.events.rebuilt.emit()

    def _set(self, network, image, stage: int, filter: int) -> None:
        image = np.asarray(image, dtype=np.float32)
        if image.ndim == 2:
            image = image[None]
        specs = network.conv_specs
        if not specs:
            raise ValueError("the step-through needs a network with at least one conv layer")
        stage = int(np.clip(stage, 0, len(specs) - 1))
        filter = int(np.clip(filter, 0, specs[stage].filters - 1))
        self.network, self.image, self.stage, self.filter = network, image, stage, filter
        self.spec = spec = specs[stage]
        self.trace = trace = network.forward_maps(image)
        self.geometry = g = network.geometry(image.shape)[stage]
        stage_input = image if stage == 0 else trace.stages[stage - 1].pooled
        self.stage_input = stage_input.astype(np.float64)
        H, W = g.in_height, g.in_width
        self.rows = AxisSlide("height", H, g.kernel, g.stride, g.pad_top, g.pad_bottom, g.height)
        self.cols = AxisSlide("width", W, g.kernel, g.stride, g.pad_left, g.pad_right, g.width)
        self.padded = _pad(self.stage_input, self.rows, self.cols)
        self.is_padding = np.ones(self.padded.shape[1:], dtype=bool)   # the border of zeros
        self.is_padding[self.rows.pad_before:self.rows.pad_before + H,
                        self.cols.pad_before:self.cols.pad_before + W] = False
        self.uncovered = np.zeros(self.padded.shape[1:], dtype=bool)
        self.uncovered[self.rows.reached:, :] = True
        self.uncovered[:, self.cols.reached:] = True
        same = (self.rows.size, self.rows.left_over) == (self.cols.size, self.cols.left_over)
        if same and self.rows.left_over > 0:  # a square input: one sentence for both axes
            self.slide_warnings = [slide_warning(self.rows, spec.padding, both=True)]
        else:
            self.slide_warnings = [text for text in (slide_warning(self.rows, spec.padding),
                                                     slide_warning(self.cols, spec.padding)) if text]

        # convolution of one filter, every position at once (the steps read from these arrays)
        self.kernel = network.weight(stage)[filter].astype(np.float64)   # (C, K, K)
        self.bias = float(network.bias(stage)[filter])
        K, S = spec.kernel, spec.stride
        Ho, Wo = self.rows.positions, self.cols.positions
        windows = np.lib.stride_tricks.sliding_window_view(self.padded, (K, K), axis=(1, 2))[:, ::S, ::S][:, :Ho, :Wo]
        self.windows = windows                                            # (C, Ho, Wo, K, K)
        self.conv = np.einsum("chwij,cij->hw", windows, self.kernel) + self.bias
        self.activation = _activate(self.conv, spec.activation)

        # pooling
        if spec.pool == "none":
            self.pooled, self.winners, Hq, Wq = self.activation, None, 0, 0
        else:
            size, ps = spec.pool_size, spec.pool_stride
            Hq, Wq = g.pooled_height, g.pooled_width
            pool_windows = np.lib.stride_tricks.sliding_window_view(self.activation, (size, size))[::ps, ::ps][:Hq, :Wq]
            self.pool_windows = pool_windows                              # (Hq, Wq, size, size)
            if spec.pool == "max":
                flat_arg = pool_windows.reshape(Hq, Wq, -1).argmax(axis=2)
                self.winners = np.stack(np.divmod(flat_arg, size), axis=-1)  # (Hq, Wq, 2) inside the window
                self.pooled = pool_windows.reshape(Hq, Wq, -1).max(axis=2)
            else:
                self.winners = None
                self.pooled = pool_windows.mean(axis=(2, 3))

        # the end of the network, from the last stage's pooled maps (all filters)
        self.fits_network = trace.flat is not None
        self.last_pooled = trace.stages[-1].pooled.astype(np.float64)
        if self.fits_network:
            self.flat = self.last_pooled.reshape(-1)
            n_conv = len(specs)
            self.dense_inputs, self.dense_values, self.dense_outputs = [], [], []
            h = self.flat
            for k in range(n_conv, len(network.layers)):
                w, b = network.weight(k).astype(np.float64), network.bias(k).astype(np.float64)
                z = w @ h + b
                self.dense_inputs.append(h)
                self.dense_values.append(z)
                h = _activate(z, network.layers[k].activation)
                self.dense_outputs.append(h)
            self.logits = h
            self.exps = np.exp(h - h.max())
            self.probabilities = self.exps / self.exps.sum()
        n_flat_rows = self.last_pooled.shape[0] * self.last_pooled.shape[1] if self.fits_network else 0
        n_dense = sum(len(v) for v in self.dense_values) if self.fits_network else 0
        counts = {"conv": Ho * Wo, "activation": Ho * Wo, "pool": Hq * Wq, "flatten": n_flat_rows,
                  "dense": n_dense, "softmax": network.num_classes if self.fits_network else 0}
        self.spans, start = [], 0
        for name in PHASES:
            self.spans.append(PhaseSpan(name, start, counts[name]))
            start += counts[name]
        self.count = start
        self.position = int(np.clip(self.position, 0, self.count - 1))

    # -- moving
    def go_to(self, index: int) -> None:
        index = int(np.clip(index, 0, self.count - 1))
        if index != self.position:
            self.position = index
            self.events.position_changed.emit()

    def step_forward(self) -> bool:
        """One step on; False at the end."""
        if self.position >= self.count - 1:
            return False
        self.go_to(self.position + 1)
        return True

    def step_back(self) -> bool:
        if self.position <= 0:
            return False
        self.go_to(self.position - 1)
        return True

    def go_to_phase(self, name: str) -> None:
        span = self.span(name)
        if span.count:
            self.go_to(span.start)

    @property
    def at_end(self) -> bool:
        return self.position >= self.count - 1

    # -- reading
    def phase_title(self, name: str | None = None) -> str:
        """The heading of phase ``name`` (default: the current one), in the words of this stage's pooling."""
        name = self.phase if name is None else name
        if name == "pool" and self.spec.pool == "avg":
            return AVERAGE_POOL_TITLE
        return PHASE_TITLES[name]

    def span(self, name: str) -> PhaseSpan:
        return self.spans[PHASES.index(name)]

    @property
    def phase(self) -> str:
        return self.step().phase

    def step(self, index: int | None = None) -> Step:
        """The step at ``index`` (default: the current position)."""
        index = self.position if index is None else int(index)
        for span in self.spans:
            if span.start <= index < span.stop:
                local = index - span.start
                return Step(index, span.name, local, getattr(self, f"_{span.name}_step")(local))
        raise IndexError(f"step {index} is outside 0..{self.count - 1}")

    def _conv_step(self, local: int) -> ConvStep:
        i, j = divmod(local, self.cols.positions)
        patch = self.windows[:, i, j]
        products = patch * self.kernel
        total = float(products.sum())
        return ConvStep(i, j, i * self.spec.stride, j * self.spec.stride, patch, self.kernel, products, total,
                        self.bias, total + self.bias)

    def _activation_step(self, local: int) -> ActivationStep:
        i, j = divmod(local, self.cols.positions)
        before, after = float(self.conv[i, j]), float(self.activation[i, j])
        return ActivationStep(i, j, before, after, before < 0 and after == 0)

    def _pool_step(self, local: int) -> PoolStep:
        Wq = self.pooled.shape[1]
        q, r = divmod(local, Wq)
        ps = self.spec.pool_stride
        winner = None
        if self.winners is not None:
            winner = (q * ps + int(self.winners[q, r, 0]), r * ps + int(self.winners[q, r, 1]))
        return PoolStep(q, r, q * ps, r * ps, self.pool_windows[q, r], winner, float(self.pooled[q, r]))

    def _flatten_step(self, local: int) -> FlattenStep:
        F, Hq, Wq = self.last_pooled.shape
        f, row = divmod(local, Hq)
        return FlattenStep(f, row, (f * Hq + row) * Wq, self.last_pooled[f, row])

    def _dense_step(self, local: int) -> DenseStep:
        n_conv = len(self.network.conv_specs)
        for layer, values in enumerate(self.dense_values):
            if local < len(values):
                weights = self.network.weight(n_conv + layer)[local].astype(np.float64)
                inputs = self.dense_inputs[layer]
                return DenseStep(layer, local, inputs, weights, inputs * weights,
                                 float(self.network.bias(n_conv + layer)[local]), float(values[local]),
                                 float(self.dense_outputs[layer][local]), self.network.layers[n_conv + layer].activation)
            local -= len(values)
        raise IndexError(local)

    def _softmax_step(self, local: int) -> SoftmaxStep:
        return SoftmaxStep(local, self.logits, self.exps, float(self.exps.sum()), float(self.probabilities[local]))

    # -- what is filled in at the current position (NaN = not yet)
    def _done(self, name: str, index: int | None = None) -> int:
        """How many steps of phase ``name`` are done at ``index`` (the current step counts as done)."""
        span = self.span(name)
        index = self.position if index is None else index
        return int(np.clip(index - span.start + 1, 0, span.count))

    def _filled(self, values: np.ndarray, name: str, index: int | None = None) -> np.ndarray:
        out = np.full(values.size, np.nan)
        done = self._done(name, index)
        out[:done] = values.reshape(-1)[:done]
        return out.reshape(values.shape)

    def conv_filled(self, index: int | None = None) -> np.ndarray:
        """(Ho, Wo) the feature map with the pixels computed so far, NaN elsewhere."""
        return self._filled(self.conv, "conv", index)

    def activation_filled(self, index: int | None = None) -> np.ndarray:
        return self._filled(self.activation, "activation", index)

    def pooled_filled(self, index: int | None = None) -> np.ndarray:
        return self._filled(self.pooled, "pool", index) if self.span("pool").count else self.pooled.copy()

    def flat_filled(self, index: int | None = None) -> np.ndarray:
        """(D,) the flattened vector so far (whole map rows at a time)."""
        if not self.fits_network:
            return np.zeros(0)
        F, Hq, Wq = self.last_pooled.shape
        rows = self._filled(self.last_pooled.reshape(F * Hq, Wq)[:, 0], "flatten", index)
        out = self.flat.copy().reshape(F * Hq, Wq)
        out[np.isnan(rows)] = np.nan
        return out.reshape(-1)

    def dense_filled(self, layer: int, index: int | None = None) -> np.ndarray:
        """(units,) outputs of dense layer ``layer`` computed so far."""
        before = sum(len(v) for v in self.dense_outputs[:layer])
        done = self._done("dense", index) - before
        out = np.full(len(self.dense_outputs[layer]), np.nan)
        done = int(np.clip(done, 0, out.size))
        out[:done] = self.dense_outputs[layer][:done]
        return out

    def probabilities_filled(self, index: int | None = None) -> np.ndarray:
        return self._filled(self.probabilities, "softmax", index)

    def window_hits(self) -> np.ndarray:
        """(Hp, Wp) how many window positions cover each padded-input cell (0 = never reached)."""
        hits = np.zeros(self.padded.shape[1:], dtype=np.int64)
        K, S = self.spec.kernel, self.spec.stride
        for i in range(self.rows.positions):
            for j in range(self.cols.positions):
                hits[i * S:i * S + K, j * S:j * S + K] += 1
        return hits

    def describe(self, index: int | None = None) -> str:
        """The arithmetic of one step in one or two lines of plain text."""
        step = self.step(index)
        d = step.detail
        if step.phase == "conv":
            C = d.patch.shape[0]
            over = f" over {C} channels" if C > 1 else ""
            return (f"Output pixel ({d.row}, {d.col}): window at padded row {d.top}, column {d.left}. "
                    f"Dot product between the input and the filter{over}: sum of the {d.products.size} products "
                    f"= {d.total:.3f}, plus bias {d.bias:.3f} = {d.value:.3f}.")
        if step.phase == "activation":
            name = self.spec.activation
            if name == "relu":
                what = "negative, so ReLU sets it to 0" if d.zeroed else "not negative, so ReLU keeps it"
                return f"Pixel ({d.row}, {d.col}): {d.before:.3f} is {what}: {d.after:.3f}."
            return f"Pixel ({d.row}, {d.col}): {name}({d.before:.3f}) = {d.after:.3f}."
        if step.phase == "pool":
            size = self.spec.pool_size
            if d.winner is not None:
                return (f"Pooled pixel ({d.row}, {d.col}): the {size}x{size} window at ({d.top}, {d.left}); max "
                        f"pooling picks the max value, {d.value:.3f} at ({d.winner[0]}, {d.winner[1]}).")
            return f"Pooled pixel ({d.row}, {d.col}): the mean of the {size}x{size} window is {d.value:.3f}."
        if step.phase == "flatten":
            return (f"Map {d.filter + 1}, row {d.row}: its {d.values.size} values become entries "
                    f"{d.start}..{d.start + d.values.size - 1} of the vector (colours kept).")
        if step.phase == "dense":
            last = d.layer == len(self.dense_values) - 1
            name = f"class {d.unit}" if last else f"unit {d.unit + 1} of dense layer {d.layer + 1}"
            act = "" if d.activation == "none" else f", {d.activation} -> {d.output:.3f}"
            return (f"{name}: the {d.inputs.size} inputs times its {d.weights.size} weights, summed = "
                    f"{d.value - d.bias:.3f}, plus bias {d.bias:.3f} = {d.value:.3f}{act}"
                    + (" (its logit)." if last else "."))
        return (f"Class {d.cls}: exp({d.logits[d.cls]:.3f} - max) = {d.exps[d.cls]:.4f}; divided by the sum "
                f"{d.total:.4f} gives probability {d.probability:.3f}.")
