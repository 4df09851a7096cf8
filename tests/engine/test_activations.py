"""Activations, forward and backward, against the NumPy twin."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import reference as ref
from cnnstudio.engine import activation_backward, activation_forward, relu_backward, relu_forward

KINDS = ["relu", "leaky_relu", "tanh", "sigmoid", "none"]

feature_maps = hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=4, max_side=6),
                          elements=st.floats(-30, 30, width=32))


@pytest.mark.parametrize("kind", KINDS)
@given(x=feature_maps, seed=st.integers(0, 2**32 - 1))
def test_forward_and_backward_match_twin(kind, x, seed):
    grad_y = np.random.default_rng(seed).uniform(-1, 1, x.shape).astype(np.float32)

    y = activation_forward(x, kind)
    gx = activation_backward(x, y, grad_y, kind)

    assert y.shape == gx.shape == x.shape and y.dtype == gx.dtype == np.float32
    ref.assert_close(y, ref.activation_forward(x, kind), rtol=1e-5, atol=1e-6)
    ref.assert_close(gx, ref.activation_backward(x, grad_y, kind), rtol=1e-4, atol=1e-6)


def test_hand_computed_values():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0], dtype=np.float32)
    np.testing.assert_array_equal(activation_forward(x, "relu"), [0, 0, 0, 0.5, 2])
    np.testing.assert_allclose(activation_forward(x, "leaky_relu"), [-0.02, -0.005, 0, 0.5, 2], rtol=1e-6)
    np.testing.assert_allclose(activation_forward(x, "sigmoid")[2], 0.5)
    np.testing.assert_array_equal(activation_forward(x, "none"), x)
    ones = np.ones_like(x)
    np.testing.assert_array_equal(activation_backward(x, activation_forward(x, "relu"), ones, "relu"), [0, 0, 0, 1, 1])
    np.testing.assert_allclose(activation_backward(x, activation_forward(x, "leaky_relu"), ones, "leaky_relu"),
                               [0.01, 0.01, 0.01, 1, 1], rtol=1e-6)


def test_sigmoid_saturates_without_overflow():
    x = np.array([-1000.0, -100.0, 100.0, 1000.0], dtype=np.float32)
    with np.errstate(over="raise"):
        y = activation_forward(x, "sigmoid")
    np.testing.assert_allclose(y, [0, 0, 1, 1], atol=1e-30)


def test_relu_shortcuts_equal_the_general_functions():
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    g = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_array_equal(relu_forward(x), activation_forward(x, "relu"))
    np.testing.assert_array_equal(relu_backward(x, g), activation_backward(x, relu_forward(x), g, "relu"))


def test_nan_propagates_through_smooth_activations():
    """The trainer detects a diverging run by NaN reaching the loss."""
    x = np.array([np.nan, 1.0], dtype=np.float32)
    for kind in ("tanh", "sigmoid", "none"):
        assert np.isnan(activation_forward(x, kind)[0]), kind


def test_unknown_activation_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown activation 'gelu'.*Fix: choose one of.*relu"):
        activation_forward(np.zeros(3, np.float32), "gelu")
