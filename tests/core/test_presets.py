"""The kernel presets: textbook values at 3x3, sensible shapes at every size 1..11."""
from __future__ import annotations

import numpy as np
import pytest

from cnnstudio.core.presets import (MAX_SIZE, MIN_SIZE, PRESETS, min_size, preset_kernel, presets_for,
                                     random_kernel)

SIZES = range(MIN_SIZE, MAX_SIZE + 1)


def test_menu_holds_the_classics_and_the_study_notes_line_detectors():
    for name in ("identity", "box blur", "Gaussian blur", "sharpen", "Sobel x", "Sobel y", "Prewitt x",
                 "Prewitt y", "Laplacian", "emboss", "outline", "diagonal line \\", "anti-diagonal line /",
                 "horizontal line", "vertical line"):
        assert name in PRESETS
    assert list(PRESETS)[0] == "identity"


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("size", SIZES)
def test_every_preset_is_a_finite_float32_square_where_it_makes_sense(name, size):
    if size < min_size(name):
        assert name not in presets_for(size)
        with pytest.raises(ValueError, match="at least"):
            preset_kernel(name, size)
        return
    kernel = preset_kernel(name, size)
    assert kernel.shape == (size, size)
    assert kernel.dtype == np.float32
    assert np.isfinite(kernel).all()
    assert np.abs(kernel).max() > 0


def test_every_preset_exists_at_3x3_and_the_blurs_even_at_1x1():
    assert presets_for(3) == list(PRESETS)
    assert {"identity", "box blur", "Gaussian blur"} <= set(presets_for(1))


def test_sobel_x_is_the_textbook_kernel():
    np.testing.assert_array_equal(preset_kernel("Sobel x", 3), [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_array_equal(preset_kernel("Sobel y", 3), [[-1, -2, -1], [0, 0, 0], [1, 2, 1]])


def test_the_other_3x3_classics():
    expected = {
        "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
        "Prewitt x": [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
        "Laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
        "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
        "outline": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
        "Gaussian blur": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16,
        "diagonal line \\": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        "anti-diagonal line /": [[0, 0, 1], [0, 1, 0], [1, 0, 0]],
        "horizontal line": [[0, 0, 0], [1, 1, 1], [0, 0, 0]],
        "vertical line": [[0, 1, 0], [0, 1, 0], [0, 1, 0]],
    }
    for name, kernel in expected.items():
        np.testing.assert_allclose(preset_kernel(name, 3), kernel, err_msg=name)


@pytest.mark.parametrize("size", SIZES)
def test_blurs_sum_to_one_and_identity_has_a_single_one(size):
    assert preset_kernel("Gaussian blur", size).sum() == pytest.approx(1.0, abs=1e-5)
    assert preset_kernel("box blur", size).sum() == pytest.approx(1.0, abs=1e-5)
    identity = preset_kernel("identity", size)
    assert np.count_nonzero(identity) == 1 and identity.sum() == 1.0
    # at the output pixel of padding="same": the centre, top-left of centre for an even size
    assert identity[(size - 1) // 2, (size - 1) // 2] == 1.0


@pytest.mark.parametrize("size", range(5, MAX_SIZE + 1, 2))
def test_larger_gaussians_peak_in_the_middle_and_fall_off_symmetrically(size):
    kernel = preset_kernel("Gaussian blur", size)
    assert np.unravel_index(kernel.argmax(), kernel.shape) == (size // 2, size // 2)
    np.testing.assert_allclose(kernel, kernel.T)
    np.testing.assert_allclose(kernel, kernel[::-1, ::-1])
    assert kernel[0, 0] < kernel[size // 2, 0] < kernel[size // 2, size // 2]


@pytest.mark.parametrize("name", ["Sobel x", "Sobel y", "Prewitt x", "Prewitt y", "Laplacian", "outline"])
@pytest.mark.parametrize("size", SIZES)
def test_edge_detectors_ignore_flat_regions(name, size):
    if size >= min_size(name):
        assert preset_kernel(name, size).sum() == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("size", range(2, MAX_SIZE + 1))
def test_sobel_answers_a_unit_step_edge_alike_at_every_size(size):
    """Dark left half, bright right half: the kernel centred on the edge answers 4, as the 3x3 does."""
    kernel = preset_kernel("Sobel x", size)
    step = (np.arange(size) > (size - 1) / 2).astype(np.float32)[None, :].repeat(size, 0)
    assert (kernel * step).sum() == pytest.approx(4.0, rel=1e-5)
    np.testing.assert_allclose(preset_kernel("Sobel y", size), kernel.T)


def test_extended_sobel_5x5_is_opencvs_up_to_scale():
    opencv = np.outer([1, 4, 6, 4, 1], [-1, -2, 0, 2, 1]).astype(np.float32)
    kernel = preset_kernel("Sobel x", 5)
    np.testing.assert_allclose(kernel / kernel.max(), opencv / opencv.max(), rtol=1e-6)


@pytest.mark.parametrize("size", range(3, MAX_SIZE + 1))
def test_sharpen_and_laplacian_stay_3x3_operators_centred_in_zeros(size):
    for name in ("sharpen", "Laplacian"):
        kernel = preset_kernel(name, size)
        c = (size - 1) // 2
        np.testing.assert_array_equal(kernel[c - 1:c + 2, c - 1:c + 2], preset_kernel(name, 3))
        assert np.count_nonzero(kernel) == 5


def test_line_detectors_answer_their_own_line_most():
    lines = {name: preset_kernel(name, 5) for name in
             ("diagonal line \\", "anti-diagonal line /", "horizontal line", "vertical line")}
    for name, image in lines.items():  # a drawn line looks like its own detector
        responses = {other: float((kernel * image).sum()) for other, kernel in lines.items()}
        assert max(responses, key=responses.get) == name


def test_unknown_names_and_sizes_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="unknown preset"):
        preset_kernel("Sobel z", 3)
    for size in (0, 12, 2.5):
        with pytest.raises(ValueError, match="outside"):
            preset_kernel("identity", size)


def test_random_kernel_follows_he_initialisation():
    rng = np.random.default_rng(0)
    kernels = np.stack([random_kernel(rng, 3, fan_in=8 * 9) for _ in range(2000)])
    assert kernels.shape == (2000, 3, 3) and kernels.dtype == np.float32
    assert kernels.std() == pytest.approx(np.sqrt(2 / 72), rel=0.05)
    assert abs(kernels.mean()) < 0.01
    again = random_kernel(np.random.default_rng(0), 3, fan_in=72)
    np.testing.assert_array_equal(again, kernels[0])  # a seeded generator repeats itself
