"""Receptive fields, the arithmetic behind a map value, and which cells an input pixel feeds."""
from __future__ import annotations

import re

import numpy as np
import pytest

from cnnstudio.engine import ConvSpec, DenseSpec, Network
from cnnstudio.core.receptive_field import (MapTarget, Rect, conv_terms, describe_input_pixel, explain,
                                             fed_by_input, receptive_field)
from drawings import a_drawn_seven


@pytest.fixture(scope="module")
def network():
    return Network(seed=0)


@pytest.fixture(scope="module")
def trace(network):
    return network.forward_maps(a_drawn_seven())


def final_number(text: str) -> float:
    """The value a formula ends with: the last '= number', ignoring a '(winner ...)' note."""
    return float(re.findall(r"= (-?\d+\.\d+)", text)[-1])


# ---------------------------------------------------------------- by hand, on the default network

def test_receptive_field_of_a_conv2_pixel_is_an_8x8_input_square(network):
    # conv2 (3x3, pad 1) row i reads pooled1 rows i-1..i+1; pool 2 reads ReLU rows 2(i-1)..2(i+1)+1;
    # conv1 (3x3, pad 1) reads input rows 2i-3..2i+4: 8 rows.  The same for columns.
    field = receptive_field(network, MapTarget(1, "conv", 5, 3, 4))
    assert field.input_rect == Rect(3, 5, 10, 12)
    assert (field.input_rect.height, field.input_rect.width) == (8, 8)
    assert field.region(0, "pooled").rect == Rect(2, 3, 4, 5)
    assert field.region(0, "activation").rect == Rect(4, 6, 9, 11)
    assert field.region(0, "conv").rect == Rect(4, 6, 9, 11)
    assert field.region(0, "pooled").filters is None           # every channel feeds conv2
    assert field.region(1, "conv").filters == (5,)
    assert [(r.stage, r.kind) for r in field.regions] == [(1, "conv"), (0, "pooled"), (0, "activation"),
                                                          (0, "conv"), (-1, "input")]


def test_receptive_field_at_the_border_is_clipped_and_keeps_the_padding_unclipped(network):
    field = receptive_field(network, MapTarget(1, "conv", 0, 0, 0))
    assert field.input_rect == Rect(0, 0, 4, 4)
    assert field.input_unclipped == Rect(-3, -3, 4, 4)
    assert field.region(0, "pooled").unclipped == Rect(-1, -1, 1, 1)
    assert field.region(0, "pooled").rect == Rect(0, 0, 1, 1)


def test_receptive_field_of_a_pooled2_cell_is_10_pixels_wide(network):
    # pool2 row q reads conv2 rows 2q..2q+1 -> input rows 2(2q)-3 .. 2(2q+1)+4 = 4q-3 .. 4q+6
    field = receptive_field(network, MapTarget(1, "pooled", 2, 3, 2))
    assert field.input_rect == Rect(9, 5, 18, 14)
    assert field.pool_window == Rect(6, 4, 7, 5)
    assert field.region(1, "activation").rect == Rect(6, 4, 7, 5)


def test_kernel_cells_name_the_padding_zeros(network):
    corner = receptive_field(network, MapTarget(0, "conv", 2, 0, 0))
    padded = {(c.ki, c.kj) for c in corner.kernel_cells if c.padding}
    assert padded == {(0, 0), (0, 1), (0, 2), (1, 0), (2, 0)}
    inside = receptive_field(network, MapTarget(0, "activation", 2, 5, 7))
    assert len(inside.kernel_cells) == 9 and not any(c.padding for c in inside.kernel_cells)
    assert [(c.row, c.col) for c in inside.kernel_cells[:3]] == [(4, 6), (4, 7), (4, 8)]
    assert {(c.layer, c.filter, c.channel) for c in inside.kernel_cells} == {(0, 2, 0)}
    conv2 = receptive_field(network, MapTarget(1, "conv", 1, 3, 3))
    assert len(conv2.kernel_cells) == 8 * 9 and {c.layer for c in conv2.kernel_cells} == {1}


def test_a_max_pooled_target_lists_the_kernel_cells_of_its_winner(network, trace):
    target = MapTarget(0, "pooled", 3, 4, 9)
    field = receptive_field(network, target, trace)
    winner = divmod(int(trace.stages[0].winner[3, 4, 9]), 28)
    assert field.conv_cell == winner
    assert field.pool_window.contains(*winner)
    assert field.kernel_cells[4].row == winner[0] and field.kernel_cells[4].col == winner[1]  # the kernel centre


def test_an_impossible_target_is_refused(network):
    with pytest.raises(ValueError, match="outside"):
        receptive_field(network, MapTarget(0, "pooled", 0, 14, 0))
    with pytest.raises(ValueError, match="stage"):
        receptive_field(network, MapTarget(2, "conv", 0, 0, 0))
    with pytest.raises(ValueError, match="kind"):
        receptive_field(network, MapTarget(0, "dense", 0, 0, 0))


# ---------------------------------------------------------------- against the engine itself

ARCHITECTURES = [
    [ConvSpec(4, 3, padding=1, activation="none", pool="avg"), ConvSpec(3, 3, padding=1, activation="none",
                                                                         pool="avg")],
    [ConvSpec(3, 5, stride=2, padding=2, activation="none", pool="none"), ConvSpec(2, 3, padding=0,
                                                                                   activation="none", pool="avg")],
    [ConvSpec(3, 3, stride=1, padding="same", activation="none", pool="avg", pool_size=3, pool_stride=2),
     ConvSpec(2, 2, stride=2, padding=0, activation="none", pool="none")],
]


def changed_cells(network, image, row, col):
    """Per stage, the (rows, cols) of conv maps that change when input pixel (row, col) changes."""
    base = network.forward_maps(image)
    bumped = image.copy()
    bumped[0, row, col] += 1.0
    other = network.forward_maps(bumped)
    result = []
    for a, b in zip(base.stages, other.stages):
        result.append({kind: np.argwhere(np.abs(getattr(a, kind) - getattr(b, kind)).max(axis=0) > 1e-6)
                       for kind in ("conv", "pooled")})
    return result


def cells_of(rect):
    if rect is None:
        return set()
    return {(r, c) for r in range(rect.row0, rect.row1 + 1) for c in range(rect.col0, rect.col1 + 1)}


@pytest.mark.parametrize("layers", ARCHITECTURES)
def test_fed_by_input_is_exactly_what_the_engine_changes(layers):
    # A linear network (no activation, average pooling): every dependency shows as a change.
    network = Network(layers + [DenseSpec(10)], input_shape=(1, 13, 13), seed=3)
    image = np.random.default_rng(0).random((1, 13, 13), dtype=np.float32)
    for row, col in [(0, 0), (6, 6), (12, 12), (3, 10), (12, 1)]:
        fed = fed_by_input(network, row, col)
        for k, changed in enumerate(changed_cells(network, image, row, col)):
            assert cells_of(fed[k].conv) == set(map(tuple, changed["conv"])), (k, row, col)
            assert cells_of(fed[k].pooled) == set(map(tuple, changed["pooled"])), (k, row, col)


@pytest.mark.parametrize("layers", ARCHITECTURES)
def test_receptive_field_is_exactly_the_pixels_the_engine_depends_on(layers):
    network = Network(layers + [DenseSpec(10)], input_shape=(1, 13, 13), seed=3)
    image = np.random.default_rng(1).random((1, 13, 13), dtype=np.float32)
    feeds = {(r, c): changed_cells(network, image, r, c) for r in range(13) for c in range(13)}
    last = len(network.conv_specs) - 1
    height, width = network.forward_maps(image).stages[last].conv.shape[1:]
    for i, j in {(0, 0), (height // 2, width // 2), (height - 1, width - 1)}:
        field = receptive_field(network, MapTarget(last, "conv", 0, i, j))
        depends = {pixel for pixel, changed in feeds.items() if (i, j) in set(map(tuple, changed[last]["conv"]))}
        assert cells_of(field.input_rect) == depends


def test_receptive_field_and_fed_by_input_are_inverse_relations(network):
    fields = {(i, j): receptive_field(network, MapTarget(1, "conv", 0, i, j)).input_rect
              for i in range(14) for j in range(14)}
    for row in range(28):
        for col in range(28):
            fed = fed_by_input(network, row, col)[1].conv
            for (i, j), rect in fields.items():
                assert rect.contains(row, col) == fed.contains(i, j)


def test_fed_by_input_on_the_default_network_by_hand(network):
    # input row 10 feeds conv1 rows 9..11 (3x3, pad 1), pooled1 rows 4..5, conv2 rows 3..6, pooled2 rows 1..3
    stage1, stage2 = fed_by_input(network, 10, 10)
    assert stage1.conv == Rect(9, 9, 11, 11) and stage1.activation == stage1.conv
    assert stage1.pooled == Rect(4, 4, 5, 5)
    assert stage2.conv == Rect(3, 3, 6, 6) and stage2.pooled == Rect(1, 1, 3, 3)
    with pytest.raises(ValueError, match="outside"):
        fed_by_input(network, 28, 0)
    assert "conv 1: conv rows 9-11, cols 9-11; pooled rows 4-5, cols 4-5" in describe_input_pixel(network, 10, 10)


def test_geometry_follows_a_larger_input(network):
    big = network.forward_maps(np.zeros((40, 50), np.float32))
    geometry = network.geometry(big.input.shape)
    assert [(g.height, g.width, g.pooled_height, g.pooled_width) for g in geometry] == \
        [s.conv.shape[1:] + s.pooled.shape[1:] for s in big.stages]
    field = receptive_field(network, MapTarget(1, "conv", 0, 9, 11), big)
    assert field.input_rect == Rect(2 * 9 - 3, 2 * 11 - 3, 2 * 9 + 4, 2 * 11 + 4)


def test_geometry_of_same_padding_puts_the_odd_zero_after():
    """K = 4, S = 1, 'same' on 10x9: 3 zeros per axis, 1 before and 2 after."""
    network = Network([ConvSpec(2, 4, padding="same", pool="none"), DenseSpec(3)], input_shape=(1, 10, 9))
    g, = network.geometry()
    assert (g.pad_top, g.pad_bottom, g.pad_left, g.pad_right) == (1, 2, 1, 2)
    assert (g.height, g.width) == (10, 9) == g.map_shape("pooled")
    field = receptive_field(network, MapTarget(0, "conv", 0, 0, 8))
    assert field.input_unclipped == Rect(-1, 7, 2, 10) and field.input_rect == Rect(0, 7, 2, 8)


def test_an_input_the_conv_stages_cannot_take_is_refused(network):
    with pytest.raises(ValueError, match=r"layer 2 \(conv 2\).*Fix"):
        fed_by_input(network, 0, 0, input_shape=(1, 2, 2))


# ---------------------------------------------------------------- the arithmetic

def test_conv_terms_add_up_to_the_trace(network, trace):
    for stage, f, i, j in [(0, 3, 5, 7), (0, 0, 0, 0), (0, 7, 27, 13), (1, 2, 3, 4), (1, 15, 0, 13)]:
        terms = conv_terms(trace, network, stage, f, i, j)
        assert terms.products.sum() + terms.bias == pytest.approx(trace.stages[stage].conv[f, i, j], abs=1e-4)
        assert terms.value == pytest.approx(trace.stages[stage].conv[f, i, j], abs=1e-6)


def test_conv_terms_patch_has_zeros_where_the_kernel_reads_padding(network, trace):
    terms = conv_terms(trace, network, 0, 0, 0, 27)
    assert (terms.patch[0, 0, :] == 0).all() and (terms.patch[0, :, 2] == 0).all()
    np.testing.assert_array_equal(terms.patch[0, 1:, :2], trace.input[0, 0:2, 26:28])


def test_explain_a_one_channel_conv_shows_nine_products_and_the_trace_value(network, trace):
    text = explain(trace, network, MapTarget(0, "conv", 3, 8, 12))
    assert text.splitlines()[0] == "conv 1 convolution, filter 4, row 8, col 12"  # filters named from 1
    assert "sum(patch × kernel) + bias = " in text
    formula = text.split("bias = ", 1)[1]
    assert len(re.findall(r"\d+\.\d+", formula)) == 9 + 1 + 1  # 9 products, the bias, the value
    assert final_number(text) == pytest.approx(trace.stages[0].conv[3, 8, 12], abs=1e-4)


def test_explain_a_many_channel_conv_sums_per_channel(network, trace):
    text = explain(trace, network, MapTarget(1, "conv", 2, 3, 4))
    assert "sum over 8 channels" in text and "(ch 1)" in text and "(ch 8)" in text and "(bias)" in text
    terms = conv_terms(trace, network, 1, 2, 3, 4)
    per_channel = [float(v) for v in re.findall(r"(\d+\.\d+) \(ch \d\)", text)]
    np.testing.assert_allclose(per_channel, np.abs(terms.products.reshape(8, -1).sum(axis=1)), atol=1e-3)
    assert final_number(text) == pytest.approx(trace.stages[1].conv[2, 3, 4], abs=1e-4)


def test_explain_relu(network, trace):
    for f, i, j in [(0, 6, 10), (1, 6, 10), (2, 20, 20)]:
        text = explain(trace, network, MapTarget(0, "activation", f, i, j))
        assert "ReLU(v) = max(0, v) = max(0, " in text
        v = float(re.findall(r"max\(0, (-?\d+\.\d+)\)", text)[0])
        assert v == pytest.approx(trace.stages[0].conv[f, i, j], abs=1e-4)
        assert final_number(text) == pytest.approx(trace.stages[0].activation[f, i, j], abs=1e-4)


def test_explain_max_pool_names_the_window_and_its_winner(network, trace):
    stage = trace.stages[0]
    f, q, r = np.unravel_index(np.argmax(stage.pooled), stage.pooled.shape)
    text = explain(trace, network, MapTarget(0, "pooled", int(f), int(q), int(r)))
    assert "max of the 2×2 window [" in text
    assert final_number(text) == pytest.approx(stage.pooled[f, q, r], abs=1e-4)
    window = [float(v) for v in re.findall(r"-?\d+\.\d+", text.split("[", 1)[1].split("]")[0])]
    assert max(window) == pytest.approx(stage.pooled[f, q, r], abs=1e-3)
    row, col = map(int, re.search(r"winner at row (\d+), col (\d+)", text).groups())
    assert (row, col) == divmod(int(stage.winner[f, q, r]), 28)


@pytest.mark.parametrize("activation", ["leaky_relu", "tanh", "sigmoid", "none"])
def test_explain_other_activations_and_average_pooling(activation):
    network = Network([ConvSpec(4, 3, padding=1, activation=activation, pool="avg"), DenseSpec(10)], seed=1)
    trace = network.forward_maps(a_drawn_seven())
    text = explain(trace, network, MapTarget(0, "activation", 1, 6, 10))
    assert final_number(text) == pytest.approx(trace.stages[0].activation[1, 6, 10], abs=1e-4)
    text = explain(trace, network, MapTarget(0, "pooled", 1, 3, 5))
    assert "mean of the 2×2 window" in text and "/ 4 =" in text
    assert final_number(text) == pytest.approx(trace.stages[0].pooled[1, 3, 5], abs=1e-4)


def test_explain_a_pooled_target_without_pooling_explains_the_activation():
    network = Network([ConvSpec(2, 3, padding=1, pool="none"), DenseSpec(10)], seed=1)
    trace = network.forward_maps(a_drawn_seven())
    text = explain(trace, network, MapTarget(0, "pooled", 0, 6, 10))
    assert "ReLU" in text and final_number(text) == pytest.approx(trace.stages[0].pooled[0, 6, 10], abs=1e-4)
