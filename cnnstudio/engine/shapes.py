"""Shape arithmetic in one place: output size = (W - K + 2P) / S + 1.

Also the layer specs of a network and the validator that explains, per layer,
when a setting is impossible (a ``ValueError`` naming the layer, the numbers
and a fix) or when the kernel would not slide symmetrically over the input.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "none")
POOLS = ("max", "avg", "none")
MAX_KERNEL = 11
MAX_STRIDE = 4


@dataclass(frozen=True)
class ConvSpec:
    """One conv stage: convolution, then activation, then pooling.

    ``padding`` is an int (zeros added on every side) or ``"same"``.
    """

    filters: int = 8
    kernel: int = 3
    stride: int = 1
    padding: int | str = 1
    activation: str = "relu"
    pool: str = "max"
    pool_size: int = 2
    pool_stride: int = 2
    kind: str = field(default="conv", init=False)


@dataclass(frozen=True)
class DenseSpec:
    """A fully connected layer; the last one of a network feeds the softmax.

    ``dropout`` is the fraction of this layer's inputs zeroed at random in each training step
    (scaled by 1 / (1 - dropout) so their expected sum is unchanged); evaluation and the live
    view use every input.
    """

    units: int = 10
    activation: str = "none"
    dropout: float = 0.0
    kind: str = field(default="dense", init=False)


@dataclass(frozen=True)
class Padding:
    """Zeros added before (top/left) and after (bottom/right) one axis."""

    before: int
    after: int


def spec_to_dict(spec: ConvSpec | DenseSpec) -> dict:
    """A JSON-friendly dict of a spec (``kind`` says which)."""
    if isinstance(spec, ConvSpec):
        return {"kind": "conv", "filters": spec.filters, "kernel": spec.kernel,
                "stride": spec.stride, "padding": spec.padding,
                "activation": spec.activation, "pool": spec.pool,
                "pool_size": spec.pool_size, "pool_stride": spec.pool_stride}
    data = {"kind": "dense", "units": spec.units, "activation": spec.activation}
    if spec.dropout:  # files of networks without dropout stay as they were
        data["dropout"] = spec.dropout
    return data


def spec_from_dict(data: dict) -> ConvSpec | DenseSpec:
    """Inverse of :func:`spec_to_dict`; raises ``ValueError`` on a foreign dict."""
    fields = dict(data)
    kind = fields.pop("kind", None)
    try:
        if kind == "conv":
            return ConvSpec(**fields)
        if kind == "dense":
            return DenseSpec(**fields)
    except TypeError as error:
        raise ValueError(f"layer description {data!r} has unknown fields: {error}") from None
    raise ValueError(f"layer description {data!r} has unknown kind {kind!r}")


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output size of a convolution or pooling: floor((W - K + 2P) / S) + 1."""
    return (size - kernel + 2 * padding) // stride + 1


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, Padding]:
    """Output size and padding of ``padding="same"``: output = ceil(W / S).

    The total padding is split evenly; an odd total puts the extra zero after
    (bottom/right), as PyTorch and TensorFlow do.
    """
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, Padding(total // 2, total - total // 2)


def resolve_padding(size: int, kernel: int, stride: int, padding: int | str) -> tuple[int, Padding]:
    """Output size and the zeros before/after one axis, for an int or ``"same"``."""
    if padding == "same":
        return same_padding(size, kernel, stride)
    return conv_output_size(size, kernel, stride, padding), Padding(padding, padding)


@dataclass(frozen=True)
class StageGeometry:
    """The resolved sizes of one conv stage (conv -> activation -> pool) on a given input.

    ``pad_top``/``pad_left`` zeros come before the input, ``pad_bottom``/``pad_right``
    after it (the window may not reach all of those when the slide is not symmetric).
    """

    channels: int        # input channels
    in_height: int
    in_width: int
    filters: int
    kernel: int
    stride: int
    pad_top: int
    pad_left: int
    pad_bottom: int
    pad_right: int
    height: int          # conv and activation maps
    width: int
    activation: str
    pool: str            # "max", "avg" or "none"
    pool_size: int
    pool_stride: int
    pooled_height: int   # equal to height/width when pool is "none"
    pooled_width: int

    def map_shape(self, kind: str) -> tuple[int, int]:
        """(height, width) of the stage's "conv", "activation" or "pooled" maps."""
        return (self.pooled_height, self.pooled_width) if kind == "pooled" else (self.height, self.width)


def resolve_stages(input_shape: tuple[int, int, int], conv_specs) -> list[StageGeometry]:
    """Geometry of each conv stage on an input (C, H, W), stage after stage.

    The specs must be valid on this input (see :func:`validate_layers`).  Outside the
    engine, ask the network: ``Network.geometry(input_shape)`` checks the shape and caches.
    """
    channels, height, width = input_shape
    stages = []
    for spec in conv_specs:
        out_h, pad_h = resolve_padding(height, spec.kernel, spec.stride, spec.padding)
        out_w, pad_w = resolve_padding(width, spec.kernel, spec.stride, spec.padding)
        if spec.pool == "none":
            pooled_h, pooled_w = out_h, out_w
        else:
            pooled_h = conv_output_size(out_h, spec.pool_size, spec.pool_stride)
            pooled_w = conv_output_size(out_w, spec.pool_size, spec.pool_stride)
        stages.append(StageGeometry(channels, height, width, spec.filters, spec.kernel, spec.stride, pad_h.before,
                                    pad_w.before, pad_h.after, pad_w.after, out_h, out_w, spec.activation, spec.pool,
                                    spec.pool_size, spec.pool_stride, pooled_h, pooled_w))
        channels, height, width = spec.filters, pooled_h, pooled_w
    return stages


def symmetric_fixes(size: int, kernel: int, stride: int, padding: int) -> list[str]:
    """Settings near (K, S, P) with which a window slides over ``size`` cells symmetrically."""
    fixes = []
    for p in range(kernel):  # padding must stay below the kernel size
        if p != padding and (size - kernel + 2 * p) % stride == 0:
            fixes.append(f"padding {p}")
            break
    for k in sorted(range(1, MAX_KERNEL + 1), key=lambda k: (abs(k - kernel), k)):
        p = min(padding, k - 1)
        if k != kernel and size - k + 2 * p >= 0 and (size - k + 2 * p) % stride == 0:
            fixes.append(f"kernel {k}" + (f" with padding {p}" if p != padding else ""))
            break
    for s in sorted(range(1, MAX_STRIDE + 1), key=lambda s: (abs(s - stride), s)):
        if s != stride and (size - kernel + 2 * padding) % s == 0:
            fixes.append(f"stride {s}")
            break
    return fixes


@dataclass(frozen=True)
class LayerReport:
    """What the validator found for one layer."""

    index: int
    name: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    warnings: tuple[str, ...] = ()


def _check_finite_int(value, what: str, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or int(value) != value:
        raise ValueError(f"{where}: {what} must be a whole number, got {value!r}. "
                         f"Fix: type an integer such as 1, 2 or 3.")


def _check_conv(where: str, size: tuple[int, int], spec: ConvSpec) -> tuple[int, int, list[str]]:
    """Check one conv stage on an input of ``size``; return the output size and warnings."""
    for what, value in (("filters", spec.filters), ("kernel size", spec.kernel),
                        ("stride", spec.stride), ("pool size", spec.pool_size),
                        ("pool stride", spec.pool_stride)):
        _check_finite_int(value, what, where)
    if spec.padding != "same":
        _check_finite_int(spec.padding, "padding", where)
    if spec.filters < 1:
        raise ValueError(f"{where}: filters = {spec.filters} but a conv layer needs at least 1 filter. "
                         f"Fix: set filters to 1 or more.")
    if not 1 <= spec.kernel <= MAX_KERNEL:
        raise ValueError(f"{where}: kernel size K = {spec.kernel} is outside 1..{MAX_KERNEL}. "
                         f"Fix: choose a kernel size between 1 and {MAX_KERNEL}.")
    if spec.stride < 1:
        raise ValueError(f"{where}: stride S = {spec.stride} but the kernel must move by at least 1 pixel. "
                         f"Fix: set the stride to 1 or more.")
    if spec.stride > MAX_STRIDE:
        raise ValueError(f"{where}: stride S = {spec.stride} is larger than {MAX_STRIDE}. "
                         f"Fix: choose a stride between 1 and {MAX_STRIDE}.")
    if spec.padding != "same":
        if spec.padding < 0:
            raise ValueError(f"{where}: padding P = {spec.padding} is negative. "
                             f"Fix: set the padding to 0 or more (or 'same').")
        if spec.padding >= spec.kernel:
            raise ValueError(f"{where}: padding P = {spec.padding} >= kernel size K = {spec.kernel}: some outputs "
                             f"would see only padding zeros. Fix: use a padding of at most "
                             f"{spec.kernel - 1} (or 'same').")
    if spec.activation not in ACTIVATIONS:
        raise ValueError(f"{where}: unknown activation {spec.activation!r}. Fix: choose one of {', '.join(ACTIVATIONS)}.")
    if spec.pool not in POOLS:
        raise ValueError(f"{where}: unknown pooling {spec.pool!r}. Fix: choose one of {', '.join(POOLS)}.")

    warnings: list[str] = []
    out = []
    for axis, W in zip(("height", "width"), size):
        K, S = spec.kernel, spec.stride
        if spec.padding == "same":
            o, _ = same_padding(W, K, S)
            out.append(o)
            continue
        P = spec.padding
        if K > W + 2 * P:
            raise ValueError(f"{where}: kernel size K = {K} is larger than the padded input {axis} "
                             f"W + 2P = {W} + 2*{P} = {W + 2 * P}. Fix: use a kernel of at most {W + 2 * P}, "
                             f"or more padding.")
        o = conv_output_size(W, K, S, P)
        if o < 1:
            raise ValueError(f"{where}: output {axis} (W - K + 2P) / S + 1 = ({W} - {K} + 2*{P}) / {S} + 1 < 1. "
                             f"Fix: use a smaller kernel or stride, or more padding.")
        if (W - K + 2 * P) % S:
            left = (W - K + 2 * P) % S
            fixes = symmetric_fixes(W, K, S, P)
            warnings.append(
                f"the kernel does not slide symmetrically over the {axis}: (W - K + 2P) = ({W} - {K} + 2*{P}) = "
                f"{W - K + 2 * P} is not divisible by the stride S = {S}, so the last {left} "
                f"{'row' if axis == 'height' else 'column'}(s) of the padded input are never covered. "
                f"Fix: {' or '.join(fixes) if fixes else 'change the kernel size'}.")
        out.append(o)

    if spec.pool != "none":
        pooled = []
        for axis, W in zip(("height", "width"), out):
            K, S = spec.pool_size, spec.pool_stride
            if K < 1 or S < 1:
                raise ValueError(f"{where}: pool size {K} and pool stride {S} must be at least 1. "
                                 f"Fix: set both to 1 or more (2 and 2 is the usual choice).")
            if K > W:
                raise ValueError(f"{where}: pool window {K} is larger than the feature map {axis} {W}. "
                                 f"Fix: use a pool size of at most {W}, or no pooling.")
            if (W - K) % S:
                warnings.append(
                    f"the pool window does not tile the feature map {axis}: ({W} - {K}) = {W - K} is not "
                    f"divisible by the pool stride {S}, so the last {(W - K) % S} "
                    f"{'row' if axis == 'height' else 'column'}(s) are dropped. "
                    f"Fix: change the pool size or stride, or the conv padding.")
            pooled.append(conv_output_size(W, K, S))
        out = pooled
    return out[0], out[1], warnings


def validate_layers(input_shape: tuple[int, int, int], layers) -> list[LayerReport]:
    """Check a layer list on an input of shape (C, H, W).

    Returns one :class:`LayerReport` per layer (with the output shape and any
    asymmetric-slide warnings) and raises ``ValueError`` naming the layer, the
    numbers and a fix for an impossible setting.
    """
    C, H, W = input_shape
    for what, value in (("channels", C), ("height", H), ("width", W)):
        _check_finite_int(value, f"input {what}", "input")
        if value < 1:
            raise ValueError(f"input: {what} = {value} must be at least 1. Fix: use an image of at least 1x1 pixel.")
    reports: list[LayerReport] = []
    shape: tuple[int, ...] = (C, H, W)
    conv_count = dense_count = 0
    for index, spec in enumerate(layers):
        if isinstance(spec, ConvSpec):
            conv_count += 1
            where = f"layer {index + 1} (conv {conv_count})"
            if dense_count:
                raise ValueError(f"{where}: a conv layer cannot follow a dense layer. "
                                 f"Fix: put all conv layers before the dense layers.")
            h, w, warnings = _check_conv(where, (shape[1], shape[2]), spec)
            out = (spec.filters, h, w)
        elif isinstance(spec, DenseSpec):
            dense_count += 1
            where = f"layer {index + 1} (dense {dense_count})"
            _check_finite_int(spec.units, "units", where)
            if spec.units < 1:
                raise ValueError(f"{where}: units = {spec.units} but a dense layer needs at least 1 unit. "
                                 f"Fix: set units to 1 or more.")
            if spec.activation not in ACTIVATIONS:
                raise ValueError(f"{where}: unknown activation {spec.activation!r}. "
                                 f"Fix: choose one of {', '.join(ACTIVATIONS)}.")
            dropout = spec.dropout
            if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 0.9:
                raise ValueError(f"{where}: dropout = {dropout!r} is not a fraction from 0 to 0.9. "
                                 f"Fix: choose a dropout from 0 (off) to 0.9.")
            out, warnings = (spec.units,), []
        else:
            raise ValueError(f"layer {index + 1}: {spec!r} is not a ConvSpec or DenseSpec. "
                             f"Fix: build layers from ConvSpec(...) and DenseSpec(...).")
        reports.append(LayerReport(index, where, shape, out, tuple(warnings)))
        shape = out
    if not layers or not isinstance(layers[-1], DenseSpec):
        raise ValueError("network: the last layer must be a dense layer feeding the softmax. "
                         "Fix: end the layer list with DenseSpec(units=number of classes).")
    return reports
