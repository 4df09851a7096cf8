"""Adversarial nudges: the smallest push on every pixel that turns the prediction toward a chosen class.

Qt-free.  Both methods are *targeted*: they lower the cross-entropy toward ``target``,
L = -log p_target, i.e. raise the target's log-probability.  Its gradient with respect to the
logits is ``p - onehot(target)``, so one backward pass of that row (``Network.input_gradients``)
gives dL/dpixel.

- :func:`fgsm` (fast gradient sign method): one step of size epsilon against the sign of
  dL/dpixel, every pixel moved by +-epsilon (or not at all where the gradient is 0), then
  clipped to [0, 1].
- :func:`pgd` (projected gradient descent): ``steps`` smaller sign steps, each followed by a
  projection back onto the box ``|x' - x| <= epsilon`` and [0, 1]: stronger at the same epsilon.

Both return a :class:`Nudge`: the new image, the perturbation, the new and old probabilities, and
how little changed (L-inf, L2, share of pixels changed by more than one grey level, 1/255).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

GREY_LEVEL = 1.0 / 255.0  # a change smaller than one 8-bit grey level is invisible on screen
MAX_EPSILON = 1.0
MAX_STEPS = 1000


@dataclass
class Nudge:
    """The result of :func:`fgsm` or :func:`pgd` on one image (C, H, W).

    image         : (C, H, W) float32 in [0, 1], the nudged image
    perturbation  : (C, H, W) float32, ``image - original``; every value within +-epsilon
    probabilities : (classes,) of the nudged image; ``original_probabilities`` of the original
    linf, l2      : max |perturbation| and its Euclidean norm
    changed_share : share of pixels (0..1) changed by more than one grey level (1/255)
    """

    method: str
    target: int
    epsilon: float
    steps: int
    image: np.ndarray
    perturbation: np.ndarray
    probabilities: np.ndarray
    original_probabilities: np.ndarray
    linf: float
    l2: float
    changed_share: float

    @property
    def prediction(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def original_prediction(self) -> int:
        return int(np.argmax(self.original_probabilities))

    @property
    def reached(self) -> bool:
        """True when the nudged image is classified as the target."""
        return self.prediction == self.target

    def describe(self) -> str:
        """The change in words, e.g. "changed 12% of pixels, by at most 0.10"."""
        if self.linf <= 0.0:
            return "changed no pixel"
        return f"changed {self.changed_share:.0%} of pixels, by at most {self.linf:.2f} (L2 size {self.l2:.2f})"


def change_measures(original, nudged) -> tuple[float, float, float]:
    """(L-inf, L2, share of pixels changed by more than 1/255) of ``nudged - original`` (same shapes)."""
    delta = np.asarray(nudged, np.float64) - np.asarray(original, np.float64)
    if delta.size == 0:
        return 0.0, 0.0, 0.0
    return (float(np.abs(delta).max()), float(np.linalg.norm(delta)),
            float(np.mean(np.abs(delta) > GREY_LEVEL)))


def loss_gradient(network, images, target: int) -> tuple[np.ndarray, np.ndarray]:
    """dL/dpixel of L = -log p_target for a batch (N, C, H, W), and the probabilities (N, classes).

    Uses d L / d logits = p - onehot(target) as the backward pass's row.
    """
    probabilities = network.predict_proba(images)
    row = probabilities.copy()
    row[:, target] -= 1.0
    return network.input_gradients(images, row).input, probabilities


def fgsm(network, image, target: int, epsilon: float) -> Nudge:
    """One targeted fast-gradient-sign step: ``clip(x - epsilon * sign(dL/dx), 0, 1)``, L = -log p_target.

    Parameters
    ----------
    network : Network
    image : (C, H, W) or (H, W) float in [0, 1], the network's input size
    target : the class to push toward, 0..classes-1
    epsilon : how far each pixel may move, 0..1
    """
    x, target, epsilon = _checked(network, image, target, epsilon, "fgsm")
    gradient, before = loss_gradient(network, x[None], target)
    nudged = np.clip(x - np.float32(epsilon) * np.sign(gradient[0]), 0.0, 1.0).astype(np.float32)
    return _result("FGSM", network, x, nudged, target, epsilon, 1, before[0])


def pgd(network, image, target: int, epsilon: float, steps: int = 10, step_size: float | None = None) -> Nudge:
    """Targeted projected gradient descent: ``steps`` sign steps of ``step_size``, each projected back
    onto the L-inf ball of radius ``epsilon`` around the image and onto [0, 1].

    ``step_size`` defaults to 2.5 * epsilon / steps (so the walk can reach the ball's edge and move
    along it).  Starts at the image itself (no random start: the same input gives the same nudge).
    Other parameters as :func:`fgsm`.
    """
    x, target, epsilon = _checked(network, image, target, epsilon, "pgd")
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"pgd: steps = {steps!r} must be a whole number from 1 to {MAX_STEPS}. "
                         f"Fix: pass e.g. steps=10.")
    if step_size is None:
        step_size = 2.5 * epsilon / steps
    if not isinstance(step_size, (int, float, np.floating, np.integer)) or not math.isfinite(step_size) \
            or step_size < 0:
        raise ValueError(f"pgd: step_size = {step_size!r} must be a finite number >= 0. "
                         f"Fix: pass e.g. step_size=epsilon / 4, or leave it out.")
    low = np.clip(x - np.float32(epsilon), 0.0, 1.0)
    high = np.clip(x + np.float32(epsilon), 0.0, 1.0)
    nudged = x.copy()
    before = None
    for _ in range(int(steps)):
        gradient, probabilities = loss_gradient(network, nudged[None], target)
        if before is None:
            before = probabilities[0]
        nudged = np.clip(nudged - np.float32(step_size) * np.sign(gradient[0]), low, high).astype(np.float32)
    return _result("PGD", network, x, nudged, target, epsilon, int(steps), before)


def _checked(network, image, target, epsilon, where: str) -> tuple[np.ndarray, int, float]:
    """The image as (C, H, W) float32, the target and epsilon, or a one-line ValueError."""
    x = np.asarray(image, dtype=np.float32)
    shape = tuple(network.input_shape)
    if x.ndim == 2 and shape[0] == 1:
        x = x[None]
    if x.shape != shape:
        raise ValueError(f"{where}: an image of shape {np.shape(image)} does not fit this network, which takes "
                         f"{'x'.join(map(str, shape))}. Fix: draw on the digit canvas (or resize the image).")
    if not np.isfinite(x).all():
        raise ValueError(f"{where}: the image contains NaN or infinite values. Fix: pass pixel values in [0, 1].")
    classes = network.num_classes
    if isinstance(target, (bool, np.bool_)) or not isinstance(target, (int, np.integer)) \
            or not 0 <= target < classes:
        raise ValueError(f"{where}: target = {target!r} is not a class of this network. "
                         f"Fix: pass a class index from 0 to {classes - 1}.")
    if isinstance(epsilon, (bool, np.bool_)) or not isinstance(epsilon, (int, float, np.floating, np.integer)) \
            or not 0.0 <= float(epsilon) <= MAX_EPSILON:
        raise ValueError(f"{where}: epsilon = {epsilon!r} must be a number from 0 to {MAX_EPSILON:g}. "
                         f"Fix: pass e.g. epsilon=0.1 (how far each pixel may move).")
    return np.ascontiguousarray(x), int(target), float(epsilon)


def _result(method, network, original, nudged, target, epsilon, steps, before) -> Nudge:
    after = network.predict_proba(nudged[None])[0]
    linf, l2, share = change_measures(original, nudged)
    return Nudge(method, target, epsilon, steps, nudged, (nudged - original).astype(np.float32), after,
                 np.asarray(before, np.float32), linf, l2, share)
