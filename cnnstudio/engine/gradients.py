"""Gradients with respect to the input: what attribution maps, activation maximisation and
adversarial nudges are made of.

One backward pass of a batch from a chosen objective, down to the pixels, through the same fused
stage kernels as training.  The objective is linear in one layer's output:

- ``sum(grad_logits * logits)``: a one-hot row is "the score of class c" (saliency, Grad-CAM,
  FGSM on the logit of a target class);
- ``sum(grad_activation * activation of conv stage k)``: e.g. one filter's mean activation
  (activation maximisation).

Dropout is off; no weight changes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .checks import expect_shape, float32_array, refuse
from .dense import _softmax


@dataclass
class InputGradients:
    """A backward pass's results for a batch of N images.

    input         : (N, C, H, W) float32, d objective / d pixel
    logits        : (N, classes) of the forward pass
    probabilities : (N, classes)
    activations   : per conv stage, its activation maps (N, F, h, w) (after the activation, before pooling)
    maps          : ``("activation", k)`` and ``("output", k)`` -> d objective / d (stage k's activation maps,
                    or its output = pooled maps), (N, F, h, w), for every stage the pass went through
    """

    input: np.ndarray
    logits: np.ndarray
    probabilities: np.ndarray
    activations: list
    maps: dict


def input_gradients(network, x, grad_logits=None, *, stage=None, grad_activation=None) -> InputGradients:
    """Gradients with respect to the input (and every conv stage's maps) of a chosen objective.

    Give either ``grad_logits`` (N, classes): the objective is sum(grad_logits * logits); or ``stage`` k
    and ``grad_activation`` (N, F, h, w) shaped like stage k's activation maps: the objective is
    sum(grad_activation * activation maps of stage k).  ``x`` is a batch (N, C, H, W).
    """
    where = "Network.input_gradients"
    x = network._as_batch(x)
    N = x.shape[0]
    if (grad_logits is None) == (stage is None):
        refuse(where, "give exactly one of grad_logits and stage (with grad_activation)",
               "pass grad_logits=... for a class score, or stage=k, grad_activation=... for a stage's maps")
    h, caches = network._forward_stages(x)
    n_conv = len(caches)
    activations = [cache[2] for cache in caches]
    logits, caches = network._forward_dense(h.reshape(N, -1), caches)
    maps: dict = {}
    if grad_logits is not None:
        grad = float32_array(grad_logits, "grad_logits", where)
        expect_shape(grad, logits.shape, "grad_logits", where, "pass one row of class weights per image")
        gx = network._backward(caches, grad, len(network.layers) - 1, need_input=True, maps=maps)
    else:
        if isinstance(stage, bool) or not isinstance(stage, (int, np.integer)) or not 0 <= stage < n_conv:
            refuse(where, f"stage = {stage!r}, but this network has conv stages 0..{n_conv - 1}",
                   f"pass a conv stage index from 0 to {n_conv - 1}" if n_conv else "use a network with a conv layer")
        stage = int(stage)
        g = network.geometry()[stage]
        grad = float32_array(grad_activation, "grad_activation", where)
        expect_shape(grad, (N, g.filters, g.height, g.width), "grad_activation", where,
                     "pass one gradient per activation of that stage")
        maps["activation", stage] = grad
        gx = network._stage_backward(stage, caches[stage], np.ascontiguousarray(grad), pool=False, need_input=True)
        if stage:
            gx = network._backward(caches, gx, stage - 1, need_input=True, maps=maps)
    return InputGradients(gx, logits, _softmax(logits), activations, maps)
