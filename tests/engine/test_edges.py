"""Every public engine function checks its arguments before a Numba kernel sees them.

Numba does not check bounds, so an unchecked bad call would read or write past an
array's end.  Each case below is a call that once did (or could) and must now raise
a ValueError naming the argument, with a fix; the valid calls still work.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from cnnstudio.engine import (SGD, Adam, Network, activation_backward, activation_forward, avgpool2d_backward,
                              avgpool2d_forward, colorize_maps, conv2d_backward, conv2d_forward, conv_geometry,
                              dense_backward, dense_forward, flatten, glorot_init, he_init, maxpool2d_backward,
                              maxpool2d_forward, relu_backward, relu_forward, softmax, softmax_cross_entropy)

f32 = np.float32
RNG = np.random.default_rng(0)
X = np.ones((1, 1, 6, 6), f32)           # one 6x6 image
W = np.ones((2, 1, 3, 3), f32)           # two 3x3 filters
Y = np.ones((1, 2, 4, 4), f32)           # their output, padding 0
NET = Network(input_shape=(1, 8, 8))     # conv 8 -> pool -> conv 16 -> pool -> dense 10


def params():
    return [np.zeros((2, 3), f32), np.zeros(2, f32)]


def stepped(optimizer):
    """An optimizer that has already stepped on ``params()``."""
    optimizer.step(params(), params())
    return optimizer


# (test id, bad call, argument the message must name, other words it must contain)
CASES = [
    ("conv2d_forward bias", lambda: conv2d_forward(X, W, np.zeros(5, f32)), "bias", ["(5,)", "(2,)"]),
    ("conv2d_forward x ndim", lambda: conv2d_forward(X[0], W, np.zeros(2)), "x", ["(1, 6, 6)", "4 axes"]),
    ("conv2d_forward weight ndim", lambda: conv2d_forward(X, W[0], np.zeros(2)), "weight", ["(1, 3, 3)"]),
    ("conv2d_forward channels", lambda: conv2d_forward(X, np.ones((2, 3, 3, 3)), np.zeros(2)), "x", ["3"]),
    ("conv2d_forward stride", lambda: conv2d_forward(X, W, np.zeros(2), stride=0), "stride", ["S = 0"]),
    ("conv2d_forward x not numbers", lambda: conv2d_forward("image", W, np.zeros(2)), "x", ["str"]),
    ("conv2d_backward grad_y", lambda: conv2d_backward(X, W, Y[:, :1]), "grad_y", ["(1, 1, 4, 4)", "(1, 2, 4, 4)"]),
    ("conv2d_backward x ndim", lambda: conv2d_backward(X[0, 0], W, Y), "x", ["(6, 6)"]),
    ("conv_geometry x_shape", lambda: conv_geometry((6, 6), W.shape, 1, 0), "x_shape", ["(6, 6)"]),
    ("conv_geometry weight_shape", lambda: conv_geometry(X.shape, (3, 3), 1, 0), "weight_shape", ["(3, 3)"]),
    ("conv_geometry padding", lambda: conv_geometry(X.shape, W.shape, 1, 3), "padding", ["P = 3"]),
    ("activation_forward alpha", lambda: activation_forward(X, "leaky_relu", alpha="a"), "alpha", []),
    ("activation_forward kind", lambda: activation_forward(X, "gelu"), "kind", ["gelu"]),
    ("activation_backward grad_y", lambda: activation_backward(X, X, X[..., :3]), "grad_y",
     ["(1, 1, 6, 3)", "(1, 1, 6, 6)"]),
    ("activation_backward y", lambda: activation_backward(X, X[0], X), "y", ["(1, 6, 6)"]),
    ("relu_forward x", lambda: relu_forward([[1.0], [1.0, 2.0]]), "x", []),
    ("relu_backward grad_y", lambda: relu_backward(X, np.ones(3, f32)), "grad_y", ["(3,)", "(1, 1, 6, 6)"]),
    ("dense_forward bias", lambda: dense_forward(np.ones((1, 3)), np.ones((2, 3)), np.zeros(5)), "bias",
     ["(5,)", "(2,)"]),
    ("dense_forward x", lambda: dense_forward(np.ones((1, 4)), np.ones((2, 3)), np.zeros(2)), "x", ["(1, 4)"]),
    ("dense_forward weight", lambda: dense_forward(np.ones((1, 3)), np.ones(3), np.zeros(2)), "weight", ["(3,)"]),
    ("dense_backward grad_y", lambda: dense_backward(np.ones((1, 3)), np.ones((2, 3)), np.ones((1, 5))), "grad_y",
     ["(1, 5)", "(1, 2)"]),
    ("dense_backward x", lambda: dense_backward(np.ones(3), np.ones((2, 3)), np.ones((1, 2))), "x", ["(3,)"]),
    ("flatten x", lambda: flatten(np.ones(4)), "x", ["(4,)"]),
    ("softmax logits ndim", lambda: softmax(np.ones((1, 2, 3))), "logits", ["(1, 2, 3)"]),
    ("softmax no classes", lambda: softmax(np.ones((2, 0))), "logits", ["(2, 0)"]),
    ("cross-entropy label too large", lambda: softmax_cross_entropy(np.zeros((2, 3)), [0, 3]), "labels", ["0..2"]),
    ("cross-entropy negative label", lambda: softmax_cross_entropy(np.zeros((2, 3)), [-1, 0]), "labels", ["0..2"]),
    ("cross-entropy label count", lambda: softmax_cross_entropy(np.zeros((2, 3)), [0]), "labels", ["(1,)"]),
    ("cross-entropy float labels", lambda: softmax_cross_entropy(np.zeros((2, 3)), [0.5, 1]), "labels",
     ["float64"]),
    ("cross-entropy logits", lambda: softmax_cross_entropy(np.zeros(3), [0]), "logits", ["(3,)"]),
    ("cross-entropy empty", lambda: softmax_cross_entropy(np.zeros((0, 3)), []), "logits", ["N = 0"]),
    ("maxpool2d_forward x", lambda: maxpool2d_forward(X[0]), "x", ["(1, 6, 6)"]),
    ("maxpool2d_forward size", lambda: maxpool2d_forward(X, size=1.5), "size", ["1.5"]),
    ("maxpool2d_backward winner shape", lambda: maxpool2d_backward(np.ones((1, 1, 3, 3)),
                                                                   np.zeros((1, 1, 2, 2), int), X.shape), "winner",
     ["(1, 1, 2, 2)", "(1, 1, 3, 3)"]),
    ("maxpool2d_backward winner range", lambda: maxpool2d_backward(np.ones((1, 1, 1, 1)),
                                                                   np.full((1, 1, 1, 1), 36), X.shape), "winner",
     ["0..35"]),
    ("maxpool2d_backward x_shape", lambda: maxpool2d_backward(np.ones((1, 1, 1, 1)), np.zeros((1, 1, 1, 1), int),
                                                              (6, 6)), "x_shape", []),
    ("maxpool2d_backward grad_y", lambda: maxpool2d_backward(np.ones((1, 1)), np.zeros((1, 1), int), X.shape),
     "grad_y", ["(1, 1)"]),
    ("avgpool2d_forward x", lambda: avgpool2d_forward(X[0]), "x", ["(1, 6, 6)"]),
    ("avgpool2d_backward grad_y", lambda: avgpool2d_backward(np.ones((1, 1, 4, 4)), X.shape), "grad_y",
     ["(1, 1, 4, 4)", "(1, 1, 3, 3)"]),
    ("avgpool2d_backward x_shape", lambda: avgpool2d_backward(np.ones((1, 1, 3, 3)), (1, 2, 6, 6)), "x_shape",
     ["(1, 2, 6, 6)"]),
    ("SGD.step lengths", lambda: SGD().step(params(), params()[:1]), "grads", ["2", "1"]),
    ("SGD.step grad shape", lambda: SGD().step(params(), [np.zeros((3, 2)), np.zeros(2)]), "grads[0]",
     ["(3, 2)", "(2, 3)"]),
    ("SGD.step param dtype", lambda: SGD().step([np.zeros(2)], [np.zeros(2)]), "params[0]", ["float64"]),
    ("SGD.step other network", lambda: stepped(SGD()).step([np.zeros(4, f32)], [np.zeros(4, f32)]), "optimizer",
     ["(4,)"]),
    ("Adam.step lengths", lambda: Adam().step(params()[:1], params()), "params", ["1", "2"]),
    ("Adam.step grad shape", lambda: Adam().step(params(), [np.zeros((2, 3)), np.zeros(3)]), "grads[1]",
     ["(3,)", "(2,)"]),
    ("Adam.step strided param", lambda: Adam().step([np.zeros(4, f32)[::2]], [np.zeros(2)]), "params[0]", []),
    ("Adam.step other network", lambda: stepped(Adam()).step(params()[:1], params()[:1]), "optimizer", []),
    ("he_init fan_in", lambda: he_init(RNG, (2, 3), 0), "fan_in", []),
    ("he_init shape", lambda: he_init(RNG, (2, -3), 6), "shape", ["-3"]),
    ("he_init rng", lambda: he_init(7, (2, 3), 6), "rng", ["int"]),
    ("glorot_init fan_out", lambda: glorot_init(RNG, (2, 3), 3, 0), "fan_out", []),
    ("Network.forward_maps channels", lambda: NET.forward_maps(np.zeros((3, 8, 8))), "image", ["(3, 8, 8)"]),
    ("Network.forward_maps ndim", lambda: NET.forward_maps(np.zeros((1, 1, 8, 8))), "image", ["(1, 1, 8, 8)"]),
    ("Network.forward x", lambda: NET.forward(np.zeros((2, 1, 8, 7))), "x", ["(2, 1, 8, 7)", "(N, 1, 8, 8)"]),
    ("Network.forward batch_size", lambda: NET.forward(np.zeros((2, 1, 8, 8)), batch_size=0), "batch_size", []),
    ("Network.predict_proba x", lambda: NET.predict_proba(np.zeros(64)), "x", ["(64,)"]),
    ("Network.loss_and_grads labels", lambda: NET.loss_and_grads(np.zeros((2, 1, 8, 8)), [0, 10]), "labels",
     ["0..9"]),
    ("Network.loss_and_grads float labels", lambda: NET.loss_and_grads(np.zeros((1, 1, 8, 8)), [1.5]), "labels",
     ["float64"]),
    ("Network.loss_and_grads empty", lambda: NET.loss_and_grads(np.zeros((0, 1, 8, 8)), []), "x", ["N = 0"]),
    ("Network.set_state count", lambda: NET.copy().set_state(NET.params[:2]), "state", ["2", "6"]),
    ("Network.set_state shape", lambda: NET.copy().set_state([p[..., :1] for p in NET.params]), "state[0]",
     ["(8, 1, 3, 1)", "(8, 1, 3, 3)"]),
    ("Network.weight index", lambda: NET.weight(3), "layer", ["0..2"]),
    ("Network.bias index", lambda: NET.bias(1.0), "layer", ["1.0"]),
    ("Network.geometry input_shape", lambda: NET.geometry((8, 8)), "input_shape", ["(8, 8)"]),
    ("colorize_maps levels", lambda: colorize_maps(np.zeros((2, 3, 3)), np.ones((3, 2)), np.zeros((2, 4)),
                                                   np.zeros((8, 3, 4), np.uint8), (4, 3)), "levels",
     ["(3, 2)", "(2, 2)"]),
    ("colorize_maps out too small", lambda: colorize_maps(np.zeros((2, 3, 3)), np.ones((2, 2)), np.zeros((2, 4)),
                                                          np.zeros((6, 3, 4), np.uint8), (4, 3)), "out",
     ["(6, 3, 4)", "(7, 3, 4)"]),
    ("colorize_maps out dtype", lambda: colorize_maps(np.zeros((1, 3, 3)), np.ones((1, 2)), np.zeros((2, 4)),
                                                      np.zeros((3, 3, 4)), (3, 3)), "out", ["float64"]),
    ("colorize_maps lut", lambda: colorize_maps(np.zeros((1, 3, 3)), np.ones((1, 2)), np.zeros((2, 3)),
                                                np.zeros((3, 3, 4), np.uint8), (3, 3)), "lut", ["(2, 3)"]),
    ("colorize_maps pitch", lambda: colorize_maps(np.zeros((2, 3, 3)), np.ones((2, 2)), np.zeros((2, 4)),
                                                  np.zeros((6, 3, 4), np.uint8), (2, 3)), "pitch", ["(2, 3)"]),
    ("colorize_maps maps", lambda: colorize_maps(np.zeros((3, 3)), np.ones((1, 2)), np.zeros((2, 4)),
                                                 np.zeros((3, 3, 4), np.uint8), (3, 3)), "maps", ["(3, 3)"]),
]


@pytest.mark.parametrize("call, argument, words", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_bad_call_is_refused_with_the_argument_named(call, argument, words):
    with pytest.raises(ValueError) as refused:
        call()
    message = str(refused.value)
    assert re.search(rf"(?<![\w\[]){re.escape(argument)}(?![\w\]])", message), message
    assert "Fix: " in message, message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_a_refused_optimizer_step_changes_nothing():
    """All pairs are checked before the first update, so a bad last gradient leaves every parameter as it was."""
    for optimizer in (SGD(), Adam()):
        ps = [np.ones((2, 3), f32), np.ones(2, f32)]
        with pytest.raises(ValueError):
            optimizer.step(ps, [np.ones((2, 3), f32), np.ones(3, f32)])
        assert all((p == 1).all() for p in ps)


def test_valid_calls_still_work():
    """One good call of each function, including the conversions a caller may rely on (float64, lists, views)."""
    y = conv2d_forward(X.astype(np.float64), W, [0.5, -0.5], stride=1, padding=1)
    assert y.shape == (1, 2, 6, 6) and y.dtype == f32 and y[0, 0, 2, 2] == 9.5
    gx, gw, gb = conv2d_backward(X, W, Y)
    assert (gx.shape, gw.shape, gb.shape) == (X.shape, W.shape, (2,))
    assert conv_geometry(X.shape, W.shape, 2, "same") == (3, 3, 0, 0)
    assert activation_forward(np.array([-1.0, 2.0]), "leaky_relu", alpha=0.5).tolist() == [-0.5, 2.0]
    assert activation_backward([-1.0, 2.0], [0.0, 2.0], [3.0, 3.0]).tolist() == [0.0, 3.0]
    assert relu_forward([-1, 2]).tolist() == [0, 2] and relu_backward([-1, 2], [5, 5]).tolist() == [0, 5]
    assert dense_forward([[1, 2, 3]], np.ones((2, 3)), [0, 1]).tolist() == [[6, 7]]
    gradients = dense_backward(np.ones((4, 3)), np.ones((2, 3)), np.ones((4, 2)))
    assert [a.shape for a in gradients] == [(4, 3), (2, 3), (2,)]
    assert flatten(np.ones((2, 3, 4))).shape == (2, 12)
    assert softmax([0.0, 0.0]).tolist() == [0.5, 0.5]
    loss, grad = softmax_cross_entropy(np.zeros((2, 2)), np.array([0, 1], np.int32))
    assert loss == pytest.approx(np.log(2)) and grad.shape == (2, 2)
    pooled, winner = maxpool2d_forward(X[:, :, ::-1], 2, 2)  # a reversed view is converted, not refused
    assert maxpool2d_backward(pooled, winner, X.shape).sum() == 9
    assert avgpool2d_backward(avgpool2d_forward(X, 3, 3), X.shape, 3, 3).shape == X.shape
    for optimizer in (SGD(), Adam()):
        ps = params()
        optimizer.step(ps, [np.ones((2, 3)), [1.0, 1.0]])  # grads may be float64 or lists
        optimizer.step(ps, [np.ones((2, 3)), [1.0, 1.0]])
        assert (ps[0] < 0).all()
    assert he_init(RNG, 5, 3).shape == (5,) and glorot_init(RNG, [2, 3], 3, 2).shape == (2, 3)
    trace = NET.forward_maps(np.zeros((8, 8)))
    assert trace.probabilities.shape == (10,)
    assert NET.forward(np.zeros((3, 8, 8)), batch_size=np.int64(2)).shape == (3, 10)
    loss, grads, _ = NET.loss_and_grads(np.zeros((2, 1, 8, 8)), np.array([1, 9], np.uint8))
    assert len(grads) == len(NET.params)
    copy = NET.copy()
    copy.set_state(NET.get_state())
    assert copy.weight(-1) is copy.params[-2] and copy.bias(np.int64(0)) is copy.params[1]
    assert [g.height for g in NET.geometry([1, 16, 12])] == [16, 8]
    out = colorize_maps(np.zeros((2, 1, 1)), [[0, 1], [-1, 1]], np.arange(8).reshape(2, 4),
                        np.zeros((1, 3, 4), np.uint8), (1, 2), columns=2)
    assert out[0, :, 0].tolist() == [0, 0, 4]  # map 1: 0 is the middle of [-1, 1], entry 1
