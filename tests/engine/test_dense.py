"""Flatten, dense layer, softmax and softmax cross-entropy against the NumPy twin."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference as ref
from cnnstudio.engine import dense_backward, dense_forward, flatten, softmax, softmax_cross_entropy


@st.composite
def dense_cases(draw):
    N, D, U = draw(st.integers(1, 5)), draw(st.integers(1, 64)), draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return (rng.uniform(-1, 1, (N, D)).astype(np.float32), rng.uniform(-1, 1, (U, D)).astype(np.float32),
            rng.uniform(-1, 1, U).astype(np.float32), rng.uniform(-1, 1, (N, U)).astype(np.float32))


@given(dense_cases())
def test_dense_matches_twin(case):
    x, weight, bias, grad_y = case
    y = dense_forward(x, weight, bias)
    gx, gw, gb = dense_backward(x, weight, grad_y)

    assert y.shape == grad_y.shape and y.dtype == np.float32
    ref.assert_close(y, ref.dense_forward(x, weight, bias), ref.dense_forward(np.abs(x), np.abs(weight), np.abs(bias)))
    for got, want, scale in zip((gx, gw, gb), ref.dense_backward(x, weight, grad_y),
                                ref.dense_backward(np.abs(x), np.abs(weight), np.abs(grad_y))):
        assert got.dtype == np.float32
        ref.assert_close(got, want, scale)


def test_dense_weight_is_units_by_inputs():
    x = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    weight = np.array([[1, 0, 0], [0, 0, 1]], dtype=np.float32)  # unit 0 reads input 0, unit 1 reads input 2
    np.testing.assert_array_equal(dense_forward(x, weight, np.array([10, 20], np.float32)), [[11, 23]])
    with pytest.raises(ValueError, match=r"does not fit weight.*Fix: flatten x to \(N, 3\)"):
        dense_forward(np.zeros((1, 4), np.float32), weight, np.zeros(2, np.float32))


def test_flatten_is_channel_then_row_then_column():
    x = np.arange(2 * 3 * 2 * 2, dtype=np.float64).reshape(2, 3, 2, 2)
    flat = flatten(x)
    assert flat.shape == (2, 12) and flat.dtype == np.float32
    np.testing.assert_array_equal(flat, ref.flatten(x))
    assert flat[1, 4 + 2 + 1] == x[1, 1, 1, 1]


@given(logits=st.lists(st.floats(-50, 50), min_size=1, max_size=12).map(lambda v: np.array(v, np.float32)),
       rows=st.integers(1, 4))
def test_softmax_matches_twin(logits, rows):
    batch = np.stack([np.roll(logits, r) for r in range(rows)])
    p = softmax(batch)
    assert p.shape == batch.shape and p.dtype == np.float32
    ref.assert_close(p, ref.softmax(batch), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(softmax(logits), p[0], rtol=1e-6)  # a single (K,) row


@given(st.integers(1, 5), st.integers(1, 10), st.integers(0, 2**32 - 1), st.sampled_from([1.0, 10.0, 100.0]))
def test_softmax_cross_entropy_matches_twin(N, K, seed, scale):
    rng = np.random.default_rng(seed)
    logits = (scale * rng.standard_normal((N, K))).astype(np.float32)
    labels = rng.integers(0, K, N)

    loss, grad = softmax_cross_entropy(logits, labels)

    want_loss, want_grad = ref.softmax_cross_entropy(logits, labels)
    assert isinstance(loss, float) and grad.dtype == np.float32
    assert loss == pytest.approx(want_loss, rel=1e-5, abs=1e-5)
    ref.assert_close(grad, want_grad, rtol=1e-4, atol=1e-6)


def test_cross_entropy_of_uniform_logits_is_log_k():
    loss, grad = softmax_cross_entropy(np.zeros((4, 10), np.float32), np.array([0, 3, 9, 3]))
    assert loss == pytest.approx(math.log(10), rel=1e-6)
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-7)
    np.testing.assert_allclose(grad[1, 3], (0.1 - 1) / 4, rtol=1e-5)


def test_huge_logits_neither_overflow_nor_lose_the_loss():
    logits = np.array([[1000.0, 0.0, -1000.0]], dtype=np.float32)
    loss, grad = softmax_cross_entropy(logits, np.array([1]))
    assert loss == pytest.approx(1000.0, rel=1e-6)
    np.testing.assert_allclose(grad, [[1, -1, 0]], atol=1e-6)
    np.testing.assert_allclose(softmax(logits), [[1, 0, 0]], atol=1e-6)


def test_labels_out_of_range_are_refused():
    with pytest.raises(ValueError, match=r"labels must be 2 integers in 0..2"):
        softmax_cross_entropy(np.zeros((2, 3), np.float32), np.array([0, 3]))
