"""Explain mode: one layer's arithmetic, one position at a time.

Qt-free.  A :class:`StepThrough` replays the forward pass of one image through
one conv stage (convolution of one filter, its activation, its pooling), every
conv stage after it in order (the same filter number, clipped), and then the end
of the network (flatten, each dense layer, softmax), as a list of small steps a
learner can play, pause, step and scrub.  ``span(name)`` is the phase of the
chosen stage; ``span(name, stage)`` that of another.

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

import numpy as np

from cnnstudio.engine import activation_forward

from cnnstudio.base.events import EventGroup
from cnnstudio.lessons.step_records import (ConvStep, ActivationStep, PoolStep, FlattenStep, DenseStep, SoftmaxStep,
                                           Step, PhaseSpan, shown_sums,
                                           AxisSlide, SYMMETRIC_RULE, axis_slide, slide_warning)  # noqa: F401

PHASES = ("conv", "activation", "pool", "flatten", "dense", "softmax")
PHASE_TITLES = {
    "conv": "Convolution: the kernel slides over the input",
    "activation": "Activation: every feature-map pixel through the activation",
    "pool": "Pooling: pick the max value from each window",
    "flatten": "Flatten: the pooled maps unrolled into one vector",
    "dense": "Dense layer: the vector times the weights of each unit",
    "softmax": "Softmax: logits become probabilities",
}
SOFTMAX_NOTE = ("Why subtract the max? For numerical stability: exp of a large number overflows (exp(100) is "
                "about 2.7e43, beyond float32); subtracting the max from every logit multiplies the numerator "
                "and the sum by the same exp(-max), so it changes nothing in the result.")
AVERAGE_POOL_TITLE = "Pooling: average each window"   # PHASE_TITLES["pool"] is max pooling's


# ---------------------------------------------------------------- the replay

def _pad(x: np.ndarray, rows: AxisSlide, cols: AxisSlide) -> np.ndarray:
    return np.pad(x, ((0, 0), (rows.pad_before, rows.pad_after), (cols.pad_before, cols.pad_after)))


def _activate(values: np.ndarray, activation: str) -> np.ndarray:
    return activation_forward(values.astype(np.float32), activation).astype(np.float64)


STAGE_FIELDS = ("spec", "geometry", "stage_input", "rows", "cols", "padded", "is_padding", "uncovered",
                "slide_warnings", "kernel", "bias", "windows", "conv", "activation", "pooled", "winners",
                "pool_windows")


class StageReplay:
    """One conv stage's numbers for one filter: its padded input, windows, map, activation and pooling."""

    def __init__(self, network, trace, image: np.ndarray, g, stage: int, filter: int):
        self.stage, self.filter = stage, filter
        self.spec = spec = network.conv_specs[stage]
        self.geometry = g
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

        self.pool_windows = None
        if spec.pool == "none":
            self.pooled, self.winners = self.activation, None
            return
        size, ps = spec.pool_size, spec.pool_stride
        Hq, Wq = g.pooled_height, g.pooled_width
        pool_windows = np.lib.stride_tricks.sliding_window_view(self.activation, (size, size))[::ps, ::ps][:Hq, :Wq]
        self.pool_windows = pool_windows                                  # (Hq, Wq, size, size)
        if spec.pool == "max":
            flat_arg = pool_windows.reshape(Hq, Wq, -1).argmax(axis=2)
            self.winners = np.stack(np.divmod(flat_arg, size), axis=-1)  # (Hq, Wq, 2) inside the window
            self.pooled = pool_windows.reshape(Hq, Wq, -1).max(axis=2)
        else:
            self.winners = None
            self.pooled = pool_windows.mean(axis=(2, 3))


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
        self.trace = trace = network.forward_maps(image)
        geometry = network.geometry(image.shape)
        # the chosen stage, then every later one: the steps go through the layers in order
        self.stages = {k: StageReplay(network, trace, image, geometry[k], k, min(filter, specs[k].filters - 1))
                       for k in range(stage, len(specs))}
        for name in STAGE_FIELDS:   # the chosen stage's numbers, as attributes (what the views and tests read)
            setattr(self, name, getattr(self.stages[stage], name))
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
        counts = {"flatten": n_flat_rows, "dense": n_dense,
                  "softmax": network.num_classes if self.fits_network else 0}
        self.spans, start = [], 0
        for k, replay in self.stages.items():
            Ho, Wo = replay.conv.shape
            Hq, Wq = replay.pooled.shape if replay.spec.pool != "none" else (0, 0)
            for name, count in (("conv", Ho * Wo), ("activation", Ho * Wo), ("pool", Hq * Wq)):
                self.spans.append(PhaseSpan(name, start, count, k))
                start += count
        for name in PHASES[3:]:
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

    def go_to_phase(self, name: str, stage: int | None = None) -> None:
        span = self.span(name, stage)
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

    def span(self, name: str, stage: int | None = None) -> PhaseSpan:
        """Phase ``name`` of conv stage ``stage`` (default: the chosen one; flatten, dense, softmax have none)."""
        stage = self.stage if stage is None else stage
        return next(span for span in self.spans if span.name == name and span.stage in (None, stage))

    @property
    def phase(self) -> str:
        return self.step().phase

    def step(self, index: int | None = None) -> Step:
        """The step at ``index`` (default: the current position)."""
        index = self.position if index is None else int(index)
        for span in self.spans:
            if span.start <= index < span.stop:
                local = index - span.start
                if span.stage is None:
                    return Step(index, span.name, local, getattr(self, f"_{span.name}_step")(local))
                detail = getattr(self, f"_{span.name}_step")(local, self.stages[span.stage])
                return Step(index, span.name, local, detail, span.stage)
        raise IndexError(f"step {index} is outside 0..{self.count - 1}")

    def _conv_step(self, local: int, replay: StageReplay) -> ConvStep:
        i, j = divmod(local, replay.cols.positions)
        patch = replay.windows[:, i, j]
        products = patch * replay.kernel
        total = float(products.sum())
        stride = replay.spec.stride
        return ConvStep(i, j, i * stride, j * stride, patch, replay.kernel, products, total, replay.bias,
                        total + replay.bias, *shown_sums(products))

    def _activation_step(self, local: int, replay: StageReplay) -> ActivationStep:
        i, j = divmod(local, replay.cols.positions)
        before, after = float(replay.conv[i, j]), float(replay.activation[i, j])
        return ActivationStep(i, j, before, after, before < 0 and after == 0)

    def _pool_step(self, local: int, replay: StageReplay) -> PoolStep:
        Wq = replay.pooled.shape[1]
        q, r = divmod(local, Wq)
        ps = replay.spec.pool_stride
        winner = None
        if replay.winners is not None:
            winner = (q * ps + int(replay.winners[q, r, 0]), r * ps + int(replay.winners[q, r, 1]))
        return PoolStep(q, r, q * ps, r * ps, replay.pool_windows[q, r], winner, float(replay.pooled[q, r]))

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
    def _done(self, name: str, index: int | None = None, stage: int | None = None) -> int:
        """How many steps of phase ``name`` are done at ``index`` (the current step counts as done)."""
        span = self.span(name, stage)
        index = self.position if index is None else index
        return int(np.clip(index - span.start + 1, 0, span.count))

    def _filled(self, values: np.ndarray, name: str, index: int | None = None, stage: int | None = None) -> np.ndarray:
        out = np.full(values.size, np.nan)
        done = self._done(name, index, stage)
        out[:done] = values.reshape(-1)[:done]
        return out.reshape(values.shape)

    def replay(self, stage: int | None = None) -> StageReplay:
        """The numbers of conv stage ``stage`` (default: the chosen one)."""
        return self.stages[self.stage if stage is None else stage]

    def conv_filled(self, index: int | None = None, stage: int | None = None) -> np.ndarray:
        """(Ho, Wo) the feature map of ``stage`` with the pixels computed so far, NaN elsewhere."""
        return self._filled(self.replay(stage).conv, "conv", index, stage)

    def activation_filled(self, index: int | None = None, stage: int | None = None) -> np.ndarray:
        return self._filled(self.replay(stage).activation, "activation", index, stage)

    def pooled_filled(self, index: int | None = None, stage: int | None = None) -> np.ndarray:
        pooled = self.replay(stage).pooled
        return self._filled(pooled, "pool", index, stage) if self.span("pool", stage).count else pooled.copy()

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
        """(Hp, Wp) how many window positions cover each padded-input cell of the chosen stage (0 = never reached)."""
        hits = np.zeros(self.padded.shape[1:], dtype=np.int64)
        K, S = self.spec.kernel, self.spec.stride
        for i in range(self.rows.positions):
            for j in range(self.cols.positions):
                hits[i * S:i * S + K, j * S:j * S + K] += 1
        return hits

    def describe(self, index: int | None = None) -> str:
        """The arithmetic of one step in one or two lines of plain text (rows, columns, maps counted from 1)."""
        step = self.step(index)
        d = step.detail
        if step.phase in ("conv", "activation", "pool"):
            replay = self.stages[step.stage]
            layer = f"Conv {step.stage + 1}, " if len(self.network.conv_specs) > 1 else ""
        if step.phase == "conv":
            C = d.patch.shape[0]
            over = f" over {C} channels" if C > 1 else ""
            return (f"{layer}output pixel (row {d.row + 1}, column {d.col + 1}): window at padded row {d.top + 1}, "
                    f"column {d.left + 1}. Dot product between the input and the filter{over}: sum of the "
                    f"{d.products.size} products = {d.total:.4f}, plus bias {d.bias:.4f} = {d.value:.4f}.")
        if step.phase == "activation":
            name = replay.spec.activation
            where = f"{layer}pixel (row {d.row + 1}, column {d.col + 1})"
            if name == "relu":
                what = "negative, so ReLU sets it to 0" if d.zeroed else "not negative, so ReLU keeps it"
                return f"{where.capitalize()}: {d.before:.3f} is {what}: {d.after:.3f}."
            return f"{where.capitalize()}: {name}({d.before:.3f}) = {d.after:.3f}."
        if step.phase == "pool":
            size = replay.spec.pool_size
            where = (f"{layer}pooled pixel (row {d.row + 1}, column {d.col + 1})").capitalize()
            if d.winner is not None:
                return (f"{where}: the {size}x{size} window at (row {d.top + 1}, column {d.left + 1}); max pooling "
                        f"picks the max value, {d.value:.3f} at (row {d.winner[0] + 1}, column {d.winner[1] + 1}).")
            return f"{where}: the mean of the {size}x{size} window is {d.value:.3f}."
        if step.phase == "flatten":
            return (f"Map {d.filter + 1}, row {d.row + 1}: its {d.values.size} values become entries "
                    f"{d.start + 1}..{d.start + d.values.size} of the vector (colours kept).")
        if step.phase == "dense":
            last = d.layer == len(self.dense_values) - 1
            name = f"class {d.unit}" if last else f"unit {d.unit + 1} of dense layer {d.layer + 1}"
            act = "" if d.activation == "none" else f", {d.activation} -> {d.output:.3f}"
            return (f"{name}: the {d.inputs.size} inputs times its {d.weights.size} weights, summed = "
                    f"{d.value - d.bias:.3f}, plus bias {d.bias:.3f} = {d.value:.3f}{act}"
                    + (" (its logit)." if last else "."))
        return (f"Class {d.cls}: exp({d.logits[d.cls]:.3f} - max) = {d.exps[d.cls]:.4f}; divided by the sum "
                f"{d.total:.4f} gives probability {d.probability:.3f}.")
