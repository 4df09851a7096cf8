"""A small CNN built from layer specs: conv stages (conv -> activation -> pool), then dense layers, then softmax.

A training batch runs each conv stage as one fused kernel (convolution, activation
and pooling in one Numba call) over work items of a few images in parallel
(``prange``); the live one-image forward costs a handful of calls.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .activations import LEAKY_SLOPE, _activation_backward_flat, _activation_forward_flat, activation_code
from .conv import _im2col_image
from .dense import _dense_backward, _dense_forward, _softmax, _softmax_cross_entropy
from .optim import glorot_init, he_init
from .pooling import POOL_CODES, avgpool2d_backward, maxpool2d_backward
from .stages import (_dense_layer_image, _stage_backward_parallel, _stage_finish_image, _stage_forward_parallel,
                     _stage_forward_serial)
from .checks import array_shape, integer_array, refuse, whole_number
from .shapes import ConvSpec, DenseSpec, StageGeometry, resolve_stages, validate_layers


def default_layers() -> list:
    """1x28x28 -> conv 8 3x3 pad 1 -> ReLU -> max pool 2 -> conv 16 3x3 pad 1 -> ReLU -> max pool 2 -> dense 10."""
    return [ConvSpec(filters=8, kernel=3, padding=1), ConvSpec(filters=16, kernel=3, padding=1), DenseSpec(units=10)]


# ---------------------------------------------------------------- results

@dataclass
class StageMaps:
    """The maps of one conv stage for one image, each (filters, height, width) float32."""

    conv: np.ndarray
    activation: np.ndarray
    pooled: np.ndarray
    winner: np.ndarray  # flat index of each max-pool window's winner in its activation plane


@dataclass
class ForwardTrace:
    """Every intermediate map of one image's forward pass (what the live panels draw)."""

    input: np.ndarray                     # (C, H, W)
    stages: list[StageMaps]               # one per conv stage
    flat: np.ndarray                      # (D,) the last pooled maps, flattened
    dense: list[np.ndarray] = field(default_factory=list)  # (units,) each dense layer's output
    logits: np.ndarray = None             # (classes,)
    probabilities: np.ndarray = None      # (classes,)


# ---------------------------------------------------------------- the network

class Network:
    """A CNN of conv stages and dense layers, with weights as float32 arrays.

    Parameters
    ----------
    layers : list of ConvSpec / DenseSpec, ending with a DenseSpec (the softmax's logits)
    input_shape : (C, H, W)
    seed : seed of the He/Glorot initialisation

    ``params`` lists the weight arrays in layer order: ``[w0, b0, w1, b1, ...]``
    (conv weights (Co, Ci, K, K), dense weights (units, inputs)).  They are
    updated in place by optimizers; ``weight(i)`` / ``bias(i)`` give layer i's.
    """

    def __init__(self, layers=None, input_shape=(1, 28, 28), seed=0):
        self.layers = list(default_layers() if layers is None else layers)
        self.input_shape = tuple(int(v) for v in input_shape)
        self.reports = validate_layers(self.input_shape, self.layers)
        self._cache_structure()
        self.params = self._initial_params(np.random.default_rng(seed))

    def _cache_structure(self) -> None:
        """What the hot paths need of the layer list, computed once."""
        self._conv_specs = tuple(s for s in self.layers if isinstance(s, ConvSpec))
        self._dense_codes = tuple(activation_code(s.activation) for s in self.layers if isinstance(s, DenseSpec))
        # (activation code, pool code) of each conv stage, as the fused kernels take them
        self._stage_codes = tuple((activation_code(s.activation), POOL_CODES[s.pool]) for s in self._conv_specs)
        self._geometry_cache: dict[tuple, tuple[StageGeometry, ...]] = {}
        self._geometry = self._geometry_for(self.input_shape)

    # -- structure
    def geometry(self, input_shape=None) -> list[StageGeometry]:
        """Sizes and padding of every conv stage on an input of ``input_shape`` (C, H, W), default the network's.

        Another size than ``input_shape`` (e.g. a photo) is checked against the conv stages only,
        as :meth:`forward_maps` runs it; an impossible one raises ``ValueError``.
        """
        if input_shape is None:
            return list(self._geometry)
        return list(self._geometry_for(array_shape(input_shape, "input_shape", "Network.geometry", 3,
                                                   fix="pass (channels, height, width), e.g. image.shape")))

    def _geometry_for(self, input_shape: tuple) -> tuple[StageGeometry, ...]:
        """Cached geometry of the conv stages on ``input_shape``: one dict lookup after the first time."""
        geometry = self._geometry_cache.get(input_shape)
        if geometry is None:
            if input_shape != self.input_shape:  # only the conv stages run, so only they are checked
                validate_layers(input_shape, list(self._conv_specs) + [DenseSpec(1)])
            if len(self._geometry_cache) > 64:  # photos of many sizes: keep the cache small
                self._geometry_cache.clear()
            geometry = self._geometry_cache[input_shape] = tuple(resolve_stages(input_shape, self._conv_specs))
        return geometry

    @property
    def conv_specs(self) -> list[ConvSpec]:
        return list(self._conv_specs)

    @property
    def dense_specs(self) -> list[DenseSpec]:
        return [s for s in self.layers if isinstance(s, DenseSpec)]

    @property
    def num_classes(self) -> int:
        return self.layers[-1].units

    @property
    def flat_size(self) -> int:
        n_conv = len(self.conv_specs)
        return int(np.prod(self.reports[n_conv - 1].output_shape)) if n_conv else int(np.prod(self.input_shape))

    def _initial_params(self, rng) -> list[np.ndarray]:
        params = []
        shape = self.input_shape
        for spec, report in zip(self.layers, self.reports):
            if isinstance(spec, ConvSpec):
                fan_in = shape[0] * spec.kernel * spec.kernel
                fan_out = spec.filters * spec.kernel * spec.kernel
                wshape = (spec.filters, shape[0], spec.kernel, spec.kernel)
            else:
                fan_in = int(np.prod(shape))
                fan_out = spec.units
                wshape = (spec.units, fan_in)
            if spec.activation in ("relu", "leaky_relu"):
                w = he_init(rng, wshape, fan_in)
            else:
                w = glorot_init(rng, wshape, fan_in, fan_out)
            params += [w, np.zeros(wshape[0], dtype=np.float32)]
            shape = report.output_shape
        return params

    def _layer_index(self, layer, where: str) -> int:
        count = len(self.layers)
        if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, (int, np.integer)) \
                or not -count <= layer < count:
            refuse(where, f"layer = {layer!r}, but this network has layers 0..{count - 1}",
                   f"pass a layer index from 0 to {count - 1} (or -1 for the last)")
        return int(layer) % count

    def weight(self, layer: int) -> np.ndarray:
        """Layer ``layer``'s weights: conv (Co, Ci, K, K) or dense (units, inputs), float32, updated in place."""
        return self.params[2 * self._layer_index(layer, "Network.weight")]

    def bias(self, layer: int) -> np.ndarray:
        """Layer ``layer``'s biases (Co,) or (units,), float32."""
        return self.params[2 * self._layer_index(layer, "Network.bias") + 1]

    def weight_counts(self) -> list[int]:
        """Number of trainable numbers (weights + biases) per layer."""
        return [self.params[2 * k].size + self.params[2 * k + 1].size for k in range(len(self.layers))]

    def get_state(self) -> list[np.ndarray]:
        return [p.copy() for p in self.params]

    def set_state(self, state) -> None:
        """Copy ``state`` (a list like ``params``, same shapes) into the weights, in place."""
        state = list(state)
        if len(state) != len(self.params):
            refuse("Network.set_state", f"these weights do not fit this network's architecture: state has "
                                        f"{len(state)} arrays, expected {len(self.params)} (a weight and a bias "
                                        f"per layer)", "load weights saved from a network with the same layers")
        for k, (a, p) in enumerate(zip(state, self.params)):
            if np.shape(a) != p.shape:
                refuse("Network.set_state", f"these weights do not fit this network's architecture: state[{k}] "
                                            f"has shape {np.shape(a)}, expected {p.shape}",
                       "load weights saved from a network with the same layers")
        for p, a in zip(self.params, state):
            p[...] = a

    def copy(self) -> Network:
        other = Network.__new__(Network)
        other.layers, other.input_shape, other.reports = list(self.layers), self.input_shape, self.reports
        other._cache_structure()
        other.params = self.get_state()
        return other

    # -- input checks
    def _as_batch(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 3 and self.input_shape[0] == 1 and x.shape[1:] == self.input_shape[1:]:
            x = x[:, None]  # (N, H, W) for a one-channel network
        if x.ndim != 4 or x.shape[1:] != self.input_shape:
            C, H, W = self.input_shape
            if x.ndim != 4:
                fix = f"pass a batch (N, {C}, {H}, {W}); for one image use x[None]"
            elif x.shape[1] != C:
                fix = f"convert the images to {C} channel(s)"
            else:
                fix = f"resize the images to {H}x{W}"
            raise ValueError(f"Network: x of shape {x.shape} does not fit this network, which takes "
                             f"(N, {C}, {H}, {W}). Fix: {fix}.")
        if not np.isfinite(x).all():
            raise ValueError("the input contains NaN or infinite values. Fix: pass finite pixel values.")
        return np.ascontiguousarray(x)

    # -- the live path: one image, every map
    def forward_maps(self, image) -> ForwardTrace:
        """Forward one image ((C, H, W), or (H, W) for one channel), returning every intermediate map.

        An image of another size than ``input_shape`` (e.g. a photo) runs through
        the conv stages only: ``flat``, ``logits`` and ``probabilities`` are None.
        """
        x = np.asarray(image, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3 or x.shape[0] != self.input_shape[0]:
            C = self.input_shape[0]
            fix = f"convert the image to {'grayscale' if C == 1 else 'RGB'}" if x.ndim == 3 else \
                "pass one image, not a batch (e.g. images[0])"
            raise ValueError(f"forward_maps: image of shape {np.shape(image)} does not fit this network, which takes "
                             f"{C} channel(s) as (C, H, W){' or (H, W)' if C == 1 else ''}. Fix: {fix}.")
        if not np.isfinite(x).all():
            raise ValueError("the input contains NaN or infinite values. Fix: pass finite pixel values.")
        x = np.ascontiguousarray(x)
        fits = x.shape == self.input_shape
        geometry = self._geometry if fits else self._geometry_for(x.shape)
        stages = []
        h = x
        alpha = np.float32(LEAKY_SLOPE)
        for k, (g, (act, pool)) in enumerate(zip(geometry, self._stage_codes)):
            # The live path: patches as columns, one BLAS matrix product, then bias, activation and pooling.
            weight = self.params[2 * k]
            columns = _im2col_image(h, g.kernel, g.kernel, g.stride, g.pad_top, g.pad_left, g.height, g.width)
            conv = np.matmul(weight.reshape(g.filters, -1), columns).reshape(g.filters, g.height, g.width)
            activated, pooled, winner = _stage_finish_image(conv, self.params[2 * k + 1], act, alpha, pool,
                                                            g.pool_size, g.pool_stride, g.pooled_height,
                                                            g.pooled_width)
            stages.append(StageMaps(conv, activated, pooled, winner))
            h = pooled
        if not fits:
            return ForwardTrace(x, stages, None, [], None, None)
        flat = h.reshape(-1)
        dense = []
        for k, code in zip(range(len(stages), len(self.layers)), self._dense_codes):
            h = _dense_layer_image(h, self.params[2 * k], self.params[2 * k + 1], code, alpha)
            dense.append(h)
        probabilities = _softmax(h.reshape(1, -1))[0]
        return ForwardTrace(x, stages, flat, dense, dense[-1], probabilities)

    # -- the batch path: training and evaluation
    def _forward_batch(self, x, dropout_rng=None):
        """Logits (N, classes) of a batch and what the backward pass needs.

        With ``dropout_rng`` (training), each dense layer with ``dropout`` > 0 zeroes that
        fraction of its inputs at random (the survivors scaled by 1 / (1 - dropout)).
        """
        h, caches = self._forward_stages(x)
        return self._forward_dense(h.reshape(x.shape[0], -1), caches, dropout_rng)

    def _forward_stages(self, x):
        """Every conv stage of a batch: the last stage's output maps and one cache per stage."""
        caches = []
        h = x
        N = x.shape[0]
        run = _stage_forward_parallel if N >= 4 else _stage_forward_serial
        for k, (g, (act, pool)) in enumerate(zip(self._geometry, self._stage_codes)):
            conv = np.empty((N, g.filters, g.height, g.width), dtype=np.float32)
            activated = np.empty_like(conv)
            if pool:
                pooled = np.empty((N, g.filters, g.pooled_height, g.pooled_width), dtype=np.float32)
                winner = np.zeros((N, g.filters, g.pooled_height, g.pooled_width), dtype=np.int64)
            else:
                pooled, winner = activated, np.zeros((N, g.filters, 0, 0), dtype=np.int64)
            run(h, self.params[2 * k], self.params[2 * k + 1], g.stride, g.pad_top, g.pad_left, act,
                np.float32(LEAKY_SLOPE), pool, g.pool_size, g.pool_stride, conv, activated, pooled, winner)
            caches.append((h, conv, activated, winner))
            h = pooled
        return h, caches

    def _forward_dense(self, h, caches, dropout_rng=None):
        """The dense layers on flattened maps h (N, D); appends (input, z, a, kept) per layer to ``caches``."""
        for k in range(len(caches), len(self.layers)):
            kept = None  # dropout's scaled mask of the inputs, (N, D) float32, or None
            rate = self.layers[k].dropout
            if dropout_rng is not None and rate:
                kept = (dropout_rng.random(h.shape, dtype=np.float32) >= rate).astype(np.float32)
                kept *= np.float32(1.0 / (1.0 - rate))
                h = h * kept
            z = _dense_forward(h, self.params[2 * k], self.params[2 * k + 1])
            a = np.empty_like(z)
            _activation_forward_flat(z.reshape(-1), activation_code(self.layers[k].activation),
                                     np.float32(LEAKY_SLOPE), a.reshape(-1))
            caches.append((h, z, a, kept))
            h = a
        return h, caches

    def forward(self, x, batch_size: int = 256) -> np.ndarray:
        """Logits (N, classes) float32 of a batch (N, C, H, W), computed in chunks of ``batch_size``."""
        batch_size = whole_number(batch_size, "batch_size", "Network.forward")
        x = self._as_batch(x)
        chunks = [self._forward_batch(x[s:s + batch_size])[0] for s in range(0, x.shape[0], batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.num_classes), np.float32)

    def predict_proba(self, x, batch_size: int = 256) -> np.ndarray:
        """Softmax probabilities (N, classes) of a batch."""
        return _softmax(self.forward(x, batch_size))

    def loss_and_grads(self, x, labels, dropout_rng=None):
        """Mean cross-entropy of a batch and the gradient of every parameter.

        Returns ``(loss, grads, logits)``; ``grads`` matches ``params``.  ``dropout_rng`` (a NumPy
        ``Generator``) turns on the dense layers' dropout, as in training; without it every input is used.
        """
        x = self._as_batch(x)
        if x.shape[0] == 0:
            refuse("Network.loss_and_grads", "x holds no images (N = 0): the mean loss of an empty batch is "
                                             "undefined", "pass at least one image")
        labels = integer_array(labels, "labels", "Network.loss_and_grads")
        if labels.shape != (x.shape[0],) or labels.min(initial=0) < 0 or labels.max(initial=0) >= self.num_classes:
            raise ValueError(f"Network.loss_and_grads: labels must be {x.shape[0]} integers in "
                             f"0..{self.num_classes - 1}, one per image; got shape {labels.shape}"
                             + (f", values {labels.min()}..{labels.max()}" if labels.size else "")
                             + ". Fix: pass the class index of each image.")
        logits, caches = self._forward_batch(x, dropout_rng)
        loss, grad = _softmax_cross_entropy(logits, labels)
        grads: list = [None] * len(self.params)
        self._backward(caches, grad, len(self.layers) - 1, grads, need_input=False)
        return float(loss), grads, logits

    def _backward(self, caches, grad, top: int, grads=None, need_input=False, maps=None):
        """Back-propagate ``grad`` (the gradient of layer ``top``'s output) down to the input.

        Fills ``grads`` (a list like ``params``) with the weight gradients of layers 0..top when given;
        ``maps`` (a dict) receives ``("output", k)`` and ``("activation", k)`` -> the gradient of conv
        stage k's output (pooled) maps and of its activation maps, (N, F, h, w) each.
        Returns the gradient of the input (N, C, H, W) when ``need_input``, else None.
        """
        n_conv = len(self._conv_specs)
        for k in range(top, n_conv - 1, -1):
            h, z, a, kept = caches[k]
            g = np.empty_like(z)
            _activation_backward_flat(z.reshape(-1), a.reshape(-1), np.ascontiguousarray(grad).reshape(-1),
                                      activation_code(self.layers[k].activation), np.float32(LEAKY_SLOPE),
                                      g.reshape(-1))
            grad, gw, gb = _dense_backward(h, self.params[2 * k], g)
            if kept is not None:
                grad = grad * kept
            if grads is not None:
                grads[2 * k], grads[2 * k + 1] = gw, gb
        N = caches[0][0].shape[0] if caches else 0
        for k in range(min(top, n_conv - 1), -1, -1):
            pool, winner = self._stage_codes[k][1], caches[k][3]
            grad = np.ascontiguousarray(grad, dtype=np.float32).reshape((N,) + self.reports[k].output_shape)
            if maps is not None:
                maps["output", k] = grad
                maps["activation", k] = self._unpool(k, grad, winner) if pool else grad
            grad, gw, gb = self._stage_backward(k, caches[k], grad, True, k > 0 or need_input, weights=True)
            if grads is not None:
                grads[2 * k], grads[2 * k + 1] = gw, gb
        if not need_input:
            return None
        return grad.reshape((grad.shape[0],) + self.input_shape) if n_conv == 0 else grad

    def _stage_backward(self, k: int, cache, grad, pool: bool, need_input: bool, weights: bool = False):
        """Backward through conv stage k from the gradient of its output maps (``pool``) or of its
        activation maps (``not pool``: the stage's pooling is skipped).

        Returns (grad of the stage's input, weight grad, bias grad) when ``weights``, else the input's grad.
        """
        g, (act, pool_code) = self._geometry[k], self._stage_codes[k]
        below, conv, activated, winner = cache
        gx, gw, gb = _stage_backward_parallel(
            below, self.params[2 * k], g.stride, g.pad_top, g.pad_left, act, np.float32(LEAKY_SLOPE),
            pool_code if pool else 0, g.pool_size, g.pool_stride, conv, activated, winner, grad, need_input)
        return (gx, gw, gb) if weights else gx

    def _unpool(self, k: int, grad_pooled, winner):
        """The gradient of stage k's activation maps from that of its pooled maps."""
        g = self._geometry[k]
        shape = (grad_pooled.shape[0], g.filters, g.height, g.width)
        if self._stage_codes[k][1] == POOL_CODES["max"]:
            return maxpool2d_backward(grad_pooled, winner, shape)
        return avgpool2d_backward(grad_pooled, shape, g.pool_size, g.pool_stride)

    def input_gradients(self, x, grad_logits=None, *, stage=None, grad_activation=None):
        """Gradients of a chosen objective with respect to the input: see :func:`engine.gradients.input_gradients`."""
        from .gradients import input_gradients
        return input_gradients(self, x, grad_logits, stage=stage, grad_activation=grad_activation)
