"""Impossible settings are refused with a message that names the layer, the numbers and a fix;
asymmetric slides are flagged with a warning."""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnnstudio.engine import ConvSpec, DenseSpec, Network, conv2d_backward, conv2d_forward, validate_layers


def refused(input_shape, layers) -> str:
    """The message of the ValueError that both validate_layers and Network raise for these layers."""
    with pytest.raises(ValueError) as by_validator:
        validate_layers(input_shape, layers)
    with pytest.raises(ValueError) as by_network:
        Network(layers=layers, input_shape=input_shape)
    message = str(by_validator.value)
    assert str(by_network.value) == message
    assert "Fix" in message, message
    return message


def has(message: str, *parts: str) -> None:
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


# ---------------------------------------------------------------- validate_layers / Network

def test_kernel_larger_than_padded_input():
    message = refused((1, 5, 6), [ConvSpec(kernel=9, padding=1, pool="none"), DenseSpec()])
    has(message, "layer 1 (conv 1)", "K = 9", "W + 2P = 5 + 2*1 = 7", "Fix", "at most 7")


def test_output_smaller_than_one_pixel_in_a_later_layer():
    """8x8 -> conv 7x7 -> 2x2, so a 5x5 kernel in layer 2 would leave no output pixel."""
    layers = [ConvSpec(filters=2, kernel=7, padding=0, pool="none"), ConvSpec(kernel=5, padding=1, pool="none"),
              DenseSpec()]
    message = refused((1, 8, 8), layers)
    has(message, "layer 2 (conv 2)", "K = 5", "2 + 2*1 = 4", "Fix")


@given(size=st.integers(1, 16), kernel=st.integers(1, 11), stride=st.integers(1, 4), data=st.data())
def test_a_conv_is_refused_exactly_when_it_has_no_output(size, kernel, stride, data):
    padding = data.draw(st.integers(0, kernel - 1))
    layers = [ConvSpec(filters=1, kernel=kernel, stride=stride, padding=padding, pool="none"), DenseSpec(2)]
    if kernel > size + 2 * padding:
        has(refused((1, size, size), layers), "layer 1 (conv 1)", f"K = {kernel}", "Fix")
    else:
        report = validate_layers((1, size, size), layers)[0]
        expected = (size - kernel + 2 * padding) // stride + 1
        assert report.output_shape == (1, expected, expected) and expected >= 1


@pytest.mark.parametrize("stride", [0, -1])
def test_stride_below_one(stride):
    has(refused((1, 8, 8), [ConvSpec(stride=stride), DenseSpec()]), "layer 1 (conv 1)", f"S = {stride}",
        "at least 1", "Fix")


def test_stride_above_the_maximum():
    has(refused((1, 8, 8), [ConvSpec(stride=5), DenseSpec()]), "layer 1 (conv 1)", "S = 5", "Fix")


def test_negative_padding():
    has(refused((1, 8, 8), [ConvSpec(kernel=3, padding=-1), DenseSpec()]), "layer 1 (conv 1)", "P = -1", "negative",
        "Fix")


@pytest.mark.parametrize("kernel, padding", [(3, 3), (3, 4), (1, 1), (5, 7)])
def test_padding_not_smaller_than_the_kernel(kernel, padding):
    message = refused((1, 8, 8), [ConvSpec(kernel=kernel, padding=padding), DenseSpec()])
    has(message, "layer 1 (conv 1)", f"P = {padding}", f"K = {kernel}", f"at most {kernel - 1}", "Fix")


def test_kernel_outside_the_allowed_range():
    has(refused((1, 28, 28), [ConvSpec(kernel=12, padding=0), DenseSpec()]), "layer 1 (conv 1)", "K = 12", "1..11",
        "Fix")
    has(refused((1, 28, 28), [ConvSpec(kernel=0, padding=0), DenseSpec()]), "layer 1 (conv 1)", "K = 0", "Fix")


@pytest.mark.parametrize("field, value, words", [
    ("padding", 1.5, "padding must be a whole number, got 1.5"),
    ("stride", float("nan"), "stride must be a whole number, got nan"),
    ("kernel", True, "kernel size must be a whole number, got True"),
    ("filters", 0, "filters = 0"),
])
def test_non_integer_or_empty_settings(field, value, words):
    layers = [ConvSpec(), ConvSpec(**{field: value}), DenseSpec()]
    has(refused((1, 28, 28), layers), "layer 2 (conv 2)", words, "Fix")


def test_unknown_activation():
    has(refused((1, 8, 8), [ConvSpec(activation="gelu"), DenseSpec()]),
        "layer 1 (conv 1)", "unknown activation 'gelu'", "Fix", "relu, leaky_relu, tanh, sigmoid, none")
    has(refused((1, 8, 8), [ConvSpec(), DenseSpec(units=4, activation="softplus"), DenseSpec()]),
        "layer 2 (dense 1)", "unknown activation 'softplus'", "Fix")


def test_unknown_pool():
    has(refused((1, 8, 8), [ConvSpec(pool="min"), DenseSpec()]), "layer 1 (conv 1)", "unknown pooling 'min'",
        "max, avg, none", "Fix")


def test_pool_window_bigger_than_the_feature_map():
    # 3x3 input, 3x3 kernel, padding 1 -> 3x3 map: a 4x4 window does not fit
    message = refused((1, 3, 3), [ConvSpec(kernel=3, padding=1, pool_size=4, pool_stride=1), DenseSpec()])
    has(message, "layer 1 (conv 1)", "pool window 4", "feature map height 3", "at most 3", "Fix")


@pytest.mark.parametrize("size, stride", [(0, 2), (2, 0)])
def test_pool_size_or_stride_below_one(size, stride):
    message = refused((1, 8, 8), [ConvSpec(pool_size=size, pool_stride=stride), DenseSpec()])
    has(message, "layer 1 (conv 1)", f"pool size {size} and pool stride {stride}", "at least 1", "Fix")


def test_conv_after_dense():
    message = refused((1, 8, 8), [ConvSpec(), DenseSpec(units=16), ConvSpec()])
    has(message, "layer 3 (conv 2)", "cannot follow a dense layer", "Fix")


@pytest.mark.parametrize("layers", [[ConvSpec()], [], [ConvSpec(), ConvSpec()]])
def test_no_final_dense_layer(layers):
    has(refused((1, 8, 8), layers), "last layer must be a dense layer", "Fix", "DenseSpec")


def test_dense_without_units():
    has(refused((1, 8, 8), [ConvSpec(), DenseSpec(units=0)]), "layer 2 (dense 1)", "units = 0", "Fix")


@pytest.mark.parametrize("shape, words", [((1, 0, 8), "height = 0"), ((0, 8, 8), "channels = 0")])
def test_empty_input(shape, words):
    has(refused(shape, [DenseSpec()]), "input", words, "Fix")


def test_a_foreign_layer_object():
    has(refused((1, 8, 8), [ConvSpec(), {"units": 10}]), "layer 2", "not a ConvSpec or DenseSpec", "Fix")


# ---------------------------------------------------------------- non-finite inputs

@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input(bad):
    network = Network(input_shape=(1, 8, 8))
    images = np.zeros((2, 1, 8, 8), dtype=np.float32)
    images[1, 0, 3, 4] = bad
    for run in (lambda: network.forward(images), lambda: network.loss_and_grads(images, [0, 1]),
                lambda: network.forward_maps(images[1])):
        with pytest.raises(ValueError, match=r"NaN or infinite.*Fix"):
            run()
    with pytest.raises(ValueError, match=r"conv2d: .*NaN or infinite.*Fix"):
        conv2d_forward(images, np.ones((1, 1, 3, 3), np.float32), np.zeros(1, np.float32))


# ---------------------------------------------------------------- conv2d_forward / conv2d_backward arguments

def conv_refusal(x_shape=(1, 1, 6, 6), k=3, stride=1, padding=0) -> str:
    x = np.zeros(x_shape, np.float32)
    weight = np.zeros((2, x_shape[1], k, k), np.float32)
    with pytest.raises(ValueError) as forward:
        conv2d_forward(x, weight, np.zeros(2, np.float32), stride=stride, padding=padding)
    with pytest.raises(ValueError) as backward:
        conv2d_backward(x, weight, np.zeros((1, 2, 1, 1), np.float32), stride=stride, padding=padding)
    message = str(forward.value)
    assert str(backward.value) == message
    has(message, "conv2d", "Fix")
    return message


def test_conv2d_kernel_larger_than_padded_input():
    has(conv_refusal((1, 1, 3, 5), k=5, padding=0), "kernel 5x5", "3x5", "padding 0")


@pytest.mark.parametrize("stride", [0, -2, 1.0])
def test_conv2d_stride(stride):
    has(conv_refusal(stride=stride), f"S = {stride!r}", ">= 1")


@pytest.mark.parametrize("padding", [-1, 3, 4, 1.5, "valid"])
def test_conv2d_padding(padding):
    has(conv_refusal(k=3, padding=padding), f"P = {padding!r}", "K = 3", "between 0 and 2")


def test_conv2d_channel_mismatch():
    with pytest.raises(ValueError, match=r"x has 3 channels but the weight expects 2.*Fix"):
        conv2d_forward(np.zeros((1, 3, 5, 5), np.float32), np.zeros((1, 2, 3, 3), np.float32), np.zeros(1))


def test_conv2d_backward_checks_the_gradient_shape():
    with pytest.raises(ValueError, match=re.escape("grad_y has shape (1, 2, 3, 3), expected (1, 2, 4, 4)")):
        conv2d_backward(np.zeros((1, 1, 6, 6), np.float32), np.zeros((2, 1, 3, 3), np.float32),
                        np.zeros((1, 2, 3, 3), np.float32))


# ---------------------------------------------------------------- warnings

def test_asymmetric_slide_is_flagged():
    """W = 28, K = 3, P = 1, S = 2: (28 - 3 + 2) = 27 is odd, so the last column is never covered."""
    reports = validate_layers((1, 28, 28), [ConvSpec(kernel=3, padding=1, stride=2, pool="none"), DenseSpec()])
    warnings = reports[0].warnings
    assert len(warnings) == 2  # height and width
    for axis, warning in zip(("height", "width"), warnings):
        has(warning, "symmetric", axis, "27", "S = 2", "Fix")
    assert reports[0].output_shape == (8, 14, 14)
    assert reports[1].warnings == ()


def test_asymmetric_slide_on_one_axis_only():
    reports = validate_layers((1, 28, 27), [ConvSpec(kernel=3, padding=1, stride=2, pool="none"), DenseSpec()])
    assert len(reports[0].warnings) == 1
    has(reports[0].warnings[0], "symmetric", "height")


def test_symmetric_settings_give_no_warning():
    reports = validate_layers((1, 28, 28), [ConvSpec(kernel=3, padding=1, stride=1), ConvSpec(kernel=5, padding=2),
                                            DenseSpec()])
    assert [r.warnings for r in reports] == [(), (), ()]
    assert [r.output_shape for r in reports] == [(8, 14, 14), (8, 7, 7), (10,)]
    assert [r.name for r in reports] == ["layer 1 (conv 1)", "layer 2 (conv 2)", "layer 3 (dense 1)"]


def test_same_padding_never_warns_about_the_slide():
    reports = validate_layers((1, 28, 28), [ConvSpec(kernel=4, padding="same", stride=3, pool="none"), DenseSpec()])
    assert reports[0].warnings == ()
    assert reports[0].output_shape == (8, 10, 10)


def test_pool_that_does_not_tile_is_flagged():
    reports = validate_layers((1, 7, 7), [ConvSpec(kernel=3, padding=1, pool_size=2, pool_stride=2), DenseSpec()])
    assert len(reports[0].warnings) == 2
    has(reports[0].warnings[0], "pool window does not tile", "(7 - 2) = 5", "Fix")
