"""Attribution: which pixels of the drawing made the network say a class.

Qt-free.  Every method explains one class score (the target's logit; default the predicted class)
of one image and returns an :class:`Attribution` whose ``map`` has the input's size (H, W):

- :func:`saliency`: |d score / d pixel|, one backward pass (and the signed gradient);
- :func:`smoothgrad`: the gradient averaged over noisy copies of the image (one batch): less speckle;
- :func:`integrated_gradients`: (pixel - baseline) x the gradient averaged along the straight path from
  the baseline (a blank canvas) to the image; its sum equals score(image) - score(baseline)
  ("completeness"), up to the error of the Riemann sum, which is reported;
- :func:`grad_cam`: a conv stage's activation maps weighted by the spatial mean of the score's gradient
  on each, ReLU, stretched to the input's size;
- :func:`occlusion`: the probability drop when a patch hides each region (``lessons/occlusion.py``).

Every gradient comes from ``Network.input_gradients`` with a one-hot row on the target's logit.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from cnnstudio.imaging.resample import resample
from cnnstudio.lessons.occlusion import BACKGROUND, OcclusionMap, occlusion_map

METHODS = ("saliency", "smoothgrad", "integrated_gradients", "grad_cam", "occlusion")
TITLES = {"saliency": "Saliency", "smoothgrad": "SmoothGrad", "integrated_gradients": "Integrated gradients",
          "grad_cam": "Grad-CAM", "occlusion": "Occlusion"}

SMOOTHGRAD_SAMPLES = 32
SMOOTHGRAD_NOISE = 0.15     # standard deviation of the noise, in pixel units (ink is 0..1)
IG_STEPS = 32               # first Riemann sum; doubled while completeness is off by more than the tolerance
IG_TOLERANCE = 0.01
IG_MAX_STEPS = 1024
CHUNK = 128                 # images per engine call: memory stays bounded on large inputs
OCCLUSION_PATCH, OCCLUSION_STRIDE = 8, 2


@dataclass
class Attribution:
    """One attribution map of one image for one class.

    method    : one of ``METHODS``
    target    : the class explained; ``predicted``: the class the network predicts
    map       : (H, W) float32, what a view draws
    signed    : True when ``map`` has both signs (draw it on a diverging map centred at 0)
    levels    : the colour range: (-m, m) when signed, else (0, m), m = max |map|
    gradient  : (C, H, W) float32 the signed attribution per channel (None for Grad-CAM and occlusion)
    score     : the target's logit on the image
    Integrated gradients: ``steps`` of the Riemann sum, ``total`` = sum of the attributions,
    ``score_change`` = score(image) - score(baseline), ``completeness_error`` = |total - score_change| /
    |score_change|.  Grad-CAM: ``stage``, ``cam`` (h, w) at the stage's resolution, ``filter_weights`` (F,).
    Occlusion: ``occlusion`` the full result.
    """

    method: str
    target: int
    predicted: int
    map: np.ndarray
    signed: bool
    levels: tuple[float, float]
    gradient: np.ndarray | None = None
    score: float = math.nan
    steps: int = 0
    total: float = math.nan
    score_change: float = math.nan
    completeness_error: float = math.nan
    stage: int | None = None
    cam: np.ndarray | None = None
    filter_weights: np.ndarray | None = None
    occlusion: OcclusionMap | None = None


def how_computed(method: str, network=None, stage: int | None = None) -> str:
    """One line saying how ``method``'s map is computed (for a caption)."""
    if method == "saliency":
        return "|∂ score / ∂ pixel|: how much a tiny change of each pixel moves the class's score"
    if method == "smoothgrad":
        return (f"the gradient averaged over {SMOOTHGRAD_SAMPLES} noisy copies of the drawing: "
                f"red raises the score, blue lowers it")
    if method == "integrated_gradients":
        return "(pixel − blank) × the gradient averaged from a blank canvas to the drawing; sums to the score's change"
    if method == "grad_cam":
        layer = f"conv {stage + 1}" if stage is not None else "a conv layer"
        return f"{layer}'s maps weighted by the score's mean gradient on each, ReLU, stretched to the input"
    if method == "occlusion":
        return (f"the class's probability drop when a {OCCLUSION_PATCH}×{OCCLUSION_PATCH} blank patch "
                f"hides each spot: red drops, blue rises")
    raise ValueError(f"how_computed: unknown method {method!r}. Fix: use one of {', '.join(METHODS)}.")


# ---------------------------------------------------------------- checks and shared steps

def _image_batch(network, image, where: str) -> np.ndarray:
    """``image`` ((H, W) for one channel, or (C, H, W)) as a (1, C, H, W) float32 batch, or a ValueError."""
    x = np.asarray(image, dtype=np.float32)
    C, H, W = network.input_shape
    if x.ndim == 2 and C == 1:
        x = x[None]
    if x.shape != (C, H, W):
        raise ValueError(f"{where}: the image has shape {x.shape}, but the network takes ({C}, {H}, {W}). "
                         f"Fix: resize the image to {H}x{W} with {C} channel(s) (e.g. MNIST framing).")
    if not np.isfinite(x).all():
        raise ValueError(f"{where}: the image contains NaN or infinite values. Fix: pass finite pixel values (0..1).")
    return np.ascontiguousarray(x[None])


def _target(network, logits: np.ndarray, target, where: str) -> tuple[int, int]:
    """(target, predicted): ``target`` checked, or the predicted class when it is None."""
    predicted = int(np.argmax(logits))
    if target is None:
        return predicted, predicted
    classes = network.num_classes
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or not 0 <= target < classes:
        raise ValueError(f"{where}: target = {target!r} is not a class of this network (0..{classes - 1}). "
                         f"Fix: pass a class index, or None for the predicted class.")
    return int(target), predicted


def _one_hot(network, n: int, target: int) -> np.ndarray:
    rows = np.zeros((n, network.num_classes), dtype=np.float32)
    rows[:, target] = 1.0
    return rows


def _score_gradients(network, images: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    """(d score / d x (N, C, H, W), logits (N, classes)) of a batch, in chunks of ``CHUNK`` images."""
    grads, logits = [], []
    for start in range(0, len(images), CHUNK):
        chunk = images[start:start + CHUNK]
        result = network.input_gradients(chunk, _one_hot(network, len(chunk), target))
        grads.append(result.input)
        logits.append(result.logits)
    return np.concatenate(grads), np.concatenate(logits)


def _levels(values: np.ndarray, signed: bool) -> tuple[float, float]:
    top = float(np.abs(values).max()) if values.size else 0.0
    top = top if top > 0 else 1e-12  # a flat map paints at the zero colour, not a division by zero
    return (-top, top) if signed else (0.0, top)


def _channels_summed(gradient: np.ndarray) -> np.ndarray:
    return gradient.sum(axis=0).astype(np.float32)


# ---------------------------------------------------------------- the methods

def saliency(network, image, target: int | None = None) -> Attribution:
    """Vanilla gradient saliency: ``map`` = max over channels of |d score / d pixel| (H, W).

    ``gradient`` (C, H, W) is the signed gradient.  ``image`` is (H, W) or (C, H, W) of the network's size.
    """
    x = _image_batch(network, image, "saliency")
    target, predicted = _target(network, network.forward(x)[0], target, "saliency")
    gradient, logits = _score_gradients(network, x, target)
    magnitude = np.abs(gradient[0]).max(axis=0).astype(np.float32)
    return Attribution("saliency", target, predicted, magnitude, False, _levels(magnitude, False),
                       gradient=gradient[0], score=float(logits[0, target]))


def smoothgrad_noise(shape, samples: int, noise: float, seed: int) -> np.ndarray:
    """The Gaussian noise SmoothGrad adds: (samples, C, H, W) float32, standard deviation ``noise``."""
    return np.random.default_rng(seed).normal(0.0, noise, (samples,) + tuple(shape)).astype(np.float32)


def smoothgrad(network, image, target: int | None = None, samples: int = SMOOTHGRAD_SAMPLES,
               noise: float = SMOOTHGRAD_NOISE, seed: int = 0) -> Attribution:
    """SmoothGrad: the mean gradient of the score over ``samples`` noisy copies (one batch).

    ``noise`` is the noise's standard deviation in pixel units; the copies are ``image +
    smoothgrad_noise(image.shape, samples, noise, seed)`` (not clipped).  ``map`` (H, W) is the mean
    gradient summed over channels (signed); ``gradient`` (C, H, W) the mean gradient.
    """
    x = _image_batch(network, image, "smoothgrad")
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise ValueError(f"smoothgrad: samples = {samples!r} must be a whole number >= 1. Fix: use e.g. 32.")
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"smoothgrad: noise = {noise!r} must be a finite number >= 0. Fix: use e.g. 0.15.")
    logits = network.forward(x)[0]
    target, predicted = _target(network, logits, target, "smoothgrad")
    noisy = x + smoothgrad_noise(x.shape[1:], int(samples), float(noise), seed)
    gradients, _ = _score_gradients(network, noisy, target)
    mean = gradients.mean(axis=0).astype(np.float32)
    signed = _channels_summed(mean)
    return Attribution("smoothgrad", target, predicted, signed, True, _levels(signed, True), gradient=mean,
                       score=float(logits[target]))


def integrated_gradients(network, image, target: int | None = None, baseline=None, steps: int = IG_STEPS,
                         tolerance: float = IG_TOLERANCE, max_steps: int = IG_MAX_STEPS) -> Attribution:
    """Integrated gradients from ``baseline`` (default: a blank canvas, all 0) to the image.

    attribution = (x - baseline) * the trapezoid-rule mean of d score / d x at baseline + a (x - baseline),
    a = 0, 1/steps, ..., 1 (one batch of steps + 1 images).  While the completeness error
    |sum(attribution) - (score(x) - score(baseline))| / |score(x) - score(baseline)| is above ``tolerance``,
    the steps are doubled (only the new midpoints are computed), up to ``max_steps``.  On a ReLU network the
    gradient jumps along the path, so a few images need more than the first ``steps``.
    """
    x = _image_batch(network, image, "integrated_gradients")
    b = np.zeros_like(x) if baseline is None else _image_batch(network, baseline, "integrated_gradients (baseline)")
    for name, value in (("steps", steps), ("max_steps", max_steps)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"integrated_gradients: {name} = {value!r} must be a whole number >= 1. "
                             f"Fix: use e.g. steps=32, max_steps=1024.")
    target, predicted = _target(network, network.forward(x)[0], target, "integrated_gradients")
    path = x - b
    alphas = np.arange(steps + 1, dtype=np.float32) / np.float32(steps)
    gradients, logits = _score_gradients(network, _points(b, path, alphas), target)
    score_change = float(logits[-1, target]) - float(logits[0, target])
    # trapezoid: the ends count half
    mean = (gradients[1:-1].sum(axis=0) + 0.5 * (gradients[0] + gradients[-1])) / steps
    m = int(steps)
    while True:
        attribution = (path[0] * mean).astype(np.float32)
        total = float(attribution.sum(dtype=np.float64))
        error = abs(total - score_change) / max(abs(score_change), 1e-6)
        if error <= tolerance or 2 * m > max_steps:
            break
        middles = (np.arange(m, dtype=np.float32) + np.float32(0.5)) / np.float32(m)
        new, _ = _score_gradients(network, _points(b, path, middles), target)
        mean = 0.5 * mean + new.sum(axis=0) / (2 * m)
        m *= 2
    signed = _channels_summed(attribution)
    return Attribution("integrated_gradients", target, predicted, signed, True, _levels(signed, True),
                       gradient=attribution, score=float(logits[-1, target]), steps=m, total=total,
                       score_change=score_change, completeness_error=float(error))


def _points(baseline: np.ndarray, path: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """baseline + a * path for every a: (len(alphas), C, H, W) float32."""
    return np.ascontiguousarray(baseline + alphas[:, None, None, None] * path, dtype=np.float32)


def conv_stage_names(network) -> list[str]:
    """A label per conv stage, for a chooser: "conv 1 (8 maps 28×28)", ..."""
    return [f"conv {k + 1} ({g.filters} maps {g.height}×{g.width})" for k, g in enumerate(network.geometry())]


def grad_cam(network, image, target: int | None = None, stage: int | None = None) -> Attribution:
    """Grad-CAM on conv stage ``stage`` (default the last): ReLU(sum_f w_f A_f), w_f = mean of d score / d A_f.

    A_f are the stage's activation maps (after the activation function, before pooling).  ``cam`` (h, w)
    is at the stage's resolution; ``map`` (H, W) is it stretched over the input (bilinear; area average
    when the stage's maps are larger than the input).  ``ValueError`` for a network without conv layers.
    """
    x = _image_batch(network, image, "grad_cam")
    stages = len(network.conv_specs)
    if not stages:
        raise ValueError("grad_cam: this network has no conv layer, and Grad-CAM weighs a conv layer's maps. "
                         "Fix: add a conv layer to the network.")
    stage = stages - 1 if stage is None else stage
    if isinstance(stage, bool) or not isinstance(stage, (int, np.integer)) or not 0 <= stage < stages:
        raise ValueError(f"grad_cam: stage = {stage!r}, but this network has conv stages 0..{stages - 1}. "
                         f"Fix: pass a conv stage index from 0 to {stages - 1}, or None for the last.")
    stage = int(stage)
    target, predicted = _target(network, network.forward(x)[0], target, "grad_cam")
    result = network.input_gradients(x, _one_hot(network, 1, target))
    activation = result.activations[stage][0]
    weights = result.maps["activation", stage][0].mean(axis=(1, 2))
    cam = np.maximum(np.tensordot(weights, activation, axes=1), 0).astype(np.float32)
    H, W = network.input_shape[1:]
    stretched = np.maximum(resample(cam, (H, W)), 0).astype(np.float32)
    return Attribution("grad_cam", target, predicted, stretched, False, _levels(stretched, False),
                       score=float(result.logits[0, target]), stage=stage, cam=cam,
                       filter_weights=weights.astype(np.float32))


def occlusion(network, image, target: int | None = None, patch: int = OCCLUSION_PATCH,
              stride: int = OCCLUSION_STRIDE, fill: float = BACKGROUND) -> Attribution:
    """The occlusion map (``lessons.occlusion.occlusion_map``) as an attribution: ``map`` (H, W) is the
    target's probability drop spread over the pixels each patch covered (signed).  One-channel networks only.
    """
    x = _image_batch(network, image, "occlusion")
    result = occlusion_map(network, x[0, 0] if x.shape[1] == 1 else x[0], patch, stride, fill, target)
    logits = network.forward(x)[0]
    drop = result.pixel_drop.astype(np.float32)
    return Attribution("occlusion", result.target, int(np.argmax(logits)), drop, True, _levels(drop, True),
                       score=float(logits[result.target]), occlusion=result)


def attribute(method: str, network, image, target: int | None = None, stage: int | None = None) -> Attribution:
    """Run ``method`` (one of ``METHODS``) with its defaults; ``stage`` is Grad-CAM's conv stage."""
    if method == "grad_cam":
        return grad_cam(network, image, target, stage)
    functions = {"saliency": saliency, "smoothgrad": smoothgrad, "integrated_gradients": integrated_gradients,
                 "occlusion": occlusion}
    if method not in functions:
        raise ValueError(f"attribute: unknown method {method!r}. Fix: use one of {', '.join(METHODS)}.")
    return functions[method](network, image, target)


def attribute_all(network, image, target: int | None = None, stage: int | None = None,
                  methods=METHODS) -> dict:
    """Every method in ``methods`` on one image: ``{method: (Attribution, or the ValueError's text, seconds)}``.

    A method that cannot apply (no conv layer for Grad-CAM, a multi-channel network for occlusion)
    gives its reason instead of stopping the others.
    """
    results = {}
    for method in methods:
        start = time.perf_counter()
        try:
            result = attribute(method, network, image, target, stage)
        except ValueError as err:
            result = str(err)
        results[method] = (result, time.perf_counter() - start)
    return results
