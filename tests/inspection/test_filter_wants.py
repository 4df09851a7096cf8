"""What each filter wants: activation maximisation on the shipped model (10x over blank, seeded, in [0, 1],
climbing, confined to the centre unit's receptive field) and the top patches against a slow NumPy twin,
with patches that are what the unit sees.

As in filter_wants' docstring: a filter's *activation* is its centre unit's, the cell (h // 2, w // 2) of
its activation map; "10x over blank": reached >= 10 x max(blank, floor), blank = that unit's activation on
an all-zero input, floor = 1e-3 x the stage's mean activation on real digits.  Filters that
``activation_upper_bound`` proves silent on [0, 1] inputs are exempt (nothing can raise them).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
import reference as ref

from cnnstudio.engine import ConvSpec, DenseSpec, Network, engine_threads
from cnnstudio.inspection import filter_wants as fw
from cnnstudio.io.datasets import load_mnist_5k
from cnnstudio.io.model_file import DEFAULT_MODEL_PATH, load_model


@pytest.fixture(autouse=True)
def one_engine_thread():
    # the app's worker policy on a small machine: parallel kernels on a busy 2-core box can be 100x slower
    with engine_threads(1):
        yield


@lru_cache(maxsize=1)
def shipped():
    return load_model(DEFAULT_MODEL_PATH).network


@lru_cache(maxsize=1)
def digits():
    return load_mnist_5k()[0].images[:500]


@lru_cache(maxsize=4)
def shipped_ascent(stage: int):
    return fw.ascend(shipped(), stage, seed=0)


def twin_centre(network, images, stage):
    """(N, F) every filter's centre-unit activation, by the NumPy twin."""
    maps = ref.network_trace(network.layers, network.params, images, conv_only=True).stages[stage].activation
    return maps[:, :, maps.shape[2] // 2, maps.shape[3] // 2]


def outside(field, shape):
    """(H, W) bool: True outside the inclusive rectangle ``field``."""
    mask = np.ones(shape, bool)
    mask[field.row0:field.row1 + 1, field.col0:field.col1 + 1] = False
    return mask


# ---------------------------------------------------------------- activation maximisation

@pytest.mark.parametrize("stage", [0, 1])
def test_every_filter_that_can_fire_rises_10x_over_blank(stage):
    network = shipped()
    ascent = shipped_ascent(stage)
    blank = twin_centre(network, np.zeros((1,) + network.input_shape, np.float32), stage)[0]
    np.testing.assert_allclose(ascent.blank, blank, rtol=1e-5, atol=1e-7)
    floor = fw.BLANK_FLOOR * float(fw.stage_activations(network, digits(), stage).mean())
    assert floor > 0
    silent = fw.activation_upper_bound(network, stage) <= 0
    assert silent.sum() <= 1  # the exemption stays an exception
    for f in range(len(ascent.filters)):
        if silent[f]:  # proven: no input in [0, 1] makes it fire, so there is nothing to raise
            assert ascent.activation[f] == 0 and blank[f] == 0
            continue
        assert ascent.activation[f] >= 10 * max(blank[f], floor), (stage, f, ascent.activation[f], blank[f])


@pytest.mark.parametrize("stage", [0, 1])
def test_the_activation_is_the_centre_unit_and_only_its_field_changes(stage):
    network = shipped()
    ascent = shipped_ascent(stage)
    g = network.geometry()[stage]
    assert ascent.centre == (g.height // 2, g.width // 2) == fw.centre_unit(network, stage)
    F = g.filters
    # the reported activation is the centre unit's on its own picture (NumPy twin)
    np.testing.assert_allclose(ascent.activation, twin_centre(network, ascent.images, stage)[np.arange(F),
                                                                                               np.arange(F)],
                               rtol=1e-4, atol=1e-6)
    maps = fw.stage_activations(network, ascent.images, stage)[np.arange(F), np.arange(F)]
    np.testing.assert_allclose(ascent.peak, maps.max(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(ascent.mean, maps.mean(axis=(1, 2)), rtol=1e-5)
    # everything outside the unit's receptive field is the start's mid-grey...
    field = ascent.field
    side = 3 if stage == 0 else 8  # 3x3 kernels; conv 2 sees 3 pooled cells = 6 rows of conv 1 = 8 pixels
    assert (field.height, field.width) == (side, side)
    away = outside(field, network.input_shape[1:])
    assert np.all(ascent.images[:, :, away] == fw.GREY)
    # ...and it does not matter: other values there leave the centre unit where it was
    scrambled = ascent.images.copy()
    scrambled[:, :, away] = np.random.default_rng(5).uniform(0, 1, scrambled[:, :, away].shape)
    np.testing.assert_allclose(twin_centre(network, scrambled, stage)[np.arange(F), np.arange(F)],
                               ascent.activation, rtol=1e-4, atol=1e-6)


def test_conv1_pictures_are_kernel_like():
    network = shipped()
    ascent = shipped_ascent(0)
    field = ascent.field
    silent = fw.activation_upper_bound(network, 0) <= 0
    for f in np.flatnonzero(~silent):
        w = network.weight(0)[f, 0]
        picture = ascent.images[f, 0, field.row0:field.row1 + 1, field.col0:field.col1 + 1]
        strong = np.abs(w) >= 0.2 * np.abs(w).max()
        # ink (> grey) under every clearly positive weight, none (< grey) under every clearly negative one
        assert np.all(np.sign(picture[strong] - fw.GREY) == np.sign(w[strong])), (f, picture, w)


@pytest.mark.parametrize("stage", [0, 1])
def test_filters_want_distinct_patterns(stage):
    ascent = shipped_ascent(stage)
    live = np.flatnonzero(fw.activation_upper_bound(shipped(), stage) > 0)
    field = ascent.field
    crops = ascent.images[live][:, :, field.row0:field.row1 + 1, field.col0:field.col1 + 1].reshape(len(live), -1)
    for i in range(len(live)):
        for j in range(i + 1, len(live)):
            assert np.abs(crops[i] - crops[j]).mean() > 0.05, (stage, live[i], live[j])
    # patterns, not flat fields: each picture has ink and background in its field
    assert np.all(crops.max(axis=1) - crops.min(axis=1) > 0.5)


def test_the_shipped_model_has_one_silent_filter_and_the_bound_is_sound():
    network = shipped()
    bound = fw.activation_upper_bound(network, 0)
    # stage 0 on a one-channel input: the exact best is sum of the positive weights + bias (all-ones under them)
    w, b = network.weight(0)[:, 0], network.bias(0)
    np.testing.assert_allclose(bound, np.maximum(np.clip(w, 0, None).sum(axis=(1, 2)) + b, 0), rtol=1e-5)
    assert list(np.flatnonzero(bound <= 0)) == [1]
    for stage in (0, 1):
        seen = fw.stage_activations(network, digits(), stage).max(axis=(0, 2, 3))
        assert np.all(seen <= fw.activation_upper_bound(network, stage) + 1e-5)
        assert np.all(shipped_ascent(stage).peak <= fw.activation_upper_bound(network, stage) + 1e-5)
    # conv 1's bound is exact and the centre unit's field is inside the image: the ascent gets close to it
    live = bound > 0
    assert np.all(shipped_ascent(0).activation[live] >= 0.9 * bound[live])


def test_the_same_seed_gives_the_same_pictures_and_another_seed_others():
    network = shipped()
    a = fw.maximise_activation(network, 1, filters=[0, 5], steps=30, seed=3)
    b = fw.maximise_activation(network, 1, filters=[0, 5], steps=30, seed=3)
    c = fw.maximise_activation(network, 1, filters=[0, 5], steps=30, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("stage", [0, 1])
def test_pictures_are_in_the_input_range_one_per_filter(stage):
    ascent = shipped_ascent(stage)
    F = shipped().geometry()[stage].filters
    assert ascent.images.shape == (F,) + shipped().input_shape and ascent.images.dtype == np.float32
    assert np.isfinite(ascent.images).all()
    assert ascent.images.min() >= 0.0 and ascent.images.max() <= 1.0


def test_a_subset_of_filters_pictures_those_filters():
    network = shipped()
    some = fw.ascend(network, 1, filters=[7, 2], steps=20)
    row, col = fw.centre_unit(network, 1)
    maps = fw.stage_activations(network, some.images, 1)
    np.testing.assert_allclose(some.activation, [maps[0, 7, row, col], maps[1, 2, row, col]], rtol=1e-5)
    np.testing.assert_allclose(some.blank, fw.blank_activation(network, 1)[[7, 2]])


@pytest.mark.parametrize("stage", [0, 1])
def test_the_objective_climbs(stage):
    history = shipped_ascent(stage).history  # (steps + 1, F)
    assert history.shape[0] == fw.STEPS + 1
    final = history[-1]
    assert np.all(final >= history[0])
    # monotone-ish: the mean of each tenth of the run is no lower than the tenth before (1% slack of the end)
    tenths = np.array([part.mean(axis=0) for part in np.array_split(history, 10)])
    assert np.all(np.diff(tenths, axis=0) >= -0.01 * np.abs(final) - 1e-7)


def test_bad_requests_say_what_to_fix():
    network = shipped()
    with pytest.raises(ValueError, match="stage 2 does not exist.*Fix"):
        fw.maximise_activation(network, 2)
    with pytest.raises(ValueError, match="filters.*Fix"):
        fw.maximise_activation(network, 0, filters=[8])
    with pytest.raises(ValueError, match="k = 0.*Fix"):
        fw.top_patches(network, 0, digits(), k=0)
    with pytest.raises(ValueError, match="Fix"):
        fw.top_patches(network, 0, np.zeros((4, 28, 28), np.float32))


# ---------------------------------------------------------------- top patches against a slow twin

NETWORKS = {
    "small": ([ConvSpec(3, 3, padding=1), ConvSpec(4, 3, padding=0, pool="avg"), DenseSpec(5)], (1, 12, 12)),
    "strides": ([ConvSpec(3, 3, stride=2, padding=1, pool="none"), ConvSpec(4, 2, stride=1, padding=0,
                                                                              activation="leaky_relu"),
                 DenseSpec(3)], (2, 13, 11)),
    "three stages": ([ConvSpec(3, 3, padding="same", pool="max"), ConvSpec(3, 3, padding=1, activation="tanh",
                                                                         pool="none"),
                      ConvSpec(4, 3, stride=2, padding=0, pool="none"), DenseSpec(4)], (1, 16, 16)),
    "four stages": ([ConvSpec(2, 3, padding=1, pool="none"), ConvSpec(3, 3, padding=1, pool="max"),
                     ConvSpec(3, 2, stride=1, padding=0, pool="none", activation="sigmoid"),
                     ConvSpec(2, 3, padding=1, pool="avg"), DenseSpec(3)], (1, 14, 14)),
}


def twin_top(network, stage, images, k):
    """Forward every image with the NumPy twin; per filter the k images whose strongest response is highest."""
    trace = ref.network_trace(network.layers, network.params, images, conv_only=True)
    maps = trace.stages[stage].activation                         # (N, F, h, w) float64
    N, F, _, w = maps.shape
    result = []
    for f in range(F):
        best = [(float(maps[n, f].max()), n, *divmod(int(maps[n, f].argmax()), w)) for n in range(N)]
        best.sort(key=lambda item: (-item[0], item[1]))
        result.append(best[:k])
    return result


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_top_patches_match_the_numpy_twin(name):
    layers, shape = NETWORKS[name]
    network = Network(layers, shape, seed=7)
    images = np.random.default_rng(1).uniform(0, 1, (37,) + shape).astype(np.float32)
    for stage in range(len(network.conv_specs)):
        top = fw.top_patches(network, stage, images, k=5, batch_size=8)  # several batches
        twin = twin_top(network, stage, images, 5)
        for f, expected in enumerate(twin):
            values = np.array([item[0] for item in expected])
            np.testing.assert_allclose(top.activation[f], values, rtol=1e-4, atol=1e-5)
            assert len(set(top.index[f])) == 5  # at most one position per image
            for j, (value, n, row, col) in enumerate(expected):
                # the same image and cell unless a near tie in float32 could swap them
                near_tie = np.sum(np.abs(values - value) < 1e-4) > 1
                if not near_tie:
                    assert (top.index[f, j], top.row[f, j], top.col[f, j]) == (n, row, col), (name, stage, f, j)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_each_patch_is_the_crop_under_the_receptive_field_and_all_the_unit_sees(name):
    layers, shape = NETWORKS[name]
    network = Network(layers, shape, seed=3)
    images = np.random.default_rng(2).uniform(0, 1, (12,) + shape).astype(np.float32)
    C, H, W = shape
    for stage in range(len(network.conv_specs)):
        top = fw.top_patches(network, stage, images, k=3)
        for f in range(top.index.shape[0]):
            for j in range(3):
                n, row, col, rect = top.index[f, j], top.row[f, j], top.col[f, j], top.rects[f][j]
                padded = np.zeros((C, H + 2 * rect.height, W + 2 * rect.width), np.float32)
                padded[:, rect.height:rect.height + H, rect.width:rect.width + W] = images[n]
                crop = padded[:, rect.row0 + rect.height:rect.row1 + rect.height + 1,
                              rect.col0 + rect.width:rect.col1 + rect.width + 1]
                np.testing.assert_array_equal(top.patches[f, j], crop)
                # everything outside the field blanked: the unit's activation does not change
                only_field = np.zeros_like(images[n])
                r0, c0 = max(rect.row0, 0), max(rect.col0, 0)
                only_field[:, r0:rect.row1 + 1, c0:rect.col1 + 1] = images[n][:, r0:rect.row1 + 1, c0:rect.col1 + 1]
                seen = ref.network_trace(network.layers, network.params, only_field[None], conv_only=True)
                assert seen.stages[stage].activation[0, f, row, col] == pytest.approx(top.activation[f, j],
                                                                                      rel=1e-4, abs=1e-5)


def test_top_patches_reports_progress_and_can_be_cancelled():
    network = shipped()
    seen = []
    top = fw.top_patches(network, 0, digits(), k=9, batch_size=100, progress=lambda done, total: seen.append(done))
    assert seen == [100, 200, 300, 400, 500] and top.patches.shape == (8, 9, 1, 3, 3)
    assert fw.top_patches(network, 0, digits(), cancelled=lambda: True) is None
    few = fw.top_patches(network, 1, digits()[:4], k=9)
    assert few.index.shape == (16, 4)  # fewer images than k: every image once


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_ascent_on_any_depth_stays_in_the_field_and_climbs(name):
    layers, shape = NETWORKS[name]
    network = Network(layers, shape, seed=11)
    for stage in range(len(network.conv_specs)):
        ascent = fw.ascend(network, stage, steps=15)
        assert ascent.images.shape == (network.geometry()[stage].filters,) + shape
        assert ascent.images.min() >= 0 and ascent.images.max() <= 1
        assert np.all(ascent.images[:, :, outside(ascent.field, shape[1:])] == fw.GREY)
        np.testing.assert_allclose(ascent.activation, ascent.history[-1])
        assert np.all(ascent.history[-1] >= ascent.history[0] - 1e-5), (name, stage)
        # jitter climbs shifted copies (neighbouring units), but its steps still stay in the centre's field
        jittered = fw.ascend(network, stage, steps=5, jitter=1)
        assert np.all(jittered.images[:, :, outside(jittered.field, shape[1:])] == fw.GREY)
